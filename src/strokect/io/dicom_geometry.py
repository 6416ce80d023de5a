"""Slice geometry of a DICOM series: sorting, gantry-tilt and irregular-spacing correction.

A series is a stack of parallel image planes. With row direction ``r`` and column direction
``c`` (ImageOrientationPatient), the slice normal is ``n = r x c``; slice ``k`` at
ImagePositionPatient ``p_k`` lies at distance ``d_k = p_k . n`` along the normal and is shifted in
its own plane by ``u_k = (p_k - p_0) . r`` and ``v_k = (p_k - p_0) . c`` relative to the first
slice. A plain series has ``u_k = v_k = 0`` and equal steps of ``d``. A gantry-tilted series has
in-plane shifts growing with ``k`` (slice centres move along the table, not along ``n``); an
irregular series has unequal steps of ``d``.

Both are corrected by one resampling onto an orthogonal grid with axes ``(r, c, n)``:

1. every slice is shifted in-plane by ``(-u_k, -v_k)`` (bilinear) onto a common in-plane grid that
   covers the union of all slices (so no anatomy is cut off by the shear);
2. the stack is interpolated linearly along ``n`` onto equally spaced planes from the first to
   the last slice, with the step closest to the **median** slice step (gaps excluded) that
   divides that span
   (``span / round(span / median)``), so every acquired slice lies inside the grid: no slice is
   ever dropped.

A **gap** is a step more than 1.5x the largest of its neighbouring steps (a slice missing from a
regular run; a series made of two blocks with different steps has none). Gaps are listed in
`SliceGrid.gaps`; the reader refuses them unless asked to interpolate.

Every output voxel centre is then at its true LPS world position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class SliceGrid:
    """Output grid of a series and whether (and why) it must be resampled."""

    direction: np.ndarray  # ITK 3x3, columns r, c, n
    origin: np.ndarray  # LPS mm of voxel (0, 0, 0)
    spacing_mm: tuple[float, float, float]  # (z, y, x)
    shape: tuple[int, int, int]  # (z, y, x)
    dist_mm: np.ndarray  # (N,) input slice distances along n, increasing
    shift_rc_px: np.ndarray  # (N, 2) in-plane shift of each input slice, pixels (row, col)
    tilted: bool
    irregular: bool
    tilt_deg: float
    step_range_mm: tuple[float, float]
    gaps: list[tuple[float, float, float]]  # (distance before, distance after, usual step) mm

    def planes_in_gaps(self) -> list[float]:
        """Output plane distances (mm along the normal) that fall inside a gap: interpolated."""
        d0, step = float(self.dist_mm[0]), self.spacing_mm[0]
        planes = d0 + step * np.arange(self.shape[0])
        tol = 0.05 * step
        return [
            round(float(p), 3) for p in planes for lo, hi, _ in self.gaps if lo + tol < p < hi - tol
        ]

    @property
    def needs_resampling(self) -> bool:
        return self.tilted or self.irregular


def plan_grid(
    positions: np.ndarray,
    orientation: np.ndarray,
    pixel_spacing: tuple[float, float],
    rows: int,
    cols: int,
    *,
    default_step_mm: float = 1.0,
) -> SliceGrid:
    """Orthogonal output grid for slices at ``positions`` (N, 3) LPS mm sorted along the normal.

    Parameters
    ----------
    positions
        ImagePositionPatient of each slice, ``(N, 3)``, sorted by distance along the normal.
    orientation
        ImageOrientationPatient ``(6,)``.
    pixel_spacing
        ``(row spacing, column spacing)`` in mm, i.e. ``(y, x)``.
    rows, cols
        Image matrix.
    default_step_mm
        Slice step used when there is a single slice (its thickness, if known).
    """
    row = np.asarray(orientation[:3], float)
    row /= np.linalg.norm(row)
    col = np.asarray(orientation[3:], float)
    col -= (col @ row) * row
    col /= np.linalg.norm(col)
    normal = np.cross(row, col)
    positions = np.asarray(positions, float).reshape(-1, 3)
    dy, dx = (float(s) for s in pixel_spacing)
    rel = positions - positions[0]
    dist = positions @ normal
    u, v = rel @ row, rel @ col
    steps = np.diff(dist)
    gaps = find_gaps(dist)
    gap_index = _gap_indices(steps)
    usual = np.delete(steps, gap_index) if len(gap_index) < steps.size else steps
    step = float(np.median(usual)) if steps.size else float(default_step_mm)
    tol_mm = 0.01 * step + 1e-3
    irregular = bool(steps.size and np.max(np.abs(steps - step)) > tol_mm)
    inplane = np.hypot(u, v)
    tilted = bool(np.max(inplane) > 0.1 * min(dx, dy))
    span = dist[-1] - dist[0]
    tilt_deg = float(math.degrees(math.atan2(inplane[-1], span))) if span > 0 else 0.0
    if not tilted:
        u, v = np.zeros_like(u), np.zeros_like(v)
    u0, v0 = float(u.min()), float(v.min())
    out_rows = rows + math.ceil((v.max() - v0) / dy - 1e-6)
    out_cols = cols + math.ceil((u.max() - u0) / dx - 1e-6)
    if irregular or tilted:  # equal planes from the first to the last slice: none dropped
        n_steps = max(1, round(span / step)) if span > 0 else 0
        step = span / n_steps if n_steps else step
        n_slices = n_steps + 1
    else:
        n_slices = len(dist)
        step = span / (n_slices - 1) if n_slices > 1 else step
    origin = positions[0] + u0 * row + v0 * col
    return SliceGrid(
        direction=np.column_stack([row, col, normal]),
        origin=origin,
        spacing_mm=(float(step), dy, dx),
        shape=(n_slices, out_rows, out_cols),
        dist_mm=dist,
        shift_rc_px=np.column_stack([(v - v0) / dy, (u - u0) / dx]),
        tilted=tilted,
        irregular=irregular,
        tilt_deg=tilt_deg,
        step_range_mm=(float(steps.min()), float(steps.max())) if steps.size else (step, step),
        gaps=gaps,
    )


def _largest_neighbour(steps: np.ndarray, k: int) -> float:
    return float(max(steps[j] for j in (k - 1, k + 1) if 0 <= j < len(steps)))


def _gap_indices(steps: np.ndarray, factor: float = 1.5) -> list[int]:
    """Indices of the steps more than ``factor`` x the largest neighbouring step."""
    return [
        k
        for k in range(len(steps))
        if len(steps) > 1 and steps[k] > factor * _largest_neighbour(steps, k)
    ]


def find_gaps(dist_mm: np.ndarray) -> list[tuple[float, float, float]]:
    """Gaps of sorted slice distances: ``(before, after, largest neighbouring step)`` in mm."""
    dist = np.asarray(dist_mm, float)
    steps = np.diff(dist)
    return [
        (float(dist[k]), float(dist[k + 1]), _largest_neighbour(steps, k))
        for k in _gap_indices(steps)
    ]


def resample_stack(stack: np.ndarray, grid: SliceGrid, *, fill_value: float) -> np.ndarray:
    """Resample ``stack`` ``(N, rows, cols)`` (slices sorted as ``grid.dist_mm``) onto ``grid``.

    In-plane shifts use bilinear interpolation; the slice axis is interpolated linearly between
    the two nearest input slices. Voxels outside every input slice get ``fill_value``.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``grid.shape``.
    """
    n_in = stack.shape[0]
    out_shape = grid.shape[1:]
    shifted = np.empty((n_in, *out_shape), dtype=np.float32)
    for k in range(n_in):
        image = stack[k].astype(np.float32, copy=False)
        for axis in (0, 1):
            image = shift_axis(
                image, float(grid.shift_rc_px[k, axis]), out_shape[axis], axis, fill_value
            )
        shifted[k] = image
    return interpolate_slices(
        shifted, grid.dist_mm, grid.dist_mm[0], grid.spacing_mm[0], grid.shape[0]
    )


def shift_axis(image: np.ndarray, shift_px: float, n_out: int, axis: int, fill_value: float):
    """Linear resampling along ``axis``: output index ``o`` takes the input at ``o - shift_px``.

    The output has ``n_out`` samples along ``axis``; samples outside the input get ``fill_value``.
    """
    n_in = image.shape[axis]
    if shift_px == 0.0 and n_out == n_in:
        return image
    pos = np.arange(n_out) - shift_px
    lo = np.floor(pos).astype(int)
    frac = (pos - lo).astype(np.float32)
    moved = np.moveaxis(image, axis, 0)
    below = moved[np.clip(lo, 0, n_in - 1)]
    above = moved[np.clip(lo + 1, 0, n_in - 1)]
    weight = frac.reshape(-1, *([1] * (moved.ndim - 1)))
    out = below + weight * (above - below)
    out[(pos < -1e-6) | (pos > n_in - 1 + 1e-6)] = fill_value
    return np.moveaxis(out, 0, axis)


def interpolate_slices(
    stack: np.ndarray, dist_mm: np.ndarray, start_mm: float, step_mm: float, n_out: int
) -> np.ndarray:
    """Linear interpolation of ``stack`` ``(N, ...)`` at ``dist_mm`` onto ``start + step * m``."""
    targets = start_mm + step_mm * np.arange(n_out)
    upper = np.clip(np.searchsorted(dist_mm, targets, side="right"), 1, len(dist_mm) - 1)
    out = np.empty((n_out, *stack.shape[1:]), dtype=np.float32)
    if len(dist_mm) == 1:
        out[:] = stack[0]
        return out
    for m, (t, hi) in enumerate(zip(targets, upper)):
        lo = hi - 1
        w = float(np.clip((t - dist_mm[lo]) / (dist_mm[hi] - dist_mm[lo]), 0.0, 1.0))
        if w == 0.0:
            out[m] = stack[lo]
        elif w == 1.0:
            out[m] = stack[hi]
        else:
            out[m] = (1.0 - w) * stack[lo] + w * stack[hi]
    return out
