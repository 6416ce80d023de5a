"""Fine-tuning on a handful of real cases: leave-one-out on the ISLES 2018 cases in ../shared/data.

Run: ``.venv/bin/python benchmarks/finetune_loo.py [--epochs 10] [--patches 768]``.

For each real case: train ``clerigues`` on the other case(s) only (``--folds 1``), once starting
from the shipped CT+CBF+CBV weights (``--init-from clerigues_ct-cbf-cbv``) and once from scratch
with the same architecture and inputs, then segment the left-out case with the result and score
it against its expert mask (OT). The shipped weights without fine-tuning are scored too. Everything runs
through the CLI (`strokect.cli.main.main`), as a user would run it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from strokect.cli.main import main as cli
from strokect.io import read_volume

ISLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "isles2018" / "TRAINING"
#: the shipped CT+CBF+CBV model (the inputs the real cases have)
SHIPPED = "clerigues_ct-cbf-cbv"
#: its architecture and inputs (model card; v1 was the default network when it was trained)
SCRATCH = [
    "modalities=ct,cbf,cbv",
    "base_filters=4",
    "architecture=v1",
    "n_dropout_levels=2",
    "train_dropout=0.1",
]


def _dataset(root: Path, cases: list[str]) -> Path:
    """An ISLES 2018 layout holding links to ``cases`` only."""
    (root / "TRAINING").mkdir(parents=True)
    for name in cases:
        (root / "TRAINING" / name).symlink_to(ISLES / name)
    return root


def _score(out: Path, case: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = read_volume(out / "mask.nii.gz")
        ref = read_volume(next((ISLES / case).glob("SMIR.Brain.XX.O.OT.*/*.nii")))
    p, r = pred.array > 0, ref.array > 0
    ml = ref.voxel_volume_ml
    from scipy import ndimage

    labels, n = ndimage.label(p & ~r)
    sizes = np.bincount(labels.ravel())[1:] * ml if n else np.zeros(0)
    return {
        "dice": float(2 * (p & r).sum() / max(p.sum() + r.sum(), 1)),
        "pred_ml": float(p.sum() * ml),
        "ref_ml": float(r.sum() * ml),
        "largest_fp_component_ml": float(sizes.max()) if sizes.size else 0.0,
    }


def _segment(weights: str | None, case: str, out: Path) -> dict:
    args = ["segment", str(ISLES / case), "-o", str(out), "--method", "clerigues", "--quiet"]
    if weights:
        args += ["--weights", weights]
    if cli(args) != 0:
        raise RuntimeError(f"segment failed for {case}")
    return _score(out, case)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patches", type=int, default=768)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if not ISLES.exists():
        print(f"ISLES 2018 data not found at {ISLES}; skipped")
        return
    cases = sorted(d.name for d in ISLES.iterdir() if d.is_dir())
    common = ["--set", f"max_epochs={args.epochs}", "--set", f"patches_per_case={args.patches}"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for test in cases:
            train_cases = [c for c in cases if c != test]
            data = _dataset(tmp / f"data_{test}", train_cases)
            row = {"test": test, "train": train_cases}
            row["shipped"] = _segment(None, test, tmp / f"seg_shipped_{test}")
            for name, extra in (
                ("pretrained", ["--init-from", SHIPPED]),
                ("scratch", [x for kv in SCRATCH for x in ("--set", kv)]),
            ):
                run = tmp / f"run_{name}_{test}"
                t0 = time.perf_counter()
                argv = ["train", "--method", "clerigues", "--data", str(data), "-o", str(run)]
                argv += ["--folds", "1", "--no-progress", "--seed", "0", *common, *extra]
                if cli(argv) != 0:
                    raise RuntimeError(f"train failed ({name}, {test})")
                seconds = time.perf_counter() - t0
                row[name] = {
                    **_segment(str(run), test, tmp / f"seg_{name}_{test}"),
                    "train_s": seconds,
                }
            rows.append(row)
    print(f"leave-one-out, {args.epochs} epochs x {args.patches} patches per training case")
    print(
        "| left-out case | weights | Dice | predicted mL | reference mL | largest FP component mL | training s |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        for name in ("shipped", "pretrained", "scratch"):
            r = row[name]
            sec = f"{r['train_s']:.0f}" if "train_s" in r else "-"
            print(
                f"| {row['test']} | {name} | {r['dice']:.3f} | {r['pred_ml']:.2f} | "
                f"{r['ref_ml']:.2f} | {r['largest_fp_component_ml']:.2f} | {sec} |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
