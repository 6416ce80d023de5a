"""Lesion-wise detection: connected components matched by overlap.

Lesions are the connected components of each mask (``scipy.ndimage.label``; by default full
connectivity, i.e. 26-connected in 3D). Matching by overlap, as in the ISLES 2022 challenge
evaluation (Hernandez Petzsche et al., Sci Data 2022):

- a reference lesion is a **true positive** (TP) when at least ``min_overlap_voxels`` of its voxels
  are in the prediction, otherwise a **false negative** (FN);
- a predicted lesion is a **false positive** (FP) when fewer than ``min_overlap_voxels`` of its
  voxels are in the reference;
- lesion-wise **F1** = TP / (TP + (FP + FN) / 2);
- **lesion-count difference** = number of predicted lesions - number of reference lesions.

Empty-mask rule: with no lesion in either mask, F1 = 1 (nothing to find and nothing found,
consistent with Dice = 1). With lesions in only one of the masks, F1 = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokect.metrics._checks import check_pair


@dataclass(frozen=True)
class LesionDetection:
    """Lesion-wise detection counts and scores (see module docstring)."""

    n_pred: int
    n_ref: int
    tp: int
    fp: int
    fn: int

    @property
    def f1(self) -> float:
        if self.tp + self.fp + self.fn == 0:
            return 1.0
        return self.tp / (self.tp + 0.5 * (self.fp + self.fn))

    @property
    def count_difference(self) -> int:
        return self.n_pred - self.n_ref


def _overlapping_labels(labels: np.ndarray, n: int, other: np.ndarray, min_voxels: int) -> int:
    """How many of the ``n`` labelled components have >= ``min_voxels`` voxels inside ``other``."""
    if n == 0:
        return 0
    counts = np.bincount(labels[other], minlength=n + 1)[1:]
    return int(np.count_nonzero(counts >= min_voxels))


def compute_lesion_detection(
    pred: np.ndarray,
    ref: np.ndarray,
    *,
    connectivity: int | None = None,
    min_overlap_voxels: int = 1,
) -> LesionDetection:
    """Match the connected components of ``pred`` and ``ref`` by overlap.

    Parameters
    ----------
    pred, ref
        Binary masks of one shape.
    connectivity
        Neighbourhood of ``scipy.ndimage.generate_binary_structure`` (1 = faces only, up to
        ``ndim`` = full). Default: full connectivity (26 in 3D).
    min_overlap_voxels
        Voxels of overlap needed for a match (default 1).
    """
    pred, ref = check_pair(pred, ref)
    if min_overlap_voxels < 1:
        raise ValueError(f"min_overlap_voxels must be >= 1; got {min_overlap_voxels}")
    structure = ndimage.generate_binary_structure(pred.ndim, connectivity or pred.ndim)
    ref_labels, n_ref = ndimage.label(ref, structure=structure)
    pred_labels, n_pred = ndimage.label(pred, structure=structure)
    tp = _overlapping_labels(ref_labels, n_ref, pred, min_overlap_voxels)
    pred_matched = _overlapping_labels(pred_labels, n_pred, ref, min_overlap_voxels)
    return LesionDetection(
        n_pred=int(n_pred), n_ref=int(n_ref), tp=tp, fp=int(n_pred) - pred_matched, fn=n_ref - tp
    )
