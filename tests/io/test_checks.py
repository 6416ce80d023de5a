"""Input sanity (issue 2 item 6): one clear message per bad input."""

from __future__ import annotations

import gzip
import os

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from strokect.errors import InputError, StrokectWarning
from strokect.io import (
    Volume,
    check_same_geometry,
    ensure_hu,
    read_volume,
    require_3d,
    require_4d,
    write_volume,
)
from strokect.io.checks import looks_unsigned_ct


def _nifti(path, data, affine=None):
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))
    return path


def _head_ct_hu(shape=(4, 32, 32)) -> np.ndarray:
    """Air at -1000 HU, a 'head' disc of brain at 35 HU with a 1 px skull at 1200 HU."""
    _, y, x = np.indices(shape)
    r = np.hypot(y - shape[1] / 2, x - shape[2] / 2)
    ct = np.full(shape, -1000, np.int16)
    ct[r < 13] = 1200
    ct[r < 12] = 35
    return ct


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        read_volume(tmp_path / "nope.nii.gz")


def test_empty_file_unreadable(tmp_path):
    (tmp_path / "empty.nii").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.nii: not a readable NIfTI"):
        read_volume(tmp_path / "empty.nii")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_permission_denied(tmp_path):
    path = _nifti(tmp_path / "a.nii", np.zeros((3, 3, 3), np.int16))
    path.chmod(0)
    with pytest.raises(InputError, match="not a readable NIfTI"):
        read_volume(path)


def test_truncated_gzip(tmp_path):
    path = _nifti(tmp_path / "a.nii.gz", np.random.default_rng(0).normal(size=(32, 32, 16)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"a\.nii\.gz: truncated or corrupt"):
        read_volume(path)


def test_truncated_plain_nifti(tmp_path):
    path = _nifti(tmp_path / "a.nii", np.ones((16, 16, 8), np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(InputError, match=r"a\.nii: .*truncated"):
        read_volume(path)


@pytest.mark.parametrize("name", ["notes.nii.gz", "notes.nii"])
def test_text_file_is_not_an_image(tmp_path, name):
    (tmp_path / name).write_text("this is a text file, not a scan\n" * 20)
    with pytest.raises(InputError, match=f"{name}: not a readable NIfTI image"):
        read_volume(tmp_path / name)


def test_gzipped_text_is_not_an_image(tmp_path):
    with gzip.open(tmp_path / "t.nii.gz", "wt") as handle:
        handle.write("hello\n" * 200)
    with pytest.raises(InputError, match="not a readable NIfTI image"):
        read_volume(tmp_path / "t.nii.gz")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_voxels(tmp_path, bad):
    data = np.zeros((4, 4, 4), np.float32)
    data[1, 2, 3] = bad
    data[0, 0, 0] = bad
    path = _nifti(tmp_path / "nan.nii.gz", data)
    with pytest.raises(InputError, match="2 voxels are NaN or infinite"):
        read_volume(path)
    assert not np.isfinite(read_volume(path, allow_nonfinite=True).array).all()


def test_unsigned_ct_converted_with_warning():
    raw = _head_ct_hu().astype(np.int32) + 1024  # air at 24, brain at 1059: no intercept
    raw[raw < 30] = 0  # air clipped to 0 as on such scanners
    vol = Volume(raw.astype(np.uint16), spacing_mm=(5, 0.5, 0.5))
    assert looks_unsigned_ct(vol.array)
    with pytest.warns(StrokectWarning, match="unsigned CT numbers.*-1024 HU"):
        hu = ensure_hu(vol)
    assert hu.array.dtype == np.float32 and hu.array.min() == -1024
    assert np.median(hu.array[:, 16, 16]) == 35
    assert hu.metadata["hu_offset_applied"] == -1024


def test_unsigned_ct_refused_by_policy():
    vol = Volume((_head_ct_hu() + 1024).astype(np.uint16), spacing_mm=(5, 0.5, 0.5))
    with pytest.raises(InputError, match="not HU"):
        ensure_hu(vol, policy="refuse")
    with pytest.raises(ValueError, match="policy"):
        ensure_hu(vol, policy="guess")


@pytest.mark.parametrize(
    "array",
    [
        _head_ct_hu(),  # HU with air at -1000
        np.clip(_head_ct_hu(), 0, 80),  # a brain-windowed HU image: max 80
        np.where(_head_ct_hu() < 0, 0, _head_ct_hu()),  # HU with air set to 0, skull kept
    ],
)
def test_hu_ct_left_alone(array):
    vol = Volume(array, spacing_mm=(5, 0.5, 0.5))
    assert ensure_hu(vol, policy="refuse") is vol


def test_require_3d_refuses_2d_and_4d():
    single = Volume(np.zeros((1, 8, 8)), spacing_mm=(1, 1, 1))
    with pytest.raises(InputError, match=r"a 2D image .* where a 3D volume is needed"):
        require_3d(single, name="ncct")
    series = Volume(np.zeros((3, 2, 8, 8)), spacing_mm=(1, 1, 1), time_s=[0, 1, 2])
    with pytest.raises(InputError, match="ncct: a 4D series \\(3 frames\\)"):
        require_3d(series, name="ncct")
    assert require_3d(series.frame(0)) is not None


def test_require_4d_refuses_3d_and_bad_times():
    with pytest.raises(InputError, match="ctp: a 3D volume where a 4D time series is needed"):
        require_4d(Volume(np.zeros((2, 8, 8)), spacing_mm=(1, 1, 1)), name="ctp")
    back = Volume(np.zeros((3, 2, 8, 8)), spacing_mm=(1, 1, 1), time_s=[0, 2, 1])
    with pytest.raises(InputError, match="not strictly increasing"):
        require_4d(back)


def test_2d_files_refused_on_read(tmp_path):
    _nifti(tmp_path / "slice.nii.gz", np.zeros((8, 8), np.int16))
    with pytest.raises(InputError, match=r"slice\.nii\.gz: a 2D image"):
        read_volume(tmp_path / "slice.nii.gz")
    sitk.WriteImage(sitk.Image(8, 8, sitk.sitkInt16), str(tmp_path / "slice.mha"))
    with pytest.raises(InputError, match=r"slice\.mha: a 2D image"):
        read_volume(tmp_path / "slice.mha")


def test_geometries_of_one_case_must_agree(tmp_path):
    ncct = Volume(np.zeros((4, 8, 8)), spacing_mm=(5, 0.5, 0.5))
    same = ncct.with_array(np.ones(ncct.spatial_shape))
    check_same_geometry({"ncct": ncct, "mask": same})
    shifted = Volume(np.zeros((4, 8, 8)), spacing_mm=(5, 0.5, 0.5), origin=(0, 0, 2.5))
    with pytest.raises(InputError) as err:  # says what differs, with both values
        check_same_geometry({"ncct": ncct, "cbf": shifted})
    assert str(err.value) == (
        "geometry mismatch: cbf vs ncct: origin (0, 0, 2.5) vs (0, 0, 0) mm (LPS)"
    )
    tilted = Volume(np.zeros((4, 8, 8)), spacing_mm=(5, 0.5, 0.6), direction=np.diag([1, -1, 1]))
    with pytest.raises(InputError, match=r"spacing \(5, 0.5, 0.6\) vs \(5, 0.5, 0.5\) mm") as err:
        check_same_geometry({"ncct": ncct, "cbf": tilted})
    assert "direction (1, 0, 0, 0, -1, 0, 0, 0, 1) vs (1, 0, 0, 0, 1, 0, 0, 0, 1)" in str(err.value)
    other_shape = Volume(np.zeros((4, 8, 9)), spacing_mm=(5, 0.5, 0.5))
    with pytest.raises(InputError, match="mask has shape \\(4, 8, 9\\), ncct has \\(4, 8, 8\\)"):
        check_same_geometry({"ncct": ncct, "mask": other_shape})
    # a 4D series is compared by its spatial grid
    ctp = Volume(np.zeros((2, 4, 8, 8)), spacing_mm=(5, 0.5, 0.5), time_s=[0, 1])
    check_same_geometry({"ncct": ncct, "ctp": ctp})


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    vol = Volume(np.zeros((2, 3, 3), np.float32), spacing_mm=(1, 1, 1))
    path = write_volume(vol, tmp_path / "out.nii.gz")
    before = path.read_bytes()
    broken = Volume(np.zeros((2, 3, 3), dtype=object), spacing_mm=(1, 1, 1))
    with pytest.raises(Exception):  # noqa: B017 - nibabel refuses object arrays
        write_volume(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nii.gz"]
