import pytest
import torch

from strokect.losses import GeneralizedDiceCELoss
from strokect.nn import AsymmetricResUNet


def test_shapes_latent_and_asymmetry():
    net = AsymmetricResUNet(10, 2)
    x = torch.randn(2, 10, 64, 64)
    latent = {}

    def hook(module, inputs, output):
        latent["z"] = tuple(output.shape)

    net.encoders[-1].register_forward_hook(hook)
    assert net(x).shape == (2, 2, 64, 64)
    assert latent["z"] == (2, 128, 4, 4)  # paper: 128 maps of 4x4 for a 64x64 patch
    enc = sum(p.numel() for m in (net.encoders, net.downs) for p in m.parameters())
    dec = sum(p.numel() for m in (net.decoders, net.ups) for p in m.parameters())
    assert enc > 2 * dec  # two convolutions per encoder block, one per decoder block
    with pytest.raises(ValueError, match="divisible by 16"):
        net(torch.randn(1, 10, 40, 40))


def test_dropout_only_deep_and_controls_stochasticity():
    net = AsymmetricResUNet(3, 2, base_filters=4, dropout=0.5).eval()
    drops = [m for m in net.modules() if type(m).__name__ == "MCDropout"]
    assert len(drops) == 3  # deepest two encoder levels + deepest decoder level
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x), net(x))  # eval: deterministic
        for m in drops:
            m.mc_active = True
        assert not torch.equal(net(x), net(x))  # MC dropout active at prediction


def test_3d_variant():
    net = AsymmetricResUNet(1, 2, spatial_dims=3, base_filters=2, n_levels=3)
    assert net(torch.randn(1, 1, 8, 8, 8)).shape == (1, 2, 8, 8, 8)


def test_gdl_ce_loss_prefers_correct_logits():
    loss = GeneralizedDiceCELoss()
    target = torch.zeros(2, 1, 8, 8, dtype=torch.long)
    target[:, :, 2:5, 2:5] = 1
    good = torch.cat([1 - target, target], 1).float() * 10 - 5
    assert loss(good, target) < 0.05
    assert loss(-good, target) > 1.5
    with pytest.raises(ValueError):
        loss(good, target[:, :, :4])
