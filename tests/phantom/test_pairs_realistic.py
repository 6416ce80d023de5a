"""``pairs="realistic"`` (for fu2bl): the baseline on its own grid and scanner, a 24 h and a 1-week
follow-up per patient, lesion-free and primary-hemorrhage shares (docs/phantom.md, "Realistic
pairs (fu2bl)")."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.phantom import synth_case, write_cohort
from strokect.phantom.case import DEFAULT_HEMATOMA_SHARE, STREAMS, _kind_shares

#: sha256 over every acute and follow-up array, made before ``pairs`` existed: the defaults (and
#: the issue-17 follow-up options) must keep producing exactly these
BEFORE = {
    "tiny2": "16c5c6af22c5ef39bae23139834b5b2b062fc4ddc6951e1b3314eb39f1100ab2",
    "tiny4_opts": "6d57dd20ca36546d125a17f90091a872ff8e0dd4c366aea647e4ebd311542792",
}
OPTS = {
    "lesion_class": "subtle",
    "infarct_volumes": "paper",
    "hemorrhage_share": 0.5,
    "followup_slices": "thin",
    "scanner_variation": True,
}


def _digest(case) -> str:
    h = hashlib.sha256()
    for part in (case.acute, case.followup):
        for key in sorted(part):
            h.update(key.encode())
            h.update(np.ascontiguousarray(part[key].array).tobytes())
    return h.hexdigest()


def _slice_z(vol) -> np.ndarray:
    return vol.origin[2] + vol.spacing_mm[0] * np.arange(vol.spatial_shape[0])


def _infarct_mean(vols) -> float:
    m = vols["infarct"].array.astype(bool) & ~vols["hemorrhage"].array.astype(bool)
    return float(vols["ncct_followup"].array[m].mean())


def test_defaults_are_unchanged():
    assert STREAMS[-1] == "pairs"
    case = synth_case(2, "tiny", pairs="default")
    assert _digest(case) == BEFORE["tiny2"]
    assert not case.followup_24h and "pairs" not in case.metadata
    case = synth_case(4, "tiny", **OPTS)
    assert _digest(case) == BEFORE["tiny4_opts"]
    assert "pairs" not in case.metadata["followup_protocol"]["options"]


@pytest.fixture(scope="module")
def tiny_pairs():
    return {s: synth_case(s, "tiny", pairs="realistic", scanner_variation=True) for s in range(4)}


def test_baseline_has_its_own_grid_and_scanner(tiny_pairs):
    thin = []
    for case in tiny_pairs.values():
        base, fu1w = case.followup["ncct_baseline"], case.followup["ncct_followup"]
        fu24 = case.followup_24h["ncct_followup"]
        meta = case.metadata["pairs"]
        assert list(base.spacing_mm) == pytest.approx(meta["baseline"]["grid"]["spacing_mm_zyx"])
        assert base.spatial_shape == tuple(meta["baseline"]["grid"]["shape_zyx"])
        assert fu1w.spacing_mm == tuple(case.metadata["grids"]["followup"]["spacing_mm_zyx"])
        assert fu24.spatial_shape == tuple(case.metadata["grids"]["followup_24h"]["shape_zyx"])
        zb, zf = _slice_z(base), _slice_z(fu1w)
        same_positions = np.abs(zb[:, None] - zf[None, :]).min(axis=1) < 1e-3
        if base.spacing_mm[0] == fu1w.spacing_mm[0]:  # same thickness: no common slice position
            assert not same_positions.any()
            assert base.spatial_shape[0] != fu1w.spatial_shape[0]  # a few slices more or fewer
        else:
            assert 1.0 <= base.spacing_mm[0] <= 2.5
        thin.append(meta["baseline"]["thin_slices"])
        # every masks of a follow-up lies on that follow-up's grid
        for vols in (case.followup_24h, case.followup):
            grid = vols["ncct_followup"]
            for key, vol in vols.items():
                if key != "ncct_baseline":
                    assert vol.spatial_shape == grid.spatial_shape and vol.origin == grid.origin
        scanners = [meta[k]["scanner"] for k in ("baseline", "followup_24h", "followup_1w")]
        for sc in scanners:
            assert 2.5 <= sc["noise_sd_hu"] <= 8.0 and abs(sc["cupping_amplitude_hu"]) >= 1.5
        assert -3.0 <= scanners[0]["offset_hu"] <= 3.0
        assert 0.92 <= scanners[0]["contrast_gain"] <= 1.08
        assert len({sc["noise_sd_hu"] for sc in scanners}) == 3
        # the head moves between the scans: two different rigid transforms from the baseline
        m24 = np.array(meta["followup_24h"]["rigid"]["matrix_lps"])
        assert not np.allclose(m24, np.array(case.metadata["rigid"]["matrix_lps"]))
        assert np.allclose(m24[:3, :3] @ m24[:3, :3].T, np.eye(3))
    assert set(thin) == {True, False}  # both kinds of baseline grid among the four seeds


def test_the_1_week_follow_up_is_the_default_follow_up(tiny_pairs):
    default = synth_case(1, "tiny", scanner_variation=True)
    case = tiny_pairs[1]
    for key, vol in default.followup.items():
        if key != "ncct_baseline":
            assert np.array_equal(vol.array, case.followup[key].array), key
    assert np.array_equal(default.acute["ctp"].array, case.acute["ctp"].array)


def test_infarct_is_darker_at_1_week_than_at_24_h():
    case = synth_case(0, "tiny", pairs="realistic", lesion_class="severe")
    pairs = case.metadata["pairs"]
    assert case.metadata["lesion"]["kind"] in ("ischemic", "ischemic_ht")
    mean_1w, mean_24h = _infarct_mean(case.followup), _infarct_mean(case.followup_24h)
    assert mean_1w == pytest.approx(pairs["followup_1w"]["infarct_mean_hu"])
    assert mean_24h == pytest.approx(pairs["followup_24h"]["infarct_mean_hu"])
    assert mean_1w + 3.0 < mean_24h
    fraction = pairs["followup_24h"]["hypodensity_fraction"]
    assert 0.4 <= fraction <= 0.7
    shift_1w = pairs["followup_1w"]["infarct_shift_hu"]
    assert pairs["followup_24h"]["infarct_shift_hu"] == pytest.approx(fraction * shift_1w)
    hypo_24h = pairs["followup_24h"]["infarct_hypodensity_hu"]
    assert 0 < hypo_24h < pairs["followup_1w"]["infarct_hypodensity_hu"]
    # the same lesion: the infarct volumes on the two grids agree
    vol_24h, vol_1w = (pairs[k]["volumes_ml"]["infarct"] for k in ("followup_24h", "followup_1w"))
    assert vol_24h == pytest.approx(vol_1w, rel=0.25)


def test_lesion_free_share_gives_empty_masks():
    case = synth_case(3, "tiny", pairs="realistic", none_share=1.0)
    assert case.metadata["lesion"]["kind"] == "none"
    for vols in (case.followup, case.followup_24h):
        assert not vols["infarct"].array.any() and not vols["hemorrhage"].array.any()
    assert not case.acute["core"].array.any()
    assert case.metadata["lesion_class"] is None
    assert case.metadata["pairs"]["followup_24h"]["infarct_mean_hu"] is None


def test_primary_hemorrhage_share_gives_a_hematoma_without_infarct():
    case = synth_case(3, "tiny", pairs="realistic", primary_hemorrhage_share=1.0)
    assert case.metadata["lesion"]["kind"] == "hemorrhage"
    for vols in (case.followup, case.followup_24h):
        assert not vols["infarct"].array.any()
        hem = vols["hemorrhage"].array.astype(bool)
        assert hem.any() and vols["ncct_followup"].array[hem].mean() > 50.0
    # without pairs="realistic" the share works on the default pair too
    plain = synth_case(3, "tiny", primary_hemorrhage_share=1.0)
    assert plain.metadata["lesion"]["kind"] == "hemorrhage" and not plain.followup_24h


def test_kind_shares_rule():
    opts = {"none_share": 0.15, "primary_hemorrhage_share": 0.1, "hemorrhage_share": None}

    def kind(u, hematoma_u=0.9, start="ischemic", **extra):
        lesion = {"kind": start}
        _kind_shares(lesion, {"kind_u": u, "hematoma_u": hematoma_u}, {**opts, **extra})
        return lesion["kind"]

    assert kind(0.1) == "none" and kind(0.2) == "hemorrhage" and kind(0.3) == "ischemic"
    assert kind(0.3, hematoma_u=DEFAULT_HEMATOMA_SHARE / 2) == "ischemic_ht"
    assert kind(0.3, start="hemorrhage") == "ischemic"  # the other cases are ischemic
    # with hemorrhage_share, the share's choice among the ischemic kinds stays
    assert kind(0.3, start="ischemic_ht", hemorrhage_share=0.3) == "ischemic_ht"
    assert kind(0.1, hemorrhage_share=0.3) == "none"
    with pytest.raises(ValueError, match="at most 1"):
        synth_case(0, "tiny", none_share=0.6, primary_hemorrhage_share=0.6)
    with pytest.raises(ValueError, match="not both"):
        synth_case(0, "tiny", kind="ischemic", none_share=0.5)
    with pytest.raises(ValueError, match="pairs"):
        synth_case(0, "tiny", pairs="odd")


def test_cohort_manifest_case_info_and_load_dataset(tmp_path):
    from strokect.data import load_dataset
    from strokect.data.splits import make_kfold_splits
    from strokect.io import read_volume

    root = tmp_path / "pairs"
    write_cohort(
        root, n_cases=3, seed=1, preset="tiny", layout="csv", pairs="realistic",
        lesion_class="mixed", hemorrhage_share=0.5, none_share=0.2,
    )  # fmt: skip
    acute = load_dataset(root / "manifest.csv")
    assert acute.case_ids == ["phantom_0000", "phantom_0001", "phantom_0002"]
    ds = load_dataset(root / "manifest_ncct_pairs.csv")
    expected = [f"phantom_000{i}{s}" for i in range(3) for s in ("_fu24h", "_fu1w")]
    assert ds.case_ids == expected
    patients = ds.patients()
    assert sorted(patients) == ["phantom_0000", "phantom_0001", "phantom_0002"]
    roles = {"ncct_baseline", "ncct_followup", "infarct", "hemorrhage", "brain", "labels"}
    for pid, cases in patients.items():
        assert [c.case_id for c in cases] == [f"{pid}_fu24h", f"{pid}_fu1w"]
        assert cases[0].path("ncct_baseline") == cases[1].path("ncct_baseline")
        assert cases[0].path("ncct_followup") != cases[1].path("ncct_followup")
        meta = json.loads((root / "metadata" / f"{pid}.json").read_text())
        for case, when in zip(cases, ("followup_24h", "followup_1w")):
            assert roles <= set(case.roles)
            case.check_geometry()  # the baseline's own grid is allowed, the masks share one
            base, fu = case.load("ncct_baseline"), case.load("ncct_followup")
            assert fu.spatial_shape == case.load("mask_infarct").spatial_shape
            assert base.spacing_mm != fu.spacing_mm or base.origin != fu.origin
            assert case.metadata["followup"] == when[-3:].lstrip("_")
            assert case.metadata["kind"] == meta["lesion"]["kind"]
            assert case.metadata["infarct_ml"] == pytest.approx(
                meta["pairs"][when]["volumes_ml"]["infarct"]
            )
            assert (case.metadata["lesion_class"] or None) == meta["pairs"][when]["lesion_class"]
        assert meta["pairs"]["case_ids"] == {"24h": f"{pid}_fu24h", "1w": f"{pid}_fu1w"}
        assert (
            meta["followup_protocol"]["pairs_draws"]["fu24h_hypodensity_fraction"]
            == (meta["pairs"]["followup_24h"]["hypodensity_fraction"])
        )
        assert meta["grids"]["baseline"] == meta["pairs"]["baseline"]["grid"]
    base = read_volume(patients["phantom_0000"][0].path("ncct_baseline"))
    assert (
        base.spatial_shape[0]
        == json.loads((root / "metadata" / "phantom_0000.json").read_text())["grids"]["baseline"][
            "shape_zyx"
        ][0]
    )
    # patient-level folds: both follow-ups of a patient land in the same fold
    for fold in make_kfold_splits(ds.cases, k=3, stop_fraction=0.0):
        val = set(fold["val"])
        assert all((f"{p}_fu24h" in val) == (f"{p}_fu1w" in val) for p in patients)


def test_synth_cli_pairs_options(tmp_path):
    out = tmp_path / "cli"
    args = ["synth", "-o", str(out), "--cases", "2", "--preset", "tiny", "--layout", "isles2018"]
    extra = ["--pairs", "realistic", "--lesion-free-share", "0.5"]
    assert main([*args, *extra, "--primary-hemorrhage-share", "0.5"]) == 0
    marker = json.loads((out / "phantom_cohort.json").read_text())
    assert marker["followup_options"]["pairs"] == "realistic"
    metas = [json.loads(p.read_text()) for p in sorted((out / "metadata").glob("*.json"))]
    assert {m["lesion"]["kind"] for m in metas} <= {"none", "hemorrhage"}
    pairs = (out / "extras" / "manifest_ncct_pairs.csv").read_text()
    assert "phantom_0001_fu24h,phantom_0001,ncct_baseline" in pairs
    info = (out / "extras" / "case_info.csv").read_text().splitlines()
    assert info[0].endswith(",followup") and len(info) == 1 + 2 * 3
    bad = ["synth", "-o", str(tmp_path / "bad"), "--preset", "tiny"]
    assert main([*bad, "--pairs", "realistic", "--layout", "isles2024"]) == 2
    assert main([*bad, "--lesion-free-share", "0.7", "--primary-hemorrhage-share", "0.7"]) == 2
    assert main([*bad, "--kind", "none", "--lesion-free-share", "0.5"]) == 2
    assert not (tmp_path / "bad").exists()


def test_isles_case_with_hematoma_at_both_follow_ups():
    case = synth_case(
        3, "isles", pairs="realistic", lesion_class="severe", hemorrhage_share=1.0,
        scanner_variation=True,
    )  # fmt: skip
    assert case.metadata["lesion"]["kind"] == "ischemic_ht"
    base, fu = case.followup["ncct_baseline"], case.followup["ncct_followup"]
    assert (base.spacing_mm[0], base.origin[2]) != (fu.spacing_mm[0], fu.origin[2])
    for vols in (case.followup, case.followup_24h):
        assert vols["hemorrhage"].array.sum() > 20
    assert _infarct_mean(case.followup) < _infarct_mean(case.followup_24h)
