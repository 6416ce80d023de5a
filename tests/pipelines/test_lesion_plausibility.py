"""Lesion masks covering more than a third of the region of interest are flagged, not changed."""

import numpy as np
import pytest

from strokect.io import Volume
from strokect.methods.base import output_volume
from strokect.pipelines.segment import MAX_LESION_FRACTION, lesion_plausibility


def test_flags_a_mask_larger_than_a_third_of_the_roi():
    grid = Volume(np.zeros((4, 10, 10), np.float32), (5.0, 1.0, 1.0))
    roi = np.zeros((4, 10, 10), bool)
    roi[:, 2:8, 2:8] = True  # 144 voxels
    small = np.zeros_like(roi)
    small[0, 2:8, 2:8] = True  # 36 voxels = 25 %
    big = roi.copy()
    big[2:] = False  # 72 voxels = 50 %
    outputs = {
        "infarct": output_volume(grid, big, "mask"),
        "hemorrhage": output_volume(grid, small, "mask"),
        "difference": output_volume(grid, big * 5.0, "map"),
    }
    with pytest.warns(UserWarning, match="implausible result: infarct covers up to 50%"):
        res = lesion_plausibility(outputs, roi)
    assert res["implausible"] == ["infarct"]
    assert {f["output"]: f["roi_fraction"] for f in res["findings"]} == {
        "infarct": 0.5,
        "hemorrhage": 0.25,
    }
    assert res["max_roi_fraction"] == pytest.approx(MAX_LESION_FRACTION, abs=1e-4)
    assert outputs["infarct"].array.sum() == 72  # never changed
    assert lesion_plausibility(outputs, None) == {
        "checked": False,
        "why": "the method gives no region of interest",
    }
