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

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokect.errors import InputError


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


def gavish_donoho_omega(beta: float) -> float:
    """Optimal hard-threshold coefficient for singular values with unknown white-noise level.

    Gavish & Donoho, IEEE Trans Inf Theory 2014, "The optimal hard threshold for singular values
    is 4/sqrt(3)", Eq. (5) (approximation of ``lambda*(beta) / sqrt(mu_beta)``): keep the singular
    values above ``omega(beta) * median(s)`` of an ``n x m`` matrix, ``beta = n / m <= 1``.
    """
    b = float(beta)
    if not 0.0 < b <= 1.0:
        raise ValueError(f"aspect ratio beta must be in (0, 1]; got {beta}")
    return 0.56 * b**3 - 0.95 * b**2 + 1.82 * b + 1.43


@dataclass(frozen=True)
class SubspaceDenoising:
    """What `temporal_subspace_denoise` did: rank kept and singular values / noise floor."""

    rank: int
    singular_values_rel: np.ndarray  # singular values / median singular value (descending)
    threshold_rel: float  # the hard threshold in the same units


def temporal_subspace_denoise(
    curves: np.ndarray,
    rank: int | str = "auto",
    *,
    min_rank: int = 1,
    voxel_threshold: float = 0.0,
    chunk: int = 65536,
) -> tuple[np.ndarray, SubspaceDenoising]:
    """Project ``(T, M)`` tissue curves onto their ``rank`` leading temporal singular vectors.

    Tissue concentration curves are ``AIF ⊗ (F R)`` for a few flow, transit-time and delay
    regimes, so the Casorati matrix of all curves (time x voxels) is close to low-rank while
    temporally white noise spreads evenly over all ``T`` temporal directions (expected energy
    ``M sigma^2`` per direction; low-rank "partially separable" models of dynamic imaging,
    Liang, ISBI 2007). Keeping the leading ``r`` directions removes the noise of the other
    ``T - r`` without any spatial blurring. ``rank="auto"`` chooses ``r`` by the optimal hard
    threshold of Gavish & Donoho (2014) with the noise level taken from the median singular value
    (`gavish_donoho_omega`); on the phantom the median is 7-11 % above the expected noise floor
    ``sqrt(M) sigma`` (``sigma`` measured on the pre-bolus samples). ``rank=0`` returns the curves
    unchanged, and so do fewer than 4 frames or fewer voxels than frames (no subspace to estimate;
    reported as the full rank ``T``). ``min_rank`` is a floor for the ``"auto"`` rank: a small
    lesion's own temporal signature carries too little of the matrix's energy to pass the
    threshold, and projecting it onto normal-tissue shapes moves its Tmax (docs/perfusion.md).
    ``voxel_threshold > 0`` (off by default) adds back, voxel by voxel, any further component
    whose coefficient exceeds ``voxel_threshold`` times that voxel's noise, measured as the RMS
    of its coefficients on the trailing half of the components (hard thresholding in the
    data's own Karhunen-Loeve basis, the rule of wavelet shrinkage, Donoho & Johnstone,
    Biometrika 1994): a small group's own shape survives where it stands out of the noise.

    The temporal basis comes from the ``T x T`` Gram matrix (float64, accumulated in chunks of
    voxels), so memory stays at the input plus one chunk.
    """
    t, m = curves.shape
    if not voxel_threshold >= 0:
        raise ValueError(f"voxel_threshold must be >= 0; got {voxel_threshold!r}")
    if rank != "auto" and not (isinstance(rank, int | np.integer) and 0 <= rank <= t):
        raise InputError(f"temporal rank must be 'auto' or between 0 and {t}; got {rank!r}")
    if rank == 0 or t < 4 or m < t:
        return curves, SubspaceDenoising(int(t), np.ones(0), 0.0)
    gram = np.zeros((t, t))
    for start in range(0, m, chunk):
        block = np.asarray(curves[:, start : start + chunk], np.float64)
        gram += block @ block.T
    evals, evecs = np.linalg.eigh(gram)
    order = np.argsort(evals)[::-1]
    s = np.sqrt(np.maximum(evals[order], 0.0))
    evecs = evecs[:, order]
    med = float(np.median(s))
    rel = s / med if med > 0 else np.full_like(s, np.inf)
    omega = gavish_donoho_omega(t / m)
    r = max(int(np.sum(rel > omega)), min_rank, 1) if rank == "auto" else int(rank)
    r = min(r, t)
    basis = evecs[:, :r].astype(np.float32)
    out = np.empty_like(curves, dtype=np.float32)
    per_voxel = voxel_threshold > 0 and r < t
    full, tail = evecs.astype(np.float32), max(r, t // 2)  # every component; the noise ones
    for start in range(0, m, chunk):
        sl = slice(start, min(start + chunk, m))
        block = np.asarray(curves[:, sl], np.float32)
        if per_voxel:
            coef = full.T @ block
            sigma = np.sqrt(np.mean(coef[tail:] ** 2, axis=0))
            keep = np.abs(coef) > voxel_threshold * sigma[None]
            keep[:r] = True
            out[:, sl] = full @ (coef * keep)
        else:
            out[:, sl] = basis @ (basis.T @ block)
    return out, SubspaceDenoising(r, rel.astype(np.float32), float(omega))
