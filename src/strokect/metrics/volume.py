"""Lesion volumes in millilitres and volume errors.

Volume = voxel count x voxel volume, the voxel volume coming from the real spacing
(``prod(spacing_mm) / 1000`` mL, 1 mL = 1000 mm^3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strokect.metrics._checks import as_binary_mask, check_pair, check_spacing


def compute_volume_ml(mask: np.ndarray, *, spacing_mm: Sequence[float]) -> float:
    """Volume of a binary mask in mL.

    Parameters
    ----------
    mask
        Binary mask, e.g. ``(z, y, x)``.
    spacing_mm
        Voxel size along each array axis in mm.
    """
    mask = as_binary_mask(mask, name="mask")
    spacing = check_spacing(spacing_mm, mask.ndim)
    return float(np.count_nonzero(mask) * np.prod(spacing) / 1000.0)


@dataclass(frozen=True)
class VolumeErrors:
    """Predicted and reference volumes (mL) and their differences.

    Attributes
    ----------
    pred_ml, ref_ml
        Volumes of the prediction and the reference.
    difference_ml
        Signed error ``pred_ml - ref_ml`` (positive = over-segmentation).
    abs_error_ml
        ``|pred_ml - ref_ml|``.
    relative_error
        ``|pred_ml - ref_ml| / ref_ml`` (the RVE of Wang et al., MedIA 2020); 0 when both are
        empty, NaN when only the reference is empty (undefined).
    """

    pred_ml: float
    ref_ml: float
    difference_ml: float
    abs_error_ml: float
    relative_error: float


def volume_errors(pred_ml: float, ref_ml: float) -> VolumeErrors:
    """Volume errors from two volumes in mL (see `VolumeErrors`)."""
    diff = float(pred_ml) - float(ref_ml)
    if ref_ml > 0:
        rel = abs(diff) / float(ref_ml)
    else:
        rel = 0.0 if pred_ml == 0 else float("nan")
    return VolumeErrors(float(pred_ml), float(ref_ml), diff, abs(diff), rel)


def compute_volume_errors(
    pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float]
) -> VolumeErrors:
    """Volumes of ``pred`` and ``ref`` in mL and their absolute and relative errors."""
    pred, ref = check_pair(pred, ref)
    return volume_errors(
        compute_volume_ml(pred, spacing_mm=spacing_mm),
        compute_volume_ml(ref, spacing_mm=spacing_mm),
    )
