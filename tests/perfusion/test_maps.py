"""End-to-end maps on the synthetic indicator-dilution head (strokect.perfusion.synthetic)."""

from dataclasses import replace

import numpy as np
import pytest

from strokect.errors import InputError
from strokect.io import Volume
from strokect.perfusion import PerfusionConfig, compute_perfusion_maps
from strokect.perfusion.synthetic import synth_ctp


@pytest.fixture(scope="module")
def case():
    return synth_ctp((3, 48, 48), noise_hu=1.0, seed=0)


def _median(res, truth, name, label):
    sel = truth["labels"] == label
    return float(np.median(res.maps[name].array[sel])), float(truth[name][sel][0])


def test_maps_geometry_and_aif(case):
    vol, truth = case
    res = compute_perfusion_maps(vol, config=PerfusionConfig(method="bcsvd"))
    for m in res.maps.values():
        assert m.array.shape == vol.spatial_shape and not m.is_4d
        assert m.same_geometry(vol)
    # the automatic AIF lies in the artery (label 6)
    assert np.all(truth["labels"][tuple(res.aif.voxels_zyx.T)] == 6)
    np.testing.assert_allclose(res.aif.location_world_lps, vol.index_to_world(res.aif.location_zyx))
    assert res.aif.peak == pytest.approx(truth["aif"].max(), rel=0.05)
    assert res.n_baseline >= 1


@pytest.mark.parametrize("method", ["ssvd", "bcsvd", "osvd"])
def test_cbv_and_ordering(case, method):
    vol, truth = case
    # 1 HU noise and piecewise-constant blocks: no spatial smoothing (it would mix the blocks)
    cfg = PerfusionConfig(method=method, smoothing_sigma_mm=0.0)
    res = compute_perfusion_maps(vol, config=cfg)
    for label in (1, 2, 3, 4):
        got, want = _median(res, truth, "cbv", label)
        assert got == pytest.approx(want, rel=0.1)
    cbf = {lab: _median(res, truth, "cbf", lab)[0] for lab in (1, 2, 4)}
    assert cbf[1] > cbf[2] > cbf[4]
    tmax_core = _median(res, truth, "tmax", 4)[0]
    tmax_gm = _median(res, truth, "tmax", 1)[0]
    assert tmax_core > 6 > tmax_gm


def test_non_uniform_frames_match_uniform():
    t = np.concatenate([np.arange(0, 30, 1.0), np.arange(30, 60, 2.0)])
    vol, truth = synth_ctp((2, 40, 40), time_s=t, noise_hu=0.5, seed=1)
    res = compute_perfusion_maps(
        vol, config=PerfusionConfig(method="bcsvd", dt_s=1.0, smoothing_sigma_mm=0.0)
    )
    assert res.dt_s == 1.0
    got, want = _median(res, truth, "cbv", 1)
    assert got == pytest.approx(want, rel=0.1)


def test_aif_mask_and_vof_scaling():
    vol, truth = synth_ctp((2, 40, 40), noise_hu=0.5, seed=2, aif_partial_volume=0.6)
    mask = truth["labels"] == 6
    cfg = PerfusionConfig(method="bcsvd", smoothing_sigma_mm=0.0)  # blocks: no smoothing
    plain = compute_perfusion_maps(vol, aif_mask=mask, config=cfg)
    assert plain.aif.source == "mask"
    scaled = compute_perfusion_maps(vol, aif_mask=mask, config=replace(cfg, vof_scaling=True))
    assert scaled.aif_scale == pytest.approx(1 / 0.6, rel=0.1)
    gm = truth["labels"] == 1
    cbv_plain = np.median(plain.maps["cbv"].array[gm])
    cbv_scaled = np.median(scaled.maps["cbv"].array[gm])
    assert cbv_plain == pytest.approx(4.0 / 0.6, rel=0.12)  # partial volume inflates CBV
    assert cbv_scaled == pytest.approx(4.0, rel=0.12)


def test_bad_inputs(case):
    vol, _ = case
    with pytest.raises(InputError, match="3D volume"):
        compute_perfusion_maps(vol.frame(0))
    with pytest.raises(InputError, match="frames"):
        compute_perfusion_maps(Volume(vol.array[:4], vol.spacing_mm, time_s=vol.time_s[:4]))
    t = vol.time_s.copy()
    t[5] = t[4]
    with pytest.raises(InputError, match="increasing"):
        compute_perfusion_maps(Volume(vol.array, vol.spacing_mm, time_s=t))
    with pytest.raises(InputError, match="method"):
        PerfusionConfig(method="fft")
    with pytest.raises(InputError, match="aif_mask"):
        compute_perfusion_maps(vol, aif_mask=np.zeros((2, 2, 2)))


def test_given_aif_curve_and_adaptive_option(case):
    vol, truth = case
    cfg = PerfusionConfig(method="bcsvd")
    auto = compute_perfusion_maps(vol, config=cfg)
    given = compute_perfusion_maps(vol, config=cfg, aif_curve_hu=truth["aif"])
    assert given.aif.source == "given" and given.aif.voxels_zyx.shape == (0, 3)
    np.testing.assert_allclose(given.aif.curve, truth["aif"])
    # the auto AIF is the (noisy) artery curve: nearly the same maps
    sel = truth["labels"] == 1
    ratio = given.maps["cbf"].array[sel].mean() / auto.maps["cbf"].array[sel].mean()
    assert ratio == pytest.approx(1.0, abs=0.1)
    adaptive = compute_perfusion_maps(vol, config=replace(cfg, adaptive_truncation=True))
    assert adaptive.info["curve_noise_sd_hu"] > 0
    with pytest.raises(InputError, match="aif_curve_hu"):
        compute_perfusion_maps(vol, config=cfg, aif_curve_hu=truth["aif"][:-1])
