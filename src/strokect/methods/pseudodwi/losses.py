"""Losses of ``pseudodwi``: attention map, synthesis loss and SLNet's segmentation loss.

Wang, Song et al., "Automatic ischemic stroke lesion segmentation from computed tomography
perfusion images by image synthesis and attention-based deep neural networks", Medical Image
Analysis 2020, Sec. 3.2-3.4 and 4.1 (Eq. 6-9 and 11-14). The end-to-end objective (Eq. 15) is
``segmentation_loss + alpha * synthesis_loss(I_g) + beta * synthesis_loss(F_h)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from strokect.preprocess.intensity import percentile_scale

__all__ = [
    "attention_map",
    "dwi_target_scale",
    "hardness_generalized_dice",
    "segmentation_loss",
    "synthesis_loss",
    "weighted_cross_entropy",
]


def attention_map(
    mask: np.ndarray, spacing_mm: Sequence[float], *, w: float = 1.5, d_mm: float = 50.0
) -> np.ndarray:
    """Voxel-wise weight map A of Eq. 9 (Wang, Song et al. 2020; w = 1.5, D = 50 in Sec. 4.1).

    ``A_i = w`` inside the lesion and ``A_i = 0.5 + exp(-d_i/D) / (exp(-d_i/D) + 1)``
    ``= 0.5 + sigmoid(-d_i/D)`` outside, with ``d_i`` the 3D Euclidean distance **in mm** from
    voxel i to the nearest lesion voxel (``spacing_mm`` per axis, so anisotropic voxels are
    handled) and ``D = d_mm`` in mm. Background weights fall from 1 next to the lesion towards
    0.5 far from it. An empty mask has d = infinity everywhere, hence A = 0.5.

    Parameters
    ----------
    mask : ndarray of bool, shape (Z, Y, X)
        Lesion mask (any number of axes, one spacing per axis).
    spacing_mm : sequence of float
        Voxel size per axis in mm, in the order of ``mask``'s axes.
    w : float
        Foreground weight (``w >= 1`` in the paper).
    d_mm : float
        Sharpness D of the background decay, in mm.

    Returns
    -------
    ndarray of float32, the shape of ``mask``.
    """
    mask = np.asarray(mask, dtype=bool)
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != mask.ndim:
        raise ValueError(f"spacing_mm has {len(spacing)} values for a {mask.ndim}D mask")
    if d_mm <= 0 or min(spacing) <= 0:
        raise ValueError("d_mm and spacing_mm must be positive")
    if not mask.any():
        return np.full(mask.shape, 0.5, dtype=np.float32)
    dist = ndimage.distance_transform_edt(~mask, sampling=spacing)
    weights = 0.5 + 1.0 / (1.0 + np.exp(dist / d_mm))  # exp(-x)/(exp(-x)+1) = 1/(1+exp(x))
    weights[mask] = w
    return weights.astype(np.float32)


def dwi_target_scale(dwi: np.ndarray, brain: np.ndarray | None = None) -> np.ndarray:
    """Scale a DWI volume to [0, 1] by its minimum and 99th percentile, then clip to [0, 1].

    "Intensity values in each DWI volume were scaled to (0, 1) based on the minimal value and
    the 99-th percentile" (Wang, Song et al. 2020, Sec. 4.1): the statistics are taken over the
    whole volume, or over ``brain`` when a mask is given. This is
    `strokect.preprocess.intensity.percentile_scale` with ``percentiles=(0, 99)``.

    Raises
    ------
    ValueError
        If the image is constant (its 99th percentile equals its minimum) or ``brain`` is empty.
    """
    dwi = np.asarray(dwi, dtype=np.float32)
    values = dwi if brain is None else dwi[np.asarray(brain, dtype=bool)]
    if values.size == 0:
        raise ValueError("brain mask is empty")
    if not np.percentile(values, 99.0) > values.min():
        raise ValueError("DWI is constant (its 99th percentile equals its minimum): cannot scale")
    return percentile_scale(dwi, percentiles=(0.0, 99.0), mask=brain, out_range=(0.0, 1.0))


def synthesis_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    encoder: nn.Module,
    *,
    gamma: float = 1.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Pseudo-DWI synthesis loss L_g of Eq. 6-8 (Wang, Song et al. 2020; gamma = 1.2).

    ``L_g = l_l + gamma * l_h`` with

    - pixel term ``l_l = mean_i (A_i * (pred_i - target_i))^2`` (Eq. 7). The paper writes the
      L2 norm ``||A (I_g - I_d)||_2``; the mean of the squares is used instead so the term (and
      the weight alpha = 1 of Eq. 15) keeps its meaning at any image and batch size.
    - contextual term ``l_h = mean_b ||Phi_c(pred_b) - Phi_c(target_b)||_1`` (Eq. 8): the L1
      norm (sum over the 16 features) of the difference of the context-encoder codes, averaged
      over the batch. ``encoder`` is Phi_c (`ContextEncoder`, pre-trained and frozen);
      gradients flow through it into ``pred``.

    Parameters
    ----------
    pred, target : Tensor (B, 1, H, W)
        Synthesized image (I_g, or F_h for L_e) and DWI target I_d.
    weights : Tensor (B, 1, H, W)
        Attention map A (`attention_map`), or anything broadcastable to ``pred``.
    encoder : nn.Module
        Maps (B, 1, H, W) to (B, F) codes.
    gamma : float
        Weight of the contextual term.

    Returns
    -------
    total : Tensor
        Scalar loss.
    parts : dict
        ``{"pixel": float, "context": float}`` (unweighted terms).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    pixel = ((weights * (pred - target)) ** 2).mean()
    codes = encoder(pred) - encoder(target)
    context = codes.abs().flatten(1).sum(1).mean()
    total = pixel + gamma * context
    return total, {"pixel": float(pixel.detach()), "context": float(context.detach())}


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted cross entropy L_WCE of Eq. 12 (Wang, Song et al. 2020).

    ``L_WCE = sum_i A_i CE_i / sum_i A_i`` over every pixel of the batch, with
    ``CE_i = -sum_c Y_i^c log P_i^c`` and P the softmax of ``logits`` (B, C, H, W); ``target``
    (B, H, W) holds class indices and ``weights`` (B, H, W) is the attention map A of Eq. 9.
    A constant A gives the plain (mean) cross entropy.
    """
    ce = F.cross_entropy(logits, target.long(), reduction="none")
    weights = weights.to(ce.dtype).reshape(ce.shape)
    return (weights * ce).sum() / weights.sum()


def hardness_generalized_dice(
    probs: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7
) -> torch.Tensor:
    """Hardness-aware generalized Dice loss L_HGD of Eq. 13-14 (Wang, Song et al. 2020).

    ``L_GD = 1 - 2 sum_c m_c sum_i Y_i^c P_i^c / sum_c m_c sum_i (Y_i^c + P_i^c)`` with the class
    weight ``m_c = 1 / (sum_i Y_i^c)^2`` (Sudre et al. 2017), sums over every pixel of the
    batch, and ``L_HGD = -log(1 - L_GD)``, with ``1 - L_GD`` clamped to at least ``eps``. A class
    absent from the batch (``sum Y^c = 0``, infinite m_c) takes the largest weight of the present
    classes instead, so its predicted probability still counts as error.

    Parameters
    ----------
    probs : Tensor (B, C, H, W)
        Softmax probabilities P.
    target : Tensor (B, H, W)
        Class indices (Y is their one-hot encoding).
    eps : float
        Floor of ``1 - L_GD`` inside the log.
    """
    n_classes = probs.shape[1]
    onehot = F.one_hot(target.long(), n_classes).movedim(-1, 1).to(probs.dtype)
    dims = [0, *range(2, probs.dim())]
    volume = onehot.sum(dims)  # sum_i Y_i^c per class
    present = volume > 0
    m = torch.where(present, 1.0 / volume.clamp_min(1.0) ** 2, torch.zeros_like(volume))
    m = torch.where(present, m, m[present].max())
    intersection = (onehot * probs).sum(dims)
    total = volume + probs.sum(dims)
    gd = 1.0 - 2.0 * (m * intersection).sum() / (m * total).sum()
    return -torch.log((1.0 - gd).clamp_min(eps))


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """SLNet's segmentation loss L_s = L_WCE + L_HGD (Eq. 11, Wang, Song et al. 2020).

    ``logits`` (B, C, H, W), ``target`` (B, H, W) class indices, ``weights`` (B, H, W) the
    attention map A. Returns the scalar loss and ``{"wce": float, "hgd": float}``.
    """
    wce = weighted_cross_entropy(logits, target, weights)
    hgd = hardness_generalized_dice(F.softmax(logits, dim=1), target)
    return wce + hgd, {"wce": float(wce.detach()), "hgd": float(hgd.detach())}
