"""Bland-Altman against the Lancet 1986 worked example; correlation, tests and summaries vs scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from strokect.stats import (
    bland_altman,
    correlation,
    describe,
    format_mean_sd,
    format_median_iqr,
    paired_t_test,
    volume_group,
    wilcoxon_rank_sum,
    wilcoxon_signed_rank,
)

# Bland & Altman (1986), Lancet 327:307-310, Table 1: peak expiratory flow rate (l/min) of 17
# subjects, first reading with the Wright and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_bland_altman_reproduces_lancet_1986_example():
    # published: mean difference -2.1 l/min, SD 38.8, limits -2.1 -/+ 2 x 38.8 = -79.7 to 75.5
    ba = bland_altman(WRIGHT, MINI, z=2.0, loa_se="1986")
    assert round(ba.bias, 1) == -2.1
    assert round(ba.sd, 1) == 38.8
    # the paper computes the limits from the rounded mean and SD (-2.1 -/+ 77.6); from the unrounded
    # values they are -79.65 and 75.41, within 0.1 of the printed numbers
    assert ba.loa_low == pytest.approx(-79.7, abs=0.1)
    assert ba.loa_high == pytest.approx(75.5, abs=0.1)
    # published 95% CI of the lower limit: -114.3 to -45.1 (t_16 = 2.12, SE = sqrt(3 s^2 / n));
    # the paper again works from rounded intermediate values (-79.7 -/+ 34.6)
    assert ba.loa_low_ci == pytest.approx((-114.3, -45.1), abs=0.15)


def test_bland_altman_intervals_against_formulas():
    ba = bland_altman(WRIGHT, MINI)  # z = 1.96, 1999 standard error
    d = np.subtract(WRIGHT, MINI, dtype=float)
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.95)
    assert ba.bias_ci == pytest.approx((ci.low, ci.high))
    n, s = d.size, d.std(ddof=1)
    se = s * np.sqrt(1 / n + 1.96**2 / (2 * (n - 1)))
    t = stats.t.ppf(0.975, n - 1)
    assert ba.loa_high_ci == pytest.approx((ba.loa_high - t * se, ba.loa_high + t * se))
    assert ba.loa_low == pytest.approx(d.mean() - 1.96 * s)


def test_correlation_and_tests_equal_scipy():
    x = np.array(WRIGHT, float)
    y = np.array(MINI, float)
    c = correlation(x, y)
    assert c.pearson_r == pytest.approx(np.corrcoef(x, y)[0, 1])
    fit = stats.linregress(x, y)
    assert c.r_squared == pytest.approx(fit.rvalue**2)
    assert c.spearman_rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert wilcoxon_signed_rank(x, y).p_value == pytest.approx(stats.wilcoxon(x, y).pvalue)
    assert paired_t_test(x, y).p_value == pytest.approx(stats.ttest_rel(x, y).pvalue)
    rs = wilcoxon_rank_sum(x, y)
    assert rs.p_value == pytest.approx(stats.mannwhitneyu(x, y).pvalue)
    assert rs.n == (17, 17)


def test_paired_inputs_are_checked():
    with pytest.raises(ValueError, match="length"):
        bland_altman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        paired_t_test([1, np.nan, 3], [1, 2, 3])


def test_describe_counts_missing_values_and_formats():
    d = describe([1.0, 2.0, 3.0, 4.0, np.nan, np.nan])
    assert (d["n"], d["n_missing"]) == (4, 2)
    assert (d["median"], d["q1"], d["q3"]) == (2.5, 1.75, 3.25)
    assert d["mean"] == 2.5 and d["sd"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert format_median_iqr(d) == "2.50 [1.75, 3.25]"
    assert format_mean_sd(d, digits=1) == "2.5 ± 1.3"
    empty = describe([np.nan])
    assert empty["n"] == 0 and np.isnan(empty["median"])


def test_volume_groups():
    edges = (10, 50)
    assert [volume_group(v, edges) for v in (0.0, 9.99, 10.0, 50.0, 50.1)] == [
        "<10 mL", "<10 mL", "10-50 mL", "10-50 mL", ">50 mL",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="increasing"):
        volume_group(5.0, (50, 10))
