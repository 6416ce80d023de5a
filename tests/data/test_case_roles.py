"""`Case.path`: the acute NCCT answers to ``ct`` (ISLES 2018) and ``ncct`` (ISLES 2024, manifest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from strokect.data.case import Case
from strokect.errors import InputError


def test_ct_and_ncct_are_the_same_role():
    manifest_like = Case("c1", "p1", images={"ncct": Path("a.nii.gz")}, masks={})
    isles_like = Case("c2", "p2", images={"ct": Path("b.nii.gz")}, masks={})
    assert manifest_like.path("ct") == Path("a.nii.gz")
    assert isles_like.path("ncct") == Path("b.nii.gz")
    with pytest.raises(InputError, match="no role 'cbf'"):
        manifest_like.path("cbf")
