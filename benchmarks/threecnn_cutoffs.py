"""``threecnn`` cut-off searches compared on the same cross-validation predictions.

Run: ``.venv/bin/python benchmarks/threecnn_cutoffs.py RUN``

Every validation case of the run is predicted once by its own fold's model (as the calibration
after ``strokect train`` does), then the cut-offs are chosen by each search of
`ThreeCnnConfig.cutoff_search` (``class``: the paper's, each class CNN on its own class's
cases; ``all``: each by the final infarct's Dice on every case) and the final infarct (union +
hemorrhage) is scored on every case: Dice per class and overall, median [IQR]. Model selection
uses these cross-validation numbers only, never the held-out set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    from strokect.config import config_to_dict
    from strokect.data import load_dataset
    from strokect.data.splits import load_splits
    from strokect.pipelines.calibrate import cv_predictions, search_calibration
    from strokect.stats.summary import describe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--hemorrhage-detector", default="hu", choices=("hu", "cnn"))
    args = parser.parse_args()
    saved = json.loads((args.run / "config.json").read_text())
    cases = {c.case_id: c for c in load_dataset(saved["data_root"]).cases}
    splits = load_splits(args.run / "splits.json")
    method, predictions = cv_predictions(args.run, splits, cases)
    method.config.hemorrhage_detector = args.hemorrhage_detector  # what is added back
    for mode in ("class", "all"):
        method.config.cutoff_search = mode
        calibration, _, _ = search_calibration(method, predictions)
        rows = []
        for _, prepared, combined in predictions:
            pred = method.finalize(prepared, combined, calibration)["infarct"].array > 0
            ref = prepared.label > 0
            total = pred.sum() + ref.sum()
            rows.append(
                (prepared.data["lesion_class"], 2 * (pred & ref).sum() / total if total else 1.0)
            )
        print(f"cutoff_search={mode}: {config_to_dict(calibration)}")
        for name in ("severe", "intermediate", "subtle", None):
            d = describe([dice for c, dice in rows if name is None or c == name])
            print(f"  {name or 'overall'}: n {d['n']}, Dice mean {d['mean']:.3f} +- {d['sd']:.3f}, "
                  f"median {d['median']:.3f} [{d['q1']:.3f}-{d['q3']:.3f}]")  # fmt: skip
    print(f"{len(predictions)} cross-validation cases")


if __name__ == "__main__":
    main()
