"""``fu2bl``: the best cross-validated Dice per smoothing of the difference map, beyond the grid.

Run: ``.venv/bin/python benchmarks/fu2bl_smoothing_grid.py --train TRAIN/manifest_ncct_pairs.csv
[--set test_time_mirror=true]`` with ``TRAIN`` the shipped model's training cohort (the
``strokect synth`` line of its card, ``src/strokect/weights/fu2bl_ncct_followup.md``).

The shipped calibration chose 12 mm, the largest value of `SMOOTH_GRID`. This repeats the
calibration of `strokect train` on the shipped folds' cross-validation predictions (the card's
splits) with the smoothing grid extended to 16, 20 and 24 mm, and prints the chosen calibration
and the best mean infarct Dice at each smoothing (over the infarct thresholds of the first
search), so one can see whether a wider grid would choose more smoothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

EXTENDED = (16.0, 20.0, 24.0)
NAME = "fu2bl_ncct_followup"


def main() -> None:
    from strokect.data import load_dataset
    from strokect.methods.fu2bl.config import INFARCT_GRID, SMOOTH_GRID
    from strokect.methods.registry import shipped_models
    from strokect.pipelines.calibrate import search_calibration
    from strokect.pipelines.segment import load_ensemble, predict_prepared

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--set", dest="options", action="append", default=[])
    args = parser.parse_args()
    grid = (*SMOOTH_GRID, *EXTENDED)
    paths = shipped_models("fu2bl")[NAME]
    splits = json.loads(paths[0].with_name(f"{NAME}.json").read_text())["splits"]
    cases = {c.case_id: c for c in load_dataset(args.train).cases}
    predictions, method = [], None
    for i, split in enumerate(splits):
        models, _ = load_ensemble([paths[i]], method="fu2bl", options=args.options)
        method = models[0][0]
        for cid in split["val"]:
            prepared = method.prepare_case(cases[cid])
            if prepared.label is not None:
                predictions.append((cid, prepared, predict_prepared(models, prepared)))
    searches = method.calibration_searches()
    first = searches[0]
    wide = dataclasses.replace(first, grid={"smooth_mm": grid, "threshold_infarct": INFARCT_GRID})
    method.calibration_searches = lambda: [wide, *searches[1:]]  # this instance only
    calibration, _, records = search_calibration(method, predictions)
    best: dict[float, float] = {}
    for row in records[0]["grid"]:
        best[row["smooth_mm"]] = max(best.get(row["smooth_mm"], -1.0), row["mean_dice"])
    print(json.dumps({"options": args.options, "cv_cases": len(predictions),
                      "calibration": str(calibration)}))  # fmt: skip
    print("smooth_mm | best CV mean infarct Dice (first search)")
    for sm, score in best.items():
        print(f"{sm:5.0f} | {score:.3f}")


if __name__ == "__main__":
    main()
