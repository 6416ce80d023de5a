"""ICC against the Shrout & Fleiss (1979) worked example and an independent reference program."""

from __future__ import annotations

import numpy as np
import pytest

from strokect.stats import icc

# Shrout & Fleiss (1979), Psychol Bull 86:420-428, Table 2: 6 targets rated by 4 judges.
SF_RATINGS = np.array(
    [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ]
)


def test_icc_reproduces_shrout_fleiss_table():
    # published point estimates (Shrout & Fleiss 1979, worked example): ICC(2,1) = .29, ICC(3,1) = .71
    assert round(icc(SF_RATINGS, kind="2,1").value, 2) == 0.29
    assert round(icc(SF_RATINGS, kind="3,1").value, 2) == 0.71


def test_icc_confidence_intervals_match_r_psych():
    # 95% CIs for the same table as printed by R psych::ICC (an independent implementation of the
    # Shrout & Fleiss / McGraw & Wong formulas): ICC2 [0.019, 0.76], ICC3 [0.342, 0.95];
    # F = 11.0 with df 5 and 15 for both.
    r2 = icc(SF_RATINGS, kind="2,1")
    r3 = icc(SF_RATINGS, kind="3,1")
    assert round(r2.ci_low, 3) == 0.019 and round(r2.ci_high, 2) == 0.76
    assert round(r3.ci_low, 3) == 0.342 and round(r3.ci_high, 2) == 0.95
    assert round(r3.f_value, 1) == 11.0 and (r3.df1, r3.df2) == (5, 15)
    assert r3.ci_low < r3.value < r3.ci_high


def test_icc_from_variance_components_oracle():
    # ICC(3,1) of a two-column table equals the ANOVA form built from an explicit mixed model:
    # consistency ICC = cov(x, y) * 2 / (var(x) + var(y)) with n-1 denominators (pairs).
    rng = np.random.default_rng(0)
    x = rng.normal(30, 10, 40)
    y = x + rng.normal(2, 3, 40)
    c = np.cov(x, y)
    expected = 2 * c[0, 1] / (c[0, 0] + c[1, 1])
    assert icc(np.column_stack([x, y]), kind="3,1").value == pytest.approx(expected)
    # perfect agreement -> 1; a constant offset lowers only the absolute-agreement ICC
    perfect = icc(np.column_stack([x, x]), kind="2,1")
    assert (perfect.value, perfect.ci_low, perfect.ci_high) == (1.0, 1.0, 1.0)
    shifted = np.column_stack([x, x + 15 + rng.normal(0, 0.1, 40)])
    assert icc(shifted, kind="3,1").value > 0.99 > icc(shifted, kind="2,1").value


def test_icc_input_errors():
    with pytest.raises(ValueError, match="ratings"):
        icc(np.ones((1, 2)))
    with pytest.raises(ValueError, match="kind"):
        icc(SF_RATINGS, kind="1,1")
    with pytest.raises(ValueError, match="NaN"):
        icc(np.array([[1.0, np.nan], [2, 3], [4, 5]]))
