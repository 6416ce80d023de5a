"""Resampling between grids: to a target spacing, onto a reference grid, through a transform.

Going to a working spacing and back is exact in geometry: `resample_onto` returns a volume built
with ``reference.with_array``, so it has the reference's shape, spacing, origin, direction and
NIfTI source header, and a mask written from it overlays the original scan exactly.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import SimpleITK as sitk

from strokect.io.convert import volume_to_sitk
from strokect.io.volume import Volume

INTERPOLATORS = {
    "linear": sitk.sitkLinear,
    "bspline": sitk.sitkBSpline,
    "nearest": sitk.sitkNearestNeighbor,
}


class _HasSitk(Protocol):
    def to_sitk(self) -> sitk.Transform: ...


def _interp(name: str) -> int:
    if name not in INTERPOLATORS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATORS)}; got {name!r}")
    return INTERPOLATORS[name]


def _resample_3d(volume: Volume, reference: sitk.Image, tx, interp: int, fill: float) -> np.ndarray:
    image = volume_to_sitk(volume)
    out = sitk.Resample(image, reference, tx, interp, fill, image.GetPixelID())
    return sitk.GetArrayFromImage(out)


def _each_frame(volume: Volume, fn) -> np.ndarray:
    if not volume.is_4d:
        return fn(volume)
    return np.stack([fn(volume.frame(i)) for i in range(volume.n_frames)])


def resample_to_spacing(
    volume: Volume,
    spacing_mm: tuple[float, float, float],
    *,
    interpolation: str = "linear",
    fill_value: float | None = None,
) -> Volume:
    """``volume`` on a grid of ``spacing_mm`` (z, y, x) covering the same field of view.

    The new grid keeps the origin (centre of voxel 0) and direction; its shape is
    ``round(shape * old_spacing / new_spacing)`` (at least 1). 4D volumes are resampled frame by
    frame. ``metadata["resampled_from"]`` records the original grid; use `resample_onto` with
    the original volume as reference to go back.
    """
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"spacing_mm must be 3 positive numbers (z, y, x); got {spacing_mm}")
    interp = _interp(interpolation)
    fill = float(np.min(volume.array)) if fill_value is None else float(fill_value)
    shape = tuple(
        max(1, round(n * s / t))
        for n, s, t in zip(volume.spatial_shape, volume.spacing_mm, spacing)
    )
    ref = sitk.Image([int(v) for v in shape[::-1]], sitk.sitkUInt8)
    ref.SetSpacing(spacing[::-1])
    ref.SetOrigin(volume.origin)
    ref.SetDirection(tuple(volume.direction.ravel()))
    array = _each_frame(volume, lambda v: _resample_3d(v, ref, sitk.Transform(), interp, fill))
    return Volume(
        array=array,
        spacing_mm=spacing,
        origin=volume.origin,
        direction=volume.direction.copy(),
        time_s=None if volume.time_s is None else volume.time_s.copy(),
        metadata={
            **volume.metadata,
            "resampled_from": {
                "shape_zyx": list(volume.spatial_shape),
                "spacing_mm": list(volume.spacing_mm),
                "interpolation": interpolation,
            },
        },
    )


def resample_onto(
    volume: Volume,
    reference: Volume,
    transform: _HasSitk | None = None,
    *,
    interpolation: str = "linear",
    fill_value: float | None = None,
) -> Volume:
    """``volume`` resampled on ``reference``'s grid, optionally through ``transform``.

    ``transform`` (anything with ``to_sitk()``, e.g. a `RigidTransform`) maps reference-world
    points to ``volume``-world points. ``interpolation`` is ``"linear"``, ``"bspline"`` or
    ``"nearest"`` (masks); points outside ``volume`` get ``fill_value`` (default: its minimum).
    The result is ``reference.with_array(...)``: the reference's exact geometry and source header,
    ``volume``'s dtype and metadata (except its source / series description).
    """
    interp = _interp(interpolation)
    fill = float(np.min(volume.array)) if fill_value is None else float(fill_value)
    tx = transform.to_sitk() if transform is not None else sitk.Transform()
    ref = volume_to_sitk(reference.frame(0) if reference.is_4d else reference)
    array = _each_frame(volume, lambda v: _resample_3d(v, ref, tx, interp, fill))
    meta = {k: v for k, v in volume.metadata.items() if k not in ("source", "series_description")}
    meta.pop("resampled_from", None)
    if volume.is_4d:
        return Volume(
            array,
            reference.spacing_mm,
            reference.origin,
            reference.direction.copy(),
            time_s=volume.time_s.copy(),
            metadata={**reference.metadata, **meta},
            source_header=reference.source_header,
        )
    return reference.with_array(array, **meta)


def _axis_weights(n_in: int, s_in: float, s_out: float) -> np.ndarray:
    """``(n_out, n_in)`` weights taking ``n_in`` samples of spacing ``s_in`` to spacing ``s_out``
    on an edge-aligned grid: the mean over each output voxel when it is larger (a thick-slice
    reconstruction), linear interpolation at its centre when it is smaller."""
    n_out = max(1, round(n_in * s_in / s_out))
    w = np.zeros((n_out, n_in), np.float64)
    if s_out >= s_in:
        edges_in = np.arange(n_in + 1) * s_in
        for i in range(n_out):
            lo, hi = i * s_out, (i + 1) * s_out
            w[i] = np.clip(np.minimum(edges_in[1:], hi) - np.maximum(edges_in[:-1], lo), 0, None)
        empty = w.sum(1) == 0  # an output voxel past the input's end (rounding): nearest input
        w[empty, -1] = 1.0
    else:
        u = np.clip((np.arange(n_out) + 0.5) * s_out / s_in - 0.5, 0, n_in - 1)
        j = np.minimum(np.floor(u).astype(int), max(n_in - 2, 0))
        frac = u - j if n_in > 1 else np.zeros_like(u)
        w[np.arange(n_out), j] = 1 - frac
        if n_in > 1:
            w[np.arange(n_out), j + 1] += frac
    return w / w.sum(1, keepdims=True)


def reslice_to_spacing(
    volume: Volume, spacing_mm: tuple[float, float, float], *, tolerance: float = 0.0
) -> Volume:
    """``volume`` on an edge-aligned grid of ``spacing_mm`` (z, y, x): thick-slice averaging.

    Along an axis whose spacing grows, every new voxel is the mean of the old voxels it covers,
    weighted by the overlap (how a scanner reconstructs thin slices into 5 mm slices, and a
    band-limited way to coarsen in-plane; linear interpolation would pick two of five thin
    slices and keep their noise); along an axis whose spacing shrinks, linear interpolation at
    the new voxel centres. The new grid starts at the old grid's first voxel edge (its voxel 0
    covers the old voxels at the start of the field of view), has ``round(n * old / new)`` voxels
    and the same direction. An axis whose spacing is within ``tolerance`` (relative) of the
    target is left as it is (no resampling, its own spacing kept). 3D only; float32 out.
    ``metadata["resliced_from"]`` records the original grid; `resample_onto` with the original
    volume as reference goes back, exactly in geometry.
    """
    if volume.is_4d:
        raise ValueError("reslice_to_spacing takes a 3D volume")
    target = tuple(float(s) for s in spacing_mm)
    if len(target) != 3 or min(target) <= 0:
        raise ValueError(f"spacing_mm must be 3 positive numbers (z, y, x); got {spacing_mm}")
    array = np.asarray(volume.array, dtype=np.float32)
    new_spacing, offset_zyx = [], []
    for axis, (n, s, t) in enumerate(zip(volume.spatial_shape, volume.spacing_mm, target)):
        if abs(t / s - 1.0) <= tolerance:
            new_spacing.append(s)
            offset_zyx.append(0.0)
            continue
        w = _axis_weights(n, s, t).astype(np.float32)
        array = np.moveaxis(np.tensordot(w, np.moveaxis(array, axis, 0), axes=(1, 0)), 0, axis)
        new_spacing.append(t)
        offset_zyx.append((t - s) / 2.0)
    origin = np.asarray(volume.origin) + volume.direction @ np.asarray(offset_zyx[::-1])
    return Volume(
        np.ascontiguousarray(array, dtype=np.float32),
        tuple(new_spacing),
        tuple(float(v) for v in origin),
        volume.direction.copy(),
        metadata={
            **volume.metadata,
            "resliced_from": {
                "shape_zyx": list(volume.spatial_shape),
                "spacing_mm": list(volume.spacing_mm),
            },
        },
    )
