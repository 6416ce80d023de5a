"""Dropout that can stay active at prediction time (Monte-Carlo dropout).

A network marks the dropout layers meant for MC sampling by using `MCDropout` instead of
``nn.Dropout``. `enable_mc_dropout` switches only those layers on, even in ``eval()`` mode; plain
``nn.Dropout`` layers and batch-norm statistics stay in evaluation behaviour. This follows
Clèrigues et al., Computers in Biology and Medicine 2019 (uncertainty filtering: three forward
passes with 10% dropout active in the deepest levels, averaged).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["MCDropout", "disable_mc_dropout", "enable_mc_dropout"]


class MCDropout(nn.Dropout):
    """``nn.Dropout`` that also drops in eval mode while its ``mc_active`` flag is set.

    Parameters
    ----------
    p : float
        Probability of zeroing an element at prediction (Monte-Carlo passes).
    inplace : bool
        As in ``nn.Dropout``.
    train_p : float, optional
        Probability used in training mode when it differs from ``p`` (the ``clerigues`` authors'
        code trains with 0.2 and samples with 0.1); None: ``p``.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, train_p: float | None = None) -> None:
        super().__init__(p=p, inplace=inplace)
        self.train_p = p if train_p is None else float(train_p)
        self.mc_active = False

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return F.dropout(x, self.train_p, True, self.inplace)
        return F.dropout(x, self.p, self.mc_active, self.inplace)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, train_p={self.train_p}, mc_active={self.mc_active}"


def _set_mc(model: nn.Module, active: bool) -> int:
    count = 0
    for module in model.modules():
        if isinstance(module, MCDropout):
            module.mc_active = active
            count += 1
    return count


def enable_mc_dropout(model: nn.Module) -> int:
    """Activate every `MCDropout` of ``model`` (also in eval mode); returns how many were found."""
    return _set_mc(model, True)


def disable_mc_dropout(model: nn.Module) -> int:
    """Deactivate every `MCDropout` of ``model``; returns how many were found."""
    return _set_mc(model, False)
