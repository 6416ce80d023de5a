"""Held-out Dice of a ``clerigues`` ensemble per lesion-conspicuity bin, on fixed phantom seeds.

Run: ``.venv/bin/python benchmarks/heldout_conspicuity.py RUN [--preset realistic] [--cases 20]``.

``RUN`` is a training run folder (``fold_*/model.pt``), a shipped model name
(``clerigues_ct-cbf-cbv-mtt-tmax``) or ``shipped`` (the shipped CT+CBF+CBV ensemble). The
held-out set is fixed: ``strokect synth --preset PRESET --cases N --seed 7777 --kind ischemic``
(cohort seed 7777 is never used for training). Each case is segmented by ``strokect heldout``
(the ensemble exactly as ``segment`` runs it) and binned by its lesion conspicuity, the core's
CBF as a fraction of normal tissue that the phantom drew
(``metadata["tissue_values"]["perfusion"]["core_cbf_fraction"]``): [0.08, 0.25) is the range
of the older presets, [0.25, 0.5) and [0.5, 0.8] exist only in ``realistic``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from strokect.cli.main import main as cli
from strokect.methods.registry import shipped_models

HELDOUT_SEED = 7777
BINS = ((0.08, 0.25), (0.25, 0.5), (0.5, 0.8))


def _run_folder(weights: str, tmp: Path) -> Path:
    shipped = shipped_models("clerigues")
    name = "clerigues_ct-cbf-cbv" if weights == "shipped" else weights
    if name not in shipped:
        return Path(weights)
    run = tmp / "shipped_run"
    for i, path in enumerate(shipped[name]):
        (run / f"fold_{i}").mkdir(parents=True)
        shutil.copy(path, run / f"fold_{i}" / "model.pt")
    return run


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("weights", help="run folder, shipped model name or 'shipped'")
    p.add_argument("--preset", default="realistic")
    p.add_argument("--cases", type=int, default=20)
    p.add_argument("--phantom-version", default="2")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        test = tmp / "TEST"
        synth = ["synth", "-o", str(test), "--preset", args.preset, "--cases", str(args.cases)]
        synth += ["--seed", str(HELDOUT_SEED), "--layout", "isles2018", "--kind", "ischemic"]
        synth += ["--phantom-version", args.phantom_version, "--workers", "2"]
        if cli(synth) != 0:
            raise SystemExit("synth failed")
        src = _run_folder(args.weights, tmp)
        run = tmp / "run"
        shutil.copytree(src, run, ignore=shutil.ignore_patterns("cache", "*.csv", "last.pt"))
        if cli(["heldout", str(run), "--data", str(test)]) != 0:
            raise SystemExit("heldout failed")
        scores = json.loads((run / "heldout.json").read_text())["test_cases"]
        rows = []
        for i in range(args.cases):
            meta = json.loads((test / "metadata" / f"phantom_{i:04d}.json").read_text())
            s = scores[f"case_{i + 1}"]
            rows.append(
                {
                    "case": f"case_{i + 1}",
                    "core_cbf_fraction": meta["tissue_values"]["perfusion"]["core_cbf_fraction"],
                    "dice": s["dice"],
                    "ref_voxels": s["ref_voxels"],
                    "pred_voxels": s["pred_voxels"],
                }
            )
    print(f"{args.weights} on {args.cases} held-out {args.preset} phantoms (cohort seed 7777)")
    print("| core CBF / normal | cases | mean Dice | median Dice | Dice per case |")
    print("|---|---|---|---|---|")
    for lo, hi in BINS:
        sel = [
            r
            for r in rows
            if lo <= r["core_cbf_fraction"] < hi or (hi == 0.8 and r["core_cbf_fraction"] == hi)
        ]
        dice = [r["dice"] for r in sel]
        per_case = ", ".join(f"{d:.2f}" for d in dice) or "-"
        mean = f"{np.mean(dice):.2f}" if dice else "-"
        median = f"{np.median(dice):.2f}" if dice else "-"
        print(f"| [{lo}, {hi}) | {len(sel)} | {mean} | {median} | {per_case} |")
    dice = [r["dice"] for r in rows]
    print(f"| all | {len(rows)} | {np.mean(dice):.2f} | {np.median(dice):.2f} | |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
