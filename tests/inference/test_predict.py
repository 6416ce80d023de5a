"""`predict_volume`: slice batches, padding, ROI skipping, combine, seeded MC draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from strokect.inference import InferencePlan, predict_volume
from strokect.nn import MCDropout


def _sum_predictor(x):  # (B, C, H, W) -> (B, 1, H, W)
    return x.sum(dim=1, keepdim=True)


def test_outputs_match_a_direct_computation_and_padding_is_cropped():
    image = np.random.default_rng(0).normal(size=(3, 5, 13, 11)).astype(np.float32)
    calls = []

    def pred(x):
        calls.append(tuple(x.shape))
        return _sum_predictor(x)

    out = predict_volume(image, [(pred, [])], plan=InferencePlan(pad_multiple=8, batch_size=2))
    assert out.shape == (2, 5, 13, 11)  # mean and variance channels
    np.testing.assert_allclose(out[0], image.sum(0), rtol=1e-6, atol=1e-5)
    assert out[1].max() == 0  # one member, no MC: zero variance
    assert calls == [(2, 3, 16, 16), (2, 3, 16, 16), (1, 3, 16, 16)]


def test_roi_empty_slices_are_skipped_and_zero():
    image = np.ones((1, 4, 6, 6), np.float32)
    roi = np.zeros((4, 6, 6), bool)
    roi[1, 2, 2] = roi[3, 0, 0] = True
    seen = []
    done = []

    def pred(x):
        seen.append(x.shape[0])
        return _sum_predictor(x)

    out = predict_volume(image, [(pred, [])], plan=InferencePlan(), roi=roi, progress=done.append)
    assert seen == [1, 1] and done == [1, 1]
    assert out[0, 0].max() == 0 and out[0, 1].min() == 1 and out[0, 2].max() == 0


def test_custom_combine_and_ensemble_members():
    image = np.ones((1, 2, 4, 4), np.float32)

    def per_member(samples, n_members):  # keep one channel per member
        assert n_members == 2 and samples.shape[0] == 2
        return samples[:, :, 0].permute(1, 0, 2, 3)

    members = [(lambda x: x * 2, []), (lambda x: x * 3, [])]
    out = predict_volume(image, members, plan=InferencePlan(), combine=per_member)
    assert out.shape == (2, 2, 4, 4) and out[0].max() == 2 and out[1].min() == 3


def test_mc_draws_are_seeded_per_batch_and_the_global_rng_is_restored():
    net = nn.Sequential(nn.Conv2d(1, 4, 1), MCDropout(0.5), nn.Conv2d(4, 1, 1)).eval()
    image = np.random.default_rng(1).normal(size=(1, 6, 8, 8)).astype(np.float32)
    plan = InferencePlan(mc_passes=4)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = predict_volume(image, [(net, [net])], plan=plan, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = predict_volume(image, [(net, [net])], plan=plan, seed=5)
    c = predict_volume(image, [(net, [net])], plan=plan, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and a[1].max() > 0
    # with one slice per call, a slice gets the same draws whether or not others are predicted
    roi = np.zeros((6, 8, 8), bool)
    roi[4] = True
    only = predict_volume(image, [(net, [net])], plan=plan, seed=5, roi=roi)
    assert np.array_equal(only[:, 4], a[:, 4])


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        InferencePlan(overlap=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        InferencePlan(batch_size=0)


def test_mirror_averages_the_flipped_back_prediction_of_every_member():
    rng = np.random.default_rng(2)
    image = rng.normal(size=(2, 3, 8, 11)).astype(np.float32)
    ramp = torch.linspace(0.0, 1.0, 16)  # padded width: the predictor sees 16 columns

    def skewed(x):  # not left-right equivariant: weights the right side more
        return x[:, :1] * ramp

    plan = InferencePlan(pad_multiple=16)
    plain = predict_volume(image, [(skewed, [])], plan=plan)
    mirrored = predict_volume(
        image, [(skewed, [])], plan=InferencePlan(pad_multiple=16, mirror=True)
    )
    # by hand on the padded slices: mean of f(x) and flip(f(flip(x))), then cropped
    x = torch.nn.functional.pad(torch.from_numpy(image).permute(1, 0, 2, 3), (0, 5, 0, 8))
    a, b = skewed(x), skewed(x.flip(-1)).flip(-1)
    want_mean = ((a + b) / 2)[:, 0, :8, :11].numpy()
    want_var = (((a - b) / 2) ** 2)[:, 0, :8, :11].numpy()
    np.testing.assert_allclose(plain[0], a[:, 0, :8, :11].numpy(), atol=1e-6)
    np.testing.assert_allclose(mirrored[0], want_mean, atol=1e-6)
    np.testing.assert_allclose(mirrored[1], want_var, atol=1e-6)
    assert not np.allclose(mirrored[0], plain[0])
    # a left-right equivariant predictor is unchanged, and its variance stays 0
    same = predict_volume(image, [(_sum_predictor, [])], plan=InferencePlan(mirror=True))
    np.testing.assert_allclose(same[0], image.sum(0), atol=1e-5)
    assert same[1].max() < 1e-10


def test_mirror_keeps_samples_member_major():
    image = np.ones((1, 1, 4, 4), np.float32)
    seen = []

    def per_member(samples, n_members):
        seen.append((samples.shape[0], n_members, samples[:, 0, 0, 0, 0].tolist()))
        return samples.mean(0)

    members = [(lambda x: x * 2, []), (lambda x: x * 3, [])]
    predict_volume(image, members, plan=InferencePlan(mirror=True), combine=per_member)
    assert seen == [(4, 2, [2.0, 2.0, 3.0, 3.0])]
