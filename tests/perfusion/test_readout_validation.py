"""The perfusion readout against the phantom's truth (issue 15; full table: docs/perfusion.md,
``benchmarks/validate_readout.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.validate_readout import (
    FRAME_INTERVALS_S,
    FREE_SEEDS,
    LESION_SEEDS,
    NOISE_SD_HU,
    run,
    score_case,
    summarise,
)

from strokect.io import Volume
from strokect.perfusion import compute_perfusion_maps, readout_from_maps
from strokect.phantom import synth_case
from strokect.phantom.presets import ctp_protocol


def test_ctp_protocol_fixes_interval_duration_and_noise():
    p = ctp_protocol("isles", dt_s=1.0, duration_s=60.0, noise_sd_hu=9.0)
    case = synth_case(3, p, kind="none")
    acq = case.metadata["acquisition"]
    assert acq["ctp_dt_s"] == 1.0 and acq["ctp_frames"] == 61 and acq["ctp_noise_sd_hu"] == 9.0
    assert np.allclose(np.diff(case.acute["ctp"].time_s), 1.0)
    with pytest.raises(ValueError):
        ctp_protocol("isles", dt_s=0.0, duration_s=60.0)


def test_default_tmax_gets_the_hypoperfused_volume_onset_does_not():
    """isles seed 2, 1.5 s frames, 9 HU noise: Tmax > 6 s 23.8 mL (true 24.8), Dice 0.93 with
    the default (residue maximum); 12.4 mL, Dice 0.65 with the half-maximum onset."""
    case = synth_case(2, ctp_protocol("isles", dt_s=1.5, duration_s=60.0, noise_sd_hu=9.0),
                      kind="ischemic")  # fmt: skip
    peak = score_case(case, {})
    onset = score_case(case, {"tmax_estimator": "onset"})
    assert peak["hypo_dice"] >= 0.85 and abs(peak["hypo_rel_err"]) <= 0.15
    assert peak["core_dice"] >= 0.5
    assert onset["hypo_dice"] < 0.75 and onset["hypo_rel_err"] < -0.3


def test_lesion_free_case_reads_no_core_and_no_hypoperfusion():
    case = synth_case(7, ctp_protocol("isles", dt_s=2.0, duration_s=60.0), kind="none")
    r = score_case(case, {})
    assert r["core_ml"] <= 1.0 and r["hypo_ml"] <= 1.0


@pytest.mark.slow
def test_validation_set_pooled_targets():
    """6 lesion + 2 lesion-free phantoms x frame intervals 1, 1.5, 2 s x noise 6, 9, 12 HU
    (~2.5 min). Pooled: Tmax > 6 s median Dice 0.89, median |relative volume error| 9.6 %, core
    median Dice 0.59, lesion-free 0 mL; 1 of 54 lesion case-conditions misses the per-case bound
    (seed 4, 2 s frames, 12 HU: +26 %, +2.3 mL), see docs/perfusion.md. With the oSVD limit per
    sample (the default before) 5 of 54 missed it."""
    results = run({"default": {}}, FRAME_INTERVALS_S, NOISE_SD_HU, LESION_SEEDS, FREE_SEEDS)
    rows = [row for r in results.values() for row in r["rows"]]
    s = summarise(rows)
    assert s["hypo_dice_median"] >= 0.85
    assert s["hypo_abs_rel_err_median"] <= 0.15
    assert s["core_dice_median"] >= 0.5
    assert s["free_max_ml"] <= 1.0
    misses = [
        r for r in rows
        if r["lesion"] and abs(r["hypo_rel_err"]) > 0.25 and abs(r["hypo_ml"] - r["hypo_ml_true"]) > 2
    ]  # fmt: skip
    assert len(misses) <= 1


@pytest.mark.parametrize("seed", [0, 1])
def test_affected_side_is_the_patient_side_of_the_lesion(seed):
    case = synth_case(seed, "tiny", kind="ischemic")
    side = {"L": "left", "R": "right"}[case.metadata["lesion"]["territory"][-1]]
    res = compute_perfusion_maps(case.acute["ctp"])
    ro = readout_from_maps(res.maps["cbf"], res.maps["tmax"], brain_mask=res.tissue_mask)
    assert ro.affected_side.startswith(f"patient {side} (")
    # the same image stored right-to-left (x index towards patient right) gives the same side
    flipped = case.acute["ctp"]
    d = flipped.direction.copy()
    d[:, 0] *= -1
    nx = flipped.spatial_shape[2]
    origin = np.asarray(flipped.origin) + d[:, 0] * -(nx - 1) * flipped.spacing_mm[2]
    mirrored = Volume(
        array=np.ascontiguousarray(flipped.array[..., ::-1]),
        spacing_mm=flipped.spacing_mm,
        origin=origin,
        direction=d,
        time_s=flipped.time_s,
    )
    res2 = compute_perfusion_maps(mirrored)
    ro2 = readout_from_maps(res2.maps["cbf"], res2.maps["tmax"], brain_mask=res2.tissue_mask)
    assert ro2.affected_side.startswith(f"patient {side} (")


def test_oscillation_limit_is_per_second_of_curve():
    """The oSVD limit holds at 2 s frames and scales with the frame step (maps.oscillation_limit)."""
    from strokect.errors import InputError
    from strokect.perfusion import PerfusionConfig
    from strokect.perfusion.maps import oscillation_limit

    cfg = PerfusionConfig()
    assert oscillation_limit(cfg, 2.0) == pytest.approx(cfg.oscillation_limit)
    assert oscillation_limit(cfg, 1.0) == pytest.approx(cfg.oscillation_limit / 2)
    fixed = PerfusionConfig(oscillation_step_s=None)
    assert oscillation_limit(fixed, 1.0) == fixed.oscillation_limit
    with pytest.raises(InputError, match="oscillation step"):
        PerfusionConfig(oscillation_step_s=0.0)


def test_small_lesion_near_the_threshold_with_1_s_frames():
    """isles seed 6 (7.1 mL with true Tmax about 7 s), 1 s frames, 6 HU: the per-second limit
    reads 6.2 mL; the per-sample limit of 2 s frames, applied as is, reads 2.9 mL (early Tmax of
    under-regularised residues). At 2 s frames both are the same."""
    fine = synth_case(6, ctp_protocol("isles", dt_s=1.0, duration_s=60.0, noise_sd_hu=6.0),
                      kind="ischemic")  # fmt: skip
    scaled = score_case(fine, {})
    as_is = score_case(fine, {"oscillation_step_s": None})
    assert abs(scaled["hypo_rel_err"]) <= 0.25 and scaled["hypo_dice"] >= 0.8
    assert as_is["hypo_rel_err"] < -0.4
    coarse = synth_case(6, ctp_protocol("isles", dt_s=2.0, duration_s=60.0, noise_sd_hu=6.0),
                        kind="ischemic")  # fmt: skip
    assert score_case(coarse, {}) == score_case(coarse, {"oscillation_step_s": None})
