"""Switchable normalization for 2D feature maps (the normalization layer of SLNet).

Luo, Ren, Peng, Zhang and Li, "Differentiable learning-to-normalize via switchable
normalization", arXiv:1806.10779 (2018). SLNet (Wang, Song et al., Medical Image Analysis 2020,
Sec. 3.3) replaces the batch normalization of its UNet with this layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["IMPORTANCE_ORDER", "SwitchNorm2d"]

#: Order of the three statistics in ``mean_logits``, ``var_logits`` and the importance weights.
IMPORTANCE_ORDER: tuple[str, str, str] = ("in", "ln", "bn")


class SwitchNorm2d(nn.Module):
    """Switchable normalization of ``(N, C, H, W)`` inputs (Luo et al. 2018, Eq. 1-4).

    Three sets of statistics are computed: instance (IN, per sample and channel over H, W), layer
    (LN, per sample over C, H, W) and batch (BN, per channel over N, H, W) normalization, all with
    the biased variance. LN and BN are derived from the IN statistics (Luo et al., Eq. 4):
    ``mu_ln = mean_c(mu_in)``, ``var_ln = mean_c(var_in + mu_in^2) - mu_ln^2`` and the same over
    the batch for BN. The layer mixes them with softmax importance weights

    ``mu = sum_k w_k mu_k``, ``var = sum_k w'_k var_k``, ``w = softmax(mean_logits)``,
    ``w' = softmax(var_logits)``, ``k in ("in", "ln", "bn")``

    and returns ``(x - mu) / sqrt(var + eps) * weight + bias``. The logits start at zero (equal
    weights 1/3) and are learned with the network.

    Training mode: the BN statistics come from the batch, and ``running_mean`` / ``running_var``
    are updated exactly like ``torch.nn.BatchNorm2d`` (``momentum``, or a cumulative average when
    it is None; the running variance takes the unbiased batch variance, factor n / (n - 1) with
    n = N*H*W). Eval mode: the BN statistics are the running ones and the running stats are left
    unchanged. IN and LN statistics always come from the input itself, so in eval mode the output
    of one sample never depends on the other samples of the batch.

    `fix_importance` pins both weight vectors to one statistic exactly (e.g. ``"bn"`` makes the
    layer a ``BatchNorm2d``); the override is the buffer ``fixed_importance`` (all zeros when
    unset), so it is saved with the ``state_dict``.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        Running-statistics momentum as in ``BatchNorm2d`` (None: cumulative moving average).
    affine : bool
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        if self.affine:
            self.weight = nn.Parameter(torch.ones(self.num_features))
            self.bias = nn.Parameter(torch.zeros(self.num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.mean_logits = nn.Parameter(torch.zeros(3))
        self.var_logits = nn.Parameter(torch.zeros(3))
        self.register_buffer("running_mean", torch.zeros(self.num_features))
        self.register_buffer("running_var", torch.ones(self.num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.register_buffer("fixed_importance", torch.zeros(3))

    def fix_importance(self, which: str | None) -> None:
        """Use only the ``which`` statistic (``"in"``, ``"ln"`` or ``"bn"``) for mean and variance.

        ``None`` removes the override and the learned softmax weights apply again. The logits
        are kept (and still receive no gradient while the override is set).
        """
        self.fixed_importance.zero_()
        if which is None:
            return
        if which not in IMPORTANCE_ORDER:
            raise ValueError(f"which must be one of {IMPORTANCE_ORDER} or None; got {which!r}")
        self.fixed_importance[IMPORTANCE_ORDER.index(which)] = 1.0

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        if bool(self.fixed_importance.any()):
            return self.fixed_importance, self.fixed_importance
        return F.softmax(self.mean_logits, 0), F.softmax(self.var_logits, 0)

    @property
    def importance(self) -> dict[str, torch.Tensor]:
        """Weights in use, ``{"mean": (3,), "var": (3,)}`` in the order ("in", "ln", "bn")."""
        w_mean, w_var = self._weights()
        return {"mean": w_mean.detach().clone(), "var": w_var.detach().clone()}

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )

    def _update_running(self, mean_bn: torch.Tensor, var_bn: torch.Tensor, n: int) -> None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            factor = (
                1.0 / float(self.num_batches_tracked)
                if self.momentum is None
                else float(self.momentum)
            )
            unbiased = var_bn * (n / (n - 1))
            self.running_mean.mul_(1 - factor).add_(factor * mean_bn)
            self.running_var.mul_(1 - factor).add_(factor * unbiased)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"SwitchNorm2d expects (N, C, H, W); got shape {tuple(x.shape)}")
        n, c = x.shape[:2]
        if c != self.num_features:
            raise ValueError(f"expected {self.num_features} channels; got {c}")
        flat = x.reshape(n, c, -1)
        mean_in = flat.mean(-1, keepdim=True)  # (N, C, 1)
        var_in = flat.var(-1, unbiased=False, keepdim=True)
        square_in = var_in + mean_in**2  # E[x^2] per sample and channel
        mean_ln = mean_in.mean(1, keepdim=True)  # (N, 1, 1)
        var_ln = (square_in.mean(1, keepdim=True) - mean_ln**2).clamp_min(0)
        if self.training:
            count = n * flat.shape[-1]
            if count < 2:
                raise ValueError("SwitchNorm2d needs more than one value per channel to train")
            mean_bn = mean_in.mean(0, keepdim=True)  # (1, C, 1)
            var_bn = (square_in.mean(0, keepdim=True) - mean_bn**2).clamp_min(0)
            self._update_running(mean_bn.detach().flatten(), var_bn.detach().flatten(), count)
        else:
            mean_bn = self.running_mean.view(1, c, 1)
            var_bn = self.running_var.view(1, c, 1)
        w_mean, w_var = self._weights()
        mean = w_mean[0] * mean_in + w_mean[1] * mean_ln + w_mean[2] * mean_bn
        var = w_var[0] * var_in + w_var[1] * var_ln + w_var[2] * var_bn
        out = (flat - mean) / torch.sqrt(var + self.eps)
        out = out.reshape_as(x)
        if self.affine:
            out = out * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return out
