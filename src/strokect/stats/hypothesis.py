"""Hypothesis tests used by the papers (thin, documented wrappers around scipy.stats).

- Wilcoxon signed-rank test of paired samples (``scipy.stats.wilcoxon``, two-sided),
- Wilcoxon rank-sum / Mann-Whitney U test of independent samples (``scipy.stats.mannwhitneyu``,
  two-sided; the rank-sum and U tests are equivalent),
- paired t-test (``scipy.stats.ttest_rel``, two-sided).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from strokect.stats.agreement import paired_arrays


@dataclass(frozen=True)
class TestResult:
    """Name of the test, its statistic, two-sided p-value and sample size(s)."""

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    p_value: float
    n: tuple[int, ...]


def wilcoxon_signed_rank(a, b) -> TestResult:
    """Two-sided Wilcoxon signed-rank test of paired samples ``a`` and ``b``."""
    a, b = paired_arrays(a, b)
    res = stats.wilcoxon(a, b, alternative="two-sided")
    return TestResult("wilcoxon_signed_rank", float(res.statistic), float(res.pvalue), (a.size,))


def wilcoxon_rank_sum(a, b) -> TestResult:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney U) test of independent samples; statistic = U of a."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 1 or b.size < 1:
        raise ValueError(f"both samples need finite values; got {a.size} and {b.size}")
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    return TestResult(
        "wilcoxon_rank_sum", float(res.statistic), float(res.pvalue), (a.size, b.size)
    )


def paired_t_test(a, b) -> TestResult:
    """Two-sided paired t-test of ``a`` and ``b``."""
    a, b = paired_arrays(a, b)
    res = stats.ttest_rel(a, b)
    return TestResult("paired_t", float(res.statistic), float(res.pvalue), (a.size,))
