"""Agreement between two measurement methods: Bland-Altman analysis and correlation.

Bland-Altman (Bland & Altman, Lancet 1986; Stat Methods Med Res 1999): differences
``d = a - b``; bias = mean(d); limits of agreement (LoA) = bias -/+ z SD(d) (``z = 1.96``; the 1986
worked example used 2). Confidence intervals use ``t_{n-1}`` with standard errors

- bias: ``SD / sqrt(n)``;
- each limit: ``SD * sqrt(1/n + z^2 / (2 (n - 1)))`` (Bland & Altman 1999, section 3.2; default,
  ``loa_se="1999"``), or the 1986 approximation ``SD * sqrt(3 / n)`` (``loa_se="1986"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class BlandAltmanResult:
    """Bland-Altman statistics of ``a - b`` (units of the inputs, e.g. mL)."""

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]
    z: float
    confidence: float


def paired_arrays(a, b, *, min_n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two equally long finite 1D float arrays; raises ValueError otherwise."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    if a.size < min_n:
        raise ValueError(f"need at least {min_n} pairs; got {a.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("paired samples hold NaN/inf values; drop those pairs first")
    return a, b


def bland_altman(
    a, b, *, z: float = 1.96, confidence: float = 0.95, loa_se: str = "1999"
) -> BlandAltmanResult:
    """Bias, limits of agreement and their confidence intervals for paired measurements.

    Parameters
    ----------
    a, b
        Paired measurements, e.g. predicted and reference volumes in mL (``d = a - b``).
    z
        Multiplier of the SD for the limits (1.96 for 95% limits).
    confidence
        Level of the confidence intervals (default 0.95).
    loa_se
        ``"1999"`` or ``"1986"``: which standard error of the limits (module docstring).
    """
    a, b = paired_arrays(a, b, min_n=3)
    d = a - b
    n = d.size
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    t = float(stats.t.ppf(1 - (1 - confidence) / 2, n - 1))
    se_bias = sd / math.sqrt(n)
    if loa_se == "1999":
        se_loa = sd * math.sqrt(1 / n + z**2 / (2 * (n - 1)))
    elif loa_se == "1986":
        se_loa = sd * math.sqrt(3 / n)
    else:
        raise ValueError(f"loa_se must be '1999' or '1986'; got {loa_se!r}")
    low, high = bias - z * sd, bias + z * sd
    return BlandAltmanResult(
        n=n,
        bias=bias,
        sd=sd,
        loa_low=low,
        loa_high=high,
        bias_ci=(bias - t * se_bias, bias + t * se_bias),
        loa_low_ci=(low - t * se_loa, low + t * se_loa),
        loa_high_ci=(high - t * se_loa, high + t * se_loa),
        z=z,
        confidence=confidence,
    )


@dataclass(frozen=True)
class Correlation:
    """Pearson r (with p), its square R^2, and Spearman rho (with p)."""

    n: int
    pearson_r: float
    pearson_p: float
    r_squared: float
    spearman_rho: float
    spearman_p: float


def correlation(a, b) -> Correlation:
    """Pearson and Spearman correlation of paired values; ``r_squared`` = Pearson r^2.

    R^2 here is the squared Pearson correlation (coefficient of determination of the least-squares
    line of ``b`` on ``a``), as reported for predicted vs reference volumes by Clèrigues et al.
    """
    a, b = paired_arrays(a, b, min_n=3)
    pr = stats.pearsonr(a, b)
    sr = stats.spearmanr(a, b)
    return Correlation(
        n=a.size,
        pearson_r=float(pr.statistic),
        pearson_p=float(pr.pvalue),
        r_squared=float(pr.statistic) ** 2,
        spearman_rho=float(sr.statistic),
        spearman_p=float(sr.pvalue),
    )
