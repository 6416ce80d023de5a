"""The paper's settings stay the defaults of `CleriguesConfig` (Clèrigues et al., CBM 2019; the
training dropout from the authors' code, ../shared/specs/METHODS.md). A shipped recipe may reduce
them with --set; the defaults themselves must not drift."""

from __future__ import annotations

import torch

from strokect.methods.clerigues import CleriguesMethod
from strokect.methods.clerigues.config import (
    ALL_MODALITIES,
    PAPER_MIN_SIZES_VOXELS,
    PAPER_THRESHOLDS,
    CleriguesCalibration,
    CleriguesConfig,
)
from strokect.nn.mc_dropout import MCDropout
from strokect.nn.resunet import AsymmetricResUNet, PaperResUNet, parameter_split


def test_paper_defaults():
    cfg = CleriguesConfig()
    assert cfg.modalities == ALL_MODALITIES == ("ct", "cbf", "cbv", "mtt", "tmax")
    assert cfg.symmetric and len(cfg.channels) == 10
    assert (cfg.patch_size, cfg.patches_per_case, cfg.batch_size) == (64, 4000, 64)
    assert (cfg.patience, cfg.max_epochs) == (10, 100)
    assert (cfg.architecture, cfg.base_filters, cfg.n_levels) == ("paper", 8, 5)
    assert cfg.n_dropout_levels == 3
    assert (cfg.dropout, cfg.train_dropout, cfg.mc_passes) == (0.1, 0.2, 3)
    assert (cfg.elastic_alpha, cfg.elastic_gamma) == (2.5, 0.12)
    assert (cfg.threshold, cfg.min_size_vox) == (0.2, 200)
    cal = CleriguesCalibration()
    assert (cal.threshold, cal.min_size_vox) == (0.2, 200)
    assert PAPER_THRESHOLDS == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert PAPER_MIN_SIZES_VOXELS == (10, 50, 100, 200, 300, 500)


def test_optimizer_dropout_and_parameter_split_of_the_built_network():
    method = CleriguesMethod(CleriguesConfig())
    nets = method.build_networks()
    opt = method.build_optimizers(nets)
    assert [type(o) for o in opt.values()] == [torch.optim.Adadelta]
    net = nets["net"]
    assert isinstance(net, PaperResUNet)
    # MC dropout 0.1 at prediction only: entries of the 3 deepest encoder blocks and of the
    # decoder blocks of the 2 levels above the bottom
    mc = [m for m in net.modules() if isinstance(m, MCDropout)]
    assert len(mc) == 5 and all(d.p == 0.1 and d.train_p == 0.0 for d in mc)
    # training dropout 0.2 between the convolutions of the 3 deepest encoder blocks
    inner = [m for m in net.modules() if type(m) is torch.nn.Dropout2d]
    assert len(inner) == 3 and all(d.p == 0.2 for d in inner)
    enc, dec = parameter_split(net)
    assert round(100 * enc / (enc + dec)) == 75  # the paper: 75 % / 25 %
    assert sum(p.numel() for p in net.parameters()) == enc + dec


def test_checkpoints_from_before_the_architecture_field_keep_their_network():
    from strokect.methods.checkpoint import load_model
    from strokect.methods.registry import shipped_models

    path = shipped_models("clerigues")["clerigues_ct-cbf-cbv"][0]  # stored before the field
    method, nets = load_model(path, method="clerigues")
    assert method.config.architecture == "v1" and method.config.train_dropout == 0.1
    assert type(nets["net"]) is AsymmetricResUNet


def test_mc_dropout_uses_the_training_rate_only_in_training():
    torch.manual_seed(0)
    layer = MCDropout(0.1, train_p=0.5)
    x = torch.ones(200_000)
    layer.train()
    assert abs(float((layer(x) == 0).float().mean()) - 0.5) < 0.01
    layer.eval()
    assert bool((layer(x) == x).all())  # off in eval unless MC sampling is on
    layer.mc_active = True
    assert abs(float((layer(x) == 0).float().mean()) - 0.1) < 0.01
