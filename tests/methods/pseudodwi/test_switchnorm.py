"""SwitchNorm2d: one-hot importances reproduce BN / IN / LN; defaults, gradients, eval mode."""

import pytest
import torch
from torch import nn

from strokect.methods.pseudodwi.switchnorm import SwitchNorm2d

C = 3
ATOL = 1e-5


def _affine(sn: SwitchNorm2d, ref: nn.Module) -> None:
    with torch.no_grad():
        sn.weight.copy_(torch.tensor([0.5, 1.5, -2.0]))
        sn.bias.copy_(torch.tensor([0.1, -0.3, 2.0]))
        ref.weight.copy_(sn.weight)
        ref.bias.copy_(sn.bias)


def _x(seed: int = 0, n: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, C, 5, 6, generator=g) * 3 + torch.tensor([1.0, -2.0, 5.0]).view(
        1, C, 1, 1
    )


def test_fixed_bn_equals_batchnorm_train_running_and_eval():
    sn, bn = SwitchNorm2d(C), nn.BatchNorm2d(C)
    _affine(sn, bn)
    sn.fix_importance("bn")
    for step in range(5):
        x = _x(step)
        torch.testing.assert_close(sn(x), bn(x), atol=ATOL, rtol=0)
    torch.testing.assert_close(sn.running_mean, bn.running_mean, atol=ATOL, rtol=0)
    torch.testing.assert_close(sn.running_var, bn.running_var, atol=ATOL, rtol=0)
    assert int(sn.num_batches_tracked) == int(bn.num_batches_tracked) == 5
    sn.eval(), bn.eval()
    x = _x(99)
    torch.testing.assert_close(sn(x), bn(x), atol=ATOL, rtol=0)


def test_fixed_in_equals_instancenorm_and_ln_equals_groupnorm():
    x = _x(1)
    sn, inorm = SwitchNorm2d(C), nn.InstanceNorm2d(C, affine=True)
    _affine(sn, inorm)
    sn.fix_importance("in")
    torch.testing.assert_close(sn(x), inorm(x), atol=ATOL, rtol=0)
    sn.eval()  # IN statistics come from the input in eval mode too
    torch.testing.assert_close(sn(x), inorm(x), atol=ATOL, rtol=0)

    sn, gn = SwitchNorm2d(C), nn.GroupNorm(1, C)
    _affine(sn, gn)
    sn.fix_importance("ln")
    torch.testing.assert_close(sn(x), gn(x), atol=ATOL, rtol=0)
    sn.eval()
    torch.testing.assert_close(sn(x), gn(x), atol=ATOL, rtol=0)


def test_default_importance_fix_and_unfix():
    sn = SwitchNorm2d(C)
    third = torch.full((3,), 1 / 3)
    torch.testing.assert_close(sn.importance["mean"], third)
    torch.testing.assert_close(sn.importance["var"], third)
    sn.fix_importance("ln")
    assert sn.importance["mean"].tolist() == [0.0, 1.0, 0.0]
    assert sn.importance["var"].tolist() == [0.0, 1.0, 0.0]
    assert sn.state_dict()["fixed_importance"].tolist() == [0.0, 1.0, 0.0]
    sn.fix_importance(None)
    torch.testing.assert_close(sn.importance["mean"], third)
    with pytest.raises(ValueError):
        sn.fix_importance("gn")


def test_default_is_the_mix_of_the_three_statistics():
    x = _x(2)
    flat = x.reshape(4, C, -1)
    mu = (
        flat.mean(-1, keepdim=True)
        + flat.mean((1, 2), keepdim=True)
        + flat.mean((0, 2), keepdim=True)
    ) / 3
    var = (
        flat.var(-1, unbiased=False, keepdim=True)
        + flat.var((1, 2), unbiased=False, keepdim=True)
        + flat.var((0, 2), unbiased=False, keepdim=True)
    ) / 3
    expected = ((flat - mu) / torch.sqrt(var + 1e-5)).reshape_as(x)
    torch.testing.assert_close(SwitchNorm2d(C)(x), expected, atol=ATOL, rtol=0)


def test_gradients_reach_the_logits():
    sn = SwitchNorm2d(C)
    (sn(_x(3)) * torch.randn(4, C, 5, 6)).sum().backward()
    assert sn.mean_logits.grad.abs().sum() > 0
    assert sn.var_logits.grad.abs().sum() > 0


def test_eval_output_independent_of_batch_train_output_not():
    sn = SwitchNorm2d(C)
    with torch.no_grad():
        sn.mean_logits.copy_(torch.tensor([0.2, -0.1, 0.4]))
        sn.var_logits.copy_(torch.tensor([-0.3, 0.1, 0.5]))
    assert sn.importance["mean"][2] > 0
    x = _x(4)
    for _ in range(3):
        sn(x)
    train_alone, train_batch = sn(x[:1])[0], sn(x)[0]
    assert (train_alone - train_batch).abs().max() > 1e-3
    sn.eval()
    torch.testing.assert_close(sn(x[:1])[0], sn(x)[0], atol=ATOL, rtol=0)


def test_train_updates_running_stats_eval_does_not():
    sn = SwitchNorm2d(C)
    mean0, var0 = sn.running_mean.clone(), sn.running_var.clone()
    sn(_x(5))
    assert not torch.equal(sn.running_mean, mean0) and not torch.equal(sn.running_var, var0)
    sn.eval()
    mean1, var1, n1 = sn.running_mean.clone(), sn.running_var.clone(), int(sn.num_batches_tracked)
    sn(_x(6))
    assert torch.equal(sn.running_mean, mean1) and torch.equal(sn.running_var, var1)
    assert int(sn.num_batches_tracked) == n1 == 1


def test_no_affine_and_bad_inputs():
    sn = SwitchNorm2d(C, affine=False)
    assert sn.weight is None and sn.bias is None
    assert sn(_x(7)).shape == (4, C, 5, 6)
    with pytest.raises(ValueError):
        sn(torch.randn(2, C, 5))
    with pytest.raises(ValueError):
        sn(torch.randn(2, C + 1, 5, 5))
