"""Agreement and comparison statistics: ICC, Bland-Altman, correlation, tests, summaries."""

from strokect.stats.agreement import (
    BlandAltmanResult,
    Correlation,
    bland_altman,
    correlation,
    paired_arrays,
)
from strokect.stats.cohort import summarize_evaluation
from strokect.stats.hypothesis import (
    TestResult,
    paired_t_test,
    wilcoxon_rank_sum,
    wilcoxon_signed_rank,
)
from strokect.stats.icc import IccResult, icc
from strokect.stats.summary import (
    describe,
    format_mean_sd,
    format_median_iqr,
    summarize_metrics,
    volume_group,
    volume_group_labels,
)

__all__ = [
    "BlandAltmanResult",
    "Correlation",
    "IccResult",
    "TestResult",
    "bland_altman",
    "correlation",
    "describe",
    "format_mean_sd",
    "format_median_iqr",
    "icc",
    "paired_arrays",
    "paired_t_test",
    "summarize_evaluation",
    "summarize_metrics",
    "volume_group",
    "volume_group_labels",
    "wilcoxon_rank_sum",
    "wilcoxon_signed_rank",
]
