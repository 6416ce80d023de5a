"""Shared test fixtures: paths to the real scans in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skips the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def isles2018_root() -> Path:
    return shared_path("isles2018")


@pytest.fixture
def aisd_ct_dir() -> Path:
    return shared_path("aisd", "0019983", "CT")


@pytest.fixture
def gantry_tilt_dir() -> Path:
    return shared_path("dicom", "ge_gantry_tilt")
