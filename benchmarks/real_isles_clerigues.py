"""``clerigues`` weights on the real ISLES 2018 cases in ``../shared/data``, never trained on.

Run: ``.venv/bin/python benchmarks/real_isles_clerigues.py WEIGHTS [WEIGHTS ...] [--json F]``.

Each ``WEIGHTS`` is what ``strokect segment --weights`` takes (a run folder, a checkpoint, a
shipped model name) or ``shipped`` (the default pick of ``segment``). Every real case is
segmented through the CLI as a user would run it, then scored against its expert mask (OT,
drawn on DWI): Dice, predicted and reference volume, the largest false-positive component and
the flags ``segment`` raised (``out_of_domain``, ``implausible``). The target of issue 16 is
Dice > 0.2, a volume within a factor 2 of the reference and no false-positive component over
1 mL, per case.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from finetune_loo import ISLES, _segment


def run(weights: str, case: str, out: Path) -> dict:
    row = _segment(None if weights == "shipped" else weights, case, out)
    volumes = json.loads((out / "volumes.json").read_text())
    row["out_of_domain"] = bool(volumes["out_of_domain"])
    row["implausible"] = bool(volumes.get("implausible_outputs"))
    row["met"] = bool(
        row["dice"] > 0.2
        and row["ref_ml"] / 2 <= row["pred_ml"] <= 2 * row["ref_ml"]
        and row["largest_fp_component_ml"] <= 1.0
    )
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("weights", nargs="+")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if not ISLES.exists():
        print(f"ISLES 2018 data not found at {ISLES}; skipped")
        return
    cases = sorted(d.name for d in ISLES.iterdir() if d.is_dir())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for w_i, weights in enumerate(args.weights):
            for case in cases:
                out = Path(tmp) / f"seg_{w_i}_{case}"
                rows.append({"weights": weights, "case": case, **run(weights, case, out)})
    print("| weights | case | Dice | predicted / reference mL | largest FP component mL |", end="")
    print(" out of domain | implausible | target met |")
    print("|---|---|---|---|---|---|---|---|")
    yes = {True: "yes", False: "no"}
    for r in rows:
        print(
            f"| {r['weights']} | {r['case']} | {r['dice']:.3f} | {r['pred_ml']:.1f} / "
            f"{r['ref_ml']:.1f} | {r['largest_fp_component_ml']:.1f} | {yes[r['out_of_domain']]} | "
            f"{yes[r['implausible']]} | {yes[r['met']]} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
