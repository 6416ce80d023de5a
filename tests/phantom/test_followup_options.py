"""Follow-up NCCT options for ``threecnn`` (issue 17): lesion class, paper volumes, hemorrhage
share, thin slices, scanner variation; all off by default (tiny preset, a few seconds each)."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.phantom import case_seed, synth_case, write_cohort
from strokect.phantom.acquisition import THIN_SLICE_MM, cupping
from strokect.phantom.case import _draw, _followup_options, _streams
from strokect.phantom.cohort import case_lesion_class
from strokect.phantom.lesions import LESION_CLASSES, PAPER_INFARCT_VOLUME_ML, paper_infarct_volume
from strokect.phantom.presets import get_preset
from strokect.phantom.render import CLASS_MIN_SHIFT_HU


def _drawn(seed, preset="isles", kind=None, **options):
    """The lesion draw of ``synth_case(seed, preset, **options)`` without rendering."""
    opts = _followup_options(
        kind,
        options.get("lesion_class"),
        options.get("infarct_volumes", "default"),
        options.get("hemorrhage_share"),
        options.get("followup_slices", "thick"),
        options.get("scanner_variation", False),
    )
    return _draw(_streams(seed), get_preset(preset), kind, opts)


def _infarct_mean(case) -> float:
    fu = case.followup
    inf = fu["infarct"].array.astype(bool) & ~fu["hemorrhage"].array.astype(bool)
    return float(fu["ncct_followup"].array[inf].astype(float).mean())


def test_mixed_classes_in_equal_shares_each_in_its_class():
    got = collections.Counter()
    for i in range(12):
        wanted = case_lesion_class("mixed", i)
        case = synth_case(case_seed(0, i), "tiny", lesion_class=wanted, hemorrhage_share=0.25)
        meta = case.metadata
        assert meta["lesion"]["lesion_class_requested"] == wanted
        assert meta["lesion_class"] == wanted  # measured on the stored image
        lo, hi = LESION_CLASSES[wanted]
        mean = _infarct_mean(case)
        assert lo <= mean < hi and mean == pytest.approx(meta["infarct_mean_hu"])
        # the lesion stays darker than its tissue, by at least the minimum shift
        assert meta["infarct_shift_hu"] >= CLASS_MIN_SHIFT_HU
        assert 0.0 <= meta["followup_protocol"]["tissue_brightening_hu"] <= 8.0
        got[meta["lesion_class"]] += 1
    assert all(got[c] >= 2 for c in LESION_CLASSES), got


def test_subtle_class_in_bright_enough_tissue_and_same_subject():
    default = synth_case(2, "tiny", kind="ischemic")
    subtle = synth_case(2, "tiny", kind="ischemic", lesion_class="subtle")
    assert 32.0 <= _infarct_mean(subtle) < 44.0 and subtle.metadata["lesion_class"] == "subtle"
    for key in ("territory", "seed_head_mm", "target_infarct_volume_ml"):  # the same lesion
        assert subtle.metadata["lesion"][key] == default.metadata["lesion"][key]
    assert subtle.metadata["subject"] == default.metadata["subject"]
    assert "followup_protocol" not in default.metadata  # options off: nothing new recorded
    shift = subtle.metadata["followup_protocol"]["tissue_brightening_hu"]
    hu0, hu1 = default.metadata["tissue_values"]["hu"], subtle.metadata["tissue_values"]["hu"]
    assert hu1["gm"] - hu0["gm"] == pytest.approx(shift) and hu1["csf"] == hu0["csf"]
    # the same brain on every image of the case: the baseline is brighter by the same amount
    brain = default.followup["baseline_brain"].array.astype(bool)
    bl0, bl1 = (c.followup["ncct_baseline"].array[brain].astype(float) for c in (default, subtle))
    assert np.mean(bl1 - bl0) == pytest.approx(shift, abs=0.5)


def test_paper_volume_law():
    q1, median, q3 = PAPER_INFARCT_VOLUME_ML
    assert paper_infarct_volume(0.0) == pytest.approx(median)
    assert paper_infarct_volume(-0.6745) == pytest.approx(q1, rel=1e-3)
    assert paper_infarct_volume(0.6745) == pytest.approx(q3, rel=1e-3)
    volumes = [
        _drawn(s, infarct_volumes="paper")["lesion"]["target_infarct_volume_ml"] for s in range(90)
    ]
    assert 30.0 <= np.median(volumes) <= 70.0
    assert 8.0 <= np.percentile(volumes, 25) <= 25.0 and 80.0 <= np.percentile(volumes, 75) <= 200
    mixed = [
        _drawn(s, infarct_volumes="paper", lesion_class=case_lesion_class("mixed", s))
        for s in range(90)
    ]
    assert 30.0 <= np.median([d["lesion"]["target_infarct_volume_ml"] for d in mixed]) <= 70.0
    for d in mixed:  # a requested class draws from that class's quartiles in the paper
        z, cls = d["followup_protocol"]["draws"]["volume_z"], d["lesion"]["lesion_class_requested"]
        assert d["lesion"]["target_infarct_volume_ml"] == paper_infarct_volume(z, cls)
    assert [paper_infarct_volume(0.0, c) for c in LESION_CLASSES] == [89.0, 46.0, 29.0]
    default = [_drawn(s)["lesion"]["target_infarct_volume_ml"] for s in range(90)]
    assert np.median(default) < 25.0
    tiny = [_drawn(s, "tiny", infarct_volumes="paper")["lesion"] for s in range(10)]
    assert min(p["target_infarct_volume_ml"] for p in tiny) >= 20.0  # the tiny preset's minimum


def test_hemorrhage_share_is_respected():
    def share(p):
        kinds = [_drawn(s, hemorrhage_share=p)["lesion"]["kind"] for s in range(60)]
        assert set(kinds) <= {"ischemic", "ischemic_ht"}  # no primary hemorrhage
        return kinds.count("ischemic_ht") / len(kinds)

    assert share(0.0) == 0.0 and share(1.0) == 1.0
    assert 0.2 <= share(0.35) <= 0.5
    case = synth_case(1, "tiny", hemorrhage_share=1.0)
    hem, inf = (case.followup[k].array.astype(bool) for k in ("hemorrhage", "infarct"))
    assert hem.any() and (hem & inf).sum() >= 0.8 * hem.sum()
    assert case.metadata["volumes_ml"]["followup"]["hemorrhage"] > 0
    with pytest.raises(ValueError, match="not both"):
        synth_case(1, "tiny", kind="ischemic", hemorrhage_share=0.5)


def test_thin_slices_give_the_requested_spacing():
    thick = synth_case(4, "tiny")
    thin = synth_case(4, "tiny", followup_slices=2.5)
    z0, z1 = thick.followup["ncct_followup"], thin.followup["ncct_followup"]
    assert z1.spacing_mm[0] == 2.5 and z1.spacing_mm[1:] == z0.spacing_mm[1:]
    n0, n1 = z0.spatial_shape[0], z1.spatial_shape[0]
    assert n1 * 2.5 == pytest.approx(n0 * z0.spacing_mm[0])  # same z extent
    assert all(v.spatial_shape == z1.spatial_shape for v in thin.followup.values())
    assert thin.metadata["grids"]["followup"]["spacing_mm_zyx"][0] == 2.5
    drawn = {_drawn(s, followup_slices="thin")["ncct_grid"].spacing_mm[0] for s in range(12)}
    assert drawn <= set(THIN_SLICE_MM) and len(drawn) > 1
    with pytest.raises(ValueError, match="followup_slices"):
        synth_case(4, "tiny", followup_slices="medium")


def test_cupping_profile():
    mask = np.zeros((2, 41, 41), np.uint8)
    mask[:, 5:36, 5:36] = 1
    cup = cupping(mask, (1.0, 1.0), amplitude_hu=4.0, length_mm=8.0)
    assert (cup[mask == 0] == 0).all()
    assert cup[0, 5, 20] == pytest.approx(4.0 * np.exp(-1.0 / 8.0))  # one pixel off the table
    assert cup[0, 20, 20] == pytest.approx(4.0 * np.exp(-16.0 / 8.0))  # 16 mm deep
    assert cupping(mask, (1.0, 1.0), amplitude_hu=-3.0, length_mm=8.0)[0, 5, 20] < 0


def test_scanner_variation_offset_and_cupping_are_the_recorded_ones():
    plain = synth_case(6, "tiny", kind="none")
    varied = synth_case(6, "tiny", kind="none", scanner_variation=True)
    sc = varied.metadata["followup_protocol"]["scanner"]
    assert 2.5 <= sc["noise_sd_hu"] <= 8.0 and -3.0 <= sc["offset_hu"] <= 3.0
    assert 1.5 <= abs(sc["cupping_amplitude_hu"]) <= 5.0 and 6.0 <= sc["cupping_length_mm"] <= 15
    fu = varied.followup
    ic = fu["intracranial"].array
    cup = cupping(
        ic,
        fu["ncct_followup"].spacing_mm[1:],
        amplitude_hu=sc["cupping_amplitude_hu"],
        length_mm=sc["cupping_length_mm"],
    )
    diff = fu["ncct_followup"].array.astype(float) - plain.followup["ncct_followup"].array
    inside = ic.astype(bool)
    # same anatomy and noise draws, other noise level: the difference is offset + cupping + noise
    assert np.mean(diff[inside] - cup[inside]) == pytest.approx(sc["offset_hu"], abs=0.3)
    amplitude = abs(sc["cupping_amplitude_hu"])
    near = inside & (np.abs(cup) >= 0.5 * amplitude)
    deep = inside & (np.abs(cup) <= 0.15 * amplitude)
    contrast = np.mean(diff[near]) - np.mean(diff[deep])
    assert contrast == pytest.approx(np.mean(cup[near]) - np.mean(cup[deep]), abs=0.5)
    assert abs(contrast) > 0.4 * amplitude and near.sum() > 500 and deep.sum() > 500


def test_synth_cli_follow_up_options(tmp_path):
    out = tmp_path / "fu"
    args = ["synth", "-o", str(out), "--cases", "3", "--preset", "tiny", "--layout", "csv"]
    extra = ["--lesion-class", "mixed", "--hemorrhage-share", "0.5", "--infarct-volumes", "paper"]
    assert main([*args, *extra, "--followup-slices", "3", "--scanner-variation"]) == 0
    marker = json.loads((out / "phantom_cohort.json").read_text())
    assert marker["followup_options"]["lesion_class"] == "mixed"
    metas = [json.loads(p.read_text()) for p in sorted((out / "metadata").glob("*.json"))]
    assert [m["lesion"]["lesion_class_requested"] for m in metas] == list(LESION_CLASSES)
    assert all(m["grids"]["followup"]["spacing_mm_zyx"][0] == 3.0 for m in metas)
    assert all(m["followup_protocol"]["scanner"] for m in metas)
    bad = ["synth", "-o", str(tmp_path / "bad"), "--preset", "tiny"]
    assert main([*bad, "--followup-slices", "medium"]) == 2
    assert main([*bad, "--kind", "ischemic", "--hemorrhage-share", "0.3"]) == 2
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("layout", ["isles2018", "isles2024", "csv"])
def test_layouts_carry_the_class_and_the_hemorrhage_mask(tmp_path, layout):
    from strokect.data import filter_cases_by_class, load_dataset
    from strokect.io import read_volume

    root = tmp_path / layout
    write_cohort(
        root, n_cases=3, seed=2, preset="tiny", layout=layout, lesion_class="mixed",
        hemorrhage_share=1.0,
    )  # fmt: skip
    metas = {p.stem: json.loads(p.read_text()) for p in sorted((root / "metadata").glob("*.json"))}
    ds = load_dataset(root)
    assert len(ds.cases) == 3
    for case, meta in zip(ds.cases, metas.values()):
        assert case.lesion_class == meta["lesion_class"] == meta["lesion"]["lesion_class_requested"]
        assert case.metadata["kind"] == "ischemic_ht"
        assert case.metadata["infarct_ml"] == pytest.approx(
            meta["volumes_ml"]["followup"]["infarct"]
        )
    assert {c.lesion_class for c in ds.cases} == set(LESION_CLASSES)
    assert len(filter_cases_by_class(ds.cases, "subtle")) == 1
    # the follow-up pairs (extras for the ISLES layouts): hemorrhage mask and class, phantom ids
    folder = root if layout == "csv" else root / "extras"
    pairs = load_dataset(folder / "manifest_ncct_pairs.csv")
    visible = 0
    for case in pairs.cases:
        meta = metas[case.case_id]
        assert case.lesion_class == meta["lesion_class"]
        hem = read_volume(case.path("mask_hemorrhage"))
        ml = meta["volumes_ml"]["followup"]["hemorrhage"]
        assert hem.array.sum() * hem.voxel_volume_ml == pytest.approx(ml)
        assert case.metadata["hemorrhage_ml"] == pytest.approx(ml)
        visible += ml > 0
    # a hematoma of 10-35 % of a ~17 mL infarct can cover no 12.5 mm `tiny` voxel by half
    assert visible >= 2


def test_hematoma_is_a_fraction_of_the_placed_infarct():
    """400 mL drawn in an ACA territory: the lesion radius grew to 144 mm to fill it and the
    hematoma, sized from that radius, covered the whole 143 mL infarct (hemorrhage 144 mL)."""

    case = synth_case(
        case_seed(7777, 3), "realistic", lesion_class="severe", infarct_volumes="paper",
        hemorrhage_share=0.3, scanner_variation=True,
    )  # fmt: skip
    vols = case.metadata["volumes_ml"]["followup"]
    assert case.metadata["lesion"]["target_infarct_volume_ml"] == 400.0
    assert 0 < vols["hemorrhage"] <= 0.4 * vols["infarct"]
