"""pseudodwi: inputs, temporal features, schedules, frozen context encoder, training and segment."""

import json

import numpy as np
import pytest
import torch

from strokect.data import load_dataset
from strokect.errors import InputError
from strokect.methods.base import TrainContext
from strokect.methods.pseudodwi import PseudoDwiConfig, PseudoDwiMethod
from strokect.methods.pseudodwi.preprocessing import prepare_case, prepare_volumes
from strokect.methods.registry import get_method_class
from strokect.perfusion.temporal import crop_perfusion_window, temporal_mip
from strokect.preprocess.intensity import zscore_in_mask

SMALL = {"base_filters": 4, "train_size": 48, "context_pretrain_epochs": 1, "max_epochs": 4}
TINY = ["--set", "base_filters=4", "--set", "train_size=48", "--set", "context_pretrain_epochs=1",
        "--set", "max_epochs=3", "--set", "batch_size=4"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-fold run on 4 `tiny` ischemic cases (csv layout: CTP, maps, DWI, core)."""
    from strokect.cli.main import main

    root = tmp_path_factory.mktemp("pdwi")
    status = main(["synth", "-o", str(root / "data"), "--cases", "4", "--seed", "5",
                   "--preset", "tiny", "--layout", "csv", "--kind", "ischemic"])  # fmt: skip
    assert status == 0
    data = root / "data" / "manifest.csv"
    status = main(["train", "--method", "pseudodwi", "--data", str(data), "-o",
                   str(root / "run"), "--folds", "2", "--no-progress", *TINY])  # fmt: skip
    assert status == 0
    return root, data


def test_registered_and_config_errors():
    assert get_method_class("pseudodwi") is PseudoDwiMethod
    cfg = PseudoDwiConfig()
    assert (cfg.lr, cfg.lr_decay_epoch, cfg.lr_decay, cfg.max_epochs, cfg.batch_size) == (
        2e-3, 180, 0.2, 300, 5
    )  # fmt: skip
    assert (cfg.alpha, cfg.beta, cfg.gamma, cfg.w, cfg.d_mm, cfg.k, cfg.c_e) == (
        1.0, 1.0, 1.2, 1.5, 50.0, 5, 6
    )  # fmt: skip
    for bad in ({"schedule": "greedy"}, {"segment_from": "ct"}, {"slnet_norm": "group"},
                {"upsample": "nearest"}, {"train_size": 50},
                {"max_epochs": 2, "context_pretrain_epochs": 5}):  # fmt: skip
        with pytest.raises(InputError):
            PseudoDwiConfig(**bad)


def test_schedules_and_networks():
    e2e = PseudoDwiMethod(PseudoDwiConfig(**SMALL))
    assert [e2e.stage(e) for e in range(4)] == ["context", "joint", "joint", "joint"]
    seq = PseudoDwiMethod(PseudoDwiConfig(**{**SMALL, "max_epochs": 7, "schedule": "sequential"}))
    assert [seq.stage(e) for e in range(7)] == [
        "context", "extractor", "extractor", "generator", "generator", "segmenter", "segmenter"
    ]  # fmt: skip
    assert set(e2e.build_networks()) == {
        "extractor", "generator", "segmenter", "context", "context_decoder"
    }  # fmt: skip
    no_ext = PseudoDwiMethod(PseudoDwiConfig(**SMALL, use_extractor=False)).build_networks()
    assert "extractor" not in no_ext
    maps = PseudoDwiMethod(PseudoDwiConfig(**SMALL, segment_from="maps")).build_networks()
    assert set(maps) == {"segmenter"}
    sched = e2e.build_schedulers(e2e.build_optimizers(e2e.build_networks()))["joint"]
    assert sched.milestones == {1 + 180: 1}  # the decay counts joint epochs


@pytest.fixture(scope="module")
def tiny_case(tiny_run):
    _, data = tiny_run
    return load_dataset(data).cases[0]


def test_prepare_channels_follow_the_paper(tiny_case):
    cfg = PseudoDwiConfig(**SMALL)
    vols = tiny_case.load_roles(["ctp", "cbf", "cbv", "mtt", "tmax"])
    p = prepare_volumes(vols, cfg)
    assert p.channels == ["cbf", "cbv", "mtt", "tmax", "mip", *(f"frame_{i}" for i in range(6))]
    ctp = vols["ctp"].array.astype(np.float32)
    brain = p.roi
    np.testing.assert_allclose(p.image[4], zscore_in_mask(temporal_mip(ctp), brain), atol=1e-5)
    frames, (t_s, t_e) = crop_perfusion_window(ctp, k=5, n_frames=6)
    np.testing.assert_allclose(p.image[5:], zscore_in_mask(frames, brain), atol=1e-5)
    assert {"step": "temporal_features", "k": 5, "c_e": 6, "t_s": t_s, "t_e": t_e,
            "n_frames": vols["ctp"].n_frames} in p.history  # fmt: skip
    # without maps they are computed from the CTP (vendor-like: CSF and vessels kept)
    computed = prepare_volumes({"ctp": vols["ctp"]}, cfg)
    assert computed.history[0]["computed_from"] == "ctp"
    assert computed.image.shape == p.image.shape


def test_prepare_refuses_bad_inputs(tiny_case):
    cfg = PseudoDwiConfig(**SMALL)
    vols = tiny_case.load_roles(["ctp", "cbf", "cbv"])
    with pytest.raises(InputError, match="all four perfusion maps or none"):
        prepare_volumes(vols, cfg)
    with pytest.raises(InputError, match="raw 4D CTP"):
        prepare_volumes({"ctp": vols["cbf"]}, cfg)
    with pytest.raises(InputError, match="raw 4D CTP"):
        prepare_volumes({"cbf": vols["cbf"]}, cfg)


def test_context_encoder_is_pretrained_then_frozen(tiny_case, tmp_path):
    torch.manual_seed(0)
    method = PseudoDwiMethod(PseudoDwiConfig(**SMALL, augment=False))
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    batch = next(iter(method.train_data([tiny_case], TrainContext(cache_dir=tmp_path))))
    before = [p.detach().clone() for p in nets["context"].parameters()]
    out = method.training_step(batch, nets, opts, TrainContext(epoch=0))
    assert "loss_context_ae" in out  # epoch 0 trains the autoencoder only
    moved = [p.detach().clone() for p in nets["context"].parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before, moved, strict=True))
    seg_before = [p.detach().clone() for p in nets["segmenter"].parameters()]
    out = method.training_step(batch, nets, opts, TrainContext(epoch=1))
    assert {"loss_s", "loss_g", "loss_e", "g_context"} <= set(out)
    for a, b in zip(moved, nets["context"].parameters(), strict=True):
        assert torch.equal(a, b)  # frozen during joint training
    assert any(
        not torch.equal(a, b)
        for a, b in zip(seg_before, nets["segmenter"].parameters(), strict=True)
    )
    # the frozen encoder tells different DWIs apart: the contextual term cannot vanish
    dwi = batch["dwi"].float()
    with torch.no_grad():
        z = nets["context"](dwi)
    assert float((z[0] - z[-1]).abs().sum()) > 0
    assert out["g_context"] > 0


def test_train_writes_a_calibrated_ensemble(tiny_run):
    root, _ = tiny_run
    cal = json.loads((root / "run" / "calibration.json").read_text())
    assert {"threshold", "min_size_ml"} <= set(cal["calibration"])


def test_segment_outputs_on_the_input_grid(tiny_run, tiny_case, tmp_path):
    from strokect.pipelines.segment import segment

    root, _ = tiny_run
    res = segment({"ctp": tiny_case.images["ctp"]}, tmp_path / "out", method="pseudodwi",
                  weights=root / "run")  # fmt: skip
    cbf = tiny_case.load("cbf")
    for name in ("mask", "probability", "uncertainty", "pseudo_dwi"):
        assert res.outputs[name].same_geometry(cbf)
        assert res.outputs[name].spatial_shape == cbf.spatial_shape
    assert (tmp_path / "out" / "overlay.png").is_file()
    assert res.provenance["preprocessing"][0]["computed_from"] == "ctp"


def test_segment_without_the_4d_series_says_so(tiny_run, tiny_case):
    from strokect.pipelines.segment import segment

    root, _ = tiny_run
    maps = {m: tiny_case.images[m] for m in ("cbf", "cbv", "mtt", "tmax")}
    with pytest.raises(InputError, match="raw 4D CT perfusion series"):
        segment(maps, method="pseudodwi", weights=root / "run")


def test_training_cache_round_trip(tiny_case, tmp_path):
    cfg = PseudoDwiConfig(**SMALL)
    first = prepare_case(tiny_case, cfg, cache_dir=tmp_path)
    again = prepare_case(tiny_case, cfg, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("pseudodwi-*.npz"))) == 1
    np.testing.assert_array_equal(first.image, again.image)
    for key in ("dwi", "label", "attention", "tmax"):
        np.testing.assert_array_equal(first.data[key], again.data[key])
    np.testing.assert_array_equal(first.label, again.label)
    assert 0.0 <= first.data["dwi"].min() and first.data["dwi"].max() <= 1.0


def test_sequential_schedule_trains_one_network_per_stage(tiny_case, tmp_path):
    torch.manual_seed(0)
    cfg = PseudoDwiConfig(**{**SMALL, "max_epochs": 7, "schedule": "sequential"})
    method = PseudoDwiMethod(cfg)
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    batch = next(iter(method.train_data([tiny_case], TrainContext(cache_dir=tmp_path))))
    method.training_step(batch, nets, opts, TrainContext(epoch=0))  # context pre-training
    for epoch, trained in ((1, "extractor"), (3, "generator"), (5, "segmenter")):
        before = {k: [p.detach().clone() for p in v.parameters()] for k, v in nets.items()}
        method.training_step(batch, nets, opts, TrainContext(epoch=epoch))
        changed = {
            k for k, v in nets.items()
            if any(not torch.equal(a, b) for a, b in zip(before[k], v.parameters(), strict=True))
        }  # fmt: skip
        assert changed == {trained}, (epoch, changed)


def test_maps_ablation_outputs_no_pseudo_dwi(tiny_case, tmp_path):
    from strokect.pipelines.segment import predict_prepared

    torch.manual_seed(0)
    method = PseudoDwiMethod(PseudoDwiConfig(**SMALL, segment_from="maps"))
    nets = {k: v.eval() for k, v in method.build_networks().items()}
    prepared = method.prepare_case(tiny_case, cache_dir=tmp_path)
    out = method.finalize(prepared, predict_prepared([(method, nets)], prepared),
                          method.default_calibration())  # fmt: skip
    assert set(out) == {"mask", "probability", "uncertainty"}
    panels = method.overlay_panels(prepared, out)
    assert [p.title for p in panels] == ["Tmax (s)", "core on Tmax"]


def test_training_targets_without_a_dwi(tiny_case):
    cfg = PseudoDwiConfig(**SMALL, segment_from="maps")
    vols = tiny_case.load_roles(["ctp", "cbf", "cbv", "mtt", "tmax"])
    p = prepare_volumes(vols, cfg, label=tiny_case.load("core"))
    assert p.data["label"].any() and not p.data["dwi"].any()
    assert p.data["attention"].max() == cfg.w
