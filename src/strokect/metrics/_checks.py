"""Input checks shared by the metric functions (binary masks, matching shapes, spacing)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_binary_mask(mask: np.ndarray, *, name: str) -> np.ndarray:
    """Return ``mask`` as a boolean array; refuse anything but {0, 1} (or bool) values.

    Raises
    ------
    ValueError
        When ``mask`` holds values other than 0 and 1 (a probability map or a label map must be
        thresholded / split by the caller, never silently).
    """
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    if mask.size and not np.isin(mask, (0, 1)).all():
        values = np.unique(mask)
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if values.size > 5 else "")
        raise ValueError(f"{name} must be a binary mask (values 0 and 1); got values {shown}")
    return mask.astype(bool)


def check_pair(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as booleans of one shape."""
    pred = as_binary_mask(pred, name="pred")
    ref = as_binary_mask(ref, name="ref")
    if pred.shape != ref.shape:
        raise ValueError(f"pred and ref shapes differ: {pred.shape} vs {ref.shape}")
    return pred, ref


def check_spacing(spacing_mm: Sequence[float], ndim: int) -> np.ndarray:
    """``spacing_mm`` as a float array of length ``ndim`` with positive finite entries."""
    spacing = np.asarray(spacing_mm, dtype=float).reshape(-1)
    if spacing.size != ndim or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(
            f"spacing_mm must be {ndim} positive numbers (one per array axis); got {spacing_mm}"
        )
    return spacing
