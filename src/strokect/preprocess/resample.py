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
