"""Indicator-dilution model of the CT perfusion phantom.

Arterial input function (AIF), a gamma variate plus a smaller, later, wider recirculation pass
(gamma variate as the usual indicator-dilution model, Mischi et al., Physiol Meas 2008; this
unit-peak form is often credited to Thompson et al., Circ Res 1964 and Madsen, Phys Med Biol
1992, not checked)::

    g(t; t0, alpha, beta) = ((t - t0) / (alpha beta))^alpha * exp(alpha - (t - t0) / beta),  t > t0

which peaks at ``t0 + alpha beta`` with value 1. ``AIF(t) = peak_hu * (g(t; t0, a, b)
+ recirc_fraction * g(t; t0 + recirc_delay_s, a, recirc_beta_s))`` in HU above the pre-contrast level.

Tissue enhancement (the indicator-dilution model reviewed by Fieselmann et al., Int J Biomed
Imaging 2011)::

    C(t) = (rho / kH) * F * (AIF conv R)(t - delay),   R(t) = exp(-t / MTT)   (t >= 0)

with ``F = CBF / (100 * 60)`` (CBF in mL/100 g/min -> mL/g/s), ``rho = 1.04 g/mL`` brain density and
``kH = (1 - Hct_large) / (1 - Hct_small) = 0.73`` the hematocrit correction. Because
``integral R = MTT`` and ``CBV = CBF * MTT / 60`` (mL/100 g, MTT in s)::

    CBV [mL/100 g] = 100 * kH / rho * integral(C) / integral(AIF)          (central volume theorem)

and the maximum of ``F R(t - delay)`` is at ``t = delay``, so the stored Tmax equals the delay.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

# Conventional constants of perfusion software (usually attributed to Rempp et al., Radiology 1994;
# that source was not checked, see docs/phantom.md). Only rho / kH enters the model.
KH = 0.73  # (1 - Hct_large) / (1 - Hct_small), Hct_large 0.45, Hct_small 0.25
RHO_G_PER_ML = 1.04  # brain tissue density
FINE_DT_S = 0.05


def gamma_variate(time_s: np.ndarray, *, t0_s: float, alpha: float, beta_s: float) -> np.ndarray:
    """Unit-peak gamma variate, 0 before ``t0_s`` (see module docstring)."""
    t = np.asarray(time_s, float) - t0_s
    out = np.zeros_like(t)
    pos = t > 0
    x = t[pos] / (alpha * beta_s)
    out[pos] = np.exp(alpha * np.log(x) + alpha - t[pos] / beta_s)
    return out


def sample_aif(
    rng: np.random.Generator, *, first_frame_s: float, prebolus_frames: int, dt_s: float
) -> dict:
    """Draw AIF parameters; contrast arrives after ``prebolus_frames`` frames."""
    return {
        "model": "gamma_variate+recirculation",
        "t0_s": first_frame_s + (prebolus_frames + rng.uniform(0.2, 0.8)) * dt_s,
        "alpha": rng.uniform(3.0, 4.5),
        "beta_s": rng.uniform(1.6, 2.6),
        "peak_hu": rng.uniform(250.0, 450.0),
        "recirc_fraction": rng.uniform(0.08, 0.18),
        "recirc_delay_s": rng.uniform(14.0, 20.0),
        "recirc_beta_s": rng.uniform(2.5, 4.0),
    }


def aif_curve(time_s: np.ndarray, aif: dict) -> np.ndarray:
    """AIF enhancement (HU above the pre-contrast level) at ``time_s``."""
    first = gamma_variate(time_s, t0_s=aif["t0_s"], alpha=aif["alpha"], beta_s=aif["beta_s"])
    recirc = gamma_variate(
        time_s,
        t0_s=aif["t0_s"] + aif["recirc_delay_s"],
        alpha=aif["alpha"],
        beta_s=aif["recirc_beta_s"],
    )
    return aif["peak_hu"] * (first + aif["recirc_fraction"] * recirc)


def vof_curve(time_s: np.ndarray, aif: dict, *, delay_s: float, dispersion: float) -> np.ndarray:
    """Venous output: the AIF delayed and widened with the same area (all blood passes)."""
    wide = dict(
        aif,
        beta_s=aif["beta_s"] * dispersion,
        recirc_beta_s=aif["recirc_beta_s"] * dispersion,
        t0_s=aif["t0_s"] + delay_s,
        peak_hu=aif["peak_hu"] / dispersion,
    )
    return aif_curve(time_s, wide)


class ResidueTable:
    """``(AIF conv exp(-t/MTT))(t)`` on a fine time grid for a ladder of MTT values.

    Tissue curves are read from it by linear interpolation in MTT (exact for the area, because the
    area is linear in MTT) and in time.
    """

    def __init__(
        self, aif: dict, *, t_end_s: float, mtt_max_s: float = 40.0, mtt_step_s: float = 0.25
    ):
        self.t = np.arange(0.0, t_end_s + FINE_DT_S, FINE_DT_S)
        self.mtt = np.arange(mtt_step_s, mtt_max_s + mtt_step_s, mtt_step_s)
        a = aif_curve(self.t, aif)
        mid = (a[:-1] + a[1:]) / 2.0
        table = np.zeros((self.mtt.size, self.t.size))
        for j, mtt in enumerate(self.mtt):
            # exact convolution of the piecewise-linear AIF with exp(-t/MTT), as a recursive filter
            decay = np.exp(-FINE_DT_S / mtt)
            table[j, 1:] = signal.lfilter([mtt * (1.0 - decay)], [1.0, -decay], mid)
        self.table = table

    def curves(
        self, time_s: np.ndarray, *, cbf: np.ndarray, mtt_s: np.ndarray, delay_s: np.ndarray
    ) -> np.ndarray:
        """Enhancement (HU) of voxels ``(N,)`` at ``time_s (T,)``; returns ``(T, N)`` float64."""
        scale = RHO_G_PER_ML / KH * np.asarray(cbf, float) / 6000.0
        m = np.clip(
            (np.asarray(mtt_s, float) - self.mtt[0]) / (self.mtt[1] - self.mtt[0]),
            0,
            self.mtt.size - 1.000001,
        )
        j0 = np.floor(m).astype(int)
        wm = m - j0
        n_t = self.t.size
        flat = self.table.ravel()
        row0, row1 = j0 * n_t, (j0 + 1) * n_t  # flat offsets of the two MTT rows
        out = np.empty((len(time_s), scale.size))
        for k, t in enumerate(time_s):
            u = np.clip((t - delay_s) / FINE_DT_S, 0, n_t - 1.000001)
            i0 = np.floor(u).astype(int)
            wu = u - i0
            lo = flat.take(row0 + i0) * (1 - wu) + flat.take(row0 + i0 + 1) * wu
            hi = flat.take(row1 + i0) * (1 - wu) + flat.take(row1 + i0 + 1) * wu
            out[k] = scale * (lo * (1 - wm) + hi * wm)
        return out


def cbv_from_auc_ratio(auc_ratio: np.ndarray) -> np.ndarray:
    """CBV (mL/100 g) from ``integral(tissue enhancement) / integral(AIF)`` (module docstring)."""
    return 100.0 * KH / RHO_G_PER_ML * np.asarray(auc_ratio)
