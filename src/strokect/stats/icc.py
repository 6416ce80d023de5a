"""Intraclass correlation: ICC(3,1) consistency and ICC(2,1) absolute agreement, with 95% CIs.

Notation (Shrout & Fleiss, Psychol Bull 1979; McGraw & Wong, Psychol Methods 1996): ``n``
targets (cases) rated by ``k`` raters (methods); two-way ANOVA mean squares ``MSR`` (rows =
targets), ``MSC`` (columns = raters) and ``MSE`` (residual).

- ICC(3,1) = ICC(C,1), two-way mixed, consistency, single rater (the papers' choice)::

      (MSR - MSE) / (MSR + (k - 1) MSE)

  CI (McGraw & Wong 1996, Table 7, case 3; = Shrout & Fleiss eq. for ICC(3,1)):
  ``F = MSR / MSE``, ``FL = F / F_{1-a/2}(n-1, (n-1)(k-1))``, ``FU = F * F_{1-a/2}((n-1)(k-1), n-1)``,
  bounds ``(FL - 1) / (FL + k - 1)`` and ``(FU - 1) / (FU + k - 1)``.
- ICC(2,1) = ICC(A,1), two-way random, absolute agreement, single rater::

      (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)

  CI with Satterthwaite's approximate degrees of freedom ``v`` (McGraw & Wong 1996, Table 7, case
  2A; Fleiss & Shrout, Psychometrika 1978).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class IccResult:
    """An ICC with its confidence interval and F test of ICC = 0."""

    kind: str
    value: float
    ci_low: float
    ci_high: float
    f_value: float
    df1: float
    df2: float
    p_value: float
    confidence: float


def _mean_squares(ratings: np.ndarray) -> tuple[float, float, float]:
    n, k = ratings.shape
    grand = ratings.mean()
    ss_rows = k * np.sum((ratings.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((ratings.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((ratings - grand) ** 2) - ss_rows - ss_cols
    return ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))


def _check_ratings(ratings) -> np.ndarray:
    ratings = np.asarray(ratings, dtype=float)
    if ratings.ndim != 2 or ratings.shape[0] < 2 or ratings.shape[1] < 2:
        raise ValueError(
            f"ratings must be (n_targets >= 2, k_raters >= 2); got shape {ratings.shape}"
        )
    if not np.all(np.isfinite(ratings)):
        raise ValueError("ratings hold NaN/inf values; drop incomplete targets first")
    return ratings


def icc(ratings, *, kind: str = "3,1", confidence: float = 0.95) -> IccResult:
    """ICC of an ``(n_targets, k_raters)`` table, e.g. columns = (predicted, reference) volumes.

    Parameters
    ----------
    ratings
        Array ``(n, k)``, one row per target (case), one column per rater (method).
    kind
        ``"3,1"`` (two-way mixed, consistency; ICC(C,1)) or ``"2,1"`` (two-way random,
        absolute agreement; ICC(A,1)).
    confidence
        Confidence level of the interval (default 0.95).

    Notes
    -----
    Identical ratings (no residual variance, and for ICC(2,1) no rater offset) give ICC = 1 with
    the interval (1, 1). Ratings that do not vary between targets raise ``ValueError``.
    """
    ratings = _check_ratings(ratings)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    n, k = ratings.shape
    msr, msc, mse = _mean_squares(ratings)
    if msr <= 0:
        raise ValueError("ratings do not vary between targets: the ICC is undefined")
    q = 1 - (1 - confidence) / 2
    df_r, df_e = n - 1, (n - 1) * (k - 1)
    if kind not in ("3,1", "2,1"):
        raise ValueError(f"kind must be '3,1' or '2,1'; got {kind!r}")
    if mse <= 1e-12 * max(msr, 1e-300) and (kind == "3,1" or msc <= 1e-12 * max(msr, 1e-300)):
        # perfect agreement (no residual, and no rater offset for absolute agreement)
        return IccResult(f"ICC({kind})", 1.0, 1.0, 1.0, float("inf"), df_r, df_e, 0.0, confidence)
    f_value = msr / mse
    p_value = float(stats.f.sf(f_value, df_r, df_e))
    if kind == "3,1":
        value = (msr - mse) / (msr + (k - 1) * mse)
        fl = f_value / stats.f.ppf(q, df_r, df_e)
        fu = f_value * stats.f.ppf(q, df_e, df_r)
        low, high = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
    elif kind == "2,1":
        value = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        a = k * value / (n * (1 - value))
        b = 1 + k * value * (n - 1) / (n * (1 - value))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / df_e)
        f_star = stats.f.ppf(q, df_r, v)
        f_star_rev = stats.f.ppf(q, v, df_r)
        c = k * msc + (k * n - k - n) * mse
        low = n * (msr - f_star * mse) / (f_star * c + n * msr)
        high = n * (f_star_rev * msr - mse) / (c + n * f_star_rev * msr)
    return IccResult(
        kind=f"ICC({kind})",
        value=float(value),
        ci_low=float(low),
        ci_high=float(high),
        f_value=float(f_value),
        df1=float(df_r),
        df2=float(df_e),
        p_value=p_value,
        confidence=confidence,
    )
