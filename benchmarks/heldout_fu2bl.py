"""``fu2bl`` on held-out phantom pairs, beside a supervised reference (``threecnn``).

Run: ``.venv/bin/python benchmarks/heldout_fu2bl.py --weights RUN_OR_MODEL [--weights ...]
[--data HELDOUT] [--json OUT.json]``; ``--from-json OUT.json [--from-json ...]`` prints the
tables (and the comparison) of earlier runs again without segmenting.

``--weights`` takes a training run folder, a checkpoint or a shipped model name of any method
with ``infarct`` and ``hemorrhage`` outputs (``fu2bl`` runs, ``threecnn_ncct_followup``). The
held-out set (patients never seen in training or calibration) is made, when ``--data`` is not
given, with::

    strokect synth -o HELDOUT --cases 16 --seed 7777 --preset realistic --layout csv \\
        --lesion-class mixed --infarct-volumes paper --hemorrhage-share 0.3 \\
        --scanner-variation --pairs realistic --lesion-free-share 0.15 \\
        --primary-hemorrhage-share 0.1

(two follow-ups per patient: ``<id>_fu24h`` and ``<id>_fu1w``). Every follow-up goes through the
segment pipeline's steps (`load_ensemble`, `prepare`, `predict_prepared`, `finalize` with the
stored calibration), only the follow-up NCCT as input. As the paper (van Voorst et al., AJNR
2022): the infarct (the reference includes a hematoma inside it, as ``infarct`` outputs do) on
the follow-ups with one, Dice and Hausdorff distance (mm) median [IQR], ICC(3,1) and
Bland-Altman of the volumes, per follow-up time and for lesions > 10 mL; hemorrhage Dice on the
follow-ups with one, overall and > 10 mL; false-positive mL on lesion-free follow-ups. Two
``--weights`` are also compared on the infarct Dice of the same follow-ups: Wilcoxon signed-rank
(paired) and rank-sum (the paper's test).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SYNTH = ["--cases", "16", "--seed", "7777", "--preset", "realistic", "--layout", "csv",
         "--lesion-class", "mixed", "--infarct-volumes", "paper", "--hemorrhage-share", "0.3",
         "--scanner-variation", "--pairs", "realistic", "--lesion-free-share", "0.15",
         "--primary-hemorrhage-share", "0.1"]  # fmt: skip


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def _load(weights: str, options: list[str]):
    from strokect.methods.checkpoint import find_model_checkpoints, load_checkpoint
    from strokect.methods.registry import available_methods, shipped_models
    from strokect.pipelines.segment import load_ensemble

    shipped = {k: v for m in available_methods() for k, v in shipped_models(m).items()}
    paths = shipped[weights] if weights in shipped else find_model_checkpoints(weights)
    name = load_checkpoint(paths[0])["method"]
    return load_ensemble(paths, method=name, options=options)


def evaluate(weights: str, data: Path, options: list[str]) -> dict:
    from strokect.data import load_dataset
    from strokect.metrics.surface import compute_hausdorff
    from strokect.pipelines.segment import predict_prepared

    models, calibration = _load(weights, options)
    method = models[0][0]
    cases = []
    for case in load_dataset(data).cases:
        t0 = time.perf_counter()
        ct = case.load("ncct_followup")
        prepared = method.prepare({"ncct_followup": ct})
        combined = predict_prepared(models, prepared)
        out = method.finalize(prepared, combined, calibration)
        voxel_ml = ct.voxel_volume_ml
        ref = case.load("infarct").array > 0
        hem_ref = case.load("hemorrhage").array > 0
        pred = out["infarct"].array > 0
        hem = out["hemorrhage"].array > 0
        hd = compute_hausdorff(pred, ref, spacing_mm=ct.spacing_mm) if ref.any() else None
        cases.append(
            {
                "case_id": case.case_id,
                "patient_id": case.patient_id,
                "followup": case.metadata.get("followup"),
                "kind": case.metadata.get("kind"),
                "class": case.metadata.get("lesion_class"),
                "dice": _dice(pred, ref) if ref.any() else None,
                "hd_mm": None if hd is None or not np.isfinite(hd) else float(hd),
                "pred_ml": float(pred.sum() * voxel_ml),
                "ref_ml": float(ref.sum() * voxel_ml),
                "hemorrhage_ref_ml": float(hem_ref.sum() * voxel_ml),
                "hemorrhage_ml": float(hem.sum() * voxel_ml),
                "hemorrhage_dice": _dice(hem, hem_ref) if hem_ref.any() else None,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(json.dumps(cases[-1]), flush=True)
    return {"weights": str(weights), "method": method.name, "options": options,
            "n_models": len(models), "cases": cases, "summary": summarize(cases)}  # fmt: skip


def _infarct_group(group: list[dict]) -> dict:
    from strokect.stats.cohort import volume_agreement
    from strokect.stats.summary import describe

    agree = volume_agreement([c["pred_ml"] for c in group], [c["ref_ml"] for c in group])
    hd = [c["hd_mm"] for c in group if c["hd_mm"] is not None]
    return {
        "n": len(group),
        "dice": describe([c["dice"] for c in group]),
        "hd_mm": describe(hd) if hd else None,
        "hd_undefined": len(group) - len(hd),
        "icc_3_1": agree["icc_3_1"].get("value", agree["icc_3_1"].get("not_computed")),
        "bland_altman": agree["bland_altman"],
    }


def summarize(cases: list[dict]) -> dict:
    from strokect.stats.summary import describe

    infarct = [c for c in cases if c["ref_ml"] > 0]
    groups = {
        "infarct, all": infarct,
        "infarct, 24 h": [c for c in infarct if c["followup"] == "24h"],
        "infarct, 1 week": [c for c in infarct if c["followup"] == "1w"],
        "infarct > 10 mL": [c for c in infarct if c["ref_ml"] > 10],
    }
    for cls in ("severe", "intermediate", "subtle"):  # the reference's mean-HU class
        groups[f"infarct, {cls}"] = [c for c in infarct if c["class"] == cls]
    out = {name: _infarct_group(g) for name, g in groups.items() if len(g) >= 2}
    hem = [c for c in cases if c["hemorrhage_ref_ml"] > 0]
    big = [c for c in hem if c["hemorrhage_ref_ml"] > 10]
    free = [c for c in cases if c["ref_ml"] == 0 and c["hemorrhage_ref_ml"] == 0]
    out["hemorrhage"] = {
        "n": len(hem),
        "dice": describe([c["hemorrhage_dice"] for c in hem]) if hem else None,
        "n_over_10ml": len(big),
        "dice_over_10ml": describe([c["hemorrhage_dice"] for c in big]) if big else None,
    }
    out["lesion_free"] = {
        "n": len(free),
        "infarct_fp_ml": describe([c["pred_ml"] for c in free]) if free else None,
        "hemorrhage_fp_ml": describe([c["hemorrhage_ml"] for c in free]) if free else None,
    }
    return out


def compare(a: dict, b: dict) -> dict:
    """Infarct Dice of two weight sets on the same follow-ups: signed-rank and rank-sum."""
    from strokect.stats.hypothesis import wilcoxon_rank_sum, wilcoxon_signed_rank

    da = {c["case_id"]: c["dice"] for c in a["cases"] if c["dice"] is not None}
    db = {c["case_id"]: c["dice"] for c in b["cases"] if c["dice"] is not None}
    ids = sorted(set(da) & set(db))
    x, y = [da[i] for i in ids], [db[i] for i in ids]
    return {
        "a": a["weights"],
        "b": b["weights"],
        "n": len(ids),
        "median_a": float(np.median(x)),
        "median_b": float(np.median(y)),
        "signed_rank": dataclasses.asdict(wilcoxon_signed_rank(x, y)),
        "rank_sum": dataclasses.asdict(wilcoxon_rank_sum(x, y)),
    }


def _fmt(d: dict | None) -> str:
    if not d:
        return "-"
    return f"{d['median']:.2f} [{d['q1']:.2f}-{d['q3']:.2f}]"


def table(result: dict) -> str:
    lines = [f"{result['weights']} ({result['method']}, {result['n_models']} models, "
             f"{result['options']})",
             "| group | n | Dice median [IQR] | Dice mean +- SD | HD mm median [IQR] | ICC(3,1) "
             "| BA bias [LoA] mL |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, s in result["summary"].items():
        if not name.startswith("infarct"):
            continue
        d, ba, icc = s["dice"], s["bland_altman"], s["icc_3_1"]
        icc = f"{icc:.2f}" if isinstance(icc, float) else icc
        limits = (
            f"{ba['bias']:.1f} [{ba['loa_low']:.1f}, {ba['loa_high']:.1f}]"
            if "bias" in ba
            else ba.get("not_computed", "")
        )
        lines.append(
            f"| {name} | {s['n']} | {_fmt(d)} | {d['mean']:.2f} +- {d['sd']:.2f} | "
            f"{_fmt(s['hd_mm'])} | {icc} | {limits} |"
        )
    h, f = result["summary"]["hemorrhage"], result["summary"]["lesion_free"]
    lines.append(
        f"hemorrhage: Dice {_fmt(h['dice'])} on {h['n']} follow-ups with one; "
        f"> 10 mL: {_fmt(h['dice_over_10ml'])} on {h['n_over_10ml']}"
    )
    if f["n"]:
        lines.append(
            f"lesion-free ({f['n']}): false-positive infarct {_fmt(f['infarct_fp_ml'])} mL "
            f"(max {f['infarct_fp_ml']['max']:.2f}), hemorrhage {_fmt(f['hemorrhage_fp_ml'])} mL "
            f"(max {f['hemorrhage_fp_ml']['max']:.2f})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--set", dest="options", action="append", default=[],
                        help="segment option applied to every --weights")  # fmt: skip
    parser.add_argument("--from-json", type=Path, action="append", default=[],
                        help="summarize earlier --json results instead of segmenting")  # fmt: skip
    args = parser.parse_args()
    if args.from_json:
        results = [r for f in args.from_json for r in json.loads(f.read_text())["results"]]
        for r in results:
            r["summary"] = summarize(r["cases"])
            print(table(r))
        fu2bl = [r for r in results if r["method"] == "fu2bl"]
        if len(fu2bl) >= 2:
            print(json.dumps(compare(fu2bl[0], fu2bl[1]), indent=1))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "heldout"
            subprocess.run([sys.executable, "-m", "strokect", "synth", "-o", str(data), *SYNTH],
                           check=True)  # fmt: skip
        manifest = data / "manifest_ncct_pairs.csv"
        results = [evaluate(w, manifest, args.options) for w in args.weights]
    for r in results:
        print(table(r))
    comparisons = []
    fu2bl = [r for r in results if r["method"] == "fu2bl"]
    if len(fu2bl) >= 2:
        comparisons.append(compare(fu2bl[0], fu2bl[1]))
        print(json.dumps(comparisons[-1], indent=1))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "comparisons": comparisons}, indent=1))


if __name__ == "__main__":
    main()
