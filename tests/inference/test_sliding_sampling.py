"""Sliding window, slice-wise 2D, MC dropout and ensembles on predictors with known outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from strokect.inference import (
    ensemble,
    mc_dropout,
    mean_variance,
    predict_slices,
    sliding_window,
    split_mean_variance,
)
from strokect.nn import MCDropout


def test_sliding_window_identity_is_exact_with_overlap():
    image = torch.rand(2, 3, 37, 29)
    out = sliding_window(lambda x: x, image, roi_size=(16, 16), overlap=0.5, batch_size=3)
    assert out.shape == image.shape
    assert torch.allclose(out, image, atol=1e-6)


def test_sliding_window_patch_sum_is_the_mean_of_covering_patch_sums():
    # predictor: every voxel of a patch gets the patch's sum -> output is the average patch sum
    image = torch.ones(1, 1, 8, 8)
    out = sliding_window(
        lambda x: x.sum(dim=(2, 3), keepdim=True).expand_as(x), image, roi_size=(4, 4), overlap=0.5
    )
    assert torch.allclose(out, torch.full_like(image, 16.0))  # every patch of ones sums to 16
    ramp = torch.arange(8.0).repeat(8, 1)[None, None]  # value = x index
    out = sliding_window(
        lambda x: x.mean(dim=(2, 3), keepdim=True).expand_as(x), ramp, roi_size=(1, 4), overlap=0.5
    )
    # 1x4 windows start at x = 0, 2, 4 (means 1.5, 3.5, 5.5); x=0,1 -> 1.5; x=2,3 -> 2.5; ...
    expected = torch.tensor([1.5, 1.5, 2.5, 2.5, 4.5, 4.5, 5.5, 5.5])
    assert torch.allclose(out[0, 0, 0], expected)


def test_sliding_window_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="spatial dims"):
        sliding_window(lambda x: x, torch.zeros(1, 8, 8), roi_size=(4, 4))


def test_predict_slices_runs_a_2d_predictor_per_slice():
    volume = torch.rand(2, 5, 12, 10)  # (C, Z, Y, X)
    calls = []

    def predictor(x):
        calls.append(x.shape[0])
        return x.sum(dim=1, keepdim=True)  # (N, 1, H, W)

    out = predict_slices(predictor, volume, batch_size=2)
    assert out.shape == (1, 5, 12, 10) and calls == [2, 2, 1]
    assert torch.allclose(out[0], volume.sum(dim=0))
    windowed = predict_slices(lambda x: x, volume, roi_size=(8, 8), overlap=0.25)
    assert torch.allclose(windowed, volume, atol=1e-6)


class Net(nn.Module):
    def __init__(self, mc_p=0.5, plain_p=0.5):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 1)
        self.plain = nn.Dropout(plain_p)
        self.mc = MCDropout(mc_p)

    def forward(self, x):
        return self.mc(self.plain(self.conv(x)))


def test_mc_dropout_variance_only_with_marked_layers_active():
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.rand(2, 1, 6, 6) + 1.0
    sampled = mc_dropout(net, net, n_passes=8)
    samples = sampled(x)
    assert samples.shape == (8, 2, 4, 6, 6) and sampled.n_samples == 8
    _, var = sampled.mean_and_variance(x)
    assert var.max() > 0
    # after the passes the MC layer is off again: eval predictions are deterministic
    assert not net.mc.mc_active
    assert torch.equal(net(x), net(x))
    # plain nn.Dropout in eval mode stays off: with the MC layer at p=0 every pass is identical
    quiet = Net(mc_p=0.0, plain_p=0.9).eval()
    _, var0 = mc_dropout(quiet, quiet, n_passes=5).mean_and_variance(x)
    assert torch.count_nonzero(var0) == 0


def test_mc_dropout_without_marked_layers_warns():
    plain = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Dropout(0.5)).eval()
    with pytest.warns(UserWarning, match="no MCDropout"):
        sampled = mc_dropout(plain, plain, n_passes=3)
    _, var = sampled.mean_and_variance(torch.rand(1, 1, 4, 4))
    assert torch.count_nonzero(var) == 0


def test_ensemble_mean_and_variance_over_members_and_passes():
    x = torch.zeros(1, 1, 3, 3)
    members = [lambda x, c=c: x + c for c in (1.0, 2.0, 6.0)]
    mean, var = ensemble(members).mean_and_variance(x)
    assert torch.allclose(mean, torch.full_like(x, 3.0))
    assert torch.allclose(var, torch.full_like(x, 14.0 / 3.0))  # population variance of 1, 2, 6
    torch.manual_seed(1)
    net = Net().eval()
    mixed = ensemble([mc_dropout(net, net, n_passes=3), net])
    assert mixed.n_samples == 4 and mixed(x + 1).shape == (4, 1, 4, 3, 3)


def test_mean_variance_predictor_inside_sliding_window():
    members = [lambda x, c=c: x * c for c in (1.0, 3.0)]
    image = torch.rand(1, 1, 10, 10)
    out = sliding_window(mean_variance(ensemble(members)), image, roi_size=(4, 4), overlap=0.5)
    mean, var = split_mean_variance(out)
    assert torch.allclose(mean, 2 * image, atol=1e-6)
    assert torch.allclose(var, image**2, atol=1e-6)  # ((x - 2x)^2 + (3x - 2x)^2) / 2
