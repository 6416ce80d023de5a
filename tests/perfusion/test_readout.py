"""Core / hypoperfusion / mismatch readout on hand-made maps, and on real ISLES 2018 CBF maps."""

import numpy as np
import pytest

from strokect.errors import InputError
from strokect.io import Volume, read_volume
from strokect.perfusion import readout_from_maps
from strokect.perfusion.readout import hemisphere_masks, left_right_axis


def _maps():
    shape = (2, 20, 20)
    cbf = np.full(shape, 50.0)
    tmax = np.zeros(shape)
    cbf[:, 8:12, 2:6] = 10.0  # 20% of 50 -> core (low-x side), 2*4*4 = 32 voxels
    tmax[:, 6:14, 1:8] = 9.0  # hypoperfused 2*8*7 = 112 voxels, contains the core
    cbf[:, 15:17, 14:16] = 12.0  # low CBF but normal Tmax: not core when restricted
    sp = (2.0, 1.0, 1.0)  # 2 uL voxels = 0.002 mL
    return Volume(cbf, sp), Volume(tmax, sp)


def test_volumes_and_masks():
    cbf, tmax = _maps()
    ro = readout_from_maps(cbf, tmax, brain_mask=np.ones(cbf.spatial_shape))
    assert ro.reference_cbf == 50.0
    assert ro.affected_side == "patient right (low x index)"  # LPS +x is patient left
    assert ro.core.array.sum() == 32 and ro.core_ml == pytest.approx(32 * 0.002)
    assert ro.hypoperfusion_ml == pytest.approx(112 * 0.002)
    assert ro.mismatch_ml == pytest.approx((112 - 32) * 0.002)
    assert ro.mismatch.array.sum() == 112 - 32
    assert ro.mismatch_ratio == pytest.approx(112 / 32)
    assert ro.core.same_geometry(cbf)


def test_core_without_tmax_and_thresholds():
    cbf, _ = _maps()
    ro = readout_from_maps(cbf, None, brain_mask=np.ones(cbf.spatial_shape))
    assert ro.core.array.sum() == 32 + 8  # the second low-CBF patch counts without Tmax
    assert ro.hypoperfusion is None and ro.mismatch_ratio is None
    ro = readout_from_maps(cbf, None, brain_mask=np.ones(cbf.spatial_shape), rcbf_threshold=0.2)
    assert ro.core.array.sum() == 0  # 10 < 0.2 * 50 is false
    ro = readout_from_maps(cbf, None, brain_mask=np.ones(cbf.spatial_shape), min_component_ml=0.02)
    assert ro.core.array.sum() == 32  # the 8-voxel (0.016 mL) patch is dropped


def test_hemispheres_and_errors():
    cbf, tmax = _maps()
    assert left_right_axis(cbf) == 2
    low, high = hemisphere_masks(np.ones((2, 4, 6), bool), 2)
    assert low[..., :3].all() and not low[..., 3:].any() and high.sum() == 24
    with pytest.raises(InputError, match="empty"):
        readout_from_maps(cbf, tmax, brain_mask=np.zeros(cbf.spatial_shape))
    with pytest.raises(InputError, match="grid"):
        readout_from_maps(cbf, Volume(tmax.array, (1.0, 1.0, 1.0)))


def _isles(root, case, mod):
    return read_volume(next((root / "TRAINING" / case).glob(f"*.{mod}.*/*.nii")))


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::strokect.errors.StrokectWarning")
@pytest.mark.parametrize("case", ["case_1", "case_2"])
def test_isles2018_rcbf_core_dice(isles2018_root, case):
    """rCBF < 30% core on real ISLES CBF maps vs the DWI lesion (OT); numbers in docs/perfusion.md."""
    ct, cbf, ot = (_isles(isles2018_root, case, m) for m in ("CT", "CT_CBF", "OT"))
    assert cbf.same_geometry(ot) and ct.same_geometry(cbf)
    # parenchyma: CT 20-60 HU (no CSF, no bone) with a measured CBF; same as validate_perfusion.py
    brain = (ct.array >= 20) & (ct.array <= 60) & (cbf.array > 0)
    ro = readout_from_maps(cbf, None, brain_mask=brain)
    core, truth = ro.core.array > 0, ot.array > 0
    dice = 2 * (core & truth).sum() / (core.sum() + truth.sum())
    assert truth.sum() * ot.voxel_volume_ml == pytest.approx(
        {"case_1": 11.5, "case_2": 3.3}[case], abs=0.1
    )
    assert 0 < ro.core_ml < 100  # a plausible, non-empty core; its Dice is reported, not asserted
    assert 0.0 <= dice < 1.0
