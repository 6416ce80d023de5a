"""Generic grid search of post-processing parameters on cross-validation predictions.

A method's calibration (thresholds, minimum sizes, per-member cut-offs...) is chosen by trying
every combination of a parameter grid on the cases no model was trained on and ranking the
combinations with an `Objective`. Ranking rule (Clèrigues et al., Computers in Biology and
Medicine 2019 chose T and S_min "jointly optimizing Dice and HD" without saying how; this is
strokect's definition, used for any number of metrics):

1. for every combination compute the mean of every metric over the cases;
2. rank the combinations by each metric (best first; ties share the average rank);
3. the score is the sum of the ranks; the lowest score wins; ties go to the better value of the
   first metric, then of the next ones, then to the first combination in grid order.

`score_masks` gives the metrics for one predicted and one reference mask. The Hausdorff distance
is undefined when exactly one mask is empty (NaN in `strokect.metrics`); ignoring those cases
would reward a setting that erases every lesion, so the largest possible distance, the diagonal of
the image box in mm, is used instead and counted (``n_hd_substituted``). Two empty masks give
Dice 1 and HD 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["METRICS", "Objective", "SearchResult", "grid_search", "score_masks"]

#: Metrics `score_masks` computes, with their direction.
METRICS: dict[str, str] = {"dice": "max", "hd_mm": "min"}


@dataclass(frozen=True)
class Objective:
    """Metrics a calibration search ranks by, each ``(name, "max" | "min")``, combined by rank sum."""

    metrics: tuple[tuple[str, str], ...] = (("dice", "max"),)

    def __post_init__(self) -> None:
        if not self.metrics:
            raise ValueError("an objective needs at least one metric")
        for name, mode in self.metrics:
            if mode not in ("max", "min"):
                raise ValueError(
                    f"objective metric {name!r}: mode must be max or min, got {mode!r}"
                )

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.metrics]

    def describe(self) -> str:
        parts = [f"{mode} {name}" for name, mode in self.metrics]
        return "rank sum of " + " + ".join(parts) if len(parts) > 1 else parts[0]


@dataclass
class SearchResult:
    """Outcome of `grid_search`: the chosen parameters, their mean metrics and the whole table."""

    best: dict[str, Any]
    means: dict[str, float]
    n_cases: int
    objective: str
    table: list[dict[str, Any]] = field(default_factory=list)
    #: every candidate gave every case the same scores: the choice is the first candidate, not
    #: the data's (e.g. a cut-off searched on an output that does not use it)
    flat: bool = False


def score_masks(
    pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float], hausdorff: bool = True
) -> dict:
    """Dice and Hausdorff distance (mm; the box diagonal when undefined, see the module docstring).

    ``hausdorff=False`` returns the Dice only (a search whose objective does not use the
    distance skips its cost).
    """
    from strokect.metrics import compute_dice, compute_hausdorff

    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    if not hausdorff:
        return {"dice": float(compute_dice(pred, ref))}
    hd = compute_hausdorff(pred, ref, spacing_mm=spacing_mm)
    substituted = bool(np.isnan(hd))
    if substituted:
        hd = float(np.linalg.norm(np.asarray(ref.shape) * np.asarray(spacing_mm, dtype=float)))
    return {
        "dice": float(compute_dice(pred, ref)),
        "hd_mm": float(hd),
        "hd_substituted": substituted,
    }


def _rank(values: np.ndarray, mode: str) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(-values if mode == "max" else values)


def grid_search(
    grid: Mapping[str, Sequence[Any]],
    case_scores: Sequence[Callable[[dict[str, Any]], Mapping[str, float]]],
    objective: Objective,
) -> SearchResult:
    """Try every combination of ``grid`` on every case and pick one with ``objective``.

    Parameters
    ----------
    grid : mapping name -> candidate values
        E.g. ``{"threshold": [0.1, ..., 0.9], "min_size_vox": [10, 50, ...]}``.
    case_scores : sequence of callables
        One per case: ``params -> {metric: value, ...}`` holding at least the objective's metrics
        (optional ``hd_substituted`` flags are counted).
    objective : Objective

    Returns
    -------
    SearchResult
    """
    if not case_scores:
        raise ValueError("grid search needs at least one case")
    names = list(grid)
    if not names or any(len(grid[n]) == 0 for n in names):
        raise ValueError(f"grid search needs candidate values for every parameter: {dict(grid)}")
    combos = [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]
    metrics = objective.names
    values = np.zeros((len(combos), len(case_scores), len(metrics)))
    substituted = np.zeros(len(combos), int)
    for i, params in enumerate(combos):
        for j, score in enumerate(case_scores):
            result = score(params)
            missing = [m for m in metrics if m not in result]
            if missing:
                raise ValueError(f"case scores lack the objective metric(s) {missing}")
            values[i, j] = [result[m] for m in metrics]
            substituted[i] += bool(result.get("hd_substituted", False))
    means = values.mean(axis=1)  # (combos, metrics)
    ranks = np.stack([_rank(means[:, k], mode) for k, (_, mode) in enumerate(objective.metrics)], 1)
    score = ranks.sum(axis=1)
    signs = np.array([-1.0 if mode == "max" else 1.0 for _, mode in objective.metrics])
    best = min(range(len(combos)), key=lambda i: (score[i], *(signs * means[i]), i))
    table = [
        {
            **params,
            **{f"mean_{m}": float(means[i, k]) for k, m in enumerate(metrics)},
            **{f"rank_{m}": float(ranks[i, k]) for k, m in enumerate(metrics)},
            "n_hd_substituted": int(substituted[i]),
            "score": float(score[i]),
        }
        for i, params in enumerate(combos)
    ]
    return SearchResult(
        best=dict(combos[best]),
        means={m: float(means[best, k]) for k, m in enumerate(metrics)},
        n_cases=len(case_scores),
        objective=objective.describe(),
        table=table,
        flat=len(combos) > 1 and bool(np.all(values == values[:1])),
    )
