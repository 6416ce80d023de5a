"""Intensity transforms: HU windows, z-score within a mask, percentile scaling.

Each function is pure (returns a new float32 array, never modifies its input) and named after
the step it records; CT stays in HU until one of these is called.
"""

from __future__ import annotations

import numpy as np

#: ``fu2bl`` input windows (van Voorst et al., AJNR 2022): brain/infarct and hemorrhage/skull.
FU2BL_WINDOWS_HU: tuple[tuple[float, float], ...] = ((0.0, 100.0), (100.0, 1000.0))


def window_hu(
    array: np.ndarray, window_hu: tuple[float, float], *, out_range: tuple[float, float] = (-1, 1)
) -> np.ndarray:
    """Clip HU to ``window_hu = (low, high)`` and map it linearly onto ``out_range``.

    ``low`` maps to ``out_range[0]`` and ``high`` to ``out_range[1]``; float32 output, same shape.
    """
    lo, hi = (float(v) for v in window_hu)
    if not hi > lo:
        raise ValueError(f"window_hu must be (low, high) with high > low; got {window_hu}")
    a, b = (float(v) for v in out_range)
    clipped = np.clip(np.asarray(array, dtype=np.float32), lo, hi)
    return ((clipped - lo) / (hi - lo) * (b - a) + a).astype(np.float32)


def hu_windows_to_channels(
    array: np.ndarray,
    windows_hu: tuple[tuple[float, float], ...] = FU2BL_WINDOWS_HU,
    *,
    out_range: tuple[float, float] = (-1, 1),
) -> np.ndarray:
    """Stack one `window_hu` channel per window: shape ``(len(windows_hu), *array.shape)``.

    The default reproduces the ``fu2bl`` follow-up input: [0, 100] HU and [100, 1000] HU, each
    to [-1, 1] (van Voorst et al., AJNR 2022, Methods).
    """
    if len(windows_hu) == 0:
        raise ValueError("windows_hu: at least one window is needed")
    return np.stack([window_hu(array, w, out_range=out_range) for w in windows_hu])


def zscore_in_mask(
    array: np.ndarray, mask: np.ndarray, *, eps: float = 1e-6, outside: float | None = 0.0
) -> np.ndarray:
    """``(array - mean) / std`` with mean and std taken over ``mask`` (Clèrigues et al., 2019).

    Voxels outside the mask are set to ``outside`` (or z-scored too when ``outside is None``).
    A constant image inside the mask gives zeros (std floored at ``eps``).
    """
    array = np.asarray(array, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != array.shape[-mask.ndim :]:
        raise ValueError(f"mask shape {mask.shape} does not match array shape {array.shape}")
    values = array[..., mask] if array.ndim > mask.ndim else array[mask]
    if values.size == 0:
        raise ValueError("mask is empty: cannot compute a z-score over it")
    mean = float(values.mean())
    std = max(float(values.std()), eps)
    out = (array - mean) / std
    if outside is not None:
        out = np.where(mask, out, np.float32(outside))
    return out.astype(np.float32)


def percentile_scale(
    array: np.ndarray,
    *,
    percentiles: tuple[float, float] = (1.0, 99.0),
    mask: np.ndarray | None = None,
    out_range: tuple[float, float] = (0.0, 1.0),
    clip: bool = True,
) -> np.ndarray:
    """Map the ``percentiles`` (taken over ``mask`` when given) linearly onto ``out_range``.

    E.g. ``percentiles=(0, 99)`` with the default range is the min / 99th-percentile DWI scaling
    of Wang et al. (MedIA 2020). Values beyond are clipped unless ``clip=False``.
    """
    array = np.asarray(array, dtype=np.float32)
    values = array if mask is None else array[np.asarray(mask, dtype=bool)]
    if values.size == 0:
        raise ValueError("mask is empty: cannot compute percentiles over it")
    lo, hi = (float(v) for v in np.percentile(values, percentiles))
    a, b = (float(v) for v in out_range)
    if hi <= lo:
        return np.full(array.shape, a, dtype=np.float32)
    out = (array - lo) / (hi - lo) * (b - a) + a
    if clip:
        out = np.clip(out, min(a, b), max(a, b))
    return out.astype(np.float32)
