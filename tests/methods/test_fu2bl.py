"""fu2bl: thresholds, network grid, registration, losses, validation monitor, outputs, CLI."""

import json

import numpy as np
import pytest
import torch

from strokect.data import load_dataset
from strokect.errors import InputError
from strokect.io import Volume
from strokect.methods.base import TrainContext
from strokect.methods.fu2bl import Fu2blCalibration, Fu2blConfig, Fu2blMethod
from strokect.methods.fu2bl.augment import augment_pair
from strokect.methods.fu2bl.config import (
    HEMORRHAGE_GRID,
    INFARCT_GRID,
    SMOOTH_GRID,
    THRESHOLD_GRID,
)
from strokect.methods.fu2bl.method import HU_PER_UNIT, VAL_THRESHOLDS
from strokect.methods.fu2bl.network import build_generator
from strokect.methods.fu2bl.preprocessing import (
    followup_channels,
    network_grid,
    prepare_followup,
    prepare_pair,
    registration_ncc,
)
from strokect.methods.registry import get_method_class
from strokect.preprocess.intensity import hu_windows_to_channels

SMALL = {"pixel_mm": 4.0, "image_size": 64, "gen_filters": 8, "disc_filters": 8}


def test_registered_and_threshold_grid():
    assert get_method_class("fu2bl") is Fu2blMethod
    assert len(THRESHOLD_GRID) == 51
    assert THRESHOLD_GRID[0] == -0.2 and THRESHOLD_GRID[-1] == 0.3
    assert np.allclose(np.diff(THRESHOLD_GRID), 0.01)
    assert max(INFARCT_GRID) < 0 < min(HEMORRHAGE_GRID)
    assert len(INFARCT_GRID) + len(HEMORRHAGE_GRID) == 50  # 0 itself is neither side
    assert HU_PER_UNIT * 0.01 == pytest.approx(0.5)  # 0.01 = 0.5 HU (paper)


def test_config_errors():
    for bad in ({"loss": "wgan"}, {"generator": "vit"}, {"slice_range": (0.9, 0.1)},
                {"image_size": 130}, {"precision": "fp8"}):  # fmt: skip
        with pytest.raises(InputError):
            Fu2blConfig(**bad)
    assert "discriminator" not in Fu2blMethod(Fu2blConfig(loss="l1", **SMALL)).build_networks()


def test_channels_match_the_shared_windows():
    hu = torch.tensor([[[-50.0, 50.0, 100.0, 550.0, 1200.0]]])
    np.testing.assert_allclose(
        followup_channels(hu).numpy()[0], hu_windows_to_channels(hu.numpy())[:, 0], atol=1e-6
    )


@pytest.mark.parametrize("kind", ["resnet", "unet"])
def test_generator_shape_and_range(kind):
    gen = build_generator(Fu2blConfig(generator=kind, **SMALL)).eval()
    with torch.no_grad():
        out = gen(torch.randn(2, 2, 64, 64) * 3)
    assert out.shape == (2, 1, 64, 64)
    assert out.abs().max() <= 1.0


def _head(shape=(6, 80, 90), spacing=(5.0, 3.0, 3.0), centre=(40, 50)) -> Volume:
    """A synthetic head: air, a 10 mm skull ring (800 HU) around brain (35 HU)."""
    _, y, x = np.indices(shape)
    r = np.hypot((y - centre[0]) * spacing[1], (x - centre[1]) * spacing[2])
    arr = np.full(shape, -1000.0, np.float32)
    arr[r < 80] = 800.0
    arr[r < 70] = 35.0
    return Volume(arr, spacing, origin=(10.0, -20.0, 5.0))


def test_network_grid_centres_the_head_and_keeps_world_positions():
    ct = _head()
    cfg = Fu2blConfig(**SMALL)
    grid, box = network_grid(ct, cfg)
    assert grid.spatial_shape[1:] == (64, 64) and grid.spacing_mm[1:] == (4.0, 4.0)
    head = grid.array[0] > -300
    ys, xs = np.nonzero(head)
    assert abs(ys.mean() - 31.5) < 1.0 and abs(xs.mean() - 31.5) < 1.0
    # a world point maps to the same HU on both grids
    world = ct.index_to_world(np.array([2.0, 40.0, 50.0]))
    idx = np.round(grid.world_to_index(world)).astype(int)
    assert grid.array[tuple(idx)] == pytest.approx(35.0, abs=1.0)
    again, box2 = network_grid(ct.with_array(ct.array + 1), cfg, box=box)
    assert box2 == box and again.same_geometry(grid)


def test_prepare_followup_median_normalization_and_refusals():
    ct = _head()
    cfg = Fu2blConfig(**SMALL)
    p = prepare_followup(ct, cfg)
    shifted = prepare_followup(ct.with_array(ct.array + 7.0), cfg)
    assert p.image.shape[:2] == (2, ct.spatial_shape[0])  # 5 mm slices kept
    np.testing.assert_allclose(p.image, shifted.image, atol=1e-4)  # a scanner offset is removed
    assert shifted.data["shift_hu"] == pytest.approx(p.data["shift_hu"] - 7.0, abs=0.01)
    raw = prepare_followup(ct.with_array(ct.array + 7.0), Fu2blConfig(normalize="fixed", **SMALL))
    assert not np.allclose(raw.image, p.image)
    bad = ct.array.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        prepare_followup(ct.with_array(bad), cfg)
    with pytest.raises(InputError, match="no head"):
        prepare_followup(ct.with_array(np.full(ct.spatial_shape, -1000.0, np.float32)), cfg)


def test_registration_quality_figure():
    rng = np.random.default_rng(0)
    a = _head().array + rng.normal(0, 3, (6, 80, 90)).astype(np.float32)
    assert registration_ncc(a, a) == pytest.approx(1.0)
    shifted = np.roll(a, 3, axis=2)
    assert registration_ncc(shifted, a) < 0.9


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """6 `tiny` phantom pairs (the follow-up moved by a small rigid pose change)."""
    from strokect.cli.main import main

    root = tmp_path_factory.mktemp("fu2bl")
    status = main(["synth", "-o", str(root / "data"), "--cases", "6", "--seed", "5",
                   "--preset", "tiny", "--layout", "csv"])  # fmt: skip
    assert status == 0
    return root, root / "data" / "manifest_ncct_pairs.csv"


def test_pair_registration_matches_the_phantom_pose_and_is_cached(pairs, tmp_path):
    root, data = pairs
    case = load_dataset(data).cases[0]
    cfg = Fu2blConfig(pixel_mm=3.9, image_size=64)
    pair = prepare_pair(case, cfg, cache_dir=tmp_path)
    assert pair.ncc > 0.9
    assert pair.followup_hu.shape == pair.baseline_hu.shape == pair.brain.shape
    # the registered baseline lines up: its brain mask overlaps the follow-up's
    bl_head = pair.baseline_hu > -300
    fu_head = pair.followup_hu > -300
    assert (bl_head & fu_head).sum() / fu_head.sum() > 0.95
    cached = list(tmp_path.glob("fu2bl-registration-*.json"))
    assert len(cached) == 1
    matrix = np.asarray(json.loads(cached[0].read_text())["matrix_lps"])
    meta = json.loads((root / "data" / "metadata" / f"{case.case_id}.json").read_text())
    truth = np.linalg.inv(np.asarray(meta["rigid"]["matrix_lps"]))  # follow-up -> baseline
    centre = np.asarray(meta["rigid"]["centre_lps_mm"])
    pts = centre + np.array([[0, 0, 0], [60.0, 0, 0], [0, 60.0, 20.0]])
    err = np.linalg.norm(
        (pts @ matrix[:3, :3].T + matrix[:3, 3]) - (pts @ truth[:3, :3].T + truth[:3, 3]), axis=1
    )
    assert err.max() < 1.5  # mm, on 3.9 mm x 12.5 mm voxels
    again = prepare_pair(case, cfg, cache_dir=tmp_path)  # from the cache
    np.testing.assert_array_equal(again.baseline_hu, pair.baseline_hu)


def test_augmentation_moves_both_scans_alike():
    torch.manual_seed(0)
    cfg = Fu2blConfig(gain=(1, 1), offset_hu=(0, 0), gamma=(1, 1), noise_sd_hu=(0, 0),
                      smooth_p=0.0, streak_p=0.0)  # fmt: skip
    head = torch.from_numpy(_head((1, 64, 64), centre=(30, 36)).array).repeat(3, 1, 1)
    fu, bl = augment_pair(head, head.clone(), cfg)
    torch.testing.assert_close(fu, bl)  # geometry identical, no intensity change asked
    assert not torch.allclose(fu, head)  # but moved
    torch.manual_seed(0)
    fu2, bl2 = augment_pair(head, head.clone(), Fu2blConfig())
    torch.testing.assert_close(bl2, bl)  # intensity changes touch the follow-up only
    assert not torch.allclose(fu2, bl2)


def _batch(n=4, size=64):
    head = torch.from_numpy(_head((1, size, size), spacing=(5.0, 4.0, 4.0), centre=(32, 32)).array)
    fu = head.repeat(n, 1, 1).clone()
    fu[:, 28:36, 20:28] = 20.0  # a hypodense lesion on the follow-up only
    return {"followup": fu, "baseline": head.repeat(n, 1, 1).clone()}


@pytest.mark.parametrize("loss", ["l1+adv", "l1"])
def test_training_steps_learn_the_baseline(loss):
    torch.manual_seed(0)
    method = Fu2blMethod(Fu2blConfig(loss=loss, lr=2e-3, augment=False, **SMALL))
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    ctx = TrainContext()
    batch = _batch()
    first = method.training_step(batch, nets, opts, ctx)
    for _ in range(40):
        last = method.training_step(batch, nets, opts, ctx)
    assert last["l1"] < 0.5 * first["l1"]
    assert ("loss_d" in last) == (loss == "l1+adv")


def test_validation_monitor_best_dice_over_thresholds():
    method = Fu2blMethod(Fu2blConfig(**SMALL))
    means = {"val_l1": 0.1, "labelled": 0.5, **{f"dice@{t:.2f}": 0.0 for t in VAL_THRESHOLDS}}
    means["dice@-0.05"] = 0.3  # mean over all cases of labelled * dice
    out = method.summarize_validation(dict(means))
    assert out["val_dice"] == pytest.approx(0.6) and out["val_threshold"] == -0.05
    assert out["val_score"] == out["val_dice"]
    assert not any(k.startswith("dice@") for k in out)
    unlabelled = method.summarize_validation({"val_l1": 0.1, "labelled": 0.0, "dice@-0.05": 0.0})
    assert unlabelled["val_score"] == -0.1


def test_finalize_thresholds_both_sides_inside_the_brain():
    ct = _head()
    method = Fu2blMethod(Fu2blConfig(pixel_mm=3.0, image_size=64))
    prepared = method.prepare({"ncct_followup": ct})
    d = np.zeros((1, *prepared.grid.spatial_shape), np.float32)
    brain = prepared.roi
    _, yc, xc = (int(v.mean()) for v in np.nonzero(brain))
    d[0, :, yc - 3 : yc + 3, xc - 3 : xc + 3] = -0.3  # hypodense
    d[0, :, yc + 6 : yc + 9, xc : xc + 3] = 0.25  # hyperdense
    d[0, :, 0:3, 0:3] = -0.5  # outside the head: removed by the brain filter
    cal = Fu2blCalibration(threshold_infarct=-0.1, threshold_hemorrhage=0.1)
    out = method.finalize(prepared, d, cal)
    assert all(v.same_geometry(ct) for v in out.values())
    hypo, hyper = out["hypodense"].array > 0, out["hemorrhage"].array > 0
    assert hypo.sum() and hyper.sum() and not (hypo & hyper).any()
    assert np.array_equal(out["infarct"].array > 0, hypo | hyper)
    assert not (hypo & ~prepared.output_roi).any()
    assert out["difference_hu"].array.min() == pytest.approx(-0.3 * 50, abs=0.5)
    # smoothing the map (calibrated) spreads and weakens the small hyperdense spot
    smoothed = method.finalize(prepared, d, Fu2blCalibration(-0.1, 0.1, smooth_mm=6.0))
    assert smoothed["difference_hu"].array.max() < out["difference_hu"].array.max()
    assert method.finalize(prepared, d, cal)["hemorrhage"].array.sum() == hyper.sum()  # memo
    # D = 0: the generated baseline is the (median-shifted back) follow-up
    out0 = method.finalize(prepared, np.zeros_like(d), cal)
    inside = prepared.output_roi
    np.testing.assert_allclose(out0["baseline_generated"].array[inside], 35.0, atol=1.0)
    assert not (out0["infarct"].array > 0).any()


@pytest.fixture(scope="module")
def tiny_run(pairs):
    from strokect.cli.main import main

    root, data = pairs
    status = main(["train", "--method", "fu2bl", "--data", str(data), "-o", str(root / "run"),
                   "--folds", "2", "--no-progress", "--set", "max_epochs=3",
                   "--set", "val_every_epochs=1", "--set", "pixel_mm=4",
                   "--set", "image_size=64", "--set", "gen_filters=8",
                   "--set", "disc_filters=8", "--set", "min_registration_ncc=0.5"])  # fmt: skip
    assert status == 0
    return root, data


def test_train_then_segment_on_the_input_grid(tiny_run, tmp_path):
    from strokect.pipelines.segment import segment

    root, data = tiny_run
    cal = json.loads((root / "run" / "calibration.json").read_text())
    names = [s["name"] for s in cal["searches"]]
    assert names == ["infarct and smoothing", "hemorrhage", "infarct"]
    assert cal["calibration"]["threshold_infarct"] in INFARCT_GRID
    assert cal["calibration"]["smooth_mm"] in SMOOTH_GRID
    log = (root / "run" / "fold_0" / "log.csv").read_text()
    assert "val_score" in log and "dice@" not in log
    case = load_dataset(data).cases[0]
    res = segment({"ncct_followup": case.images["ncct_followup"]}, tmp_path / "out",
                  method="fu2bl", weights=root / "run")  # fmt: skip
    ct = case.load("ncct_followup")
    for name in ("infarct", "hemorrhage", "hypodense", "difference_hu", "baseline_generated"):
        assert res.outputs[name].same_geometry(ct)
    rows = (tmp_path / "out" / "volumes.csv").read_text().splitlines()
    assert {r.split(",")[2] for r in rows[1:]} == {"infarct", "hemorrhage", "hypodense"}
    with pytest.raises(InputError, match="ncct_followup"):
        segment({"ncct": case.images["ncct_followup"]}, method="fu2bl", weights=root / "run")


def test_training_needs_the_baseline(tmp_path, pairs):
    from strokect.cli.main import main

    _, data = pairs
    lines = data.read_text().splitlines()
    kept = [ln for ln in lines if ",ncct_baseline," not in ln]
    only_fu = tmp_path / "manifest.csv"
    only_fu.write_text("\n".join(kept) + "\n")
    for line in kept[1:]:
        rel = line.split(",")[3]
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(data.parent / rel)
    status = main(["train", "--method", "fu2bl", "--data", str(only_fu), "-o",
                   str(tmp_path / "run"), "--folds", "2", "--no-progress"])  # fmt: skip
    assert status != 0
    assert not (tmp_path / "run" / "fold_0" / "model.pt").exists()


def test_split_stratum_follows_the_masks(pairs):
    _, data = pairs
    method = Fu2blMethod()
    seen = set()
    for case in load_dataset(data).cases:
        stratum = method.split_stratum(case)
        infarct = case.load("infarct").array > 0
        hemorrhage = case.load("hemorrhage").array > 0
        if not infarct.any():
            assert stratum == ("hemorrhage" if hemorrhage.any() else "lesion-free")
        else:
            assert stratum in ("marked", "faint", "hemorrhage")
        seen.add(stratum)
    assert seen & {"marked", "faint"}
