"""Layout detection and `load_dataset` errors."""

from __future__ import annotations

import pytest

from strokect.data import detect_layout, load_dataset
from strokect.data.case import Case, mark_missing
from strokect.errors import InputError


def test_unknown_layout_and_missing_root(tmp_path):
    (tmp_path / "random.txt").write_text("x")
    assert detect_layout(tmp_path) is None
    with pytest.raises(InputError, match="not a known dataset layout"):
        load_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="dataset root not found"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(ValueError, match="layout must be one of"):
        load_dataset(tmp_path, layout="bids")


def test_mark_missing_uses_expected_and_other_cases(tmp_path):
    a = Case("a", "A", images={"ncct": tmp_path}, masks={"core": tmp_path})
    b = Case("b", "B", images={"cbf": tmp_path})
    mark_missing([a, b], ["ncct", "ctp"])
    assert a.missing == ["ctp", "cbf"]
    assert b.missing == ["ncct", "ctp", "core"]


def test_case_path_errors(tmp_path):
    case = Case("a", "A", images={"ncct": tmp_path}, masks={"core": tmp_path, "edema": tmp_path})
    assert case.path("mask_core") == tmp_path
    with pytest.raises(InputError, match="no role 'mask'"):  # ambiguous with two masks
        case.path("mask")
    with pytest.raises(InputError, match="present: ncct, core, edema"):
        case.path("dwi")
