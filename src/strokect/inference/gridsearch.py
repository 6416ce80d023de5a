"""Grid search of the post-processing threshold T and minimum lesion size S_min.

Clèrigues et al., Computers in Biology and Medicine 2019 chose T and S_min by grid search on the
cross-validation predictions, "jointly optimizing Dice and HD" (T = 0.1..0.9 step 0.1; S_min in
{10, 50, 100, 200, 300, 500} voxels; their result T = 0.2, S_min = 200). The paper does not say how
the two are combined; strokect's definition:

1. for every (T, S_min) compute the mean Dice and the mean Hausdorff distance (mm) over cases;
2. rank the settings by mean Dice (descending) and by mean HD (ascending), ties sharing the
   average rank; the joint score is the sum of both ranks;
3. the best setting has the lowest score; ties go to the higher mean Dice, then the lower mean HD,
   then the smaller T and S_min.

HD is undefined when exactly one mask is empty (NaN in `strokect.metrics`). Ignoring those cases
would reward a setting that erases every lesion, so the grid search substitutes the largest
possible distance, the diagonal of the image box in mm, and reports how many cases that affected
(``n_hd_substituted``). Two empty masks give Dice 1 and HD 0 (`strokect.metrics` rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from strokect.inference.postprocess import component_sizes
from strokect.metrics import compute_dice, compute_hausdorff

__all__ = [
    "PAPER_MIN_SIZES_VOXELS",
    "PAPER_THRESHOLDS",
    "GridSearchResult",
    "grid_search_postprocess",
]

PAPER_THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))
PAPER_MIN_SIZES_VOXELS: tuple[int, ...] = (10, 50, 100, 200, 300, 500)


@dataclass
class GridSearchResult:
    """Outcome of `grid_search_postprocess`.

    Attributes
    ----------
    threshold, min_size_voxels : float, int
        The chosen T and S_min.
    mean_dice, mean_hd_mm : float
        Their cross-validated means.
    table : list of dict
        One row per setting: threshold, min_size_voxels, mean_dice, mean_hd_mm,
        n_hd_substituted, rank_dice, rank_hd, score.
    """

    threshold: float
    min_size_voxels: int
    mean_dice: float
    mean_hd_mm: float
    table: list[dict[str, float]] = field(default_factory=list)


def _case_scores(prob, ref, spacing_mm, thresholds, min_sizes, connectivity):
    """Dice, HD (mm, substituted when undefined) and substitution flag per (T, S_min)."""
    ref = np.asarray(ref).astype(bool)
    diagonal_mm = float(np.linalg.norm(np.asarray(ref.shape) * np.asarray(spacing_mm, dtype=float)))
    out = np.zeros((len(thresholds), len(min_sizes), 3))
    for i, t in enumerate(thresholds):
        labels, sizes = component_sizes(np.asarray(prob) >= t, connectivity=connectivity)
        cache: dict[bytes, tuple[float, float, float]] = {}
        for j, s_min in enumerate(min_sizes):
            keep = sizes >= s_min
            keep[0] = False
            key = np.packbits(keep).tobytes()
            if key not in cache:
                pred = keep[labels]
                hd = compute_hausdorff(pred, ref, spacing_mm=spacing_mm)
                undefined = bool(np.isnan(hd))
                cache[key] = (compute_dice(pred, ref), diagonal_mm if undefined else hd, undefined)
            out[i, j] = cache[key]
    return out


def grid_search_postprocess(
    probs: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    *,
    spacing_mm: Sequence[Sequence[float]] | Sequence[float],
    thresholds: Sequence[float] = PAPER_THRESHOLDS,
    min_sizes_voxels: Sequence[int] = PAPER_MIN_SIZES_VOXELS,
    connectivity: int = 1,
) -> GridSearchResult:
    """Choose T and S_min jointly maximizing Dice and minimizing HD (see the module docstring).

    Parameters
    ----------
    probs, refs : sequences of arrays
        Cross-validation probability maps and reference masks, one pair per case (same shapes).
    spacing_mm : sequence of float, or one such sequence per case
        Voxel spacing in the arrays' axis order, mm.
    thresholds, min_sizes_voxels : sequences
        The grid (default: the paper's).
    connectivity : int
        Connected-component connectivity, as in `strokect.inference.postprocess`.
    """
    if len(probs) != len(refs) or not probs:
        raise ValueError(
            f"need as many probability maps as references (>0), got {len(probs)} and {len(refs)}"
        )
    spacings = list(spacing_mm) if np.ndim(spacing_mm[0]) == 1 else [spacing_mm] * len(probs)
    if len(spacings) != len(probs):
        raise ValueError(f"need one spacing per case ({len(probs)}), got {len(spacings)}")
    scores = np.stack(
        [
            _case_scores(p, r, s, thresholds, min_sizes_voxels, connectivity)
            for p, r, s in zip(probs, refs, spacings)
        ]
    )  # (cases, T, S, 3)
    mean_dice, mean_hd = scores[..., 0].mean(axis=0).ravel(), scores[..., 1].mean(axis=0).ravel()
    substituted = scores[..., 2].sum(axis=0).ravel()
    rank_dice, rank_hd = rankdata(-mean_dice), rankdata(mean_hd)
    score = rank_dice + rank_hd
    grid = [(t, s) for t in thresholds for s in min_sizes_voxels]
    best = min(range(len(grid)), key=lambda k: (score[k], -mean_dice[k], mean_hd[k], grid[k]))
    table = [
        {
            "threshold": float(t),
            "min_size_voxels": int(s),
            "mean_dice": float(mean_dice[k]),
            "mean_hd_mm": float(mean_hd[k]),
            "n_hd_substituted": int(substituted[k]),
            "rank_dice": float(rank_dice[k]),
            "rank_hd": float(rank_hd[k]),
            "score": float(score[k]),
        }
        for k, (t, s) in enumerate(grid)
    ]
    t_best, s_best = grid[best]
    return GridSearchResult(
        float(t_best), int(s_best), float(mean_dice[best]), float(mean_hd[best]), table
    )
