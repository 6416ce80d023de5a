"""CSV manifest layout: parsing, relative paths, missing files and line-numbered errors."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from strokect.data import detect_layout, load_dataset, read_manifest
from strokect.errors import InputError

HEADER = "case_id,patient_id,role,path\n"


def _nii(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.eye(4)), str(path))
    return path


def _write(tmp_path, body, name="manifest.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_manifest_cases_roles_and_paths(tmp_path):
    _nii(tmp_path / "p1" / "base.nii.gz")
    _nii(tmp_path / "p1" / "fu.nii.gz")
    mask = _nii(tmp_path / "abs" / "mask.nii.gz")
    _nii(tmp_path / "p2" / "ncct.nii")
    _nii(tmp_path / "p2" / "hem.nii")
    csv = _write(
        tmp_path,
        "c1,P1,ncct_baseline,p1/base.nii.gz\n"
        "c1,P1,ncct_followup,p1/fu.nii.gz\n"
        f"c1,P1,mask,{mask}\n"
        "\n"
        "c2,,ncct,p2/ncct.nii\n"
        "c2,,mask_hemorrhage,p2/hem.nii\n"
        "c2,,ncct_followup,p2/not-there.nii.gz\n",
    )
    ds = read_manifest(csv)
    assert ds.layout == "manifest" and ds.case_ids == ["c1", "c2"]
    c1, c2 = ds["c1"], ds["c2"]
    assert c1.images["ncct_baseline"] == tmp_path / "p1" / "base.nii.gz"
    assert c1.masks == {"lesion": mask} and c1.load("mask").spatial_shape == (2, 4, 4)
    assert c2.patient_id == "c2" and set(c2.masks) == {"hemorrhage"}
    assert c2.path("mask_hemorrhage") == tmp_path / "p2" / "hem.nii"
    # the absent file, and roles other cases have, are missing
    assert c2.missing == ["ncct_followup", "ncct_baseline", "lesion"]
    assert c1.missing == ["ncct", "hemorrhage"]
    assert detect_layout(tmp_path) == "manifest" and detect_layout(csv) == "manifest"
    assert load_dataset(tmp_path).case_ids == ["c1", "c2"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("c1,P1,ncct\n", r"manifest\.csv:2: 3 fields, expected 4"),
        ("c1,P1,ncct,a.nii\nc1,P1,flair,b.nii\n", r"manifest\.csv:3: unknown role 'flair'"),
        ("c1,P1,ncct,a.nii\n,P1,cbf,b.nii\n", r"manifest\.csv:3: empty case_id"),
        ("c1,P1,ncct,\n", r"manifest\.csv:2: empty path"),
        ("c1,P1,ncct,a.nii\nc1,P1,ncct,b.nii\n", r":3: role 'ncct' given twice for case 'c1'"),
        ("c1,P1,ncct,a.nii\nc1,P2,cbf,b.nii\n", r":3: case 'c1' has patient_id 'P2' here"),
        ("", r"manifest\.csv: the manifest has no rows"),
    ],
)
def test_bad_rows_name_their_line(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        read_manifest(_write(tmp_path, body))


def test_bad_header(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("case,patient_id,role,path\nc1,P1,ncct,a.nii\n")
    with pytest.raises(InputError, match=r"m\.csv:1: manifest header lacks column\(s\) case_id"):
        read_manifest(path)
    path.write_text("case_id,patient_id,role,path,notes\nc1,P1,ncct,a.nii,x\n")
    with pytest.raises(InputError, match=r"unknown manifest column\(s\) notes"):
        read_manifest(path)
    assert detect_layout(tmp_path / "m.csv") == "manifest"  # header has the columns


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="no manifest CSV"):
        read_manifest(tmp_path)


def test_case_with_disagreeing_grids_refused(tmp_path):
    _nii(tmp_path / "ncct.nii.gz")
    shifted = nib.Nifti1Image(np.zeros((4, 4, 2), np.uint8), np.diag([1.0, 1.0, 2.5, 1.0]))
    nib.save(shifted, str(tmp_path / "mask.nii.gz"))
    ds = read_manifest(_write(tmp_path, "c1,P1,ncct,ncct.nii.gz\nc1,P1,mask,mask.nii.gz\n"))
    with pytest.raises(
        InputError,
        match=r"case c1: geometry mismatch: lesion vs ncct: spacing \(2.5, 1, 1\) vs \(1, 1, 1\) mm",
    ):
        ds["c1"].check_geometry()
    assert set(ds["c1"].load_all(check_geometry=False)) == {"ncct", "lesion"}
