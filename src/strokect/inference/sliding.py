"""Sliding-window (patch grid with overlap) and slice-wise application of any predictor.

A predictor is any ``f(x) -> y`` on tensors of shape ``(B, C, *spatial)`` returning
``(B, K, *spatial)`` (the same spatial size). Patches lie on a regular grid with the requested
overlap, and every output voxel is the average of the predictions of all patches covering it
(MONAI ``sliding_window_inference``, constant weights), as in Clèrigues et al., Computers in
Biology and Medicine 2019 ("patches on a regular grid with overlap, probabilities averaged").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["predict_slices", "sliding_window"]

Predictor = Callable[[torch.Tensor], torch.Tensor]


def sliding_window(
    predictor: Predictor,
    image: torch.Tensor,
    *,
    roi_size: Sequence[int],
    overlap: float = 0.5,
    batch_size: int = 16,
    mode: str = "constant",
) -> torch.Tensor:
    """Apply ``predictor`` to overlapping patches of ``image`` and average where they overlap.

    Parameters
    ----------
    predictor : callable
        ``(N, C, *roi_size) -> (N, K, *roi_size)``.
    image : torch.Tensor
        ``(B, C, *spatial)``; spatial dimensions smaller than ``roi_size`` are padded (with 0)
        and cropped back.
    roi_size : sequence of int
        Patch size per spatial dimension, e.g. ``(64, 64)``.
    overlap : float
        Fraction of the patch shared by neighbouring patches, in [0, 1).
    batch_size : int
        Patches per predictor call.
    mode : {"constant", "gaussian"}
        Averaging weights (``"constant"``: plain mean of the covering patches).

    Returns
    -------
    torch.Tensor
        ``(B, K, *spatial)``.
    """
    if image.ndim != len(roi_size) + 2:
        raise ValueError(
            f"image must be (B, C, *spatial) with {len(roi_size)} spatial dims for roi_size "
            f"{tuple(roi_size)}, got shape {tuple(image.shape)}"
        )
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    from monai.inferers import sliding_window_inference  # only when tiles are asked for

    with torch.no_grad():
        return sliding_window_inference(
            image,
            roi_size=tuple(roi_size),
            sw_batch_size=batch_size,
            predictor=lambda patch: predictor(patch).contiguous(),  # MONAI writes in place
            overlap=overlap,
            mode=mode,
        )


def predict_slices(
    predictor: Predictor,
    volume: torch.Tensor,
    *,
    batch_size: int = 16,
    roi_size: Sequence[int] | None = None,
    overlap: float = 0.5,
) -> torch.Tensor:
    """Run a 2D predictor over the axial slices of a ``(C, Z, Y, X)`` volume.

    Parameters
    ----------
    predictor : callable
        2D predictor ``(N, C, H, W) -> (N, K, H, W)``.
    volume : torch.Tensor
        ``(C, Z, Y, X)``.
    batch_size : int
        Slices per call (or patches per call when ``roi_size`` is given).
    roi_size : (int, int), optional
        When given, each slice is processed with `sliding_window` over ``roi_size`` patches.
    overlap : float
        Patch overlap for the sliding window.

    Returns
    -------
    torch.Tensor
        ``(K, Z, Y, X)``.
    """
    if volume.ndim != 4:
        raise ValueError(f"volume must be (C, Z, Y, X), got shape {tuple(volume.shape)}")
    slices = volume.permute(1, 0, 2, 3)  # (Z, C, Y, X): slices as a batch
    outputs = []
    with torch.no_grad():
        for start in range(0, slices.shape[0], batch_size):
            chunk = slices[start : start + batch_size]
            if roi_size is None:
                outputs.append(predictor(chunk))
            else:
                outputs.append(
                    sliding_window(
                        predictor, chunk, roi_size=roi_size, overlap=overlap, batch_size=batch_size
                    )
                )
    return torch.cat(outputs, dim=0).permute(1, 0, 2, 3)
