"""Maps against the digital phantom's ground truth (tiny preset, the phantom's own noise).

Issue 4 targets: normal-tissue Tmax MAE <= 1 s is reached with the onset Tmax (frame centres,
temporal-subspace denoising) and asserted; the default Tmax is the residue maximum (issue 15:
the definition the 6 s threshold was set with, see docs/perfusion.md); bcSVD/oSVD CBF median error <= 15 % is NOT reached: even
noise-free, with the true AIF and no truncation, block-circulant SVD recovers only 0.85 (GM) /
0.88 (WM) of the true CBF at this phantom's 2 s frames, and the truncation the noise requires
lowers it to ~0.5-0.7 (`benchmarks/perfusion_error_budget.py`, docs/perfusion.md). These tests
assert what the default pipeline does reach, so a regression fails them.
"""

import numpy as np
import pytest

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps

NORMAL = (1, 2)  # phantom labels: normal GM, normal WM; 4 penumbra, 5 core


@pytest.fixture(scope="module")
def phantom_case():
    synth_case = pytest.importorskip("strokect.phantom").synth_case
    return synth_case(0, preset="tiny")


@pytest.fixture(scope="module")
def phantom(phantom_case):
    return phantom_case.acute


def test_auto_aif_area_matches_true_aif(phantom_case):
    """The automatic AIF is not biased by tail noise (the whole-curve width criterion picked
    voxels with negative tail noise: area 0.81-0.92 of the truth, CBF overestimated)."""
    res = compute_perfusion_maps(phantom_case.acute["ctp"])
    true_area = float(np.sum(phantom_case.metadata["aif"]["curve_hu"]))
    assert float(np.sum(res.aif.curve)) / true_area == pytest.approx(1.0, abs=0.08)


def _stats(acute, res):
    lab = acute["labels"].array
    analysed = res.tissue_mask.array > 0
    out = {}
    for label in (1, 2, 4, 5):
        sel = (lab == label) & analysed
        t_cbv, e_cbv = acute["cbv"].array[sel], res.maps["cbv"].array[sel]
        out[label] = {
            "coverage": sel.sum() / max((lab == label).sum(), 1),
            "cbf": float(np.median(res.maps["cbf"].array[sel])),
            "tmax": float(np.median(res.maps["tmax"].array[sel])),
            "tmax_mae": float(
                np.mean(np.abs(res.maps["tmax"].array[sel] - acute["tmax"].array[sel]))
            ),
            "cbv_mdape": float(np.median(np.abs(e_cbv - t_cbv) / np.maximum(t_cbv, 1e-6))),
        }
    return out


def test_default_pipeline_on_phantom(phantom):
    res = compute_perfusion_maps(phantom["ctp"])  # default: oSVD, 4 mm smoothing, peak Tmax
    assert res.config.tmax_estimator == "peak"
    smooth = _stats(phantom, res)
    onset_cfg = {"tmax_estimator": "onset"}
    onset = _stats(
        phantom, compute_perfusion_maps(phantom["ctp"], config=PerfusionConfig(**onset_cfg))
    )
    raw = _stats(
        phantom,
        compute_perfusion_maps(
            phantom["ctp"], config=PerfusionConfig(smoothing_sigma_mm=0, **onset_cfg)
        ),
    )
    for label in NORMAL:
        assert smooth[label]["coverage"] > 0.8  # CSF/vessel exclusion keeps most parenchyma
        # onset Tmax: 0.58 / 0.71 s on this seed (issue-4 target 1 s); pooled tiny 0-2 0.64-0.67
        assert onset[label]["tmax_mae"] < 1.0
        assert onset[label]["tmax_mae"] < raw[label]["tmax_mae"] / 3  # denoising matters
        assert smooth[label]["cbv_mdape"] < 0.65 < raw[label]["cbv_mdape"]
    # ordering of the classes survives the noise
    assert smooth[1]["cbf"] > smooth[2]["cbf"] > smooth[4]["cbf"] > smooth[5]["cbf"]
    # the default (peak) Tmax is late in normal tissue (2.9 / 3.1 s, truth 0.4) but puts the
    # penumbra on the right side of the 6 s threshold (median 8.9 s, truth 8.3; onset: 4.5 s)
    normal_tmax = max(smooth[1]["tmax"], smooth[2]["tmax"])
    assert normal_tmax < 4.0 and min(smooth[4]["tmax"], smooth[5]["tmax"]) > 7.0
    assert smooth[4]["tmax_mae"] < onset[4]["tmax_mae"] - 2.0
    # vessels were found and excluded (the phantom has an AIF artery and veins)
    assert res.info["n_vessel_voxels"] > 0


def test_tmax_onset_vs_peak_on_phantom(phantom):
    """The residue maximum of truncated SVD lies late (the smeared jump); its half-maximum rise
    does not: normal-tissue Tmax MAE 3.1-3.6 s -> 1.4-1.7 s with oSVD (tiny, seed 0)."""
    out = {}
    for est in ("peak", "onset"):
        cfg = PerfusionConfig(method="osvd", tmax_estimator=est)
        out[est] = _stats(phantom, compute_perfusion_maps(phantom["ctp"], config=cfg))
    for label in NORMAL:
        assert out["onset"][label]["tmax_mae"] < out["peak"][label]["tmax_mae"] - 1.0


def test_temporal_subspace_denoising_on_phantom(phantom):
    """Projection on the noise-floor rank (3 here) vs none: normal-tissue Tmax MAE 1.43 / 1.75 s
    -> 0.58 / 0.71 s and the core's CBF median 7.7 -> 4.8 mL/100 g/min (truth ~2.8) with oSVD."""
    off = compute_perfusion_maps(phantom["ctp"], config=PerfusionConfig(temporal_rank=0))
    on = compute_perfusion_maps(phantom["ctp"])
    assert off.info["temporal_rank"] is None and on.info["temporal_rank"] == 3
    s_off, s_on = _stats(phantom, off), _stats(phantom, on)
    for label in NORMAL:
        assert s_on[label]["tmax_mae"] < s_off[label]["tmax_mae"] - 0.5
    assert s_on[5]["cbf"] < 0.75 * s_off[5]["cbf"]
