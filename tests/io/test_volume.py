"""Volume: validation, geometry helpers, and SimpleITK / nibabel conversions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import SimpleITK as sitk

from strokect.io import Volume
from strokect.io.convert import sitk_to_volume, volume_to_sitk
from strokect.io.nifti import nifti_to_volume, volume_to_nifti


def _oblique_volume(shape=(5, 6, 7), *, four_d: bool = False) -> Volume:
    rng = np.random.default_rng(0)
    angle = np.deg2rad(18.5)
    # rotation about the x axis: an oblique (tilted) grid
    direction = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    array = rng.normal(size=((3, *shape) if four_d else shape)).astype(np.float32)
    return Volume(
        array=array,
        spacing_mm=(5.0, 0.8, 0.6),
        origin=(-10.0, 20.0, 30.5),
        direction=direction,
        time_s=np.array([0.0, 1.5, 4.0]) if four_d else None,
        metadata={"modality": "CT"},
    )


def _corners(shape):
    return np.array(list(itertools.product(*[(0, n - 1) for n in shape])), dtype=float)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="3D"):
        Volume(np.zeros((4, 4)), spacing_mm=(1, 1, 1))
    with pytest.raises(ValueError, match="spacing_mm"):
        Volume(np.zeros((2, 4, 4)), spacing_mm=(1, 0, 1))
    with pytest.raises(ValueError, match="time_s"):
        Volume(np.zeros((3, 2, 4, 4)), spacing_mm=(1, 1, 1))
    with pytest.raises(ValueError, match="2 entries for 3 frames"):
        Volume(np.zeros((3, 2, 4, 4)), spacing_mm=(1, 1, 1), time_s=[0, 1])
    with pytest.raises(ValueError, match="only valid for 4D"):
        Volume(np.zeros((2, 4, 4)), spacing_mm=(1, 1, 1), time_s=[0, 1])


def test_index_world_round_trip_and_voxel_volume():
    vol = _oblique_volume()
    assert vol.voxel_volume_ml == pytest.approx(5.0 * 0.8 * 0.6 / 1000)
    # voxel (0,0,0) is the origin; one step along x moves 0.6 mm along direction column 0
    assert np.allclose(vol.index_to_world([0, 0, 0]), vol.origin)
    step = vol.index_to_world([0, 0, 1]) - vol.index_to_world([0, 0, 0])
    assert np.allclose(step, 0.6 * vol.direction[:, 0])
    step_z = vol.index_to_world([1, 0, 0]) - vol.index_to_world([0, 0, 0])
    assert np.allclose(step_z, 5.0 * vol.direction[:, 2])
    idx = np.array([[1.0, 2.5, 3.0], [4, 5, 6]])
    assert np.allclose(vol.world_to_index(vol.index_to_world(idx)), idx)
    # RAS affine = LPS affine with x, y negated
    assert np.allclose(vol.affine_ras()[:2], -vol.affine_lps()[:2])


def test_with_array_keeps_grid_and_frame():
    vol = _oblique_volume(four_d=True)
    mask = vol.with_array(np.zeros(vol.spatial_shape, dtype=np.uint8))
    assert mask.same_geometry(vol) and not mask.is_4d and mask.time_s is None
    again = vol.with_array(vol.array * 2)
    assert np.array_equal(again.time_s, vol.time_s)
    frame = vol.frame(2)
    assert frame.metadata["frame_time_s"] == 4.0 and frame.same_geometry(vol)
    with pytest.raises(ValueError, match="does not fit"):
        vol.with_array(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("four_d", [False, True])
def test_sitk_round_trip_preserves_corner_world_coordinates(four_d):
    vol = _oblique_volume(four_d=four_d)
    image = volume_to_sitk(vol)
    assert image.GetDimension() == (4 if four_d else 3)
    corners = _corners(vol.spatial_shape)
    for zyx in corners:  # SimpleITK's own index -> world mapping agrees with ours
        index = [int(v) for v in zyx[::-1]] + ([0] if four_d else [])
        world = image.TransformIndexToPhysicalPoint(index)[:3]
        assert np.allclose(world, vol.index_to_world(zyx), atol=1e-6)
    back = sitk_to_volume(image, time_s=vol.time_s if four_d else None)
    assert back.same_geometry(vol, atol_mm=1e-9)
    assert np.allclose(back.index_to_world(corners), vol.index_to_world(corners))
    assert np.array_equal(back.array, vol.array)
    if four_d:
        assert np.allclose(back.time_s, vol.time_s)


def test_sitk_4d_without_times_uses_time_axis():
    vol = _oblique_volume(four_d=True)
    back = sitk_to_volume(volume_to_sitk(vol))
    # ITK holds one interval (the median, 1.5 s... 2.5 s -> 2.0) and the start time
    assert back.time_s[0] == 0.0 and np.allclose(np.diff(back.time_s), 2.0)


def test_sitk_to_volume_rejects_2d():
    with pytest.raises(ValueError, match="2D image"):
        sitk_to_volume(sitk.Image(4, 4, sitk.sitkUInt8))


@pytest.mark.parametrize("four_d", [False, True])
def test_nibabel_round_trip_preserves_corner_world_coordinates(four_d):
    vol = _oblique_volume(four_d=four_d)
    image = volume_to_nifti(vol)
    corners = _corners(vol.spatial_shape)
    # nibabel's RAS affine applied to (x, y, z) indices equals our LPS world with x, y negated
    ras = np.c_[corners[:, ::-1], np.ones(len(corners))] @ image.affine.T
    lps = vol.index_to_world(corners)
    assert np.allclose(ras[:, :3] * [-1, -1, 1], lps, atol=1e-4)
    back = nifti_to_volume(image)
    assert back.same_geometry(vol, atol_mm=1e-4)
    assert np.array_equal(back.array, vol.array)
    if four_d:
        assert back.is_4d and back.n_frames == 3


def test_nibabel_and_sitk_agree():
    vol = _oblique_volume()
    via_nib = nifti_to_volume(volume_to_nifti(vol))
    via_itk = sitk_to_volume(volume_to_sitk(via_nib))
    corners = _corners(vol.spatial_shape)
    assert np.allclose(via_itk.index_to_world(corners), vol.index_to_world(corners), atol=1e-4)
