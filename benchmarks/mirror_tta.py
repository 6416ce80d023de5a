"""Test-time mirroring (``--set test_time_mirror=true``) against plain prediction, calibrated alike.

Run: ``.venv/bin/python benchmarks/mirror_tta.py --weights SHIPPED_NAME --train TRAIN/manifest.csv
--heldout HELDOUT/manifest.csv [--json OUT.json]``.

For each variant (mirroring off, on), as a release of the model with that setting would be made:

1. **calibration**: every training case of the model's card is predicted by the fold model that
   did not train on it (the card's ``splits``, the shipped fold files), and the method's own
   calibration searches choose the post-processing on these predictions
   (`strokect.pipelines.calibrate.search_calibration`, what ``strokect train`` runs). ``--train``
   must be the cohort the card's recipe synthesizes; the plain variant reproduces the shipped
   calibration and cross-validated score when it is.
2. **held-out**: the whole ensemble predicts the held-out cases through the segment pipeline's
   steps (`load_ensemble`, `prepare_case`, `predict_prepared`, `finalize`) with the variant's
   calibration, scored against each case's reference mask (`Prepared.label`) on the method's
   primary output: Dice over the cases with a lesion, the volume found on those whose
   reference is empty.

Reports per variant the chosen calibration and CV mean Dice, the held-out Dice (median [IQR],
mean), prediction seconds per case, and the paired Wilcoxon signed-rank test of the held-out Dice.
Cases are prepared once and shared by both variants.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

VARIANTS = (("plain", ()), ("mirror", ("test_time_mirror=true",)))


def _card(name: str) -> tuple[str, list[Path], list[dict]]:
    from strokect.methods.registry import available_methods, shipped_models

    for method in available_methods():
        models = shipped_models(method)
        if name in models:
            paths = models[name]
            card = json.loads(paths[0].with_name(f"{name}.json").read_text())
            return method, paths, card["splits"]
    raise SystemExit(f"{name}: not a shipped model")


def run(name: str, train: Path, heldout: Path) -> dict:
    from strokect.config import config_to_dict
    from strokect.data import load_dataset
    from strokect.metrics.case import evaluate_masks
    from strokect.pipelines.calibrate import search_calibration
    from strokect.pipelines.segment import load_ensemble, predict_prepared

    method_name, paths, splits = _card(name)
    train_cases = {c.case_id: c for c in load_dataset(train).cases}
    missing = [cid for s in splits for cid in s["val"] if cid not in train_cases]
    if missing:
        raise SystemExit(f"--train lacks {len(missing)} CV case(s) of {name}, e.g. {missing[0]}")
    first, _ = load_ensemble(paths[:1], method=method_name)
    method = first[0][0]
    cv_prepared = {cid: method.prepare_case(train_cases[cid]) for s in splits for cid in s["val"]}
    held = [(c.case_id, method.prepare_case(c)) for c in load_dataset(heldout).cases]
    held = [(cid, p) for cid, p in held if p.label is not None]
    results = {}
    for variant, options in VARIANTS:
        t0 = time.perf_counter()
        predictions = []
        for i, split in enumerate(splits):
            models, _ = load_ensemble([paths[i]], method=method_name, options=options)
            for cid in split["val"]:
                p = cv_prepared[cid]
                if p.label is not None:
                    predictions.append((cid, p, predict_prepared(models, p)))
        cv_seconds = time.perf_counter() - t0
        calibration, info, _ = search_calibration(models[0][0], predictions)
        # one search: cv_mean_dice; several: the last search's (the one that made the final choice)
        cv_dice = [
            float(v) for k, v in info.items() if k.startswith("cv_mean_") and k.endswith("dice")
        ]
        models, _ = load_ensemble(paths, method=method_name, options=options)
        rows, seconds = [], []
        for cid, p in held:
            t1 = time.perf_counter()
            combined = predict_prepared(models, p)
            seconds.append(time.perf_counter() - t1)
            out = models[0][0].finalize(p, combined, calibration)
            mask = out[models[0][0].primary_output].array > 0
            scores = evaluate_masks(mask, p.label > 0, spacing_mm=p.target.spacing_mm)
            ref_ml = float((p.label > 0).sum() * p.target.voxel_volume_ml)
            found_ml = float(mask.sum() * p.target.voxel_volume_ml)
            rows.append({"case_id": cid, "dice": float(scores["dice"]), "reference_ml": ref_ml,
                         "found_ml": found_ml})  # fmt: skip
        lesion = [r for r in rows if r["reference_ml"] > 0]
        dice = np.array([r["dice"] for r in lesion])
        results[variant] = {
            "calibration": config_to_dict(calibration),
            "cv_mean_dice": cv_dice[-1],
            "cv_info": info,
            "cv_cases": len(predictions),
            "cv_seconds": round(cv_seconds, 1),
            "heldout": rows,
            "heldout_median": float(np.median(dice)),
            "heldout_q1": float(np.percentile(dice, 25)),
            "heldout_q3": float(np.percentile(dice, 75)),
            "heldout_mean": float(dice.mean()),
            "heldout_lesion_cases": len(lesion),
            "heldout_empty_reference_found_ml": [
                r["found_ml"] for r in rows if r["reference_ml"] == 0
            ],
            "predict_seconds_median": float(np.median(seconds)),
        }
        print(json.dumps({"variant": variant, **{k: v for k, v in results[variant].items()
                                                  if k not in ("heldout", "cv_info")}}),
              flush=True)  # fmt: skip
    a, b = (np.array([r["dice"] for r in results[v]["heldout"] if r["reference_ml"] > 0])
            for v in ("plain", "mirror"))  # fmt: skip
    from scipy.stats import wilcoxon

    diff = b - a
    results["paired"] = {
        "n": len(a),
        "mirror_better": int((diff > 0).sum()),
        "mirror_worse": int((diff < 0).sum()),
        "p_signed_rank": float(wilcoxon(b, a).pvalue) if np.any(diff != 0) else 1.0,
    }
    return {"weights": name, "method": method_name, **results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="a shipped model name")
    ap.add_argument("--train", type=Path, required=True, help="the card's training cohort")
    ap.add_argument("--heldout", type=Path, required=True, help="held-out cohort")
    ap.add_argument("--json", type=Path, help="write the full result here")
    args = ap.parse_args()
    result = run(args.weights, args.train, args.heldout)
    print(json.dumps(result["paired"]))
    for v in ("plain", "mirror"):
        r = result[v]
        print(f"{v:7s} calibration {r['calibration']} CV mean Dice {r['cv_mean_dice']:.3f} "
              f"({r['cv_cases']} cases) | held-out Dice median {r['heldout_median']:.2f} "
              f"[{r['heldout_q1']:.2f}-{r['heldout_q3']:.2f}] mean {r['heldout_mean']:.2f} | "
              f"{r['predict_seconds_median']:.2f} s/case")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
