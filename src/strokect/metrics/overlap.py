"""Voxel-overlap metrics: Dice, Jaccard, precision (PPV) and recall (sensitivity).

All four come from one confusion count (true positives ``tp``, false positives ``fp``, false
negatives ``fn``) computed in integer arithmetic, so they are exact. MONAI's ``compute_dice``,
``compute_iou`` and confusion-matrix metrics give the same numbers (checked in the tests).

Empty-mask rules
----------------
- Both masks empty: Dice = Jaccard = precision = recall = 1 (perfect agreement on "no lesion").
- Only the prediction empty: Dice = Jaccard = recall = 0; precision is 0/0 and returned as NaN.
- Only the reference empty: Dice = Jaccard = precision = 0; recall is 0/0 and returned as NaN.
NaN values are counted (``n_nan``) in the summaries of :mod:`strokect.stats`, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strokect.metrics._checks import check_pair


@dataclass(frozen=True)
class Confusion:
    """Voxel counts of a binary prediction against a binary reference."""

    tp: int
    fp: int
    fn: int

    @property
    def both_empty(self) -> bool:
        return self.tp == 0 and self.fp == 0 and self.fn == 0


def compute_confusion(pred: np.ndarray, ref: np.ndarray) -> Confusion:
    """Count true positive, false positive and false negative voxels.

    Parameters
    ----------
    pred, ref
        Binary masks of one shape (any dimensionality), bool or {0, 1}.
    """
    pred, ref = check_pair(pred, ref)
    n_pred = int(np.count_nonzero(pred))
    n_ref = int(np.count_nonzero(ref))
    tp = int(np.count_nonzero(pred & ref))
    return Confusion(tp=tp, fp=n_pred - tp, fn=n_ref - tp)


def _ratio(num: int, den: int, *, both_empty: bool) -> float:
    if both_empty:
        return 1.0
    return float("nan") if den == 0 else num / den


def dice_from_confusion(c: Confusion) -> float:
    """Dice = 2 TP / (2 TP + FP + FN); 1 when both masks are empty."""
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, both_empty=c.both_empty)


def jaccard_from_confusion(c: Confusion) -> float:
    """Jaccard (IoU) = TP / (TP + FP + FN); 1 when both masks are empty."""
    return _ratio(c.tp, c.tp + c.fp + c.fn, both_empty=c.both_empty)


def precision_from_confusion(c: Confusion) -> float:
    """Precision (PPV) = TP / (TP + FP); NaN when only the prediction is empty."""
    return _ratio(c.tp, c.tp + c.fp, both_empty=c.both_empty)


def recall_from_confusion(c: Confusion) -> float:
    """Recall (sensitivity) = TP / (TP + FN); NaN when only the reference is empty."""
    return _ratio(c.tp, c.tp + c.fn, both_empty=c.both_empty)


def compute_dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice similarity coefficient of two binary masks (see module docstring for empty masks)."""
    return dice_from_confusion(compute_confusion(pred, ref))


def compute_jaccard(pred: np.ndarray, ref: np.ndarray) -> float:
    """Jaccard index (intersection over union) of two binary masks."""
    return jaccard_from_confusion(compute_confusion(pred, ref))


def compute_precision(pred: np.ndarray, ref: np.ndarray) -> float:
    """Precision / positive predictive value of ``pred`` against ``ref``."""
    return precision_from_confusion(compute_confusion(pred, ref))


def compute_recall(pred: np.ndarray, ref: np.ndarray) -> float:
    """Recall / sensitivity of ``pred`` against ``ref``."""
    return recall_from_confusion(compute_confusion(pred, ref))
