"""All per-case segmentation metrics of one prediction/reference pair, as one flat record."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from strokect.metrics._checks import check_pair, check_spacing
from strokect.metrics.lesionwise import compute_lesion_detection
from strokect.metrics.overlap import (
    compute_confusion,
    dice_from_confusion,
    jaccard_from_confusion,
    precision_from_confusion,
    recall_from_confusion,
)
from strokect.metrics.surface import compute_surface_distances
from strokect.metrics.volume import volume_errors

#: Column order of `evaluate_masks` records (and of the per-case CSV after ``case_id``).
METRIC_COLUMNS: tuple[str, ...] = (
    "dice",
    "jaccard",
    "precision",
    "recall",
    "hausdorff_mm",
    "hd95_mm",
    "assd_mm",
    "pred_volume_ml",
    "ref_volume_ml",
    "volume_difference_ml",
    "abs_volume_error_ml",
    "relative_volume_error",
    "lesion_tp",
    "lesion_fp",
    "lesion_fn",
    "lesion_f1",
    "n_pred_lesions",
    "n_ref_lesions",
    "lesion_count_difference",
    "both_empty",
    "one_empty",
)


def evaluate_masks(
    pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float]
) -> dict[str, float | int | bool]:
    """Every per-case metric of ``pred`` against ``ref`` (keys: `METRIC_COLUMNS`).

    Parameters
    ----------
    pred, ref
        Binary masks ``(z, y, x)`` on the same grid.
    spacing_mm
        Voxel size ``(z, y, x)`` in mm (from the mask's `Volume`).

    Notes
    -----
    Empty-mask rules are those of :mod:`strokect.metrics.overlap`, :mod:`~strokect.metrics.surface`,
    :mod:`~strokect.metrics.volume` and :mod:`~strokect.metrics.lesionwise`; ``both_empty`` and
    ``one_empty`` flag the cases they apply to.
    """
    pred, ref = check_pair(pred, ref)
    spacing = check_spacing(spacing_mm, pred.ndim)
    conf = compute_confusion(pred, ref)
    surf = compute_surface_distances(pred, ref, spacing_mm=spacing)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    vol = volume_errors((conf.tp + conf.fp) * voxel_ml, (conf.tp + conf.fn) * voxel_ml)
    det = compute_lesion_detection(pred, ref)
    return {
        "dice": dice_from_confusion(conf),
        "jaccard": jaccard_from_confusion(conf),
        "precision": precision_from_confusion(conf),
        "recall": recall_from_confusion(conf),
        "hausdorff_mm": surf.hausdorff_mm,
        "hd95_mm": surf.hd95_mm,
        "assd_mm": surf.assd_mm,
        "pred_volume_ml": vol.pred_ml,
        "ref_volume_ml": vol.ref_ml,
        "volume_difference_ml": vol.difference_ml,
        "abs_volume_error_ml": vol.abs_error_ml,
        "relative_volume_error": vol.relative_error,
        "lesion_tp": det.tp,
        "lesion_fp": det.fp,
        "lesion_fn": det.fn,
        "lesion_f1": det.f1,
        "n_pred_lesions": det.n_pred,
        "n_ref_lesions": det.n_ref,
        "lesion_count_difference": det.count_difference,
        "both_empty": surf.both_empty,
        "one_empty": surf.one_empty,
    }
