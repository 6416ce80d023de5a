"""Maps against the digital phantom's ground truth (tiny preset, the phantom's own noise).

The targets of issue 4 (bcSVD/oSVD CBF median error <= 15 % in normal tissue, Tmax MAE <= 1 s)
are NOT reached on this phantom (see docs/perfusion.md: even noise-free, truncated SVD gives 51-74 %
of the true CBF and a +1.4-2.3 s Tmax bias for its 4-5 s exponential-residue MTT at 2 s frames).
These tests assert what the default pipeline does reach, so a regression fails them.
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
    res = compute_perfusion_maps(phantom["ctp"])  # default: oSVD, 4 mm tissue smoothing
    smooth = _stats(phantom, res)
    raw = _stats(
        phantom,
        compute_perfusion_maps(phantom["ctp"], config=PerfusionConfig(smoothing_sigma_mm=0)),
    )
    for label in NORMAL:
        assert smooth[label]["coverage"] > 0.8  # CSF/vessel exclusion keeps most parenchyma
        assert smooth[label]["tmax_mae"] < 4.5  # reached ~3.2-3.5 s; target 1 s not met
        assert smooth[label]["tmax_mae"] < raw[label]["tmax_mae"] / 3  # denoising matters
        assert smooth[label]["cbv_mdape"] < 0.65 < raw[label]["cbv_mdape"]
    # ordering of the classes and the clinical Tmax > 6 s split survive the noise
    assert smooth[1]["cbf"] > smooth[2]["cbf"] > smooth[4]["cbf"] > smooth[5]["cbf"]
    assert (
        max(smooth[1]["tmax"], smooth[2]["tmax"]) < 6.0 < min(smooth[4]["tmax"], smooth[5]["tmax"])
    )
    # vessels were found and excluded (the phantom has an AIF artery and veins)
    assert res.info["n_vessel_voxels"] > 0
