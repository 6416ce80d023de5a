"""Physics and bookkeeping tests of the digital head phantom (tiny preset)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from strokect.phantom import LABELS, PRESETS, synth_case
from strokect.phantom.lesions import LESION_CLASSES
from strokect.phantom.perfusion import cbv_from_auc_ratio


@pytest.fixture(scope="module")
def case():
    return synth_case(0, "tiny", kind="ischemic")


def test_api_keys_and_grids(case):
    acute_keys = {
        "ct",
        "ctp",
        "cbf",
        "cbv",
        "mtt",
        "tmax",
        "dwi",
        "core",
        "penumbra",
        "brain",
        "intracranial",
        "labels",
    }
    fu_keys = {
        "ncct_baseline",
        "ncct_followup",
        "infarct",
        "hemorrhage",
        "intracranial",
        "brain",
        "csf",
        "labels",
        "baseline_intracranial",
        "baseline_brain",
        "baseline_infarct",
    }
    assert acute_keys <= set(case.acute) and fu_keys <= set(case.followup)
    ref = case.acute["ct"]
    assert all(v.same_geometry(ref) for v in case.acute.values())
    ref = case.followup["ncct_followup"]
    assert all(v.same_geometry(ref) for v in case.followup.values())
    ctp = case.acute["ctp"]
    assert ctp.is_4d and ctp.n_frames == 40 and ctp.spatial_shape == (8, 64, 64)
    assert np.allclose(np.diff(ctp.time_s), 2.0)
    assert ref.spatial_shape == (12, 64, 64)
    for name in ("core", "penumbra", "brain", "intracranial", "labels"):
        assert case.acute[name].array.dtype == np.uint8
    assert set(np.unique(case.acute["labels"].array)) <= set(LABELS.values())
    assert case.metadata["lesion"]["kind"] == "ischemic"


def test_tiny_case_is_fast():
    synth_case(5, "tiny")  # warm imports
    start = time.process_time()
    synth_case(6, "tiny")
    assert time.process_time() - start < 1.0


def test_aif_voxel_holds_the_stored_aif(case):
    meta = case.metadata["aif"]
    z, y, x = meta["location_voxel_zyx"]
    curve = case.acute["ctp"].array[:, z, y, x].astype(float)
    expected = np.asarray(meta["curve_hu"]) + meta["pre_contrast_hu"]
    sd = case.metadata["acquisition"]["ctp_noise_sd_hu"]
    assert np.abs(curve - expected).max() < 5 * sd + 1
    assert case.acute["labels"].array[z, y, x] == LABELS["vessel"]


@pytest.mark.parametrize("tissue", ["gm", "wm", "penumbra", "core"])
def test_auc_ratio_reproduces_stored_cbv(case, tissue):
    """Central volume theorem on the stored 4D data, averaged over a tissue class.

    Voxels holding large-vessel blood are left out. The tolerance is 3 % (time discretisation and
    truncation) plus 4 standard errors of the noise on the class-mean area.
    """
    labels = case.acute["labels"].array
    ctp = case.acute["ctp"]
    t = ctp.time_s
    pre = case.metadata["acquisition"]["ctp_prebolus_frames"]
    sel = (labels == LABELS[tissue]) & (case.acute["blood_fraction"].array == 0)
    assert sel.sum() > 20
    curves = ctp.array[:, sel].astype(float)
    enhancement = curves - curves[:pre].mean(axis=0)
    aif = np.asarray(case.metadata["aif"]["curve_hu"])
    auc_aif = np.trapezoid(aif, t)
    ratio = np.trapezoid(enhancement.mean(axis=1), t) / auc_aif
    stored = case.acute["cbv"].array[sel].mean()
    sd = case.metadata["acquisition"]["ctp_noise_sd_hu"]
    dt = t[1] - t[0]
    # noise of the class-mean area: independent frames plus the pre-bolus baseline estimate
    se_auc = sd / np.sqrt(sel.sum()) * np.sqrt(dt**2 * t.size + (dt * t.size) ** 2 / pre)
    se_cbv = cbv_from_auc_ratio(se_auc / auc_aif)
    assert abs(cbv_from_auc_ratio(ratio) - stored) < 0.03 * stored + 4 * se_cbv


def test_lesion_mean_hu_in_its_class():
    for seed in range(4):
        c = synth_case(seed, "tiny", kind="ischemic_ht" if seed % 2 else "ischemic")
        meta = c.metadata
        inf = c.followup["infarct"].array.astype(bool) & ~c.followup["hemorrhage"].array.astype(
            bool
        )
        mean = c.followup["ncct_followup"].array[inf].astype(float).mean()
        lo, hi = LESION_CLASSES[meta["lesion_class"]]
        assert lo <= mean < hi
        assert mean == pytest.approx(meta["infarct_mean_hu"])


def test_metadata_volumes_are_voxel_counts(case):
    for group in ("acute", "followup"):
        vols = getattr(case, group)
        for name, ml in case.metadata["volumes_ml"][group].items():
            vol = vols[name]
            assert ml == pytest.approx(np.count_nonzero(vol.array) * np.prod(vol.spacing_mm) / 1000)


def test_stored_rigid_transform_is_the_one_applied(case):
    """The brain centroid of the baseline, mapped through the stored matrix, is the follow-up's."""
    m = np.asarray(case.metadata["rigid"]["matrix_lps"])
    bl = case.followup["baseline_brain"]
    fu = case.followup["brain"]
    c_bl = bl.index_to_world(np.argwhere(bl.array).mean(axis=0))
    c_fu = fu.index_to_world(np.argwhere(fu.array).mean(axis=0))
    mapped = m[:3, :3] @ c_bl + m[:3, 3]
    assert np.linalg.norm(mapped - c_fu) < 1.5
    assert (
        np.linalg.norm(c_bl - c_fu) > 0.5
        or np.abs(case.metadata["rigid"]["angles_deg"]["gamma_about_z"]) > 0.5
    )


def test_same_seed_same_case_different_seed_different_subject():
    a, b, c = synth_case(3, "tiny"), synth_case(3, "tiny"), synth_case(4, "tiny")
    for key in a.acute:
        assert np.array_equal(a.acute[key].array, b.acute[key].array)
    assert a.metadata == b.metadata
    assert a.metadata["subject"] != c.metadata["subject"]
    assert not np.array_equal(a.followup["brain"].array, c.followup["brain"].array)


def test_presets_listed():
    assert {"tiny", "isles", "full"} <= set(PRESETS)


def test_core_and_penumbra_physiology(case):
    a = case.acute
    labels = a["labels"].array
    normal = (labels == LABELS["gm"]) | (labels == LABELS["wm"])
    core, pen = labels == LABELS["core"], labels == LABELS["penumbra"]
    p = case.metadata["tissue_values"]["perfusion"]
    assert a["tmax"].array[pen].mean() > 6.0 and a["tmax"].array[core].mean() > 6.0
    assert a["tmax"].array[normal & (a["blood_fraction"].array == 0)].mean() < 2.5
    assert p["core_cbf_fraction"] < 0.3
    cbf, cbv = a["cbf"].array, a["cbv"].array
    assert cbf[core].mean() < 0.3 * cbf[normal].mean()  # core: rCBF < 30 %
    assert 0.3 * cbf[normal].mean() < cbf[pen].mean() < 0.8 * cbf[normal].mean()
    assert cbv[pen].mean() > 0.85 * cbv[normal].mean() > cbv[core].mean()  # penumbra keeps CBV
    mtt = a["mtt"].array
    sel = a["cbf"].array > 5
    assert np.allclose(mtt[sel], 60 * a["cbv"].array[sel] / a["cbf"].array[sel], rtol=1e-4)
    dwi = a["dwi"].array
    assert dwi[core].mean() > 1.5 * dwi[normal].mean()


def test_hemorrhage_hu():
    primary = synth_case(1, "tiny", kind="hemorrhage")
    fu = primary.followup
    hem = fu["hemorrhage"].array.astype(bool)
    assert hem.sum() > 0 and not fu["infarct"].array.any()
    assert 50 <= fu["ncct_followup"].array[hem].mean() <= 90
    assert not primary.acute["core"].array.any()  # a new bleed: nothing at the acute scan
    ht = synth_case(1, "tiny", kind="ischemic_ht")
    hem, inf = (
        ht.followup["hemorrhage"].array.astype(bool),
        ht.followup["infarct"].array.astype(bool),
    )
    assert hem.any() and (hem & inf).sum() >= 0.8 * hem.sum()
