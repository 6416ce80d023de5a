"""threecnn: dense = patch evaluation, 5 mm grid and back, classes, patches, hemorrhage, calibration."""

import json

import numpy as np
import pytest
import torch

from strokect.data import load_dataset
from strokect.data.splits import make_kfold_splits
from strokect.errors import InputError
from strokect.io import Volume
from strokect.methods.registry import get_method_class
from strokect.methods.threecnn import (
    CLASSES,
    PatchCNN,
    ThreeCnnConfig,
    ThreeCnnMethod,
    detect_hemorrhage_hu,
    lesion_class_of,
)
from strokect.methods.threecnn.config import MIN_SIZE_GRID_ML
from strokect.methods.threecnn.method import augment_foreground
from strokect.methods.threecnn.network import CENTRE
from strokect.methods.threecnn.preprocessing import (
    extract_patches,
    prepare_ncct,
    sample_centres,
    to_output_grid,
)
from strokect.phantom import synth_case
from strokect.preprocess.resample import reslice_to_spacing


@pytest.fixture(scope="module")
def followup():
    """One `isles` follow-up NCCT with a severe infarct and a hematoma (5 mm, 0.977 mm)."""
    case = synth_case(seed=4, preset="isles", lesion_class="severe", hemorrhage_share=1.0)
    return case


def _sharp(net: PatchCNN) -> PatchCNN:
    """A random network with logits of a few units (so probabilities span 0-1)."""
    torch.manual_seed(0)
    with torch.no_grad():
        net.out.weight.mul_(40.0)
    return net.eval()


def test_registered():
    assert get_method_class("threecnn") is ThreeCnnMethod


def test_dense_evaluation_equals_patch_classification(followup):
    """>= 1000 random ROI voxels of a real-sized prepared case: the dense network's probability
    equals the patch network's on that voxel's patch (max |diff| <= 1e-5)."""
    cfg = ThreeCnnConfig(variant="single")
    prepared = prepare_ncct(followup.followup["ncct_followup"], cfg)
    torch.manual_seed(1)
    net = _sharp(PatchCNN())
    method = ThreeCnnMethod(cfg)
    rng = np.random.default_rng(0)
    roi = np.argwhere(prepared.roi)
    slices = rng.choice(np.unique(roi[:, 0]), 5, replace=False)  # 5 slices keep the test short
    roi = roi[np.isin(roi[:, 0], slices)]
    centres = roi[rng.choice(len(roi), 1200, replace=False)]
    # and voxels whose patch reaches the crop edge or the first/last slice
    edge = np.array([[0, CENTRE // 2, 3], [prepared.roi.shape[0] - 1, 2, 5]])
    centres = np.concatenate([centres, edge])
    patches = torch.from_numpy(extract_patches(prepared.image, centres, prepared.data["pad_value"]))
    with torch.no_grad():
        logits = net(patches)
        margin = (logits[:, 1] - logits[:, 0]).median()
        net.out.bias[1] -= margin  # centre the random network: probabilities on both sides of 0.5
        per_voxel = torch.softmax(net(patches), 1)[:, 1].numpy()
    nets = {name: net for name in method.networks}
    predict = method.predictor(nets)
    dense = np.zeros(len(centres))
    with torch.no_grad():
        for z in np.unique(centres[:, 0]):
            x = torch.from_numpy(prepared.image[:, z][None])
            out = predict(x)[0, 0].numpy()
            sel = centres[:, 0] == z
            dense[sel] = out[centres[sel, 1], centres[sel, 2]]
    assert per_voxel.std() > 0.05 and per_voxel.min() < 0.5 < per_voxel.max()  # not all ~0.5
    assert np.abs(dense - per_voxel).max() <= 1e-5


def test_bf16_close_to_fp32(followup):
    prepared = prepare_ncct(followup.followup["ncct_followup"], ThreeCnnConfig())
    torch.manual_seed(2)
    net = _sharp(PatchCNN())
    x = torch.from_numpy(prepared.image[:, prepared.image.shape[1] // 2][None])
    outs = {}
    for precision in ("fp32", "bf16"):
        method = ThreeCnnMethod(ThreeCnnConfig(precision=precision))
        with torch.no_grad():
            outs[precision] = method.predictor({n: net for n in method.networks})(x)[0, 0].numpy()
    diff = np.abs(outs["fp32"] - outs["bf16"])
    assert diff.max() < 0.1 and np.mean((outs["fp32"] >= 0.5) != (outs["bf16"] >= 0.5)) < 0.01


def test_reslice_thin_slices_average_and_geometry():
    rng = np.random.default_rng(0)
    a = rng.normal(30, 5, (20, 8, 8)).astype(np.float32)
    direction = np.array([[1, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])  # tilted slices
    v = Volume(a, (1.0, 0.5, 0.5), origin=(10, 20, 30), direction=direction)
    r = reslice_to_spacing(v, (5.0, 0.5, 0.5))
    assert r.spatial_shape == (4, 8, 8) and r.spacing_mm == (5.0, 0.5, 0.5)
    np.testing.assert_allclose(r.array[1], a[5:10].mean(0), rtol=1e-5)
    # the first 5 mm slab is centred 2 mm (along the slice normal) past the first thin slice
    np.testing.assert_allclose(
        r.index_to_world(np.array([0, 0, 0])), v.index_to_world(np.array([2, 0, 0]))
    )
    # in-plane within the tolerance: untouched
    r2 = reslice_to_spacing(v, (1.0, 0.52, 0.52), tolerance=0.05)
    assert r2.spacing_mm == (1.0, 0.5, 0.5) and np.array_equal(r2.array, a)
    # finer target: linear interpolation, the ends clamped
    up = reslice_to_spacing(
        Volume(np.arange(4, dtype=np.float32).reshape(4, 1, 1), (2, 1, 1)), (1, 1, 1)
    )
    np.testing.assert_allclose(up.array.ravel(), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])


def test_thin_slice_input_is_segmented_on_its_own_grid(followup):
    """A 1.25 mm version of the case: networks see 5 mm slabs; outputs come back on the thin
    grid, where the region of interest matches the 5 mm one."""
    cfg = ThreeCnnConfig()
    thick = followup.followup["ncct_followup"]
    thin_case = synth_case(seed=4, preset="isles", lesion_class="severe", followup_slices=1.25)
    thin = thin_case.followup["ncct_followup"]
    assert thin.spacing_mm[0] == 1.25
    p_thin, p_thick = prepare_ncct(thin, cfg), prepare_ncct(thick, cfg)
    assert p_thin.data["resliced"] and not p_thick.data["resliced"]
    assert p_thin.grid.spacing_mm[0] == 5.0 and p_thin.target is thin
    ml = lambda mask, vol: mask.sum() * vol.voxel_volume_ml  # noqa: E731
    assert ml(p_thin.target_roi, thin) == pytest.approx(ml(p_thick.target_roi, thick), rel=0.05)
    ones = to_output_grid(p_thin, np.ones(p_thin.grid.spatial_shape, np.float32))
    assert ones.shape == thin.spatial_shape and ones[p_thin.target_roi].min() > 0.99


def test_lesion_class_and_references(followup):
    case = followup
    method = ThreeCnnMethod()
    prepared = prepare_ncct(case.followup["ncct_followup"], method.config)
    from strokect.methods.threecnn.preprocessing import add_references

    ct = case.followup["ncct_followup"]
    inf, hem = case.followup["infarct"], case.followup["hemorrhage"]
    add_references(prepared, ct, inf, hem)
    assert hem.array.any()
    assert prepared.data["lesion_class"] == "severe" == case.metadata["lesion_class"]
    truth_mean = ct.array[(inf.array > 0) & (hem.array == 0)].mean()
    assert prepared.data["infarct_mean_hu"] == pytest.approx(truth_mean)
    assert np.array_equal(prepared.label, (inf.array > 0) | (hem.array > 0))
    assert not (prepared.data["infarct_nonhem"] & hem.array).any()
    assert [lesion_class_of(v) for v in (13.9, 14, 21.9, 22, 31.9, 32, 43.9, 44, None)] == [
        None, "severe", "severe", "intermediate", "intermediate", "subtle", "subtle", None, None,
    ]  # fmt: skip


def test_patch_sampling_balance_and_exclusions():
    roi = np.ones((3, 30, 30), bool)
    fg = np.zeros_like(roi)
    fg[1, 10:15, 10:15] = True
    hem = np.zeros_like(roi)
    hem[1, 20:22, 20:22] = True
    near = np.zeros_like(roi)
    near[1, 5:20, 5:20] = True
    rng = np.random.default_rng(0)
    centres, labels = sample_centres(roi, fg, ~(fg | hem), 400, rng, near=near, near_fraction=0.5)
    assert len(labels) == 400 and labels.sum() == 200
    picked = fg[tuple(centres.T)]
    assert np.array_equal(picked, labels == 1)
    assert not hem[tuple(centres.T)].any()  # hemorrhage is neither infarct nor background
    bg_near = near[tuple(centres[labels == 0].T)].mean()
    assert bg_near >= 0.5  # half drawn near the lesion, plus the uniform ones that fall there
    # no foreground: background only, half the count
    _, l2 = sample_centres(roi, np.zeros_like(roi), ~hem, 400, rng)
    assert len(l2) == 200 and not l2.any()


def test_augmentation_keeps_centre_and_background():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 19, 19)
    y = torch.tensor([0, 1] * 32)
    out = augment_foreground(x, y)
    assert torch.equal(out[y == 0], x[y == 0])
    assert torch.equal(out[:, :, CENTRE, CENTRE], x[:, :, CENTRE, CENTRE])
    assert not torch.equal(out[y == 1], x[y == 1])


def test_hu_hemorrhage_detector():
    shape = (6, 80, 80)
    _z, yy, xx = np.indices(shape)
    r = np.hypot(yy - 40, xx - 40)
    ct = np.where(r < 30, 35.0, -1000.0)
    ct[(r >= 30) & (r < 34)] = 1000.0  # skull
    blood = (np.hypot(yy - 40, xx - 30) < 6) & (_z >= 2) & (_z <= 3)
    ct[blood] = 70.0
    rim = (np.hypot(yy - 40, xx - 61) < 2) & (_z == 2)  # bright spot against the skull
    ct[rim] = 70.0
    speck = (np.hypot(yy - 20, xx - 45) < 1.5) & (_z == 4)
    ct[speck] = 75.0
    rng = np.random.default_rng(0)
    vol = Volume((ct + rng.normal(0, 3, shape)).astype(np.float32), (5.0, 1.0, 1.0))
    found = detect_hemorrhage_hu(vol, r < 30, min_volume_ml=0.1)
    dice = 2 * (found & blood).sum() / (found.sum() + blood.sum())
    assert dice > 0.8
    assert not found[rim].any() and not found[speck].any()


def test_stratified_folds_train_every_class():
    ids = [f"c{i}" for i in range(12)]
    strata = {cid: ["severe", "intermediate", "subtle"][i % 3] for i, cid in enumerate(ids)}
    for seed in range(5):
        splits = make_kfold_splits(ids, 3, seed=seed, strata=strata)
        for split in splits:
            assert {strata[c] for c in split["train"]} == {"severe", "intermediate", "subtle"}
            assert (
                sorted(strata[c] for c in split["val"]) == ["intermediate", "severe", "subtle"] * 1
                or len(split["val"]) == 4
            )
            assert not set(split["train"]) & set(split["stop"])
    assert make_kfold_splits(ids, 3, seed=0) == make_kfold_splits(ids, 3, seed=0, strata=None)


def test_config_errors():
    for bad in ({"variant": "four"}, {"hemorrhage_detector": "x"}, {"precision": "fp16"},
                {"window_hu": (100, 0)}):  # fmt: skip
        with pytest.raises(InputError):
            ThreeCnnConfig(**bad)
    assert ThreeCnnConfig(variant="single").networks == ("single", "hemorrhage")


def test_prepare_refuses_bad_inputs():
    cfg = ThreeCnnConfig()
    with pytest.raises(InputError, match="skull"):
        prepare_ncct(Volume(np.full((4, 40, 40), 30.0, np.float32), (5.0, 1.0, 1.0)), cfg)
    four_d = Volume(np.zeros((2, 4, 40, 40), np.float32), (5.0, 1.0, 1.0), time_s=np.arange(2.0))
    with pytest.raises(InputError, match="4D"):
        prepare_ncct(four_d, cfg)
    bad = np.full((4, 40, 40), 30.0, np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        prepare_ncct(Volume(bad, (5.0, 1.0, 1.0)), cfg)


TINY = ["--set", "slice_mm=12.5", "--set", "inplane_mm=3.9", "--set", "patches_per_case=200",
        "--set", "max_epochs=2", "--set", "batch_size=64"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-fold run on 6 `tiny` follow-up cases (two per class), with its calibration."""
    from strokect.cli.main import main

    root = tmp_path_factory.mktemp("tc")
    status = main(["synth", "-o", str(root / "data"), "--cases", "6", "--seed", "3",
                   "--preset", "tiny", "--layout", "csv", "--lesion-class", "mixed",
                   "--hemorrhage-share", "0.5"])  # fmt: skip
    assert status == 0
    data = root / "data" / "manifest_ncct_pairs.csv"
    status = main(["train", "--method", "threecnn", "--data", str(data), "-o",
                   str(root / "run"), "--folds", "2", "--no-progress", *TINY])  # fmt: skip
    assert status == 0
    return root, data


def test_train_calibrates_each_network_on_its_own_cases(tiny_run):
    root, data = tiny_run
    cal = json.loads((root / "run" / "calibration.json").read_text())
    classes = {c.case_id: c.lesion_class for c in load_dataset(data).cases}
    searches = {s["name"]: s for s in cal["searches"]}
    assert list(searches) == [
        "severe", "intermediate", "subtle", "hemorrhage", "smallest infarct component"
    ]  # fmt: skip
    for name in ("severe", "intermediate", "subtle"):
        assert sorted(searches[name]["cv_cases"]) == sorted(
            c for c, k in classes.items() if k == name
        )
        assert searches[name]["output"] == f"infarct_{name}"
    assert searches["hemorrhage"]["n_cases"] == 6
    assert searches["hemorrhage"]["output"] == "hemorrhage_cnn"  # not the HU detector's mask
    smallest = searches["smallest infarct component"]
    assert smallest["output"] == "infarct" and smallest["n_cases"] == 6
    assert cal["calibration"]["min_size_ml"] in MIN_SIZE_GRID_ML
    splits = json.loads((root / "run" / "splits.json").read_text())["folds"]
    for split in splits:  # stratified: every fold trains every class
        assert {classes[c] for c in split["train"] + split["stop"]} == {
            "severe",
            "intermediate",
            "subtle",
        }


def test_segment_outputs_on_input_grid(tiny_run, tmp_path):
    from strokect.pipelines.segment import segment

    root, data = tiny_run
    case = load_dataset(data).cases[0]
    res = segment({"ncct_followup": case.images["ncct_followup"]}, tmp_path / "out",
                  method="threecnn", weights=root / "run")  # fmt: skip
    ct = case.load("ncct_followup")
    for name in ("infarct", "hemorrhage", "infarct_severe", "probability_subtle"):
        assert res.outputs[name].same_geometry(ct)
    inf = res.outputs["infarct"].array > 0
    parts = [res.outputs[f"infarct_{c}"].array > 0 for c in ("severe", "intermediate", "subtle")]
    assert np.array_equal(
        inf, parts[0] | parts[1] | parts[2] | (res.outputs["hemorrhage"].array > 0)
    )
    rows = (tmp_path / "out" / "volumes.csv").read_text().splitlines()
    assert {r.split(",")[2] for r in rows[1:]} == {
        "infarct", "hemorrhage", "hemorrhage_cnn", "infarct_severe", "infarct_intermediate",
        "infarct_subtle",
    }  # fmt: skip
    # the HU detector instead of the hemorrhage CNN
    hu = segment({"ncct_followup": case.images["ncct_followup"]}, method="threecnn",
                 weights=root / "run", options=["hemorrhage_detector=hu"])  # fmt: skip
    assert hu.provenance["config"]["hemorrhage_detector"] == "hu"
    # the smallest-component step: every infarct component is removed from the union and from
    # the class masks, the hemorrhage is still added back
    found = [res.outputs[f"infarct_{c}"].array > 0 for c in CLASSES]
    assert np.any(found)
    smallest = max(p.sum() for p in found) * ct.voxel_volume_ml + 1.0
    big = segment({"ncct_followup": case.images["ncct_followup"]}, method="threecnn",
                  weights=root / "run", options=[f"min_size_ml={smallest}"])  # fmt: skip
    assert not any((big.outputs[f"infarct_{c}"].array > 0).any() for c in CLASSES)
    assert np.array_equal(big.outputs["infarct"].array, big.outputs["hemorrhage"].array)


def test_segment_needs_the_followup_role(tiny_run):
    from strokect.pipelines.segment import segment

    root, data = tiny_run
    case = load_dataset(data).cases[0]
    with pytest.raises(InputError, match="ncct_followup"):
        segment({"ncct": case.images["ncct_followup"]}, method="threecnn", weights=root / "run")


def test_cutoff_searches_paper_and_final_infarct():
    paper = ThreeCnnMethod(ThreeCnnConfig()).calibration_searches()
    assert [(s.name, s.output, s.reference) for s in paper] == [
        ("severe", "infarct_severe", "infarct_nonhem"),
        ("intermediate", "infarct_intermediate", "infarct_nonhem"),
        ("subtle", "infarct_subtle", "infarct_nonhem"),
        ("hemorrhage", "hemorrhage_cnn", "hemorrhage_label"),
        ("smallest infarct component", "infarct", "label"),
    ]
    assert all(s.select is not None for s in paper[:3])
    assert paper[-1].grid == {"min_size_ml": MIN_SIZE_GRID_ML} and MIN_SIZE_GRID_ML[0] == 0.0
    union = ThreeCnnMethod(ThreeCnnConfig(cutoff_search="all")).calibration_searches()
    assert [s.output for s in union] == ["infarct"] * 6 + ["hemorrhage_cnn", "infarct"]
    assert [next(iter(s.grid)) for s in union[:3]] == [f"cutoff_{c}" for c in CLASSES]
    single = ThreeCnnMethod(ThreeCnnConfig(variant="single")).calibration_searches()
    assert [s.output for s in single] == ["infarct_single", "hemorrhage_cnn", "infarct"]


def test_hemorrhage_cutoff_is_calibrated_on_the_cnn_mask_whatever_the_detector(followup):
    """With the HU detector added back as `hemorrhage` (the default), that output ignores the
    hemorrhage CNN's cut-off; the search must score `hemorrhage_cnn`, which follows it (a search
    on `hemorrhage` kept the grid's first value, 0.05, and 11 mL of false CNN hemorrhage)."""
    from strokect.methods.threecnn.config import ThreeCnnCalibration

    for detector in ("hu", "cnn"):
        method = ThreeCnnMethod(ThreeCnnConfig(variant="single", hemorrhage_detector=detector))
        search = [s for s in method.calibration_searches() if s.name == "hemorrhage"]
        assert [(s.output, next(iter(s.grid))) for s in search] == [
            ("hemorrhage_cnn", "cutoff_hemorrhage")
        ]
        prepared = method.prepare({"ncct_followup": followup.followup["ncct_followup"]})
        shape = prepared.image.shape[1:]
        combined = np.zeros((2, *shape), np.float32)
        combined[1] = np.linspace(0.0, 1.0, shape[-1], dtype=np.float32)  # a ramp across x
        out = {
            cut: method.finalize(prepared, combined, ThreeCnnCalibration(cutoff_hemorrhage=cut))
            for cut in (0.3, 0.7)
        }
        cnn = [out[c]["hemorrhage_cnn"].array > 0 for c in (0.3, 0.7)]
        assert cnn[0].sum() > cnn[1].sum() > 0 and not (cnn[1] & ~cnn[0]).any()
        added = [out[c]["hemorrhage"].array > 0 for c in (0.3, 0.7)]
        if detector == "hu":
            assert np.array_equal(added[0], added[1])
            assert np.array_equal(added[0], prepared.data["hemorrhage_hu"])
        else:
            assert all(np.array_equal(a, c) for a, c in zip(added, cnn, strict=True))
        assert out[0.3]["hemorrhage_cnn"].metadata["label"] == "hemorrhage"


def test_median_normalization_removes_a_scanner_offset(followup):
    ct = followup.followup["ncct_followup"]
    shifted = ct.with_array(ct.array.astype(np.float32) + 4.0)
    for normalize, same in (("median", True), ("fixed", False)):
        cfg = ThreeCnnConfig(normalize=normalize)
        a, b = prepare_ncct(ct, cfg), prepare_ncct(shifted, cfg)
        roi = a.roi
        assert np.allclose(a.image[1][roi], b.image[1][roi], atol=1e-5) == same


def test_validation_patches_skip_a_class_missing_from_the_stop_set(tiny_run):
    from strokect.methods.base import TrainContext

    _, data = tiny_run
    cfg = ThreeCnnConfig(slice_mm=12.5, inplane_mm=3.9, patches_per_case=50)
    severe = [c for c in load_dataset(data).cases if c.lesion_class == "severe"]
    batches = ThreeCnnMethod(cfg).val_data(severe, TrainContext())
    assert sorted({int(b[0]) for b in batches}) == [0, 3]  # severe and hemorrhage networks only
    with pytest.raises(InputError, match="intermediate"):
        ThreeCnnMethod(cfg).train_data(severe, TrainContext())
