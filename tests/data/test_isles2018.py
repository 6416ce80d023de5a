"""ISLES 2018 layout: the real folder (case_1/case_2 with missing MTT/Tmax/4DPWI) and fixtures."""

from __future__ import annotations

import json
import warnings

import nibabel as nib
import numpy as np
import pytest

from strokect.data import load_dataset, read_isles2018
from strokect.data.isles2018 import parse_description
from strokect.errors import InputError, StrokectWarning

MODS = ("CT", "CT_CBF", "CT_CBV", "CT_MTT", "CT_Tmax", "CT_4DPWI", "OT")


def _make_case(root, split, case, ids, *, patient="Train_07", slab="A", skip=(), sidecar=True):
    case_dir = root / split / case
    for mod, number in zip(MODS, ids):
        name = f"SMIR.Brain.XX.O.{mod}.{number}"
        folder = case_dir / name
        folder.mkdir(parents=True)
        if sidecar:
            desc = f"ISLES 2018 - TRAIN - {patient}{'_' + slab if slab else ''} - {mod}"
            (folder / f"{name}.json").write_text(json.dumps({"description": desc}))
        if mod not in skip:
            shape = (4, 4, 2, 3) if mod == "CT_4DPWI" else (4, 4, 2)
            nib.save(
                nib.Nifti1Image(np.zeros(shape, np.int16), np.eye(4)), str(folder / f"{name}.nii")
            )
    return case_dir


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ISLES 2018 - TRAIN - Train_01_A - OT", ("Train_01", "A")),
        ("ISLES 2018 - TRAIN - Train_12 - CT", ("Train_12", None)),
        ("ISLES 2018 - TEST - Test_05_B - CT_CBF", ("Test_05", "B")),
        ("something else", None),
    ],
)
def test_parse_description(text, expected):
    assert parse_description(text) == expected


@pytest.mark.realdata
def test_real_isles2018_folder(isles2018_root):
    ds = load_dataset(isles2018_root)
    assert ds.layout == "isles2018" and ds.case_ids == ["case_1", "case_2"]
    for case, slab in zip(ds, "AB"):
        assert case.patient_id == "Train_01" and case.slab == slab and case.split == "train"
        assert set(case.images) == {"ct", "cbf", "cbv"} and set(case.masks) == {"core"}
        assert case.missing == ["mtt", "tmax", "ctp"]
        assert [case.native_names[r] for r in case.missing] == ["CT_MTT", "CT_Tmax", "CT_4DPWI"]
        assert all(p.is_file() for p in (*case.images.values(), *case.masks.values()))
    assert list(ds.patients()) == ["Train_01"]


@pytest.mark.realdata
def test_real_case_loads_with_matching_geometry(isles2018_root):
    case = load_dataset(isles2018_root)["case_2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrokectWarning)
        volumes = case.load_all()
        core = case.load("mask")
    assert set(volumes) == {"ct", "cbf", "cbv", "core"}
    assert np.allclose(core.spacing_mm, (5.0, 0.977, 0.977), atol=2e-3)
    # README: case_2 core 3.3 mL
    assert np.count_nonzero(core.array) * core.voxel_volume_ml == pytest.approx(3.3, abs=0.05)
    with pytest.raises(InputError, match="expected but missing"):
        case.path("tmax")


def test_fixture_layout_splits_natural_order_and_fallback(tmp_path):
    _make_case(tmp_path, "TRAINING", "case_10", range(10, 17), patient="Train_02", slab=None)
    _make_case(tmp_path, "TRAINING", "case_2", range(20, 27), skip=("OT",))
    _make_case(tmp_path, "TRAINING", "case_3", range(30, 37), sidecar=False)
    _make_case(tmp_path, "TESTING", "case_1", range(40, 47), skip=("OT",), patient="Test_01")
    ds = read_isles2018(tmp_path)
    assert ds.case_ids == ["test_case_1", "case_2", "case_3", "case_10"]  # TESTING < TRAINING
    by_id = {c.case_id: c for c in ds}
    assert by_id["case_10"].patient_id == "Train_02" and by_id["case_10"].slab is None
    assert by_id["case_2"].missing == ["core"]  # training cases need the OT mask
    assert by_id["case_3"].patient_id == "case_3"  # no sidecar: the case id
    test_case = by_id["test_case_1"]
    assert test_case.split == "test" and test_case.missing == [] and not test_case.masks
    assert by_id["case_10"].load("ctp").is_4d


def _add_dwi(case_dir, number, *, image=True):
    name = f"SMIR.Brain.XX.O.MR_DWI.{number}"
    (case_dir / name).mkdir()
    (case_dir / name / f"{name}.json").write_text(json.dumps({"description": "x"}))
    if image:
        data = np.ones((4, 4, 2), np.float32)
        nib.save(nib.Nifti1Image(data, np.eye(4)), str(case_dir / name / f"{name}.nii"))


def test_dwi_role_is_optional(tmp_path):
    with_dwi = _make_case(tmp_path, "TRAINING", "case_1", range(10, 17))
    _add_dwi(with_dwi, 17)
    _make_case(tmp_path, "TRAINING", "case_2", range(20, 27))
    partial = _make_case(tmp_path, "TESTING", "case_1", range(30, 37), skip=("OT",))
    _add_dwi(partial, 37, image=False)
    _make_case(tmp_path, "TESTING", "case_2", range(40, 47), skip=("OT",))
    by_id = {c.case_id: c for c in read_isles2018(tmp_path)}
    case = by_id["case_1"]
    assert case.missing == [] and case.native_names["dwi"] == "MR_DWI"
    assert case.load("dwi").same_geometry(case.load("ct"))
    # another training case has a DWI: reported missing, but the case still loads
    assert by_id["case_2"].missing == ["dwi"] and by_id["case_2"].native_names["dwi"] == "MR_DWI"
    assert set(by_id["case_2"].load_all()) == {"ct", "cbf", "cbv", "mtt", "tmax", "ctp", "core"}
    # a DWI folder holding only its sidecar is missing; no DWI at all is not
    assert by_id["test_case_1"].missing == ["dwi"]
    assert by_id["test_case_2"].missing == [] and "dwi" not in by_id["test_case_2"].images


def test_case_without_dwi_loads_as_before(tmp_path):
    case_dir = _make_case(tmp_path, "TRAINING", "case_5", range(7))
    (case,) = read_isles2018(tmp_path).cases
    assert case.missing == [] and "dwi" not in case.roles and "dwi" not in case.native_names
    assert load_dataset(case_dir)["case_5"].load("ct").spatial_shape == (2, 4, 4)


def test_split_or_case_folder_as_root(tmp_path):
    case_dir = _make_case(tmp_path, "TRAINING", "case_5", range(7))
    assert read_isles2018(tmp_path / "TRAINING").case_ids == ["case_5"]
    assert load_dataset(case_dir).case_ids == ["case_5"]


def test_not_isles2018(tmp_path):
    with pytest.raises(InputError, match="no ISLES 2018 case folders"):
        read_isles2018(tmp_path)
