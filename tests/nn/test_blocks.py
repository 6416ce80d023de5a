"""`conv_block` against MONAI's ``Convolution`` (same parameter names and outputs), and the split
forward of `AsymmetricResUNet` used to reuse the deterministic prefix in MC-dropout passes."""

from __future__ import annotations

import pytest
import torch

from strokect.inference.sampling import StagedPredictor, mc_dropout
from strokect.nn.blocks import conv_block
from strokect.nn.resunet import AsymmetricResUNet


@pytest.mark.parametrize(
    ("ours", "monai_kwargs"),
    [
        ({}, {"kernel_size": 3, "act": "PRELU", "norm": "BATCH"}),
        ({"conv_only": True, "kernel_size": 1}, {"kernel_size": 1, "conv_only": True}),
        (
            {"kernel_size": 2, "stride": 2, "padding": 0},
            {"kernel_size": 2, "strides": 2, "padding": 0, "act": "PRELU", "norm": "BATCH"},
        ),
        (
            {"kernel_size": 2, "stride": 2, "padding": 0, "transposed": True},
            {"kernel_size": 2, "strides": 2, "padding": 0, "act": "PRELU", "norm": "BATCH",
             "is_transposed": True, "output_padding": 0},
        ),
    ],
)  # fmt: skip
@pytest.mark.parametrize("dims", [2, 3])
def test_conv_block_matches_monai_convolution(ours, monai_kwargs, dims):
    from monai.networks.blocks import Convolution

    reference = Convolution(dims, 3, 5, **monai_kwargs).eval()
    block = conv_block(dims, 3, 5, **ours).eval()
    ref_state = reference.state_dict()
    assert {k: v.shape for k, v in block.state_dict().items()} == {
        k: v.shape for k, v in ref_state.items()
    }
    for v in ref_state.values():  # non-trivial running statistics
        if v.is_floating_point():
            v.copy_(torch.rand_like(v) + 0.5)
    block.load_state_dict(ref_state)
    x = torch.randn(2, 3, *([8] * dims))
    with torch.no_grad():
        assert torch.equal(block(x), reference(x))


def test_split_forward_is_the_forward_and_mc_samples_are_identical():
    torch.manual_seed(0)
    net = AsymmetricResUNet(4, 2, base_filters=4, dropout=0.3).eval()
    x = torch.randn(2, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x), net.forward_suffix(net.forward_prefix(x)))
    assert net.split_level == 3  # the first level with MC dropout (5 levels, 2 with dropout)
    plain = mc_dropout(net, net, n_passes=3)
    staged = mc_dropout(StagedPredictor(net.forward_prefix, net.forward_suffix), net, n_passes=3)
    torch.manual_seed(1)
    a = plain(x)
    torch.manual_seed(1)
    b = staged(x)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])  # same draws, passes differ
    no_drop = AsymmetricResUNet(4, 2, base_filters=4, dropout=0.0).eval()
    assert no_drop.split_level == 4
    with torch.no_grad():
        assert torch.equal(no_drop(x), no_drop.forward_suffix(no_drop.forward_prefix(x)))
