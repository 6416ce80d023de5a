"""Tissue masking and denoising of CTP concentration curves before deconvolution.

Low-dose CTP has a per-voxel noise (several HU per frame) of the order of the grey-matter peak
enhancement, so per-voxel deconvolution is noise-dominated; clinical software therefore removes
vessels and CSF from the tissue and smooths the curves spatially *within tissue* before
deconvolution (Konstas et al., AJNR 2009, part 1, "image processing"; Kudo et al., Radiology 2010,
vascular pixel elimination; Fieselmann et al., Int J Biomed Imaging 2011, Sec. 3):

- CSF: baseline (unenhanced) HU at or below ``csf_max_hu``;
- vessels: area-ratio CBV above ``vessel_cbv_max`` mL/100 g (no parenchyma exceeds ~8-10 mL/100 g;
  large vessels have CBV ~ 100 x blood fraction), detected on a lightly in-plane smoothed CBV map so
  the test is not driven by noise;
- spatial smoothing by normalized convolution (Knutsson & Westin, CVPR 1993):
  ``smooth(c * w) / smooth(w)`` with ``w`` the tissue mask, an in-plane Gaussian of ``sigma_mm``
  (converted to pixels from the real spacing), so vessel and CSF signal never leaks into tissue and
  tissue near the mask border is not darkened;
- optional temporal Gaussian smoothing of every curve (``sigma_s``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def tissue_mask(
    brain: np.ndarray,
    baseline_hu: np.ndarray,
    cbv_raw: np.ndarray,
    spacing_mm: tuple[float, float, float],
    *,
    csf_max_hu: float,
    vessel_cbv_max: float,
    cbv_noise_sd: float = 0.0,
    detect_sigma_mm: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Brain without CSF and vessels.

    A voxel is a vessel when its unsmoothed area-ratio CBV exceeds ``vessel_cbv_max +
    3 cbv_noise_sd``: the noise margin keeps noisy parenchyma in the tissue (excluding every voxel
    with a positive noise excursion would bias the remaining tissue low). CSF: baseline HU, in-plane
    smoothed with ``detect_sigma_mm``, at or below ``csf_max_hu``.

    Parameters
    ----------
    brain : (z, y, x) bool
    baseline_hu : (z, y, x) float
        Mean of the pre-bolus frames (HU).
    cbv_raw : (z, y, x) float
        Unsmoothed area-ratio CBV (mL/100 g), any value outside the brain.
    spacing_mm : (3,) float
        Voxel spacing (z, y, x) in mm.
    cbv_noise_sd : float
        Standard deviation of ``cbv_raw`` due to noise (mL/100 g), see `cbv_noise_sd`.

    Returns
    -------
    tissue, vessel : (z, y, x) bool
    """
    sig = _in_plane_sigma_px(detect_sigma_mm, spacing_mm)
    base = ndimage.gaussian_filter(baseline_hu.astype(np.float32), sig, mode="nearest")
    vessel = brain & (cbv_raw > vessel_cbv_max + 3.0 * cbv_noise_sd)
    csf = brain & (base <= csf_max_hu)
    return brain & ~vessel & ~csf, vessel


def cbv_noise_sd(noise_hu: float, n_frames: int, n_baseline: int, aif_sum: float, factor: float):
    """SD (mL/100 g) of the area-ratio CBV of one voxel from white noise of ``noise_hu`` per frame.

    ``sum_t (x_t - mean(x_baseline))`` over all ``n_frames`` (baseline frames included) has
    variance ``noise^2 (n_frames^2 / n_baseline - n_frames)`` (frame noise plus the baseline-mean
    error, minus their covariance); CBV = ``factor * 100 * sum / aif_sum``.
    """
    var = noise_hu**2 * max(n_frames**2 / max(n_baseline, 1) - n_frames, 0.0)
    return float(factor * 100.0 * np.sqrt(var) / max(aif_sum, 1e-9))


def _in_plane_sigma_px(sigma_mm: float, spacing_mm) -> tuple[float, float, float]:
    return (0.0, sigma_mm / float(spacing_mm[1]), sigma_mm / float(spacing_mm[2]))


def smoothed_tissue_curves(
    series: np.ndarray,
    baseline: np.ndarray,
    weight: np.ndarray,
    sigma_mm: float,
    spacing_mm: tuple[float, float, float],
) -> np.ndarray:
    """Concentration curves of the voxels ``flatnonzero(weight)``, smoothed within the weight.

    In-plane Gaussian normalized convolution (Knutsson & Westin, CVPR 1993) of every frame of
    ``series - baseline``: ``G((series - baseline) w) / G(w)`` with ``w`` the tissue mask, so
    signal outside the mask never enters and values near its border are not darkened. Only the
    bounding box of the weight is filtered. ``sigma_mm <= 0``: the unsmoothed curves.

    Parameters
    ----------
    series : (T, z, y, x) float32
        HU.
    baseline : (z, y, x) float32
        Pre-bolus HU.
    weight : (z, y, x) bool
    sigma_mm : float
        In-plane Gaussian sigma in mm (converted with ``spacing_mm``; no smoothing across slices).

    Returns
    -------
    (T, M) float32, M = number of voxels in ``weight``.
    """
    idx = np.flatnonzero(weight)
    if sigma_mm <= 0 or idx.size == 0:
        flat = series.reshape(series.shape[0], -1)
        return flat[:, idx] - baseline.ravel()[idx][None]
    sig = _in_plane_sigma_px(sigma_mm, spacing_mm)
    nz = np.nonzero(weight)
    pad = [0] + [int(np.ceil(3.0 * s)) for s in sig[1:]]
    box = tuple(
        slice(max(int(i.min()) - p, 0), int(i.max()) + p + 1) for i, p in zip(nz, pad, strict=True)
    )
    wb = weight[box].astype(np.float32)
    norm = ndimage.gaussian_filter(wb, sig, truncate=3.0)
    num = series[(slice(None), *box)] - baseline[box][None]
    num *= wb[None]
    ndimage.gaussian_filter(num, (0.0, *sig), output=num, truncate=3.0)
    inside = np.flatnonzero(wb.ravel() > 0)  # same order as idx (C order within the box)
    out = num.reshape(num.shape[0], -1)[:, inside]
    out /= np.maximum(norm.ravel()[inside], 1e-6)[None]
    return out


def smooth_temporal(curves: np.ndarray, sigma_s: float, dt_s: float) -> np.ndarray:
    """Gaussian smoothing of ``(T, M)`` curves along time (sigma in seconds); identity if 0."""
    if sigma_s <= 0:
        return curves
    return ndimage.gaussian_filter1d(curves, sigma_s / dt_s, axis=0, mode="nearest")
