"""pseudodwi networks: shapes, SLNet norm / SE switches, context encoder, Xavier init, size."""

import math

import pytest
import torch
import torch.nn.functional as F
from monai.networks.blocks import ChannelSELayer
from torch import nn

from strokect.methods.pseudodwi.network import (
    PAD_MULTIPLE,
    ContextDecoder,
    ContextEncoder,
    SLNet,
    feature_unet,
    xavier_init,
)
from strokect.methods.pseudodwi.switchnorm import SwitchNorm2d


def _count(module: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


@pytest.mark.parametrize("hw", [(64, 64), (128, 96)])
def test_shapes(hw):
    assert hw[0] % PAD_MULTIPLE == 0 and hw[1] % PAD_MULTIPLE == 0
    with torch.no_grad():
        assert feature_unet(6, 1, 4)(torch.randn(2, 6, *hw)).shape == (2, 1, *hw)
        assert feature_unet(3, 1, 4)(torch.randn(1, 3, *hw)).shape == (1, 1, *hw)
        assert SLNet(1, base_filters=4)(torch.randn(2, 1, *hw)).shape == (2, 2, *hw)
        assert ContextEncoder()(torch.randn(2, 1, *hw)).shape == (2, 16)


def test_slnet_norm_and_se_switches():
    # One SE block per encoder block, bottleneck included: n_levels of them.
    net = SLNet(1, base_filters=4, n_levels=5)
    assert _count(net, ChannelSELayer) == 5
    assert _count(net, SwitchNorm2d) == 2 * (5 + 4)  # two per encoder and per decoder block
    assert _count(net, nn.BatchNorm2d) == 0
    assert _count(SLNet(1, base_filters=4, n_levels=4), ChannelSELayer) == 4
    assert _count(SLNet(1, base_filters=4, se=False), ChannelSELayer) == 0
    batch = SLNet(1, base_filters=4, norm="batch")
    assert _count(batch, SwitchNorm2d) == 0 and _count(batch, nn.BatchNorm2d) == 18
    inst = SLNet(1, base_filters=4, norm="instance")
    assert _count(inst, SwitchNorm2d) == 0 and _count(inst, nn.InstanceNorm2d) == 18
    with pytest.raises(ValueError):
        SLNet(1, norm="group")


def test_slnet_parameter_count_paper_width():
    def n_params(**kw):
        return sum(p.numel() for p in SLNet(1, base_filters=64, n_levels=5, **kw).parameters())

    unet, slnet = n_params(norm="batch", se=False), n_params()
    print(f"SLNet base 64: {slnet / 1e6:.2f} M (no SE, BN: {unet / 1e6:.2f} M)")
    assert 25e6 < unet < slnet < 40e6
    assert round(unet / 1e6, 2) == 31.04  # the paper's UNet, Table 3
    assert round(n_params(se_reduction=1) / 1e6, 1) == 33.8  # the paper's SLNet: 33.84 M


def test_context_encoder_any_size_and_decoder():
    enc, dec = ContextEncoder(), ContextDecoder()
    with torch.no_grad():
        for hw in [(64, 64), (256, 256), (32, 48)]:
            assert enc(torch.randn(3, 1, *hw)).shape == (3, 16)
        z = enc(torch.randn(3, 1, 64, 64))
        assert dec(z).shape == (3, 1, 32, 32)
        target = F.adaptive_avg_pool2d(torch.rand(3, 1, 64, 64), 32)
        assert dec(z).shape == target.shape
    assert _count(enc, nn.Conv2d) == 5 and _count(enc, nn.AdaptiveAvgPool2d) == 2


def test_xavier_init_bounds_and_zero_bias():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(4, 8, 3), nn.ConvTranspose2d(8, 6, 2, stride=2), nn.Linear(200, 300)
    )
    for m in net:
        nn.init.constant_(m.bias, 1.0)
    assert xavier_init(net) is net
    for m in net:
        assert torch.all(m.bias == 0)
    conv_bound = math.sqrt(6 / (4 * 9 + 8 * 9))
    w = net[0].weight
    assert w.abs().max() <= conv_bound and w.abs().max() > 0.9 * conv_bound
    lin = net[2].weight
    lin_bound = math.sqrt(6 / (200 + 300))
    assert lin.abs().max() <= lin_bound and lin.abs().max() > 0.99 * lin_bound
    assert abs(lin.std().item() - lin_bound / math.sqrt(3)) < 0.01 * lin_bound  # uniform std
    assert net[1].weight.abs().max() <= math.sqrt(6 / (8 * 4 + 6 * 4))
    slnet = xavier_init(SLNet(1, base_filters=4))
    assert all(torch.all(m.bias == 0) for m in slnet.modules() if isinstance(m, nn.Linear))


def test_slnet_trains_one_step():
    net = SLNet(1, base_filters=4, n_levels=3)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
    x, y = torch.randn(2, 1, 32, 32), torch.randint(0, 2, (2, 32, 32))
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    net.eval()
    with torch.no_grad():
        assert net(x[:1]).shape == (1, 2, 32, 32)


def _nyquist_share(image: torch.Tensor) -> float:
    """Share of the (mean-free) power of a 2D image at the period-2 frequencies."""
    img = image - image.mean()
    power = torch.fft.fft2(img).abs() ** 2
    n, m = img.shape[0] // 2, img.shape[1] // 2
    return float((power[n, 0] + power[0, m] + power[n, m]) / power.sum())


def test_feature_unet_upsampling_and_checkerboard():
    """Transposed convolutions draw a period-2 checkerboard into a smooth input's output at
    initialization; bilinear upsampling (``upsample="nontrainable"``) does not."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    smooth = torch.stack([torch.exp(-((xx - 0.1 * c) ** 2) - yy**2) for c in range(6)])[None]
    for seed in range(3):
        shares = {}
        for up in ("deconv", "nontrainable"):
            torch.manual_seed(seed)
            net = xavier_init(feature_unet(6, 1, 8, up)).eval()
            assert _count(net, nn.ConvTranspose2d) == (4 if up == "deconv" else 0)
            with torch.no_grad():
                shares[up] = _nyquist_share(net(smooth)[0, 0, 8:-8, 8:-8])
        assert shares["deconv"] > 0.005 and shares["nontrainable"] < 0.002, shares
    with pytest.raises(ValueError):
        feature_unet(6, 1, 4, "pixelshuffle-typo")
