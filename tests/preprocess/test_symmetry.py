"""Mid-sagittal plane and symmetric modalities: known yaw / offset on the analytic head."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.io import Volume
from strokect.preprocess.symmetry import (
    SymmetryTransform,
    estimate_midsagittal_plane,
    mirror,
    register_flipped,
    symmetric_modalities,
)

from .conftest import make_head


def _true_offset(shift_mm, yaw_deg):
    n = np.array([np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg)), 0.0])
    return float(np.dot(shift_mm, n))


@pytest.mark.parametrize(
    ("yaw_deg", "shift_mm", "top_down"),
    [
        (0.0, (0.0, 0.0, 0.0), False),
        (7.0, (4.0, -3.0, 0.0), False),
        (-12.0, (-6.0, 5.0, 0.0), True),
    ],
)
def test_plane_recovers_known_yaw_and_offset(yaw_deg, shift_mm, top_down):
    ct, _ = make_head(
        (12, 96, 96), (5.0, 2.2, 2.2), yaw_deg=yaw_deg, shift_mm=shift_mm, top_down=top_down
    )
    plane = estimate_midsagittal_plane(ct)
    assert abs(plane.angle_deg - yaw_deg) < 1.0
    assert abs(plane.offset_mm - _true_offset(shift_mm, yaw_deg)) < 1.0
    # the plane passes through the head centre (which lies on the mid-sagittal plane)
    dist = (np.asarray(shift_mm) - np.asarray(plane.point_lps)) @ np.asarray(plane.normal_lps)
    assert abs(dist) < 1.0


def test_plane_angle_follows_image_axes():
    # an image stored right-to-left (x index axis = LPS -x, like the ISLES NIfTI files):
    # the angle is measured from the index x axis about +z, so it flips sign
    ct, _ = make_head((12, 96, 96), (5.0, 2.2, 2.2), yaw_deg=6.0, shift_mm=(3.0, 0.0, 0.0))
    far = ct.index_to_world(np.array([0, ct.spatial_shape[1] - 1, ct.spatial_shape[2] - 1]))
    flipped = Volume(
        ct.array[:, ::-1, ::-1].copy(),
        ct.spacing_mm,
        origin=tuple(far),
        direction=np.diag([-1.0, -1.0, 1.0]),
    )
    plane = estimate_midsagittal_plane(flipped)
    assert abs(plane.angle_deg - 6.0) < 1.0
    assert abs(abs(plane.offset_mm) - _true_offset((3.0, 0, 0), 6.0)) < 1.0
    n = np.asarray(plane.normal_lps)
    assert abs(abs(n[0]) - np.cos(np.radians(6.0))) < 0.02


def test_mirror_of_symmetric_head_is_itself_and_maps_are_swapped():
    ct, truth = make_head(
        (12, 96, 96), (5.0, 2.2, 2.2), yaw_deg=9.0, shift_mm=(5.0, 2.0, 0.0), noise_hu=0.0
    )
    # a "perfusion map" marking one hemisphere: its mirror must mark the other one
    sym = register_flipped(ct)
    normal, point = np.asarray(sym.plane.normal_lps), np.asarray(sym.plane.point_lps)
    zz, yy, xx = np.indices(ct.spatial_shape)
    side = (ct.index_to_world(np.stack([zz, yy, xx], -1).astype(float)) - point) @ normal
    brain = truth["brain"].array > 0
    left = ct.with_array(np.where(brain & (side > 2), 10.0, 0.0).astype(np.float32))
    out, sym2 = symmetric_modalities(ct, {"cbf": left})
    assert out["ct"].same_geometry(ct) and out["cbf"].same_geometry(ct)
    inner = brain & (np.abs(side) > 3)
    assert np.median(np.abs(out["ct"].array - ct.array)[inner]) < 5.0
    mirrored = out["cbf"].array > 5
    assert mirrored[inner & (side < -3)].mean() > 0.95
    assert mirrored[inner & (side > 3)].mean() < 0.05
    assert isinstance(sym2, SymmetryTransform)
    # S is an involution (a reflection): mirroring twice gives the identity on points
    p = np.array([10.0, -20.0, 5.0])
    twice = sym.matrix @ (sym.matrix @ p + sym.offset_lps) + sym.offset_lps
    np.testing.assert_allclose(twice, p, atol=1e-6 + 2 * abs(sym.glide_mm))


def test_mirror_rejects_bad_interpolation(head):
    ct, _ = head
    sym = register_flipped(ct)
    with pytest.raises(ValueError, match="interpolation"):
        mirror(ct, sym, interpolation="cubic")


def test_symmetric_modalities_checks_grid(head):
    ct, _ = head
    other = Volume(np.zeros((4, 8, 8), np.float32), (5.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="grid"):
        symmetric_modalities(ct, {"cbf": other})
