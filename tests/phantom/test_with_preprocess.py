"""The phantom against strokect's own preprocessing: the phantom must give these tools real work
and a known answer (threecnn intracranial recipe, rigid registration, mid-sagittal plane)."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.phantom import synth_case

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def case():
    return synth_case(3, "isles")


def test_threecnn_intracranial_recipe_closes_at_the_foramen_magnum(case):
    from strokect.preprocess.masks import intracranial_mask

    found = intracranial_mask(case.followup["ncct_followup"])
    a = found.array.astype(bool)
    b = case.followup["intracranial"].array.astype(bool)
    assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.93


def test_rigid_registration_recovers_the_stored_transform(case):
    from strokect.preprocess.registration import register_followup_to_baseline

    fu = case.followup
    pair = register_followup_to_baseline(fu["ncct_baseline"], fu["ncct_followup"])
    m = np.asarray(case.metadata["rigid"]["matrix_lps"])
    brain = fu["baseline_brain"]
    pts = brain.index_to_world(np.argwhere(brain.array)[::50])
    found = np.asarray(pair.transform.matrix_lps)
    err = np.linalg.norm(
        (pts @ found[:3, :3].T + found[:3, 3]) - (pts @ m[:3, :3].T + m[:3, 3]), axis=1
    )
    assert err.max() < 1.0


def test_symmetry_registration_recovers_yaw_and_midline(case):
    from strokect.preprocess.symmetry import estimate_midsagittal_plane

    plane = estimate_midsagittal_plane(case.acute["ct"])
    truth = case.metadata["head_pose"]["midsagittal_plane"]["acute"]
    n = np.asarray(truth["normal_lps"])
    assert plane.angle_deg == pytest.approx(case.metadata["head_pose"]["yaw_deg"], abs=1.0)
    offset = (np.asarray(plane.point_lps)[:2] - np.asarray(truth["point_lps_mm"])[:2]) @ n[:2]
    assert abs(offset) < 1.0
