"""Rigid follow-up to baseline registration and resampling (known transforms)."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.io import Volume
from strokect.preprocess.registration import (
    RigidTransform,
    register_followup_to_baseline,
    register_rigid,
)
from strokect.preprocess.resample import resample_onto, resample_to_spacing

from .conftest import make_head


def _rigid(angles_deg, translation_mm, centre):
    ax, ay, az = np.radians(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = rz @ ry @ rx
    m[:3, 3] = np.asarray(centre) + np.asarray(translation_mm) - m[:3, :3] @ np.asarray(centre)
    return m


def _max_error_mm(found: RigidTransform, truth: np.ndarray, fixed: Volume, mask) -> float:
    pts = fixed.index_to_world(np.argwhere(mask).astype(float))
    expected = pts @ truth[:3, :3].T + truth[:3, 3]
    return float(np.linalg.norm(found.apply(pts) - expected, axis=1).max())


@pytest.fixture(scope="module")
def pair():
    """Baseline on a 5 mm grid; follow-up = the same head moved by a known rigid transform,
    sampled on a thinner-slice (2.5 mm) grid."""
    base, truth = make_head((38, 80, 80), (5.0, 2.5, 2.5), seed=1, landmarks=True)
    m = _rigid((3.0, -2.0, 5.0), (4.0, -3.0, 2.0), (0.0, 0.0, 0.0))
    followup, _ = make_head((76, 80, 80), (2.5, 2.5, 2.5), seed=2, rigid=m, landmarks=True)
    return base, followup, m, truth["brain"].array > 0


def test_register_rigid_recovers_known_transform(pair):
    base, followup, m, brain = pair
    found = register_rigid(base, followup)
    assert found.backend == "sitk"
    assert _max_error_mm(found, m, base, brain) < 1.0


def test_followup_to_baseline_moves_thinner_scan_and_carries_masks(pair):
    base, followup, m, brain = pair
    fu_mask = followup.with_array((followup.array > 160).astype(np.uint8))
    out = register_followup_to_baseline(base, followup, masks={"bone": fu_mask})
    assert out.moving == "followup"  # 2.5 mm slices move onto the 5 mm baseline grid
    assert out.followup.same_geometry(base) and out.baseline is base
    assert out.masks["bone"].same_geometry(base)
    assert set(np.unique(out.masks["bone"].array)) <= {0, 1}
    assert _max_error_mm(out.transform, m, base, brain) < 1.0
    bone_base = base.array > 160
    overlap = (out.masks["bone"].array > 0) & bone_base
    assert overlap.sum() / bone_base.sum() > 0.7


def test_followup_masks_must_match_moving_grid(pair):
    base, followup, _, _ = pair
    with pytest.raises(ValueError, match="grid"):
        register_followup_to_baseline(base, followup, masks={"x": base})


def test_unknown_backend(pair):
    base, followup, _, _ = pair
    with pytest.raises(ValueError, match="backend"):
        register_rigid(base, followup, backend="ants")


@pytest.mark.slow
def test_elastix_backend_recovers_known_transform(pair):
    pytest.importorskip("itk")
    base, followup, m, brain = pair
    found = register_rigid(base, followup, backend="elastix")
    assert found.backend == "elastix"
    assert _max_error_mm(found, m, base, brain) < 1.0


def test_resample_to_spacing_and_back_is_exact_in_geometry():
    vol = Volume(
        np.random.default_rng(0).normal(size=(6, 20, 24)).astype(np.float32),
        (5.0, 0.9, 0.8),
        origin=(10.0, -5.0, 3.0),
        direction=np.diag([-1.0, -1.0, 1.0]),
        source_header={"fake": "header"},
    )
    work = resample_to_spacing(vol, (2.0, 2.0, 2.0))
    assert work.spacing_mm == (2.0, 2.0, 2.0) and work.spatial_shape == (15, 9, 10)
    assert work.origin == vol.origin and np.array_equal(work.direction, vol.direction)
    back = resample_onto(work, vol)
    assert back.spatial_shape == vol.spatial_shape and back.spacing_mm == vol.spacing_mm
    assert back.origin == vol.origin and np.array_equal(back.direction, vol.direction)
    assert back.source_header == vol.source_header and back.array.dtype == vol.array.dtype


def test_resample_nearest_keeps_labels_and_linear_reproduces_smooth_field():
    _, yy, xx = np.indices((8, 16, 16)).astype(np.float32)
    ramp = Volume(xx * 2.0 + yy, (4.0, 1.0, 1.0))
    fine = resample_to_spacing(ramp, (4.0, 0.5, 0.5))
    # the linear field is reproduced exactly by linear interpolation inside the grid
    inner = fine.array[:, :-2, :-2]
    yx = np.indices(inner.shape[1:]) * 0.5
    np.testing.assert_allclose(inner, np.broadcast_to(yx[1] * 2.0 + yx[0], inner.shape), atol=1e-4)
    labels = ramp.with_array((xx > 7).astype(np.uint8) * 3)
    out = resample_to_spacing(labels, (2.0, 2.0, 2.0), interpolation="nearest")
    assert set(np.unique(out.array)) == {0, 3}
    with pytest.raises(ValueError, match="spacing_mm"):
        resample_to_spacing(ramp, (0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="interpolation"):
        resample_to_spacing(ramp, (1.0, 1.0, 1.0), interpolation="cubic")


def test_resample_4d_frame_by_frame_and_back():
    arr = np.random.default_rng(1).normal(size=(3, 4, 10, 12)).astype(np.float32)
    vol = Volume(arr, (5.0, 2.0, 2.0), time_s=np.array([0.0, 1.5, 3.0]))
    work = resample_to_spacing(vol, (5.0, 1.0, 1.0))
    assert work.is_4d and work.array.shape == (3, 4, 20, 24)
    np.testing.assert_array_equal(work.time_s, vol.time_s)
    back = resample_onto(work, vol)
    assert back.is_4d and back.same_geometry(vol) and back.array.shape == arr.shape
    # linear up- then down-sampling returns the original samples (they are grid points of both)
    np.testing.assert_allclose(back.array[..., :-1, :-1], arr[..., :-1, :-1], atol=1e-5)
