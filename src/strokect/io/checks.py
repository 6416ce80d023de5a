"""Input sanity checks, each raising one clear `InputError` (or warning when it can fix the input)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strokect.errors import InputError, warn
from strokect.io.volume import Volume

#: Offset added to stored values that look like unsigned CT numbers without a rescale intercept.
UNSIGNED_CT_OFFSET_HU = -1024.0


def require_3d(volume: Volume, *, name: str = "image") -> Volume:
    """Refuse a 4D series or a single slice where a 3D volume is needed."""
    if volume.is_4d:
        raise InputError(
            f"{name}: a 4D series ({volume.n_frames} frames) where a 3D volume is needed"
        )
    if min(volume.spatial_shape) < 2:
        raise InputError(
            f"{name}: a 2D image (shape {volume.spatial_shape}) where a 3D volume is needed"
        )
    return volume


def require_4d(volume: Volume, *, name: str = "image", min_frames: int = 2) -> Volume:
    """Refuse a 3D volume, or a 4D series with too few frames or non-increasing times."""
    if not volume.is_4d:
        raise InputError(f"{name}: a 3D volume where a 4D time series is needed")
    if volume.n_frames < min_frames:
        raise InputError(f"{name}: {volume.n_frames} frames; at least {min_frames} are needed")
    if np.any(np.diff(volume.time_s) <= 0):
        raise InputError(f"{name}: frame times are not strictly increasing")
    return volume


def looks_unsigned_ct(array: np.ndarray) -> bool:
    """True when values look like raw unsigned CT numbers rather than Hounsfield units.

    Rule (documented in ``docs/io.md``): no value below 0, the 99th percentile above 1000, and at
    least 10 % of voxels between 900 and 1200. A head CT in HU has air near -1000 HU and soft
    tissue at 0-80 HU; raw stored values of a scanner whose rescale intercept was dropped have
    air near 0 and soft tissue/brain near 1000-1100 (HU + 1024).
    """
    sample = np.asarray(array[..., ::2, ::2] if array.size > 2_000_000 else array)
    if sample.size == 0 or np.min(sample) < 0:
        return False
    if np.percentile(sample, 99) <= 1000:
        return False
    soft_tissue = np.count_nonzero((sample >= 900) & (sample <= 1200))
    return bool(soft_tissue >= 0.1 * sample.size)


def ensure_hu(volume: Volume, *, name: str = "CT", policy: str = "convert") -> Volume:
    """Make sure a CT volume is in Hounsfield units.

    A volume whose values look like unsigned raw CT numbers (see `looks_unsigned_ct`) is either
    shifted by -1024 HU with a warning (``policy="convert"``, the default; the result is float32
    and ``metadata["hu_offset_applied"] = -1024``) or refused with `InputError`
    (``policy="refuse"``). A volume already in HU is returned unchanged (the same object).
    """
    if policy not in ("convert", "refuse"):
        raise ValueError(f"policy must be 'convert' or 'refuse'; got {policy!r}")
    if not looks_unsigned_ct(volume.array):
        return volume
    msg = f"{name}: values look like unsigned CT numbers (air at 0, no rescale intercept), not HU"
    if policy == "refuse":
        raise InputError(msg)
    warn(msg + f"; converted with an offset of {UNSIGNED_CT_OFFSET_HU:g} HU")
    converted = volume.with_array(volume.array.astype(np.float32) + UNSIGNED_CT_OFFSET_HU)
    converted.metadata["hu_offset_applied"] = UNSIGNED_CT_OFFSET_HU
    return converted


def check_same_geometry(volumes: Mapping[str, Volume], *, atol_mm: float = 1e-2) -> None:
    """Refuse modalities of one case whose spatial grids disagree, naming the first mismatch."""
    items = list(volumes.items())
    if len(items) < 2:
        return
    ref_name, ref = items[0]
    for name, vol in items[1:]:
        if vol.spatial_shape != ref.spatial_shape:
            raise InputError(
                f"geometry mismatch: {name} has shape {vol.spatial_shape}, {ref_name} has {ref.spatial_shape}"
            )
        if not vol.same_geometry(ref, atol_mm=atol_mm):
            raise InputError(
                f"geometry mismatch: {_geometry_difference(name, vol, ref_name, ref, atol_mm)}"
            )


def _fmt(values) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in np.ravel(values)) + ")"


def _geometry_difference(name: str, vol: Volume, ref_name: str, ref: Volume, atol_mm: float) -> str:
    """What differs between two grids of one shape, with both values."""
    parts = []
    if not np.allclose(vol.spacing_mm, ref.spacing_mm, atol=atol_mm):
        parts.append(f"spacing {_fmt(vol.spacing_mm)} vs {_fmt(ref.spacing_mm)} mm (z, y, x)")
    if not np.allclose(vol.origin, ref.origin, atol=atol_mm):
        parts.append(f"origin {_fmt(vol.origin)} vs {_fmt(ref.origin)} mm (LPS)")
    if not np.allclose(vol.direction, ref.direction, atol=1e-4):
        parts.append(f"direction {_fmt(vol.direction)} vs {_fmt(ref.direction)}")
    return f"{name} vs {ref_name}: " + "; ".join(parts)
