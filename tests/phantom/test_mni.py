"""The optional MNI152 anatomy (``anatomy="mni"``, templates bundled with nilearn)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import ndimage

from strokect.cli.main import main
from strokect.errors import InputError
from strokect.phantom import synth_case
from strokect.phantom.perfusion import cbv_from_auc_ratio


@pytest.fixture(scope="module")
def mni_case():
    pytest.importorskip("nilearn")
    return synth_case(0, "tiny", kind="ischemic", anatomy="mni")


def _template_labels(case, templates) -> tuple[np.ndarray, np.ndarray]:
    """Template GM/WM call at the acute voxel centres (mapped back without the small warp)."""
    vol = case.acute["labels"]
    mapping = case.metadata["anatomy"]
    pose = np.asarray(case.metadata["head_pose"]["head_to_world_acute"])
    zyx = np.argwhere(np.isin(vol.array, (1, 2)))
    world = np.array([vol.index_to_world(p) for p in zyx])
    head = (world - pose[:3, 3]) @ pose[:3, :3]  # inverse of a rigid pose
    mni_lps = np.asarray(mapping["mask_centre_lps_mm"]) + head / np.asarray(mapping["scale_xyz"])
    ras = mni_lps * np.array([-1.0, -1.0, 1.0])
    inv = np.linalg.inv(templates["affine_ras"])
    vox = (ras @ inv[:3, :3].T + inv[:3, 3]).T
    gm = ndimage.map_coordinates(templates["gm"], vox, order=1)
    wm = ndimage.map_coordinates(templates["wm"], vox, order=1)
    return vol.array[tuple(zyx.T)], np.where(gm >= wm, 1, 2)


def test_mni_tissue_map_follows_the_template(mni_case):
    from strokect.phantom.mni import load_templates

    labels, expected = _template_labels(mni_case, load_templates())
    agreement = float(np.mean(labels == expected))
    assert agreement > 0.75, agreement
    meta = mni_case.metadata["anatomy"]
    assert meta["source"] == "mni" and len(meta["scale_xyz"]) == 3
    vols = mni_case.metadata["volumes_ml"]["followup"]
    # adult brain and CSF volumes of the (scaled) template
    assert 1000.0 < vols["brain"] < 1800.0 and 50.0 < vols["csf"] < 400.0


def test_mni_case_keeps_physics_and_lesion(mni_case):
    acute = mni_case.acute
    assert np.count_nonzero(acute["core"].array) > 0
    assert set(np.unique(acute["labels"].array)) >= {1, 2, 3, 5, 7}
    # CBV from the AUC ratio of a noise-free relation: the stored maps follow MTT = 60 CBV / CBF
    cbf, cbv, mtt = (acute[k].array for k in ("cbf", "cbv", "mtt"))
    sel = cbf > 1.0
    assert np.allclose(mtt[sel], 60.0 * cbv[sel] / cbf[sel], rtol=1e-4)
    # central volume theorem over GM without large-vessel blood (as in test_phantom.py)
    sel = (acute["labels"].array == 1) & (acute["blood_fraction"].array == 0)
    t = acute["ctp"].time_s
    pre = mni_case.metadata["acquisition"]["ctp_prebolus_frames"]
    curves = acute["ctp"].array[:, sel].astype(float)
    enhancement = (curves - curves[:pre].mean(axis=0)).mean(axis=1)
    aif = np.asarray(mni_case.metadata["aif"]["curve_hu"])
    found = cbv_from_auc_ratio(np.trapezoid(enhancement, t) / np.trapezoid(aif, t))
    assert found == pytest.approx(cbv[sel].mean(), rel=0.06)
    # the subject (pose, lesion draw) is the procedural one of the same seed
    proc = synth_case(0, "tiny", kind="ischemic")
    assert proc.metadata["head_pose"] == mni_case.metadata["head_pose"]
    assert "anatomy" not in proc.metadata


def test_mni_grey_and_white_matter_hu_of_their_labels(mni_case):
    hu = mni_case.metadata["tissue_values"]["hu"]
    ct = mni_case.acute["ct"].array.astype(float)
    labels = mni_case.acute["labels"].array
    # 3.9 mm pixels blur GM, WM and thin CSF into each other (the tiny CSF label is mostly
    # partial volume), so only GM and WM are compared, by their medians
    gm, wm = (np.median(ct[labels == c]) for c in (1, 2))
    assert gm > wm
    assert abs(gm - hu["gm"]) < 6.0 and abs(wm - hu["wm"]) < 6.0


def test_mni_cli(tmp_path, capsys):
    pytest.importorskip("nilearn")
    out = tmp_path / "mni"
    argv = ["synth", "-o", str(out), "--cases", "1", "--preset", "tiny", "--layout", "csv"]
    assert main([*argv, "--anatomy", "mni"]) == 0
    assert "mni anatomy" in capsys.readouterr().out
    assert (out / "manifest.csv").is_file()


def test_mni_without_nilearn_is_a_clear_input_error(monkeypatch, tmp_path):
    from strokect.phantom import mni

    mni.load_templates.cache_clear()
    monkeypatch.setitem(sys.modules, "nilearn", None)
    try:
        with pytest.raises(InputError, match="nilearn"):
            synth_case(0, "tiny", anatomy="mni")
        from strokect.phantom import write_cohort

        with pytest.raises(InputError, match="nilearn"):
            write_cohort(tmp_path / "c", n_cases=1, preset="tiny", anatomy="mni")
        assert not (tmp_path / "c").exists()
    finally:
        mni.load_templates.cache_clear()


def test_unknown_anatomy_is_refused():
    with pytest.raises(ValueError, match="anatomy"):
        synth_case(0, "tiny", anatomy="atlas")
