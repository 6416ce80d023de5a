"""Training losses shared by the methods.

Each loss is an ``nn.Module`` taking logits ``(B, C, *spatial)`` and an integer label map
``(B, 1, *spatial)`` (or ``(B, *spatial)``) unless its docstring says otherwise.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GeneralizedDiceCELoss"]


class GeneralizedDiceCELoss(nn.Module):
    """Sum of the generalized Dice loss and the cross-entropy (Clèrigues et al., CBM 2019, sec. 3.3).

    The generalized Dice loss (Sudre et al., DLMIA 2017) weights each class by the inverse of its
    squared reference volume; it is computed by :class:`monai.losses.GeneralizedDiceLoss` on the
    softmax of the logits with a one-hot label, over the whole batch (``batch=True``), background
    included. The cross-entropy is :func:`torch.nn.functional.cross_entropy` on the logits.

    Parameters
    ----------
    dice_weight, ce_weight : float
        Weights of the two terms (paper: plain sum, 1 and 1).
    """

    def __init__(self, *, dice_weight: float = 1.0, ce_weight: float = 1.0) -> None:
        super().__init__()
        from monai.losses import GeneralizedDiceLoss  # MONAI loads slowly: only when training

        self.dice = GeneralizedDiceLoss(softmax=True, to_onehot_y=True, batch=True)
        self.dice_weight = float(dice_weight)
        self.ce_weight = float(ce_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss for ``logits (B, C, *spatial)`` and ``target (B, [1,] *spatial)`` (ints)."""
        if target.ndim == logits.ndim - 1:
            target = target.unsqueeze(1)
        if target.shape[1] != 1 or target.shape[2:] != logits.shape[2:]:
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}"
            )
        target = target.long()
        ce = nn.functional.cross_entropy(logits, target[:, 0])
        gd = self.dice(logits, target)
        return self.dice_weight * gd + self.ce_weight * ce
