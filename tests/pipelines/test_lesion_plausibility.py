"""Lesion masks larger than a third of the region of interest, or lying on their own mirror image
across the mid-sagittal plane, are flagged, never changed."""

import numpy as np
import pytest

from strokect.io import Volume
from strokect.methods.base import output_volume
from strokect.pipelines.output_checks import (
    MAX_LESION_FRACTION,
    MAX_MIRRORED_FRACTION,
    MIN_MIRRORED_ML,
    lesion_plausibility,
    symmetry_reference,
)
from tests.preprocess.conftest import make_head


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
    assert {f["output"]: (f["roi_fraction"], f["flags"]) for f in res["findings"]} == {
        "infarct": (0.5, ["too_large"]),
        "hemorrhage": (0.25, []),
    }
    assert res["max_roi_fraction"] == pytest.approx(MAX_LESION_FRACTION, abs=1e-4)
    assert res["symmetry"] == {"checked": False, "why": "no CT input on the output grid"}
    assert outputs["infarct"].array.sum() == 72  # never changed
    assert lesion_plausibility(outputs, None) == {
        "checked": False,
        "why": "the method gives no region of interest and no CT",
    }


@pytest.fixture(scope="module")
def tilted_head():
    """An analytic head turned by 9 degrees and shifted off the image centre, with each voxel's
    signed distance (mm) from its true mid-sagittal plane."""
    ct, truth = make_head(
        (12, 96, 96), (5.0, 2.2, 2.2), yaw_deg=9.0, shift_mm=(5.0, 2.0, 0.0), noise_hu=0.0
    )
    yaw = np.radians(9.0)
    normal = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    zz, yy, xx = np.indices(ct.spatial_shape)
    world = ct.index_to_world(np.stack([zz, yy, xx], -1).astype(float))
    side = (world - np.array([5.0, 2.0, 0.0])) @ normal
    along = (world - np.array([5.0, 2.0, 0.0])) @ np.array([-np.sin(yaw), np.cos(yaw), 0.0])
    return ct, truth["brain"].array > 0, side, along


def test_flags_a_mirror_symmetric_mask_not_a_one_sided_or_small_midline_one(tilted_head):
    ct, brain, side, along = tilted_head
    band = brain & (np.abs(along) < 30) & (np.arange(12)[:, None, None] >= 3)
    both_sides = band & (np.abs(side) > 12) & (np.abs(side) < 35)  # like white matter
    one_side = band & (side > 12) & (side < 35)  # like a territorial infarct
    midline = brain & (np.hypot(side, along) < 5) & (np.arange(12)[:, None, None] == 6)
    outputs = {name: output_volume(ct, mask, "mask") for name, mask in
               (("infarct", both_sides), ("core", one_side), ("brainstem", midline))}  # fmt: skip
    # an intraventricular-like bleed in both hemispheres: measured, not flagged
    outputs["hemorrhage"] = output_volume(ct, both_sides, "mask", label="hemorrhage")
    voxel_ml = float(np.prod(ct.spacing_mm)) / 1000
    assert both_sides.sum() * voxel_ml > 10 * MIN_MIRRORED_ML and midline.any()
    with pytest.warns(UserWarning, match="mirror-symmetric across the mid-sagittal plane"):
        res = lesion_plausibility(outputs, brain, symmetry_reference({"ct": ct}, ct))
    found = {f["output"]: f for f in res["findings"]}
    assert found["infarct"]["mirrored_fraction"] > 0.85
    assert found["infarct"]["flags"] == ["mirror_symmetric"]
    assert found["core"]["mirrored_fraction"] < 0.02 and found["core"]["flags"] == []
    # a small midline lesion lies on its own mirror image, but under MIN_MIRRORED_ML
    assert found["brainstem"]["mirrored_fraction"] > MAX_MIRRORED_FRACTION
    assert found["brainstem"]["mirrored_ml"] < MIN_MIRRORED_ML
    assert found["brainstem"]["flags"] == []
    assert found["hemorrhage"]["mirrored_fraction"] > 0.85
    assert (
        found["hemorrhage"]["flags"] == [] and "not applied" in found["hemorrhage"]["mirror_rule"]
    )
    assert res["implausible"] == ["infarct"]
    assert abs(res["symmetry"]["plane_angle_deg"] - 9.0) < 1.0
    assert np.array_equal(outputs["infarct"].array > 0, both_sides)  # never changed


def test_symmetry_reference_is_a_ct_role_on_the_output_grid(tilted_head):
    ct, _, _, _ = tilted_head
    other = Volume(ct.array[:, :48], ct.spacing_mm, origin=ct.origin, direction=ct.direction)
    cbf = ct.with_array(np.ones(ct.spatial_shape, np.float32))
    assert symmetry_reference({"cbf": cbf, "ncct_followup": ct}, ct) is ct
    assert symmetry_reference({"cbf": cbf}, ct) is None
    assert symmetry_reference({"ct": other}, ct) is None
    # no 3D CT: the first (pre-contrast) frame of a CT perfusion series on the grid
    frames = np.stack([ct.array, ct.array + 40.0]).astype(np.float32)
    ctp = Volume(frames, ct.spacing_mm, origin=ct.origin, direction=ct.direction,
                 time_s=np.array([0.0, 2.0]))  # fmt: skip
    first = symmetry_reference({"cbf": cbf, "ctp": ctp}, ct)
    assert not first.is_4d and np.array_equal(first.array, ct.array)
    assert symmetry_reference({"ctp": ctp, "ct": ct}, ct) is ct
