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
        Probability of zeroing an element.
    inplace : bool
        As in ``nn.Dropout``.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__(p=p, inplace=inplace)
        self.mc_active = False

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training or self.mc_active, self.inplace)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mc_active={self.mc_active}"


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
