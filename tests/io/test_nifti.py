"""NIfTI: 3D/4D round trips, exact mask geometry, the ISLES 2018 sform/pixdim conflict."""

from __future__ import annotations

import json
import warnings

import nibabel as nib
import numpy as np
import pytest

from strokect.errors import StrokectWarning
from strokect.io import Volume, read_volume, write_volume
from strokect.io.nifti import nifti_to_volume

ISLES_CT = "TRAINING/case_1/SMIR.Brain.XX.O.CT.345562/SMIR.Brain.XX.O.CT.345562.nii"


def _volume(*, four_d=False, time_s=None) -> Volume:
    rng = np.random.default_rng(1)
    shape = (4, 6, 5)
    array = rng.integers(-1000, 1000, size=((len(time_s), *shape) if four_d else shape))
    c, s = np.cos(0.3), np.sin(0.3)
    return Volume(
        array=array.astype(np.int16),
        spacing_mm=(5.0, 0.5, 0.7),
        origin=(12.0, -3.5, 40.0),
        direction=np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
        time_s=time_s,
    )


def _header_fields(header) -> dict:
    """The geometry fields of a NIfTI header, compared one by one."""
    return {
        "sform_code": int(header["sform_code"]),
        "qform_code": int(header["qform_code"]),
        "pixdim": np.asarray(header["pixdim"][1:4]).copy(),
        "srow": np.stack([header["srow_x"], header["srow_y"], header["srow_z"]]).copy(),
        "quatern": np.array([header[k] for k in ("quatern_b", "quatern_c", "quatern_d")]),
        "qoffset": np.array([header[k] for k in ("qoffset_x", "qoffset_y", "qoffset_z")]),
        "qfac": float(header["pixdim"][0]),
        "units": header.get_xyzt_units(),
        "dim": np.asarray(header["dim"][1:4]).copy(),
    }


def _assert_same_header_geometry(a, b) -> None:
    fa, fb = _header_fields(a), _header_fields(b)
    for key in fa:
        assert np.array_equal(np.asarray(fa[key]), np.asarray(fb[key])), key


def _isles_like_file(path, data):
    """A NIfTI with the ISLES 2018 quirk: identity sform (code 2), qform code 0, real pixdim."""
    header = nib.Nifti1Header()
    header.set_data_shape(data.shape)
    header.set_data_dtype(data.dtype)
    header.set_zooms((0.977, 0.977, 5.0))
    header.set_sform(np.eye(4), code=2)
    header["qform_code"] = 0
    nib.save(nib.Nifti1Image(data, None, header=header), str(path))
    reread = nib.load(str(path)).header
    assert reread["sform_code"] == 2 and reread["qform_code"] == 0
    return path


def test_3d_round_trip(tmp_path):
    vol = _volume()
    out = write_volume(vol, tmp_path / "a.nii.gz")
    back = read_volume(out)
    assert back.same_geometry(vol, atol_mm=1e-5)
    assert back.array.dtype == np.int16 and np.array_equal(back.array, vol.array)
    corners = np.array([[0, 0, 0], [3, 5, 4]])
    assert np.allclose(back.index_to_world(corners), vol.index_to_world(corners), atol=1e-4)


def test_4d_round_trip_uniform_times(tmp_path):
    vol = _volume(four_d=True, time_s=np.arange(6) * 1.5)
    back = read_volume(write_volume(vol, tmp_path / "ctp.nii.gz"))
    assert back.is_4d and back.n_frames == 6 and back.same_geometry(vol, atol_mm=1e-5)
    assert np.allclose(back.time_s, vol.time_s)
    assert np.array_equal(back.array, vol.array)
    assert not (tmp_path / "ctp.json").exists()  # pixdim[4] is enough


def test_4d_round_trip_non_uniform_times_use_sidecar(tmp_path):
    times = np.array([0.0, 1.0, 2.0, 4.0, 7.5])
    vol = _volume(four_d=True, time_s=times)
    back = read_volume(write_volume(vol, tmp_path / "ctp.nii"))
    assert json.loads((tmp_path / "ctp.json").read_text())["time_s"] == times.tolist()
    assert np.allclose(back.time_s, times)


def test_4d_times_not_starting_at_zero_kept(tmp_path):
    vol = _volume(four_d=True, time_s=np.array([3.0, 4.0, 5.0]))
    back = read_volume(write_volume(vol, tmp_path / "ctp.nii.gz"))
    assert np.allclose(back.time_s, [3.0, 4.0, 5.0])


def test_sidecar_with_wrong_frame_count_warns(tmp_path):
    vol = _volume(four_d=True, time_s=np.arange(3) * 2.0)
    path = write_volume(vol, tmp_path / "ctp.nii.gz")
    (tmp_path / "ctp.json").write_text(json.dumps({"FrameTimesStart": [0, 1]}))
    with pytest.warns(StrokectWarning, match="2 frame times for 3 frames"):
        back = read_volume(path)
    assert np.allclose(back.time_s, [0, 2, 4])


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_mask_written_for_plain_input_has_exact_geometry(tmp_path, suffix):
    src = tmp_path / f"ct{suffix}"
    image = nib.Nifti1Image(np.zeros((5, 6, 4), np.int16), np.diag([-0.7, 0.5, 5.0, 1.0]))
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=2)
    nib.save(image, str(src))
    ct = read_volume(src)
    mask = ct.with_array(ct.array > -1)
    out = write_volume(mask, tmp_path / f"mask{suffix}")
    written = nib.load(str(out))
    _assert_same_header_geometry(written.header, nib.load(str(src)).header)
    assert np.array_equal(written.affine, nib.load(str(src)).affine)
    assert written.get_data_dtype() == np.uint8


def test_isles_quirk_read_once_warned(tmp_path):
    path = _isles_like_file(tmp_path / "quirk.nii", np.zeros((8, 8, 3), np.int16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = read_volume(path)
    ours = [w for w in caught if issubclass(w.category, StrokectWarning)]
    assert len(ours) == 1 and "conflicting" in str(ours[0].message)
    assert "pixdim" in str(ours[0].message) and "sform" in str(ours[0].message)
    assert np.allclose(vol.spacing_mm, (5.0, 0.977, 0.977), atol=1e-5)


def test_mask_for_isles_quirk_file_keeps_quirky_header(tmp_path):
    src = _isles_like_file(tmp_path / "quirk.nii", np.ones((8, 8, 3), np.int16))
    with pytest.warns(StrokectWarning):
        ct = read_volume(src)
    out = write_volume(ct.with_array(ct.array > 0), tmp_path / "mask.nii.gz")
    _assert_same_header_geometry(nib.load(str(out)).header, nib.load(str(src)).header)
    with pytest.warns(StrokectWarning, match="conflicting"):
        mask = read_volume(out)
    assert mask.same_geometry(ct) and mask.voxel_volume_ml == pytest.approx(ct.voxel_volume_ml)


@pytest.mark.realdata
def test_real_isles2018_header(isles2018_root, tmp_path):
    path = isles2018_root / ISLES_CT
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ct = read_volume(path)
    ours = [w for w in caught if issubclass(w.category, StrokectWarning)]
    assert len(ours) == 1 and "conflicting NIfTI header" in str(ours[0].message)
    assert nib.load(str(path)).header.get_zooms()[:3] != (1.0, 1.0, 1.0)
    assert np.allclose(ct.spacing_mm, (5.0, 0.977, 0.977), atol=2e-3)
    mask = ct.with_array(ct.array > 30)
    out = write_volume(mask, tmp_path / "core.nii.gz")
    _assert_same_header_geometry(nib.load(str(out)).header, nib.load(str(path)).header)


def test_in_memory_nibabel_image_reads():
    image = nib.Nifti1Image(np.arange(24, dtype=np.int32).reshape(2, 3, 4), np.eye(4))
    vol = nifti_to_volume(image)
    assert vol.array.shape == (4, 3, 2) and vol.array.dtype == np.int32


def test_scaled_nifti_applies_slope_and_intercept(tmp_path):
    image = nib.Nifti1Image(np.full((3, 3, 3), 100, np.int16), np.eye(4))
    image.header.set_slope_inter(2.0, -1024.0)
    nib.save(image, str(tmp_path / "s.nii"))
    vol = read_volume(tmp_path / "s.nii")
    assert np.allclose(vol.array, 100 * 2.0 - 1024.0)


def test_int64_array_writes(tmp_path):
    vol = _volume()
    labels = vol.with_array(np.ones(vol.spatial_shape, dtype=np.int64))
    back = read_volume(write_volume(labels, tmp_path / "labels.nii.gz"))
    assert np.array_equal(back.array, labels.array)


def test_mask_for_4d_input_is_3d_with_input_geometry(tmp_path):
    vol = _volume(four_d=True, time_s=np.arange(4) * 2.0)
    src = write_volume(vol, tmp_path / "ctp.nii.gz")
    ctp = read_volume(src)
    mask = ctp.with_array(ctp.array.max(axis=0) > 0)
    out = write_volume(mask, tmp_path / "mask.nii.gz")
    written = nib.load(str(out))
    assert written.header["dim"][0] == 3 and written.shape == (5, 6, 4)
    _assert_same_header_geometry(written.header, nib.load(str(src)).header)
    assert read_volume(out).same_geometry(ctp)
