"""Intracranial, CSF and brain masks on the analytic head (known truth)."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.errors import InputError, StrokectWarning
from strokect.io import Volume
from strokect.preprocess.brain import brain_mask, perfusion_brain_mask
from strokect.preprocess.masks import csf_mask, intracranial_mask
from strokect.preprocess.morphology import dilate_mm, distance_mm

from .conftest import dice, make_head


def test_distance_mm_matches_brute_force():
    mask = np.zeros((5, 9, 11), bool)
    mask[2, 4, 5] = True
    spacing = (3.0, 0.7, 1.3)
    zz, yy, xx = np.indices(mask.shape)
    brute = np.sqrt(((zz - 2) * 3.0) ** 2 + ((yy - 4) * 0.7) ** 2 + ((xx - 5) * 1.3) ** 2)
    np.testing.assert_allclose(distance_mm(mask, spacing), brute, atol=1e-4)
    ball = dilate_mm(mask, 3.0, spacing)
    np.testing.assert_array_equal(ball, brute <= 3.0)
    assert ball[:, 4, 5].sum() == 3  # 3 mm reaches exactly one 3 mm slice each way


def test_intracranial_dice_against_truth(head):
    ct, truth = head
    ic = intracranial_mask(ct)
    assert ic.same_geometry(ct) and ic.array.dtype == np.uint8
    assert dice(ic.array, truth["intracranial"].array) >= 0.95
    assert ic.metadata["method"] == "threecnn-intracranial"
    assert ic.metadata["region_growing"] == "3d-region-growing"
    # the neck / spinal canal below the foramen magnum is removed
    fm = ic.metadata["foramen_magnum_slice"]
    assert fm is not None and not ic.array[:fm].any()


def test_intracranial_independent_of_slice_order(head):
    ct, _ = head
    # the same voxels stored top-down: reversed slices, z axis pointing down, origin on top
    top = ct.index_to_world(np.array([ct.spatial_shape[0] - 1, 0, 0]))
    flipped = Volume(
        ct.array[::-1].copy(), ct.spacing_mm, origin=tuple(top), direction=np.diag([1, 1, -1])
    )
    a = intracranial_mask(ct).array
    b = intracranial_mask(flipped).array
    np.testing.assert_array_equal(a, b[::-1])
    _, ftruth = make_head(top_down=True)
    assert (
        dice(intracranial_mask(make_head(top_down=True)[0]).array, ftruth["intracranial"].array)
        >= 0.95
    )


def test_intracranial_radii_follow_spacing():
    # the same head sampled with thin slices must give (nearly) the same mask volume
    thick, _ = make_head((38, 64, 64), (5.0, 3.0, 3.0))
    thin, truth_thin = make_head((63, 64, 64), (3.0, 3.0, 3.0))
    v_thick = intracranial_mask(thick).array.sum() * thick.voxel_volume_ml
    v_thin = intracranial_mask(thin).array.sum() * thin.voxel_volume_ml
    v_true = truth_thin["intracranial"].array.sum() * thin.voxel_volume_ml
    assert abs(v_thick - v_thin) / v_true < 0.05


def test_intracranial_refuses_no_skull(head):
    ct, _ = head
    with pytest.raises(InputError, match="160"):
        intracranial_mask(ct.with_array(np.clip(ct.array, -1000, 100)))


def test_intracranial_open_skull_falls_back_with_warning(head):
    ct, truth = head
    open_skull = ct.array.copy()
    open_skull[24:, 30:50, 60:] = 35.0  # a lateral craniectomy opens the skull to the border
    with pytest.warns(StrokectWarning, match="leaked"):
        ic = intracranial_mask(ct.with_array(open_skull))
    assert ic.metadata["region_growing"] == "slicewise-region-growing"
    assert dice(ic.array[:24], truth["intracranial"].array[:24]) >= 0.95  # closed slices kept
    # when the seed slice itself is open, the growth is confined by the skull's convex hull
    open_skull[:, 30:50, 60:] = 35.0
    with pytest.warns(StrokectWarning, match="convex hull"):
        ic = intracranial_mask(ct.with_array(open_skull))
    assert ic.metadata["region_growing"] == "3d-region-growing-in-convex-hull"
    assert dice(ic.array, truth["intracranial"].array) >= 0.9


def test_csf_mask_finds_ventricles(head):
    ct, truth = head
    csf = csf_mask(ct)
    assert csf.metadata["method"] == "threecnn-csf"
    assert dice(csf.array, truth["csf"].array) >= 0.7
    assert not (csf.array & (truth["intracranial"].array == 0)).any()


def test_csf_mask_empty_with_warning_when_no_seed(head):
    ct, _ = head
    with pytest.warns(StrokectWarning, match="no voxel"):
        csf = csf_mask(ct, csf_window_hu=(200.0, 210.0))
    assert not csf.array.any()


def test_brain_mask_auto_and_threshold(head):
    ct, truth = head
    auto = brain_mask(ct)
    assert auto.metadata["method"] == "brain-threecnn"
    assert dice(auto.array, truth["brain"].array) >= 0.95
    inside = (truth["brain"].array > 0) & (ct.array < 100)  # a skull-stripped input
    stripped = ct.with_array(np.where(inside, ct.array, 0.0))
    thr = brain_mask(stripped, tissue_window_hu=(1.0, 100.0))
    assert thr.metadata["method"] == "brain-threshold"
    assert dice(thr.array, inside) >= 0.95
    with pytest.raises(ValueError, match="method"):
        brain_mask(ct, method="bet")


def test_perfusion_brain_mask_subset_and_geometry(head):
    ct, truth = head
    inside = truth["brain"].array > 0
    cbf = ct.with_array(np.where(inside, 50.0, 0.0))
    cbv = ct.with_array(np.zeros(ct.spatial_shape))
    mask = perfusion_brain_mask({"cbf": cbf, "cbv": cbv})
    np.testing.assert_array_equal(mask.array > 0, inside)
    assert mask.metadata["maps"] == ["cbf", "cbv"]
    with pytest.raises(InputError):
        perfusion_brain_mask([])
    other, _ = make_head((8, 16, 16), (5.0, 3.0, 3.0))
    with pytest.raises(InputError, match="grid"):
        perfusion_brain_mask([cbf, other])
