"""Fixtures shared by the cohort tests."""

import pytest

from tests.pipelines.cohort_for_tests import make_cohort, toy_model


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """A 4-case tiny phantom dataset (ISLES 2018 layout) and an untrained toy checkpoint."""
    root = tmp_path_factory.mktemp("cohort")
    return make_cohort(root / "ds"), toy_model(root / "model.pt")
