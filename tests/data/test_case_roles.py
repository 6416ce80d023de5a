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


def test_resolve_roles_prefers_one_grid_group(tmp_path):
    """ISLES 2024: ct, cbf, cbv resolve to the NCCT and the maps registered to it, not to the
    maps on the CTP grid; without a group holding every role each role resolves alone."""
    images = {
        r: tmp_path / f"{r}.nii.gz" for r in ("ncct", "ctp", "cbf", "cbv", "cbf_ncct", "cbv_ncct")
    }
    case = Case("s1", "s1", images=images, masks={"infarct": tmp_path / "m.nii.gz"})
    case.grid_groups = [["ncct", "cbf_ncct", "cbv_ncct", "infarct"], ["ctp", "cbf", "cbv"]]
    assert case.resolve_roles(["ct", "cbf", "cbv"]) == {
        "ct": images["ncct"],
        "cbf": images["cbf_ncct"],
        "cbv": images["cbv_ncct"],
    }
    assert case.resolve_roles(["ctp", "cbf"]) == {"ctp": images["ctp"], "cbf": images["cbf"]}
    assert case.resolve_roles(["ctp", "cbf_ncct"]) == {
        "ctp": images["ctp"],
        "cbf_ncct": images["cbf_ncct"],
    }
    with pytest.raises(InputError, match="no role 'tmax'"):
        case.resolve_roles(["ct", "tmax"])
