"""ISLES 2024 (BIDS-like) layout on a tiny fixture tree."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from strokect.data import detect_layout, load_dataset, read_isles2024
from strokect.errors import InputError, StrokectWarning


def _nii(path, shape=(4, 4, 2)):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), np.eye(4)), str(path))


def _subject(root, sub, *, maps=True, derived=True, mask=True, ctp=True):
    raw = root / "rawdata" / sub / "ses-0001"
    for kind in ("ncct", "cta", *(("ctp",) if ctp else ())):
        _nii(raw / f"{sub}_ses-0001_{kind}.nii.gz", (4, 4, 2, 3) if kind == "ctp" else (4, 4, 2))
    for m in ("cbf", "cbv", "mtt", "tmax") if maps else ():
        _nii(raw / "perfusion-maps" / f"{sub}_ses-0001_{m}.nii.gz")
    der = root / "derivatives" / sub
    for m in ("cbf", "cbv", "mtt", "tmax") if derived else ():
        _nii(der / "ses-0001" / "perfusion-maps" / f"{sub}_ses-0001_space-ncct_{m}.nii.gz")
    if mask:
        _nii(der / "ses-0002" / f"{sub}_ses-0002_lesion-msk.nii.gz")


def test_full_and_partial_subjects(tmp_path):
    _subject(tmp_path, "sub-stroke0010")
    _subject(tmp_path, "sub-stroke0002", maps=False, mask=False, ctp=False)
    assert detect_layout(tmp_path) == "isles2024"
    ds = load_dataset(tmp_path)
    assert ds.layout == "isles2024" and ds.case_ids == ["sub-stroke0002", "sub-stroke0010"]
    full, partial = ds["sub-stroke0010"], ds["sub-stroke0002"]
    assert set(full.images) == {
        "ncct", "cta", "ctp", "cbf", "cbv", "mtt", "tmax",
        "cbf_ncct", "cbv_ncct", "mtt_ncct", "tmax_ncct",
    }  # fmt: skip
    assert set(full.masks) == {"infarct"} and full.missing == []
    assert full.patient_id == "sub-stroke0010"
    assert full.images["cbf_ncct"].parts[-5] == "derivatives"
    assert full.load("ctp").is_4d and full.load("mask").spatial_shape == (2, 4, 4)
    assert partial.missing == ["ctp", "cbf", "cbv", "mtt", "tmax", "infarct"]


def test_unknown_files_warned_and_duplicates_refused(tmp_path):
    _subject(tmp_path, "sub-01", derived=False)
    _nii(tmp_path / "rawdata" / "sub-01" / "ses-0001" / "sub-01_ses-0001_weird.nii.gz")
    with pytest.warns(StrokectWarning, match="not a known ISLES 2024 file name"):
        ds = read_isles2024(tmp_path)
    assert "weird" not in ds["sub-01"].images
    (tmp_path / "rawdata" / "sub-01" / "ses-0001" / "sub-01_ses-0001_weird.nii.gz").unlink()
    _nii(tmp_path / "rawdata" / "sub-01" / "ses-0003" / "sub-01_ses-0003_ncct.nii.gz")
    with pytest.raises(InputError, match="two files for role 'ncct'"):
        read_isles2024(tmp_path)


def test_not_isles2024(tmp_path):
    (tmp_path / "rawdata").mkdir()
    with pytest.raises(InputError, match="no ISLES 2024"):
        read_isles2024(tmp_path)


def test_grid_groups_separate_ncct_and_ctp_grids(tmp_path):
    _subject(tmp_path, "sub-01")
    # raw maps on another (CTP) grid than the NCCT: allowed, they are a separate grid group
    raw_maps = tmp_path / "rawdata" / "sub-01" / "ses-0001" / "perfusion-maps"
    for m in ("cbf", "cbv", "mtt", "tmax"):
        _nii(raw_maps / f"sub-01_ses-0001_{m}.nii.gz", (5, 5, 2))
    _nii(tmp_path / "rawdata" / "sub-01" / "ses-0001" / "sub-01_ses-0001_ctp.nii.gz", (5, 5, 2, 3))
    case = read_isles2024(tmp_path)["sub-01"]
    case.check_geometry()
    # a mask off the NCCT grid is refused
    _nii(
        tmp_path / "derivatives" / "sub-01" / "ses-0002" / "sub-01_ses-0002_lesion-msk.nii.gz",
        (4, 4, 3),
    )
    with pytest.raises(InputError, match="case sub-01: geometry mismatch: infarct has shape"):
        read_isles2024(tmp_path)["sub-01"].check_geometry()
