"""`strokect.data.case.OWN_GRID_ROLES`: the baseline of a longitudinal pair may have its own grid."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from strokect.data import read_manifest
from strokect.data.case import OWN_GRID_ROLES
from strokect.errors import InputError


def _nii(path, shape=(4, 4, 2), zooms=(1.0, 1.0, 1.0)):
    nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), np.diag([*zooms, 1.0])), str(path))


def test_baseline_on_its_own_grid_passes_the_geometry_check(tmp_path):
    assert OWN_GRID_ROLES == ("ncct_baseline",)
    _nii(tmp_path / "fu.nii.gz")
    _nii(tmp_path / "inf.nii.gz")
    _nii(tmp_path / "base.nii.gz", shape=(4, 4, 7), zooms=(1.0, 1.0, 0.6))
    rows = "c1,P1,ncct_baseline,base.nii.gz\nc1,P1,ncct_followup,fu.nii.gz\n"
    (tmp_path / "m.csv").write_text(
        "case_id,patient_id,role,path\n" + rows + "c1,P1,mask_infarct,inf.nii.gz\n"
    )
    case = read_manifest(tmp_path / "m.csv")["c1"]
    case.check_geometry()
    assert set(case.load_all()) == {"ncct_baseline", "ncct_followup", "infarct"}
    # the follow-up and its masks must still share one grid
    _nii(tmp_path / "inf.nii.gz", zooms=(1.0, 1.0, 2.5))
    with pytest.raises(InputError, match="geometry mismatch: infarct vs ncct_followup"):
        case.check_geometry()
