"""pseudodwi losses (Wang, Song et al. 2020, Eq. 6-9, 11-14) against values worked out by hand."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from strokect.methods.pseudodwi.losses import (
    attention_map,
    dwi_target_scale,
    hardness_generalized_dice,
    segmentation_loss,
    synthesis_loss,
    weighted_cross_entropy,
)
from strokect.methods.pseudodwi.network import ContextEncoder


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --- attention map (Eq. 9) ---------------------------------------------------------------------


def test_attention_map_inside_and_at_distance_d():
    mask = np.zeros((1, 1, 3), bool)
    mask[0, 0, 0] = True
    # spacing 2 mm along x: the two background voxels are 2 mm and 4 mm away; D = 2 mm.
    a = attention_map(mask, (1.0, 1.0, 2.0), w=1.7, d_mm=2.0)
    assert a.dtype == np.float32 and a.shape == mask.shape
    expected = [1.7, 0.5 + 1 / (1 + math.e), 0.5 + 1 / (1 + math.e**2)]
    np.testing.assert_allclose(a[0, 0], expected, rtol=1e-6)
    # defaults w = 1.5, D = 50 mm: at 50 mm from the lesion A = 0.5 + 1 / (1 + e).
    line = np.zeros((1, 1, 51), bool)
    line[0, 0, 0] = True
    a = attention_map(line, (1.0, 1.0, 1.0))
    assert a[0, 0, 0] == pytest.approx(1.5)
    assert a[0, 0, 50] == pytest.approx(0.5 + 1 / (1 + math.e), rel=1e-6)
    assert a[0, 0, 1] == pytest.approx(0.5 + _sig(-1 / 50), rel=1e-6)
    assert np.all(np.diff(a[0, 0, 1:]) < 0)  # decays with distance, stays above 0.5
    assert a.min() > 0.5


def test_attention_map_anisotropic_3d_distance_in_mm():
    mask = np.zeros((3, 2, 1), bool)
    mask[0, 0, 0] = True
    a = attention_map(mask, (5.0, 12.0, 1.0), d_mm=10.0)
    # slices are 5 mm apart, rows 12 mm: (1,0)->5, (2,0)->10, (0,1)->12, (1,1)->13 mm
    for (z, y), d in {(1, 0): 5.0, (2, 0): 10.0, (0, 1): 12.0, (1, 1): 13.0}.items():
        assert a[z, y, 0] == pytest.approx(0.5 + _sig(-d / 10.0), rel=1e-6)


def test_attention_map_empty_and_bad_spacing():
    a = attention_map(np.zeros((2, 3, 4), bool), (1.0, 1.0, 1.0))
    assert a.dtype == np.float32 and np.all(a == 0.5)
    with pytest.raises(ValueError):
        attention_map(np.zeros((2, 3, 4), bool), (1.0, 1.0))


# --- DWI target scaling ------------------------------------------------------------------------


def test_dwi_target_scale_min_to_0_p99_to_1():
    dwi = np.arange(101, dtype=np.float32).reshape(1, 1, 101) + 10.0  # 10..110
    out = dwi_target_scale(dwi)
    # min = 10, P99 (linear interpolation at rank 0.99 * 100 = 99) = 109
    np.testing.assert_allclose(out, np.clip((dwi - 10.0) / 99.0, 0, 1), atol=1e-6)
    assert out.min() == 0.0 and out[0, 0, 99] == pytest.approx(1.0) and out.max() == 1.0
    brain = np.zeros_like(dwi, bool)
    brain[..., :51] = True  # 10..60: min 10, P99 = 59.5
    out = dwi_target_scale(dwi, brain)
    assert out[0, 0, 0] == 0.0 and out[0, 0, 25] == pytest.approx(25 / 49.5)
    assert out[0, 0, 60] == 1.0
    with pytest.raises(ValueError):
        dwi_target_scale(np.full((2, 4, 4), 3.0))


# --- synthesis loss (Eq. 6-8) ------------------------------------------------------------------


def test_synthesis_loss_by_hand():
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    target = torch.tensor([[[[0.0, 2.0], [1.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    a = torch.tensor([[[[1.5, 1.0], [0.5, 1.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    # pixel: A * diff = [1.5, 0, 1, 0] and zeros -> squares sum 3.25 over 8 pixels
    # context (identity "encoder" on the 4 pixels): L1 = |1| + |2| = 3 and 0 -> batch mean 1.5
    total, parts = synthesis_loss(pred, target, a, nn.Flatten(1), gamma=1.2)
    assert parts["pixel"] == pytest.approx(3.25 / 8)
    assert parts["context"] == pytest.approx(1.5)
    assert total.item() == pytest.approx(3.25 / 8 + 1.2 * 1.5)


def test_synthesis_pixel_term_invariant_to_size_and_grad_through_encoder():
    enc = ContextEncoder().requires_grad_(False)
    for size in (32, 64):
        target = torch.rand(2, 1, size, size)
        pred = (target + 0.5).requires_grad_(True)
        total, parts = synthesis_loss(pred, target, torch.ones_like(target), enc, gamma=0.0)
        assert parts["pixel"] == pytest.approx(0.25)
        assert total.item() == pytest.approx(0.25)
    total, parts = synthesis_loss(pred, target, torch.ones_like(target), enc)
    total.backward()
    assert parts["context"] > 0 and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.parameters())


# --- segmentation loss (Eq. 11-14) -------------------------------------------------------------


def test_weighted_cross_entropy_by_hand_and_constant_weights():
    logits = torch.tensor([[[[0.0, 0.0]], [[math.log(3.0), 0.0]]]])  # (1, 2, 1, 2)
    target = torch.tensor([[[1, 0]]])
    # pixel 0: P = (1/4, 3/4), class 1 -> CE = -log(3/4); pixel 1: P = (1/2, 1/2) -> log 2
    weights = torch.tensor([[[3.0, 1.0]]])
    expected = (3 * -math.log(0.75) + math.log(2.0)) / 4
    assert weighted_cross_entropy(logits, target, weights).item() == pytest.approx(expected)
    torch.manual_seed(0)
    logits, target = torch.randn(2, 2, 4, 5), torch.randint(0, 2, (2, 4, 5))
    ce = F.cross_entropy(logits, target)
    for c in (1.0, 0.7):
        wce = weighted_cross_entropy(logits, target, torch.full((2, 4, 5), c))
        assert wce.item() == pytest.approx(ce.item(), rel=1e-6)


def _probs(fg: list[float]) -> torch.Tensor:
    p1 = torch.tensor(fg).view(1, 1, 1, -1)
    return torch.cat([1 - p1, p1], dim=1)


def test_hardness_generalized_dice_by_hand():
    probs, target = _probs([0.8, 0.2, 0.1, 0.0]), torch.tensor([[[1, 0, 0, 0]]])
    # m_0 = 1/3^2, m_1 = 1/1^2; sum Y P: class 0 0.8+0.9+1.0 = 2.7, class 1 0.8
    # sum (Y + P): class 0 3 + 2.9 = 5.9, class 1 1 + 1.1 = 2.1
    one_minus_gd = 2 * (2.7 / 9 + 0.8) / (5.9 / 9 + 2.1)
    assert hardness_generalized_dice(probs, target).item() == pytest.approx(
        -math.log(one_minus_gd), rel=1e-5
    )


def test_hardness_generalized_dice_perfect_absent_class_and_floor():
    target = torch.tensor([[[1, 0, 0, 1]]])
    perfect = _probs([1.0, 0.0, 0.0, 1.0])
    assert hardness_generalized_dice(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    # class 1 absent: m_1 takes m_0 = 1/4^2; sum Y P = 3.6 (class 0), sum (Y + P) = 7.6 and 0.4
    background = torch.zeros(1, 1, 4, dtype=torch.long)
    value = hardness_generalized_dice(_probs([0.1, 0.2, 0.0, 0.1]), background)
    assert torch.isfinite(value)
    assert value.item() == pytest.approx(-math.log(2 * (3.6 / 16) / (8.0 / 16)), rel=1e-5)
    assert hardness_generalized_dice(_probs([0.0] * 4), background).item() == pytest.approx(
        0.0, abs=1e-6
    )
    wrong = _probs([0.0, 1.0, 1.0, 0.0])
    assert hardness_generalized_dice(wrong, target).item() == pytest.approx(-math.log(1e-7))


def test_segmentation_loss_is_the_sum_and_has_gradients():
    torch.manual_seed(1)
    logits = torch.randn(2, 2, 8, 8, requires_grad=True)
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:5, 3:6] = 1
    weights = torch.from_numpy(attention_map(target.numpy().astype(bool), (4.0, 1.0, 1.0)))
    total, parts = segmentation_loss(logits, target, weights)
    wce = weighted_cross_entropy(logits, target, weights)
    hgd = hardness_generalized_dice(torch.softmax(logits, 1), target)
    assert parts == pytest.approx({"wce": wce.item(), "hgd": hgd.item()})
    assert total.item() == pytest.approx(wce.item() + hgd.item())
    total.backward()
    assert logits.grad.abs().sum() > 0
