"""SVD deconvolution of tissue curves by the arterial input function, vectorised over voxels.

Indicator-dilution model (Østergaard et al., MRM 1996, Eq. 1-3): the tissue concentration is
``C_t(t) = F * (C_a ⊗ R)(t)`` with ``F`` the flow (1/s) and ``R`` the residue function
(``R(0) = 1``). Discretised with step ``dt``: ``c = A k`` with ``A[i, j] = dt * C_a[i - j]`` and
``k = F * R``. We take the SVD of ``A`` once, truncate small singular values and apply the
pseudo-inverse to all voxels at once as one matrix product.

- ``ssvd``: lower-triangular Toeplitz ``A`` (N x N), threshold = fraction of the largest singular
  value (Østergaard 1996, 20%).
- ``bcsvd``: block-circulant ``A`` on curves zero-padded to ``L = 2N`` (Wu et al., MRM 2003,
  "Tracer arrival timing-insensitive technique..."), so a tracer delay only shifts ``k``
  circularly instead of truncating it.
- ``osvd``: block-circulant with the threshold chosen per voxel as the least regularisation whose
  oscillation index ``O = 1/(L f_max) * sum_j |f_j - 2 f_{j-1} + f_{j-2}|`` (Wu et al. 2003, Eq. 7)
  stays below a limit; a handful of thresholds is evaluated for all voxels at once.

Only per-voxel summaries are kept (peak height and sub-sample peak position), so memory stays at
one chunk of residues.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strokect.errors import InputError

METHODS = ("ssvd", "bcsvd", "osvd")
#: default truncation (fraction of the largest singular value) per method
DEFAULT_THRESHOLD = {"ssvd": 0.2, "bcsvd": 0.1}
#: thresholds tried by oSVD, from least to most regularised
DEFAULT_OSVD_THRESHOLDS = (0.02, 0.05, 0.1, 0.15, 0.25)
DEFAULT_OSCILLATION_LIMIT = 0.095
#: truncation range of the noise-adaptive (discrepancy principle) rank: loosest, strictest
DEFAULT_ADAPTIVE_RANGE = (0.005, 0.3)
_CHUNK = 32768
#: where a residue sample sits in its frame, in frames. With the trapezoidal weights of
#: `convolution_matrix`, ``c_i = sum_j k_j dt (C_a[i-j] + C_a[i-j-1]) / 2`` is the convolution
#: integral for a residue that is constant, ``k_j``, on ``[t_j, t_j + dt)`` (trapezoid rule for
#: the AIF over that interval), so ``k_j`` is the residue's mean over the frame and belongs at
#: its centre ``t_j + dt / 2``. Timing it at ``t_j`` made every Tmax one half frame early: on
#: noise-free phantom curves with the true AIF the penumbra/core Tmax error fell from 1.0-1.5 s
#: to 0.05-0.5 s at 0.5-10 % bcSVD truncation with the centre convention (2 s frames).
RESIDUE_SAMPLE_OFFSET = 0.5
#: Tmax estimators of `deconvolve`
TMAX_ESTIMATORS = ("onset", "calibrated", "peak", "peak_calibrated")
_CALIBRATED = {"calibrated": "onset", "peak_calibrated": "peak"}  # estimator -> timing
#: transit times (s) and sub-frame arrival offsets (frames) of the onset-calibration residues
_CAL_TAUS_S = np.geomspace(0.5, 60.0, 32)
_CAL_SUBFRAME = (0.125, 0.375, 0.625, 0.875)
_CAL_FIRST_FRAME = 2  # calibration residues arrive in frame 2 (inside the curve for sSVD too)


@dataclass(frozen=True)
class ResidueSummary:
    """Per-voxel summaries of the deconvolved ``k(t) = F R(t)``.

    Attributes
    ----------
    peak : (M,) float32
        ``max_t k(t)`` in 1/s (flow before unit and hematocrit/density scaling).
    peak_time_s : (M,) float32
        Time of the maximum with parabolic sub-sample refinement, in s (``Tmax``); for circulant
        methods indices past the second half map to negative delays, then clip at 0.
    threshold : (M,) float32
        Truncation used per voxel (fraction of the largest singular value).
    """

    peak: np.ndarray
    peak_time_s: np.ndarray
    threshold: np.ndarray


def convolution_matrix(aif: np.ndarray, dt_s: float, *, circulant: bool) -> np.ndarray:
    """Discrete convolution matrix of an AIF: ``(N, N)`` Toeplitz or ``(2N, 2N)`` circulant.

    Elements are ``A[i, j] = dt * (C_a[i-j] + C_a[i-j-1]) / 2`` (trapezoidal AIF weights,
    ``C_a = 0`` before the first frame and in the zero padding). In noise-free simulations
    (``benchmarks/validate_perfusion.py``) this removed the one-frame Tmax bias and most of the
    CBF bias that the plain rectangle rule ``dt * C_a[i-j]`` (Østergaard 1996) and the linear
    weights of Wu et al. 2003 (Eq. 5) show at 1.5-2 s frame steps.
    """
    aif = np.asarray(aif, dtype=np.float64).reshape(-1)
    n = aif.size
    size = 2 * n if circulant else n
    kern = np.zeros(size)
    kern[:n] = aif
    kern[1:] += kern[:-1].copy()  # C_a[-1] = 0: before the first frame / in the zero padding
    kern *= 0.5
    diff = np.arange(size)[:, None] - np.arange(size)[None, :]
    if circulant:
        return dt_s * kern[diff % size]
    return dt_s * np.where(diff >= 0, kern[np.clip(diff, 0, size - 1)], 0.0)


def peak_and_time(
    k: np.ndarray, dt_s: float, *, circulant: bool, offset_samples: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Peak value and refined peak position (s) of the rows of ``k`` (shape ``(M, L)``).

    Sample ``j`` is placed at ``(j + offset_samples) dt_s`` (see `RESIDUE_SAMPLE_OFFSET`)."""
    m, length = k.shape
    idx = np.argmax(k, axis=1)
    rows = np.arange(m)
    peak = k[rows, idx]
    if circulant:
        prev, nxt = k[rows, (idx - 1) % length], k[rows, (idx + 1) % length]
        ok = np.ones(m, dtype=bool)
    else:
        prev = k[rows, np.maximum(idx - 1, 0)]
        nxt = k[rows, np.minimum(idx + 1, length - 1)]
        ok = (idx > 0) & (idx < length - 1)
    denom = prev - 2.0 * peak + nxt
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(ok & (denom < 0), 0.5 * (prev - nxt) / denom, 0.0)
    pos = idx + np.clip(delta, -0.5, 0.5)
    if circulant:
        pos = np.where(pos > length / 2, pos - length, pos)
    return peak, np.maximum(pos + offset_samples, 0.0) * dt_s


def _summary(k, dt_s, circulant, tmax, shift_s=None):
    """Peak of the rows of ``k`` and their Tmax: time of the maximum (``"peak"``) or of the
    half-maximum rise before it (``"onset"``, see `onset_time`), minus ``shift_s`` (one
    value per row, the calibrated bias of that time, `onset_calibration`) for ``"calibrated"``
    (the rise) and ``"peak_calibrated"`` (the maximum);
    residue samples placed at interval centres (`RESIDUE_SAMPLE_OFFSET`), times >= 0."""
    off = RESIDUE_SAMPLE_OFFSET
    peak, t = peak_and_time(k, dt_s, circulant=circulant, offset_samples=off)
    if tmax in ("onset", "calibrated"):
        t = onset_time(k, dt_s, circulant=circulant, offset_samples=off, clip=False)
    if shift_s is not None:
        t = np.maximum(t - shift_s, 0.0)
    elif tmax != "peak":
        t = np.maximum(t, 0.0)
    return peak, t


@dataclass(frozen=True)
class OnsetCalibration:
    """Bias of the half-maximum rise of truncated residues, per truncation rank.

    ``mtt_app[r]`` (increasing, s) and ``shift_s[r]`` (s) tabulate, for rank ``r``, how far the
    half-maximum rise (`onset_time`) of the truncated estimate of a residue
    ``H(t - d) exp(-(t - d) / tau)`` lies after its arrival ``d`` (negative: before), against
    that estimate's *apparent* transit time ``area ratio / maximum`` (see `onset_calibration`).
    """

    mtt_app: dict
    shift_s: dict

    def shifts(self, ranks: np.ndarray, mtt_app: np.ndarray) -> np.ndarray:
        """Per-voxel bias (s) from its rank and apparent MTT (s), clamped to the table ends."""
        out = np.zeros(ranks.shape, np.float64)
        for r in np.unique(ranks):
            sel = ranks == r
            out[sel] = np.interp(mtt_app[sel], self.mtt_app[int(r)], self.shift_s[int(r)])
        return out


def onset_calibration(
    u: np.ndarray,
    s: np.ndarray,
    vt: np.ndarray,
    aif: np.ndarray,
    dt_s: float,
    ranks,
    timing: str = "onset",
) -> OnsetCalibration:
    """Calibrate the half-maximum Tmax of truncated residues against the tracer arrival.

    Truncated SVD returns a low-passed residue. For a residue that jumps at the arrival ``d`` and
    then decays with transit time ``tau``, the low-passed maximum is lower than the jump, the
    more so the faster the decay relative to the width of the low-pass (the truncation), so the
    estimate crosses half its maximum *before* ``d`` (a pure step is halved exactly at the step);
    on the phantom the half-maximum Tmax was 0.4-0.8 s early in normal tissue and 1.4-3.3 s
    early in the penumbra. This bias is computed, for every rank used, from noise-free curves of
    this AIF through the same discrete model and truncation as the data (``c = A_Toeplitz k``,
    ``k`` = frame means of ``H(t - d) exp(-(t - d) / tau)``, ``d`` at four sub-frame offsets,
    averaged; ``tau`` 0.5-60 s) and tabulated against the estimate's apparent transit time
    ``(sum c / sum C_a) / max k``, which a voxel's estimate also has; the voxel's Tmax is its
    half-maximum rise minus the bias. A variant that instead crosses, per voxel, the fraction of
    the maximum that the estimate has at ``d`` (up to ~0.9 for fast decays) did about as well on
    the phantom (oSVD Tmax MAE: `isles` penumbra 2.21 vs 2.34 s, `tiny` normal tissue 0.81-0.91
    vs 0.84-0.97 s); the additive correction was kept because it leaves the plain estimate
    unchanged wherever the bias is zero and is easy to inspect.
    The one-compartment (exponential) residue is the calibration's assumption (Østergaard et
    al., MRM 1996; Fieselmann et al., Int J Biomed Imaging 2011).

    ``u, s, vt``: SVD of the convolution matrix (Toeplitz ``N x N`` or circulant ``2N x 2N``);
    ``aif`` ``(N,)``; ``ranks``: the truncation ranks to tabulate. ``timing="peak"`` tabulates
    the bias of the residue maximum instead (`peak_and_time`; it is late, the more so the slower
    the decay), for the ``"peak_calibrated"`` estimator.
    """
    n = aif.size
    length = vt.shape[1]
    circulant = length != n
    taus = _CAL_TAUS_S
    start = np.arange(length) * dt_s
    stop = start + dt_s
    k_true, arrival = [], []
    for sub in _CAL_SUBFRAME:
        d = (_CAL_FIRST_FRAME + sub) * dt_s
        lo = np.maximum(start, d)[None, :]
        t = taus[:, None]
        mean = t / dt_s * (np.exp(-(lo - d) / t) - np.exp(-(stop[None, :] - d) / t))
        k_true.append(np.where(stop[None, :] > lo, mean, 0.0))
        arrival.append(np.full(taus.size, d))
    k_true, arrival = np.concatenate(k_true), np.concatenate(arrival)
    curves = k_true[:, :n] @ convolution_matrix(aif, dt_s, circulant=False).T  # (P, N)
    area = curves.sum(axis=1) / float(np.sum(aif))
    r_max = max(int(r) for r in ranks)
    coef = (curves @ u[:n, :r_max]) / s[None, :r_max]
    mtts, shifts = {}, {}
    for r in sorted({int(r) for r in ranks}):
        k = coef[:, :r] @ vt[:r]
        kmax = np.maximum(k.max(axis=1), 1e-12)
        if timing == "peak":
            rise = peak_and_time(
                k, dt_s, circulant=circulant, offset_samples=RESIDUE_SAMPLE_OFFSET
            )[1]
        else:
            rise = onset_time(
                k, dt_s, circulant=circulant, offset_samples=RESIDUE_SAMPLE_OFFSET, clip=False
            )
        shift = (rise - arrival).reshape(len(_CAL_SUBFRAME), taus.size).mean(axis=0)
        mtt = (area / kmax).reshape(len(_CAL_SUBFRAME), taus.size).mean(axis=0)
        order = np.argsort(mtt)
        mtts[r], shifts[r] = mtt[order], shift[order]
    return OnsetCalibration(mtt_app=mtts, shift_s=shifts)


def oscillation_index(k: np.ndarray) -> np.ndarray:
    """Oscillation index of the rows of ``k`` (``(M, L)``), Wu et al. MRM 2003, Eq. 7."""
    second = np.abs(k[:, 2:] - 2.0 * k[:, 1:-1] + k[:, :-2]).sum(axis=1)
    fmax = np.max(k, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        oi = second / (k.shape[1] * fmax)
    return np.where(fmax > 0, oi, np.inf)


def deconvolve(
    tissue: np.ndarray,
    aif: np.ndarray,
    dt_s: float,
    *,
    method: str = "osvd",
    threshold: float | None = None,
    osvd_thresholds: tuple[float, ...] = DEFAULT_OSVD_THRESHOLDS,
    oscillation_limit: float = DEFAULT_OSCILLATION_LIMIT,
    noise_sd: float | np.ndarray | None = None,
    adaptive_range: tuple[float, float] = DEFAULT_ADAPTIVE_RANGE,
    tmax: str = "peak",
) -> ResidueSummary:
    """Deconvolve tissue curves by the AIF and summarise each residue.

    Parameters
    ----------
    tissue : (N, M) array
        Concentration curves (columns = voxels) on a uniform time grid of step ``dt_s``.
    aif : (N,) array
        Arterial concentration on the same grid.
    dt_s : float
        Frame step in seconds.
    method : {"ssvd", "bcsvd", "osvd"}
    threshold : float, optional
        Truncation for ssvd/bcsvd as a fraction of the largest singular value
        (default 0.2 for ssvd, 0.1 for bcsvd).
    osvd_thresholds, oscillation_limit
        oSVD candidate truncations and oscillation-index limit.
    noise_sd : float or (M,) array, optional
        Noise SD of the tissue curves (same units). When given, ssvd/bcsvd truncate per voxel
        by the discrepancy principle instead of a fixed threshold (see `discrepancy_ranks`),
        within ``adaptive_range`` (loosest, strictest fraction of the largest singular value);
        oSVD then never regularises less than that rank.
    tmax : {"onset", "calibrated", "peak", "peak_calibrated"}
        ``peak_time_s`` = time of the half-maximum rise before the residue maximum
        (``"onset"``, `onset_time`), the same minus its truncation bias for this voxel's rank
        and apparent MTT (``"calibrated"``, `onset_calibration`), the time of the maximum
        (``"peak"``, parabolic refinement), or that time minus its truncation bias
        (``"peak_calibrated"``).
    """
    if tmax not in TMAX_ESTIMATORS:
        raise InputError(f"tmax must be one of {', '.join(TMAX_ESTIMATORS)}; got {tmax!r}")
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    tissue = np.asarray(tissue, dtype=np.float32)
    n, m = tissue.shape
    aif = np.asarray(aif, dtype=np.float64).reshape(-1)
    if aif.size != n:
        raise InputError(f"AIF has {aif.size} samples but tissue curves have {n}")
    if not np.any(aif > 0):
        raise InputError("AIF has no positive enhancement; cannot deconvolve")
    circulant = method != "ssvd"
    u, s, vt = np.linalg.svd(convolution_matrix(aif, dt_s, circulant=circulant))
    if method == "osvd":
        ths = tuple(sorted(osvd_thresholds, reverse=True))  # most regularised first
    else:
        ths = (DEFAULT_THRESHOLD[method] if threshold is None else float(threshold),)
    if noise_sd is not None:
        return _deconvolve_adaptive(
            tissue,
            aif,
            u,
            s,
            vt,
            dt_s,
            circulant,
            noise_sd,
            adaptive_range,
            method,
            oscillation_limit,
            tmax,
        )
    ranks = [max(int(np.sum(s >= th * s[0])), 1) for th in ths]
    r_max = max(ranks)
    cal = None
    if tmax in _CALIBRATED:
        cal = onset_calibration(u, s, vt, aif, dt_s, ranks, timing=_CALIBRATED[tmax])
    # k = c U_r diag(1/s_r) V_r^T; c is zero past sample n, so only U[:n] is needed, and the
    # components of a looser threshold extend those of a stricter one (nested truncations).
    proj_mat = np.ascontiguousarray(u[:n, :r_max] / s[None, :r_max], np.float32)
    vt32 = np.ascontiguousarray(vt[:r_max], np.float32)
    peak = np.zeros(m, np.float32)
    tpeak = np.zeros(m, np.float32)
    used = np.zeros(m, np.float32)
    for start in range(0, m, _CHUNK):
        sl = slice(start, min(start + _CHUNK, m))
        proj = np.ascontiguousarray(tissue[:, sl].T) @ proj_mat  # (voxels, r_max)
        k, which = _solve_chunk(proj, vt32, ranks, oscillation_limit)
        shift = None
        if cal is not None:
            shift = _onset_shifts(cal, np.asarray(ranks)[which], k, tissue[:, sl], aif)
        peak[sl], tpeak[sl] = _summary(k, dt_s, circulant, tmax, shift)
        used[sl] = np.asarray(ths, np.float32)[which]
    return ResidueSummary(peak=peak, peak_time_s=tpeak, threshold=used)


def _onset_shifts(cal, ranks, k, tissue, aif):
    """Per-voxel half-maximum rise bias (`onset_calibration`) from its rank and apparent MTT."""
    area = tissue.sum(axis=0, dtype=np.float64) / float(np.sum(aif))
    kmax = k.max(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mtt_app = np.where(kmax > 0, area / kmax, 0.0)
    return cal.shifts(ranks, mtt_app)


def _solve_chunk(proj, vt, ranks, limit):
    """Residues of one chunk and, per voxel, the index of the truncation kept: for several
    thresholds the least regularised residue whose oscillation index is <= ``limit`` (the
    strictest otherwise).

    The residue ``k`` and its second difference (for the oscillation index, Wu et al. 2003,
    Eq. 7) are both linear in the projection, so each looser threshold only adds the new
    components' contributions."""
    k = proj[:, : ranks[0]] @ vt[: ranks[0]]
    which = np.zeros(proj.shape[0], np.intp)
    if len(ranks) == 1:
        return k, which
    chosen = k.copy()  # the residue kept per voxel
    vt_d2 = vt[:, 2:] - 2.0 * vt[:, 1:-1] + vt[:, :-2]
    d2 = proj[:, : ranks[0]] @ vt_d2[: ranks[0]]
    for i in range(1, len(ranks)):
        lo, hi = ranks[i - 1], ranks[i]
        if hi > lo:
            k += proj[:, lo:hi] @ vt[lo:hi]
            d2 += proj[:, lo:hi] @ vt_d2[lo:hi]
        fmax = k.max(axis=1)
        ok = np.flatnonzero((np.abs(d2).sum(axis=1) <= limit * k.shape[1] * fmax) & (fmax > 0))
        chosen[ok], which[ok] = k[ok], i
    return chosen, which


def discrepancy_ranks(
    proj: np.ndarray, total_sq: np.ndarray, bound_sq: np.ndarray, r_lo: int, r_hi: int
) -> np.ndarray:
    """Per-voxel truncation rank by Morozov's discrepancy principle.

    ``proj`` ``(M, R)`` are the data coefficients ``U^T c`` in decreasing singular-value order,
    ``total_sq`` ``(M,)`` ``||c||^2`` and ``bound_sq`` ``(M,)`` the expected squared norm of the
    noise (``N sigma^2``). The TSVD residual of rank ``r`` is ``||c||^2 - sum_{i<r} beta_i^2``;
    the smallest ``r`` in ``[r_lo, r_hi]`` whose residual is within the noise is kept (Morozov,
    Soviet Math Dokl 1966; for perfusion deconvolution, Sourbron et al., MRM 2004): the data are
    fitted down to the noise level and no further, so the regularisation follows each voxel's
    SNR instead of a fixed fraction (compare the SNR-adaptive threshold of Liu et al., MRM 1999).
    """
    resid = total_sq[:, None] - np.cumsum(proj.astype(np.float64) ** 2, axis=1)  # rank 1..R
    within = resid <= bound_sq[:, None]
    first = np.where(within.any(axis=1), within.argmax(axis=1) + 1, proj.shape[1])
    return np.clip(first, r_lo, r_hi)


def _deconvolve_adaptive(
    tissue, aif, u, s, vt, dt_s, circulant, noise_sd, rng_th, method, limit, tmax
):
    """Per-voxel discrepancy-principle truncation (see `discrepancy_ranks`)."""
    n, m = tissue.shape
    r_hi = max(int(np.sum(s >= min(rng_th) * s[0])), 1)
    r_lo = max(int(np.sum(s >= max(rng_th) * s[0])), 1)
    noise = np.broadcast_to(np.asarray(noise_sd, np.float64), (m,))
    proj_u = np.ascontiguousarray(u[:n, :r_hi], np.float32)
    inv_s = (1.0 / s[:r_hi]).astype(np.float32)
    vt32 = np.ascontiguousarray(vt[:r_hi], np.float32)
    cols = np.arange(r_hi)
    peak, tpeak, used = (np.zeros(m, np.float32) for _ in range(3))
    for start in range(0, m, _CHUNK):
        sl = slice(start, min(start + _CHUNK, m))
        c = np.ascontiguousarray(tissue[:, sl].T)
        beta = c @ proj_u
        total = np.einsum("ij,ij->i", c, c, dtype=np.float64)
        ranks = discrepancy_ranks(beta, total, n * noise[sl] ** 2, r_lo, r_hi)
        k = ((beta * inv_s) * (cols[None] < ranks[:, None])) @ vt32
        if method == "osvd":
            ranks = _osvd_tighten(k, beta * inv_s, vt32, ranks, r_lo, limit)
            k = ((beta * inv_s) * (cols[None] < ranks[:, None])) @ vt32
        shift = None
        if tmax in _CALIBRATED:
            cal = onset_calibration(u, s, vt, aif, dt_s, np.unique(ranks), _CALIBRATED[tmax])
            shift = _onset_shifts(cal, ranks, k, tissue[:, sl], aif)
        peak[sl], tpeak[sl] = _summary(k, dt_s, circulant, tmax, shift)
        used[sl] = s[ranks - 1] / s[0]
    return ResidueSummary(peak=peak, peak_time_s=tpeak, threshold=used)


def _osvd_tighten(k, coef, vt, ranks, r_lo, limit, step=0.8):
    """Lower the rank of voxels whose oscillation index exceeds ``limit`` (Wu et al. 2003)."""
    ranks = ranks.copy()
    cols = np.arange(vt.shape[0])
    bad = np.flatnonzero(oscillation_index(k) > limit)
    while bad.size:
        ranks[bad] = np.maximum((ranks[bad] * step).astype(int), r_lo)
        kb = (coef[bad] * (cols[None] < ranks[bad, None])) @ vt
        still = (oscillation_index(kb) > limit) & (ranks[bad] > r_lo)
        bad = bad[still]
    return ranks


def onset_time(
    k: np.ndarray,
    dt_s: float,
    *,
    circulant: bool,
    fraction: float = 0.5,
    offset_samples: float = 0.0,
    clip: bool = True,
) -> np.ndarray:
    """Time (s) at which the rows of ``k`` ``(M, L)`` first reach ``fraction`` of their maximum,
    searching backwards from the maximum (linear interpolation between samples).

    A true residue ``F R(t - d)`` is non-increasing after its arrival ``d``, so its maximum is at
    ``d``; the truncated-SVD estimate is a low-passed copy whose maximum lies late (by ~1-2 s on
    the phantom at 10-20 % truncation) while its half-maximum rise stays near the jump (a
    symmetric kernel halves a pure step exactly at the step; for a fast decay the smeared maximum
    is lower, so the rise is somewhat early: -0.6 to -0.85 s for MTT 4 s and a Gaussian of 1.5 s,
    whose maximum is +1.5 to +1.8 s late, `tests/perfusion/test_deconvolution.py`).
    ``offset_samples`` is added to the position (in samples) before clipping at 0 (``clip``;
    unclipped, circulant positions past the middle are negative times)."""
    m, length = k.shape
    rows = np.arange(m)
    idx = np.argmax(k, axis=1)
    half = fraction * k[rows, idx]
    span = length // 2 if circulant else length
    j = np.arange(1, span)[None, :]
    pos = idx[:, None] - j
    ok = (pos >= 0) if not circulant else np.ones_like(pos, dtype=bool)
    vals = np.where(ok, k[rows[:, None], pos % length], -np.inf)
    below = vals < half[:, None]
    first = np.where(below.any(axis=1), below.argmax(axis=1) + 1, 0)  # samples before the max
    lo = k[rows, (idx - first) % length]
    hi = k[rows, (idx - first + 1) % length]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(hi > lo, (half - lo) / (hi - lo), 1.0)
    t = idx - first + np.clip(frac, 0.0, 1.0)
    t = np.where(first == 0, idx, t)
    if circulant:
        t = np.where(t > length / 2, t - length, t)
    t = (t + offset_samples) * dt_s
    return np.maximum(t, 0.0) if clip else t
