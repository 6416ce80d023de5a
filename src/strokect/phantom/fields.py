"""Smooth random fields and shape primitives evaluated on the head-frame grid."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from strokect.phantom.geometry import HeadGrid


def smooth_field(
    rng: np.random.Generator, grid: HeadGrid, *, wavelength_mm: float, dtype=np.float32
) -> np.ndarray:
    """Band-limited Gaussian random field with unit standard deviation and zero mean.

    White noise is drawn on a coarse lattice of pitch ``wavelength_mm / 4``, smoothed with a
    Gaussian of one lattice step and interpolated (cubic) onto ``grid``. The number of random
    draws depends only on the grid's physical extent, not on the thread count.
    """
    pitch = wavelength_mm / 4.0
    coarse_shape = tuple(
        int(np.ceil((n - 1) * s / pitch)) + 4 for n, s in zip(grid.shape, grid.spacing_mm)
    )
    noise = rng.standard_normal(coarse_shape)
    noise = ndimage.gaussian_filter(noise, 1.0, mode="wrap")
    noise = (noise / (noise.std() + 1e-12)).astype(np.float32)
    # head-grid voxel index i -> coarse lattice index 1.5 + i * spacing / pitch
    axes = [1.5 + np.arange(n) * s / pitch for n, s in zip(grid.shape, grid.spacing_mm)]
    out = separable_cubic(noise, axes)
    return out.astype(dtype)


def separable_cubic(coarse: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """Interpolate ``coarse`` at the outer product of 1D fractional index ``axes`` (cubic)."""
    out = coarse
    for axis, pos in enumerate(axes):
        out = _cubic_along(out, pos, axis)
    return out


def _cubic_along(arr: np.ndarray, pos: np.ndarray, axis: int) -> np.ndarray:
    i0 = np.floor(pos).astype(int)
    t = (pos - i0).astype(np.float32)
    # Catmull-Rom weights
    w = [
        0.5 * (-(t**3) + 2 * t**2 - t),
        0.5 * (3 * t**3 - 5 * t**2 + 2),
        0.5 * (-3 * t**3 + 4 * t**2 + t),
        0.5 * (t**3 - t**2),
    ]
    n = arr.shape[axis]
    shape = [1] * arr.ndim
    shape[axis] = -1
    out = None
    for j, wj in enumerate(w):
        idx = np.clip(i0 - 1 + j, 0, n - 1)
        taken = np.take(arr, idx, axis=axis)
        taken *= wj.reshape(shape)  # in place: same values as taken * w, one allocation less
        if out is None:
            out = taken
        else:
            out += taken
    return out


def ellipsoid_radius(
    grid_axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    centre: tuple[float, float, float],
    half_axes: tuple[float, float, float],
) -> np.ndarray:
    """Normalised radius ``sqrt(sum(((q - c) / a)^2))`` on the grid (1 on the surface).

    ``centre`` and ``half_axes`` are in head-frame (x, y, z) mm; the result has the grid shape.
    """
    z, y, x = grid_axes
    cx, cy, cz = centre
    ax, ay, az = half_axes
    return np.sqrt(
        ((x[None, None, :] - cx) / ax) ** 2
        + ((y[None, :, None] - cy) / ay) ** 2
        + ((z[:, None, None] - cz) / az) ** 2
    )


def segment_distance(points: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Distance (mm) of ``points (..., 3)`` to the segment ``p0 -> p1``."""
    d = p1 - p0
    t = np.clip(((points - p0) @ d) / float(d @ d), 0.0, 1.0)
    return np.linalg.norm(points - (p0 + t[..., None] * d), axis=-1)
