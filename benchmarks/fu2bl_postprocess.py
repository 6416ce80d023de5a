"""``fu2bl`` post-processing compared on the same cross-validation predictions.

Run: ``.venv/bin/python benchmarks/fu2bl_postprocess.py RUN [--smooth 0 1 2 3 4]``

Every validation case of the run is predicted once by its own fold's model (as the calibration
after ``strokect train`` does); then, for each Gaussian smoothing of the difference map
(``smooth_mm``, sigma in mm), the thresholds are searched again on those predictions
(`search_calibration`: hemorrhage, then infarct) and the infarct and hemorrhage are scored on
every case: Dice mean and median [IQR] (infarct on the cases with one, hemorrhage on the cases
with one), false-positive mL on the cases without. Model selection uses these cross-validation
numbers only, never the held-out set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def main() -> None:
    from strokect.config import config_to_dict
    from strokect.data import load_dataset
    from strokect.data.splits import load_splits
    from strokect.pipelines.calibrate import cv_predictions, search_calibration
    from strokect.stats.summary import describe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--smooth", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0, 4.0])
    args = parser.parse_args()
    saved = json.loads((args.run / "config.json").read_text())
    cases = {c.case_id: c for c in load_dataset(saved["data_root"]).cases}
    splits = load_splits(args.run / "splits.json")
    method, predictions = cv_predictions(args.run, splits, cases)
    report = []
    for smooth in args.smooth:
        method.config.smooth_mm = smooth
        calibration, _, _ = search_calibration(method, predictions)
        inf, hem, fp = [], [], []
        for _, prepared, combined in predictions:
            out = method.finalize(prepared, combined, calibration)
            ml = prepared.target.voxel_volume_ml
            ref, hem_ref = prepared.label > 0, prepared.data["hemorrhage_label"] > 0
            pred, hem_pred = out["infarct"].array > 0, out["hemorrhage"].array > 0
            if ref.any():
                inf.append(_dice(pred, ref))
            else:
                fp.append(float(pred.sum() * ml))
            if hem_ref.any():
                hem.append(_dice(hem_pred, hem_ref))
        row = {
            "smooth_mm": smooth,
            "calibration": config_to_dict(calibration),
            "infarct_dice": describe(inf),
            "hemorrhage_dice": describe(hem),
            "fp_ml_without_infarct": describe(fp),
        }
        report.append(row)
        d, h = row["infarct_dice"], row["hemorrhage_dice"]
        print(
            f"smooth {smooth} mm: {row['calibration']}; infarct Dice mean {d['mean']:.3f} "
            f"median {d['median']:.3f} [{d['q1']:.3f}-{d['q3']:.3f}] (n={d['n']}); hemorrhage "
            f"mean {h['mean']:.3f} median {h['median']:.3f} (n={h['n']}); FP mL without infarct "
            f"median {row['fp_ml_without_infarct']['median']:.2f}",
            flush=True,
        )
    (args.run / "postprocess_cv.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
