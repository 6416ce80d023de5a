"""Indicator-dilution forward model: synthetic 4D CTP with known CBF, CBV, MTT and delay.

Used by tests and benchmarks. Tissue enhancement follows the model inverted by `maps`:
``C_t(t) = rho / kH * CBF / 6000 * (C_a ⊗ R)(t - delay)`` with ``R(t) = exp(-t / MTT)``,
``MTT = CBV / CBF * 60`` (Østergaard et al., MRM 1996), and the AIF is a gamma variate
(Thompson et al., Circ Res 1964). The convolution is done on a fine 0.05 s grid, then sampled.
"""

from __future__ import annotations

import numpy as np

from strokect.io.volume import Volume
from strokect.perfusion.maps import HEMATOCRIT_FACTOR, TISSUE_DENSITY_G_PER_ML

FINE_DT_S = 0.05
#: label -> (name, baseline HU, CBF mL/100g/min, CBV mL/100g, delay s)
TISSUES = {
    1: ("gm", 40.0, 60.0, 4.0, 0.0),
    2: ("wm", 30.0, 25.0, 2.0, 0.0),
    3: ("penumbra", 36.0, 22.0, 3.5, 7.0),
    4: ("core", 34.0, 8.0, 1.2, 8.0),
    5: ("csf", 5.0, 0.0, 0.0, 0.0),
}


def gamma_variate(t_s, *, t0_s=5.0, alpha=3.0, beta_s=1.5, peak=300.0) -> np.ndarray:
    """Gamma variate ``peak * (x / (alpha beta))^alpha * exp(alpha - x / beta)``, ``x = t - t0``."""
    x = np.clip(np.asarray(t_s, dtype=np.float64) - t0_s, 0, None)
    return peak * (x / (alpha * beta_s)) ** alpha * np.exp(alpha - x / beta_s)


def tissue_curve(time_s, *, cbf, cbv, delay_s=0.0, aif_kwargs=None) -> np.ndarray:
    """Tissue enhancement (HU) at ``time_s`` for one (CBF, CBV, delay); 0 when CBF is 0."""
    time_s = np.asarray(time_s, dtype=np.float64)
    if cbf <= 0:
        return np.zeros_like(time_s)
    fine = np.arange(0.0, time_s[-1] + 60.0, FINE_DT_S)
    aif = gamma_variate(fine, **(aif_kwargs or {}))
    mtt = cbv / cbf * 60.0
    resid = np.exp(-fine / mtt)
    conv = np.convolve(aif, resid)[: fine.size] * FINE_DT_S
    ct = TISSUE_DENSITY_G_PER_ML / HEMATOCRIT_FACTOR * cbf / 6000.0 * conv
    return np.interp(time_s - delay_s, fine, ct, left=0.0)


def synth_ctp(
    shape_zyx=(4, 48, 48),
    *,
    time_s=None,
    noise_hu: float = 2.0,
    seed: int = 0,
    aif_partial_volume: float = 1.0,
    spacing_mm=(5.0, 1.0, 1.0),
):
    """Synthetic head: GM/WM, a penumbra and a core in the low-x hemisphere, CSF, an artery
    (AIF, optionally scaled by ``aif_partial_volume``), a vein (delayed AIF, full area) and skull.

    Returns ``(ctp Volume (HU), truth dict)`` with truth maps ``cbf, cbv, mtt, tmax`` (3D arrays),
    ``labels`` (see `TISSUES`; 6 artery, 7 vein, 8 skull) and the true ``aif`` curve.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 60.0, 1.5) if time_s is None else np.asarray(time_s, dtype=float)
    nz, ny, nx = shape_zyx
    yy, xx = np.mgrid[0:ny, 0:nx]
    cy, cx = (ny - 1) / 2, (nx - 1) / 2
    r = np.hypot((yy - cy) / (0.45 * ny), (xx - cx) / (0.40 * nx))
    lab2d = np.zeros((ny, nx), np.uint8)
    lab2d[r < 1.1] = 8
    lab2d[r < 1.0] = 2
    lab2d[(r < 1.0) & (r > 0.75)] = 1
    lab2d[np.hypot(yy - cy, xx - cx) < 0.06 * nx] = 5
    lab2d[(np.hypot(yy - cy, xx - (cx - 0.22 * nx)) < 0.16 * nx) & (lab2d != 5)] = 3
    lab2d[(np.hypot(yy - cy, xx - (cx - 0.22 * nx)) < 0.08 * nx) & (lab2d != 5)] = 4
    lab2d[int(cy + 0.15 * ny), int(cx + 0.05 * nx) : int(cx + 0.05 * nx) + 2] = 6
    lab2d[int(cy - 0.42 * ny), int(cx) - 1 : int(cx) + 2] = 7
    labels = np.repeat(lab2d[None], nz, axis=0)
    hu = np.zeros((t.size, *shape_zyx), np.float32) - 1000.0
    truth = {k: np.zeros(shape_zyx, np.float32) for k in ("cbf", "cbv", "mtt", "tmax")}
    for lab, (_, base, cbf, cbv, delay) in TISSUES.items():
        m = labels == lab
        hu[:, m] = (base + tissue_curve(t, cbf=cbf, cbv=cbv, delay_s=delay))[:, None]
        truth["cbf"][m], truth["cbv"][m], truth["tmax"][m] = cbf, cbv, delay
        truth["mtt"][m] = cbv / cbf * 60.0 if cbf > 0 else 0.0
    aif = gamma_variate(t)
    hu[:, labels == 6] = (40.0 + aif_partial_volume * aif)[:, None]
    vein = tissue_curve(
        t, cbf=600.0, cbv=100.0 * HEMATOCRIT_FACTOR / TISSUE_DENSITY_G_PER_ML, delay_s=2.0
    )
    hu[:, labels == 7] = (40.0 + vein)[:, None]
    hu[:, labels == 8] = 1000.0
    hu += rng.normal(0.0, noise_hu, hu.shape).astype(np.float32)
    vol = Volume(hu, spacing_mm=spacing_mm, time_s=t, metadata={"modality": "CTP"})
    return vol, {**truth, "labels": labels, "aif": aif}
