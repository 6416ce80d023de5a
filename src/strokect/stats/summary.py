"""Descriptive summaries (median [IQR], mean +- SD) and subgroup summaries of per-case metrics.

Missing values (NaN, e.g. distances with one empty mask) are never dropped silently: every summary
reports ``n`` (finite values used) and ``n_missing`` (values left out).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def describe(values: Iterable[float]) -> dict[str, float | int]:
    """n, n_missing, mean, sd (ddof=1), median, q1, q3 (linear percentiles), min and max.

    Statistics of an all-missing input are NaN; ``sd`` of a single value is NaN.
    """
    arr = np.asarray(list(values), dtype=float).ravel()
    finite = arr[np.isfinite(arr)]
    out: dict[str, float | int] = {"n": int(finite.size), "n_missing": int(arr.size - finite.size)}
    if finite.size == 0:
        nan = float("nan")
        out.update(mean=nan, sd=nan, median=nan, q1=nan, q3=nan, min=nan, max=nan)
        return out
    q1, med, q3 = np.percentile(finite, [25, 50, 75])
    out.update(
        mean=float(finite.mean()),
        sd=float(finite.std(ddof=1)) if finite.size > 1 else float("nan"),
        median=float(med),
        q1=float(q1),
        q3=float(q3),
        min=float(finite.min()),
        max=float(finite.max()),
    )
    return out


def format_median_iqr(stats: Mapping[str, float], *, digits: int = 2) -> str:
    """``"median [q1, q3]"`` from a `describe` record."""
    return f"{stats['median']:.{digits}f} [{stats['q1']:.{digits}f}, {stats['q3']:.{digits}f}]"


def format_mean_sd(stats: Mapping[str, float], *, digits: int = 2) -> str:
    """``"mean ± sd"`` from a `describe` record."""
    return f"{stats['mean']:.{digits}f} ± {stats['sd']:.{digits}f}"


def volume_group_labels(edges_ml: Sequence[float]) -> list[str]:
    """Labels of the volume groups cut at ``edges_ml``, e.g. (10, 50) -> '<10 mL', '10-50 mL', '>50 mL'."""
    edges = [float(e) for e in edges_ml]
    if not edges or any(b <= a for a, b in itertools.pairwise(edges)) or edges[0] <= 0:
        raise ValueError(
            f"volume group edges must be increasing positive mL values; got {edges_ml}"
        )
    fmt = [f"{e:g}" for e in edges]
    labels = [f"<{fmt[0]} mL"]
    labels += [f"{lo}-{hi} mL" for lo, hi in itertools.pairwise(fmt)]
    labels.append(f">{fmt[-1]} mL")
    return labels


def volume_group(ref_ml: float, edges_ml: Sequence[float]) -> str:
    """Group label of a reference volume: ``v < e0``, ``e0 <= v <= e1``, ..., ``v > e_last``.

    Wang et al. (MedIA 2020) group lesions as < 10, 10-50 and > 50 mL; a boundary value goes to
    the middle group(s).
    """
    labels = volume_group_labels(edges_ml)
    if not math.isfinite(ref_ml):
        raise ValueError(f"reference volume must be finite; got {ref_ml}")
    if ref_ml < edges_ml[0]:
        return labels[0]
    for i, hi in enumerate(edges_ml[1:], start=1):
        if ref_ml <= hi:
            return labels[i]
    return labels[-1] if ref_ml > edges_ml[-1] else labels[-2]


def summarize_metrics(
    records: Sequence[Mapping[str, float]], metrics: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """`describe` each metric column of a list of per-case records."""
    return {m: describe(r.get(m, float("nan")) for r in records) for m in metrics}
