"""Case-id rules and folder matching."""

from __future__ import annotations

import pytest

from strokect.report import case_id_from_path, match_cases


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Case_01_pred.nii.gz", "case_01"),
        ("case_01_seg.nii", "case_01"),
        ("CASE_01.nii.gz", "case_01"),
        ("case_01_lesion_mask.nrrd", "case_01"),
        ("case_01-Ref.mha", "case_01"),
        ("phantom_0000_seg.nii.gz", "phantom_0000"),  # numeric ids are kept
        ("sub-01_ses-02_label.nii.gz", "sub-01_ses-02"),
        ("mask.nii.gz", "mask"),  # never stripped to nothing
        ("segmentation_case3.nii.gz", "segmentation_case3"),  # only suffixes are removed
    ],
)
def test_case_id_rules(name, expected):
    assert case_id_from_path(name) == expected


def test_non_image_name_is_refused():
    with pytest.raises(ValueError, match="not an image file"):
        case_id_from_path("notes.txt")


def _touch(folder, *names):
    folder.mkdir(exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")


def test_matching_reports_unmatched_and_conflicting_cases(tmp_path):
    _touch(tmp_path / "p", "a_pred.nii.gz", "b_pred.nii.gz", "c.nii.gz", "c_seg.nii.gz", "x.txt")
    _touch(tmp_path / "r", "A_seg.nii.gz", "c_label.nii.gz", "d_label.nii.gz", ".hidden.nii.gz")
    cases = {c.case_id: c for c in match_cases(tmp_path / "p", tmp_path / "r")}
    assert sorted(cases) == ["a", "b", "c", "d"]
    assert cases["a"].problem is None and cases["a"].ref.name == "A_seg.nii.gz"
    assert cases["b"].problem == "no matching reference file"
    assert cases["d"].problem == "no matching prediction file"
    assert "several pred files" in cases["c"].problem and "c_seg.nii.gz" in cases["c"].problem


def test_images_match_with_or_without_nnunet_channel_tag(tmp_path):
    _touch(tmp_path / "p", "a_pred.nii.gz", "b_pred.nii.gz")
    _touch(tmp_path / "r", "a.nii.gz", "b.nii.gz")
    _touch(tmp_path / "i", "a_0000.nii.gz", "B_ct.nii.gz")
    found = match_cases(tmp_path / "p", tmp_path / "r", image_dir=tmp_path / "i")
    cases = {c.case_id: c for c in found}
    assert cases["a"].image.name == "a_0000.nii.gz" and cases["b"].image.name == "B_ct.nii.gz"


def test_missing_folder_and_empty_folders(tmp_path):
    with pytest.raises(NotADirectoryError, match="--pred"):
        match_cases(tmp_path / "nope", tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        match_cases(tmp_path / "p", tmp_path / "r")
