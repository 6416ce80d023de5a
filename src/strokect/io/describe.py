"""Plain summaries of a `Volume` (geometry, value range, frames) for ``strokect info`` and logs.

The summaries are JSON-serialisable dicts of built-in types; they never include patient data
(a `Volume`'s metadata holds none).
"""

from __future__ import annotations

from typing import Any

import nibabel as nib
import numpy as np

from strokect.io.volume import Volume


def _round(values, digits: int = 4) -> list[float]:
    return [float(np.round(v, digits)) for v in np.asarray(values, dtype=float).ravel()]


def value_summary(array: np.ndarray) -> dict[str, Any]:
    """Min, max, 1st/99th percentiles, mean and count of non-finite voxels of ``array``."""
    values = np.asarray(array)
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
    out: dict[str, Any] = {"nonfinite_voxels": int(values.size - finite.size)}
    if finite.size:
        p1, p99 = np.percentile(finite, [1, 99])
        out.update(
            min=float(finite.min()),
            max=float(finite.max()),
            p1=float(p1),
            p99=float(p99),
            mean=float(finite.mean(dtype=np.float64)),
        )
    return out


def volume_summary(volume: Volume) -> dict[str, Any]:
    """Geometry and values of ``volume`` as a dict.

    Keys: ``shape`` and ``axes``, ``dtype``, ``spacing_mm`` (z, y, x), ``voxel_volume_ml``,
    ``extent_mm`` (z, y, x), ``origin_mm`` (LPS x, y, z of voxel 0), ``direction`` (3x3, rows),
    ``orientation`` (RAS+ axis codes of index axes x, y, z, nibabel style), ``values``
    (see `value_summary`), ``looks_like`` (``"HU"``, ``"unsigned CT numbers"`` or ``"other"``,
    judged for CT-like data only), ``metadata``; for 4D also ``n_frames`` and ``time_s``.
    """
    from strokect.io.checks import looks_unsigned_ct

    values = value_summary(volume.array)
    summary: dict[str, Any] = {
        "shape": list(volume.array.shape),
        "axes": "t,z,y,x" if volume.is_4d else "z,y,x",
        "dtype": str(volume.array.dtype),
        "spacing_mm": _round(volume.spacing_mm),
        "voxel_volume_ml": float(f"{volume.voxel_volume_ml:.6g}"),
        "extent_mm": _round(np.asarray(volume.spatial_shape) * np.asarray(volume.spacing_mm), 2),
        "origin_mm": _round(volume.origin, 3),
        "direction": [_round(row, 5) for row in volume.direction],
        "orientation": "".join(nib.orientations.aff2axcodes(volume.affine_ras())),
        "values": values,
    }
    if "min" in values:
        if looks_unsigned_ct(volume.array):
            summary["looks_like"] = "unsigned CT numbers (no rescale intercept)"
        elif values["min"] <= -900 or (values["min"] < 0 and values["p99"] > 100):
            summary["looks_like"] = "HU"
        else:
            summary["looks_like"] = "other (not recognisably CT in HU)"
    if volume.is_4d:
        summary["n_frames"] = volume.n_frames
        summary["time_s"] = _round(volume.time_s, 3)
    summary["metadata"] = {
        k: v for k, v in volume.metadata.items() if isinstance(v, str | int | float | bool)
    }
    return summary


def format_summary(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines for a `volume_summary`."""

    def nums(values, unit=""):
        return " x ".join(f"{v:g}" for v in values) + unit

    vals = summary["values"]
    lines = [
        f"shape: {nums(summary['shape'])} ({summary['axes']}), dtype {summary['dtype']}",
        f"spacing: {nums(summary['spacing_mm'], ' mm')} (z, y, x)",
        f"voxel volume: {summary['voxel_volume_ml']:g} mL",
        f"extent: {nums(summary['extent_mm'], ' mm')} (z, y, x)",
        "origin: (" + ", ".join(f"{v:g}" for v in summary["origin_mm"]) + ") mm, LPS (x, y, z)",
        "direction: " + "; ".join(" ".join(f"{v:g}" for v in r) for r in summary["direction"]),
        f"orientation: {summary['orientation']} (RAS+ codes of index axes x, y, z)",
    ]
    if "min" in vals:
        lines.append(
            f"values: {vals['min']:g} .. {vals['max']:g} (1st-99th percentile "
            f"{vals['p1']:g} .. {vals['p99']:g}, mean {vals['mean']:.4g})"
        )
        lines.append(f"looks like: {summary['looks_like']}")
    if vals["nonfinite_voxels"]:
        lines.append(f"non-finite voxels: {vals['nonfinite_voxels']}")
    if "n_frames" in summary:
        times = summary["time_s"]
        steps = np.diff(times) if len(times) > 1 else np.array([0.0])
        lines.append(
            f"frames: {summary['n_frames']}, time {times[0]:g} .. {times[-1]:g} s "
            f"(step {steps.min():g} .. {steps.max():g} s)"
        )
        lines.append("time_s: " + ", ".join(f"{t:g}" for t in times))
    for key, value in summary["metadata"].items():
        lines.append(f"{key}: {value}")
    return lines
