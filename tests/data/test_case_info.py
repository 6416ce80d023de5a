"""``case_info.csv`` beside a dataset: `Case.metadata`, `Case.lesion_class` and
`filter_cases_by_class` (the follow-up hypodensity class that ``threecnn`` trains per class)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from strokect.data import filter_cases_by_class, load_dataset
from strokect.data.case_info import CASE_INFO_FILE, find_case_info, read_case_info
from strokect.errors import InputError, StrokectWarning


def _dataset(tmp_path, info: str | None):
    rows = ["case_id,patient_id,role,path"]
    for cid in ("a", "b", "c"):
        path = tmp_path / "img" / f"{cid}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.eye(4)), str(path))
        rows.append(f"{cid},{cid},ncct_followup,img/{cid}.nii.gz")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    if info is not None:
        (tmp_path / CASE_INFO_FILE).write_text(info)
    return tmp_path


INFO = (
    "case_id,kind,lesion_class,infarct_mean_hu,infarct_ml\n"
    "a,ischemic,subtle,33.5,48.0\n"
    "b,ischemic_ht,severe,18.0,120.5\n"
    "c,hemorrhage,,,0\n"
)


def test_case_info_fills_metadata_and_filters(tmp_path):
    ds = load_dataset(_dataset(tmp_path, INFO))
    a, b, c = ds.cases
    assert a.lesion_class == "subtle" and a.metadata["infarct_mean_hu"] == 33.5
    assert b.metadata["kind"] == "ischemic_ht" and b.metadata["infarct_ml"] == 120.5
    assert c.lesion_class is None and c.metadata["infarct_mean_hu"] is None
    assert [x.case_id for x in filter_cases_by_class(ds.cases, "severe")] == ["b"]
    both = filter_cases_by_class(ds.cases, ["subtle", "severe"])
    assert [x.case_id for x in both] == ["a", "b"]
    assert filter_cases_by_class(ds.cases, "intermediate") == []
    with pytest.raises(ValueError, match="lesion classes"):
        filter_cases_by_class(ds.cases, "mild")
    assert find_case_info(tmp_path / "manifest.csv") == tmp_path / CASE_INFO_FILE


def test_without_case_info_no_class_is_known(tmp_path):
    ds = load_dataset(_dataset(tmp_path, None))
    assert all(c.metadata == {} and c.lesion_class is None for c in ds.cases)
    with pytest.raises(InputError, match="no lesion class"):
        filter_cases_by_class(ds.cases, "subtle")


def test_unreadable_case_info_is_a_warning(tmp_path):
    with pytest.warns(StrokectWarning, match="case-info table ignored"):
        ds = load_dataset(_dataset(tmp_path, "id,lesion_class\na,subtle\n"))
    assert all(c.metadata == {} for c in ds.cases)
    (tmp_path / CASE_INFO_FILE).write_text("case_id,lesion_class\na,subtle\na,severe\n")
    with pytest.raises(InputError, match="given twice"):
        read_case_info(tmp_path / CASE_INFO_FILE)
