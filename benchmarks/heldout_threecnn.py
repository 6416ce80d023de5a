"""``threecnn`` on held-out phantom follow-up NCCTs: Dice and volume agreement per class.

Run: ``.venv/bin/python benchmarks/heldout_threecnn.py --weights RUN_OR_MODEL [--weights ...]
[--data HELDOUT] [--json OUT.json]``

The held-out set (never seen in training or calibration) is made, when ``--data`` is not
given, with::

    strokect synth -o HELDOUT --cases 24 --seed 7777 --preset realistic --layout csv \\
        --lesion-class mixed --infarct-volumes paper --hemorrhage-share 0.3 --scanner-variation

Every case goes through the segment pipeline's own steps (`load_ensemble`, `prepare_case`,
`predict_prepared`, `finalize` with the stored cut-offs). Reported per hypodensity class (the
class of the reference infarct's mean HU without hemorrhage) and overall, as the paper: Dice
mean +- SD and median [IQR] of the final infarct (class CNNs + hemorrhage) against the reference
infarct (hemorrhage included), ICC(3,1) and Bland-Altman of the volumes (mL). Hemorrhage: the
CNN's mask and the HU detector's against the hemorrhage mask (Dice on the cases with a
hemorrhage, false-positive mL on those without). Output checks: `segment`'s plausibility rules
(`strokect.pipelines.output_checks`) on each final infarct: the flagged cases and the share of
each mask lying on its own mirror image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SYNTH = ["--cases", "24", "--seed", "7777", "--preset", "realistic", "--layout", "csv",
         "--lesion-class", "mixed", "--infarct-volumes", "paper", "--hemorrhage-share", "0.3",
         "--scanner-variation"]  # fmt: skip


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def evaluate(weights: str, data: Path, options: list[str]) -> dict:
    from strokect.data import load_dataset
    from strokect.methods.checkpoint import find_model_checkpoints, load_checkpoint
    from strokect.methods.registry import shipped_models
    from strokect.pipelines.output_checks import lesion_plausibility
    from strokect.pipelines.segment import load_ensemble, predict_prepared

    shipped = shipped_models("threecnn")
    paths = shipped[weights] if weights in shipped else find_model_checkpoints(weights)
    name = load_checkpoint(paths[0])["method"]
    models, calibration = load_ensemble(paths, method=name, options=options)
    method = models[0][0]
    cases = []
    for case in load_dataset(data).cases:
        t0 = time.perf_counter()
        prepared = method.prepare_case(case)
        combined = predict_prepared(models, prepared)
        out = method.finalize(prepared, combined, calibration)
        voxel_ml = prepared.target.voxel_volume_ml
        ref = prepared.label > 0
        pred = out["infarct"].array > 0
        hem_ref = prepared.data["hemorrhage_label"] > 0
        # the hemorrhage CNN's own mask (``hemorrhage`` is the configured detector's)
        hem_cnn = out["hemorrhage_cnn"].array > 0
        hem_hu = prepared.data["hemorrhage_hu"]
        # segment's output checks on the final infarct (too large / mirror-symmetric); the
        # output grid of threecnn is the input CT itself, so it is not read again
        check = lesion_plausibility(
            {"infarct": out["infarct"]}, prepared.target_roi, prepared.target
        )
        finding = check["findings"][0] if check.get("findings") else {}
        cases.append(
            {
                "case_id": case.case_id,
                "class": prepared.data["lesion_class"],
                "infarct_mean_hu": prepared.data["infarct_mean_hu"],
                "dice": _dice(pred, ref),
                "pred_ml": float(pred.sum() * voxel_ml),
                "ref_ml": float(ref.sum() * voxel_ml),
                "hemorrhage_ref_ml": float(hem_ref.sum() * voxel_ml),
                "hemorrhage_cnn_ml": float(hem_cnn.sum() * voxel_ml),
                "hemorrhage_hu_ml": float(hem_hu.sum() * voxel_ml),
                "hemorrhage_cnn_dice": _dice(hem_cnn, hem_ref) if hem_ref.any() else None,
                "hemorrhage_hu_dice": _dice(hem_hu, hem_ref) if hem_ref.any() else None,
                "flags": finding.get("flags", []),
                "mirrored_fraction": finding.get("mirrored_fraction"),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(json.dumps(cases[-1]), flush=True)
    return {"weights": str(weights), "options": options, "n_models": len(models),
            "cases": cases, "summary": summarize(cases)}  # fmt: skip


def summarize(cases: list[dict]) -> dict:
    from strokect.stats.cohort import volume_agreement
    from strokect.stats.summary import describe

    groups = {"overall": cases}
    for name in ("severe", "intermediate", "subtle"):
        groups[name] = [c for c in cases if c["class"] == name]
    out = {}
    for name, group in groups.items():
        if not group:
            continue
        agree = volume_agreement([c["pred_ml"] for c in group], [c["ref_ml"] for c in group])
        out[name] = {
            "n": len(group),
            "dice": describe([c["dice"] for c in group]),
            "icc_3_1": agree["icc_3_1"].get("value", agree["icc_3_1"].get("not_computed")),
            "bland_altman": agree["bland_altman"],
        }
    with_hem = [c for c in cases if c["hemorrhage_ref_ml"] > 0]
    without = [c for c in cases if c["hemorrhage_ref_ml"] == 0]
    out["hemorrhage"] = {
        kind: {
            "dice_with_hemorrhage": describe([c[f"hemorrhage_{kind}_dice"] for c in with_hem]),
            "fp_ml_without": describe([c[f"hemorrhage_{kind}_ml"] for c in without]),
            "n_with": len(with_hem),
            "n_without": len(without),
        }
        for kind in ("cnn", "hu")
    }
    mirrored = [c["mirrored_fraction"] for c in cases if c.get("mirrored_fraction") is not None]
    out["output_checks"] = {
        "flagged": [c["case_id"] for c in cases if c.get("flags")],
        "mirrored_fraction": describe(mirrored) if mirrored else None,
    }
    return out


def table(result: dict) -> str:
    lines = [f"{result['weights']} ({result['n_models']} models, {result['options']})",
             "| class | n | Dice mean +- SD | Dice median [IQR] | ICC(3,1) | BA bias [LoA] mL |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, s in result["summary"].items():
        if name in ("hemorrhage", "output_checks"):
            continue
        d, ba = s["dice"], s["bland_altman"]
        icc = s["icc_3_1"]
        icc = f"{icc:.2f}" if isinstance(icc, float) else icc
        limits = (
            f"{ba['bias']:.1f} [{ba['loa_low']:.1f}, {ba['loa_high']:.1f}]"
            if "bias" in ba
            else ba.get("not_computed", "")
        )
        lines.append(
            f"| {name} | {s['n']} | {d['mean']:.2f} +- {d['sd']:.2f} | "
            f"{d['median']:.2f} [{d['q1']:.2f}-{d['q3']:.2f}] | {icc} | {limits} |"
        )
    for kind, h in result["summary"]["hemorrhage"].items():
        d, fp = h["dice_with_hemorrhage"], h["fp_ml_without"]
        lines.append(
            f"hemorrhage {kind}: Dice {d['median']:.2f} [{d['q1']:.2f}-{d['q3']:.2f}] on "
            f"{h['n_with']} cases with one; false positive {fp['median']:.2f} "
            f"[{fp['q1']:.2f}-{fp['q3']:.2f}] mL (max {fp['max']:.2f}) on {h['n_without']} without"
        )
    checks = result["summary"]["output_checks"]
    m = checks["mirrored_fraction"]
    lines.append(
        f"output checks: {len(checks['flagged'])} infarct masks flagged {checks['flagged']}; "
        + (f"mirrored fraction median {m['median']:.3f}, max {m['max']:.3f}" if m else "")
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", action="append", required=True)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--set", dest="options", action="append", default=[],
                        help="segment option, e.g. hemorrhage_detector=hu")  # fmt: skip
    args = parser.parse_args()
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
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
