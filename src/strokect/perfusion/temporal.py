"""Temporal tools on raw 4D CTP: temporal MIP, perfusion window T_s/T_e, uniform resampling.

These implement the low-level feature and the temporal cropping of Wang, Song et al., "Automatic
ischemic stroke lesion segmentation from computed tomography perfusion images by image synthesis
and attention-based deep neural networks", Medical Image Analysis 2020 (seed paper 004), Sec. 3.1:

- temporal MIP ``F_l = max_t I(x, y, z, t)``;
- ``q(t) = sum_{x,y,z} I(x, y, z, t)``;
- ``T_s = min{t | 0 <= t < T - K, sum_{k=0}^{K-1} H(q'(t + k)) = K}`` (first derivative positive
  on the K consecutive points starting at t);
- ``T_e = max{t | K <= t < T, sum_{k=0}^{K-1} H(q'(t - k)) = 0}`` (first derivative negative on
  the K consecutive points ending at t);
- crop ``[T_s, T_e]`` and resample uniformly to ``C_e`` frames (``K = 5``, ``C_e = 6`` in the paper).

The paper does not say how ``q'`` is discretised; we use ``numpy.gradient`` (central differences,
one-sided at the two ends), which defines ``q'`` on every frame, and ``H(0) = 0`` for the start
rule (a flat step is not a rise) and "not negative" for the end rule (a flat step is not a fall).
"""

from __future__ import annotations

import numpy as np

from strokect.errors import InputError

#: Paper 004 defaults.
PAPER_K = 5
PAPER_CE = 6


def temporal_mip(series: np.ndarray) -> np.ndarray:
    """Temporal maximum intensity projection ``F_l`` of a ``(T, Z, Y, X)`` series -> ``(Z, Y, X)``."""
    series = np.asarray(series)
    if series.ndim != 4:
        raise InputError(f"temporal_mip: expected a (t, z, y, x) array; got shape {series.shape}")
    return series.max(axis=0)


def accumulated_intensity(series: np.ndarray) -> np.ndarray:
    """``q(t)``: sum over space of a ``(T, ...)`` series, shape ``(T,)`` (float64)."""
    series = np.asarray(series)
    return series.reshape(series.shape[0], -1).sum(axis=1, dtype=np.float64)


def perfusion_window(q: np.ndarray, *, k: int = PAPER_K) -> tuple[int, int]:
    """Start and end frame ``(T_s, T_e)`` of the perfusion stage from the curve ``q(t)``.

    Parameters
    ----------
    q : (T,) array
        Accumulated intensity per frame (see `accumulated_intensity`).
    k : int
        Number of consecutive derivative samples that must rise (start) or fall (end); 5 in the paper.

    Returns
    -------
    (T_s, T_e) : tuple of int
        Frame indices, ``T_s < T_e``.

    Raises
    ------
    InputError
        When no frame satisfies the start rule, none satisfies the end rule, or ``T_e <= T_s``
        (no clear bolus passage in the series).
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    n = q.size
    if k < 1:
        raise InputError(f"perfusion_window: k must be >= 1; got {k}")
    if n < k + 1 or n < 2:
        raise InputError(f"perfusion_window: {n} frames are too few for k={k}")
    dq = np.gradient(q)
    rising = (dq > 0).astype(np.int64)
    falling = (dq < 0).astype(np.int64)
    # start: t in [0, T-K), all of dq[t..t+K-1] > 0
    run_up = np.convolve(
        rising, np.ones(k, dtype=np.int64), mode="valid"
    )  # run_up[t] = sum dq[t:t+k]
    starts = np.flatnonzero(run_up[: max(n - k, 0)] == k)
    # end: t in [K, T), all of dq[t-K+1..t] < 0  -> run_down[t-k+1] == k
    run_down = np.convolve(falling, np.ones(k, dtype=np.int64), mode="valid")
    ends = np.flatnonzero(run_down == k) + (k - 1)
    ends = ends[ends >= k]
    if starts.size == 0 or ends.size == 0:
        raise InputError(
            f"no clear bolus in the series: q(t) has no {k} consecutive "
            f"{'rising' if starts.size == 0 else 'falling'} frames"
        )
    t_s, t_e = int(starts[0]), int(ends[-1])
    if t_e <= t_s:
        raise InputError(
            f"no clear bolus in the series: perfusion end frame {t_e} is not after start frame {t_s}"
        )
    return t_s, t_e


def resample_frames(series: np.ndarray, n_frames: int) -> np.ndarray:
    """Linearly resample a ``(T, ...)`` series to ``n_frames`` uniformly spaced frames.

    The first and last output frames equal the first and last input frames.
    """
    series = np.asarray(series)
    if n_frames < 1:
        raise InputError(f"resample_frames: n_frames must be >= 1; got {n_frames}")
    t = series.shape[0]
    pos = np.linspace(0.0, t - 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    lo = np.clip(np.floor(pos).astype(int), 0, t - 1)
    hi = np.clip(lo + 1, 0, t - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (series.ndim - 1))
    out = series[lo] * (1.0 - w) + series[hi] * w
    return out.astype(np.result_type(series.dtype, np.float32), copy=False)


def crop_perfusion_window(
    series: np.ndarray, *, k: int = PAPER_K, n_frames: int = PAPER_CE
) -> tuple[np.ndarray, tuple[int, int]]:
    """``I*``: crop ``[T_s, T_e]`` (inclusive) and resample to ``n_frames`` (``C_e``) frames.

    Returns the ``(C_e, Z, Y, X)`` array and ``(T_s, T_e)``.
    """
    series = np.asarray(series)
    if series.ndim < 2:
        raise InputError(f"crop_perfusion_window: expected (t, ...) data; got shape {series.shape}")
    t_s, t_e = perfusion_window(accumulated_intensity(series), k=k)
    return resample_frames(series[t_s : t_e + 1], n_frames), (t_s, t_e)
