"""Millimetre-aware morphology shared by the mask recipes.

Every radius is in millimetres and honours the real (anisotropic) voxel spacing: a dilation by
``r`` mm keeps the voxels whose centre lies within ``r`` mm of the mask, computed with an exact
Euclidean distance transform (SimpleITK's multi-threaded Maurer transform) instead of iterating a
small structuring element.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from strokect.errors import InputError
from strokect.io.volume import Volume


def distance_mm(mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Euclidean distance in mm from each voxel centre to the nearest voxel of ``mask``.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
    spacing_mm : (dz, dy, dx)

    Returns
    -------
    ndarray of float32, shape (z, y, x); 0 inside the mask, ``inf`` everywhere when the mask is
    empty.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype=np.float32)
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing_mm[::-1]))
    dist = sitk.SignedMaurerDistanceMap(
        image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    return np.maximum(sitk.GetArrayViewFromImage(dist), 0.0).astype(np.float32)


def dilate_mm(
    mask: np.ndarray, radius_mm: float, spacing_mm: tuple[float, float, float]
) -> np.ndarray:
    """Voxels whose centre lies within ``radius_mm`` of ``mask`` (a ball dilation in mm)."""
    if radius_mm < 0:
        raise ValueError(f"radius_mm must be >= 0; got {radius_mm}")
    return distance_mm(mask, spacing_mm) <= radius_mm


def bounding_box(mask: np.ndarray, margin_vox: tuple[int, int, int]) -> tuple[slice, ...]:
    """Slices of the bounding box of ``mask`` grown by ``margin_vox`` (clipped to the array)."""
    coords = np.nonzero(mask)
    return tuple(
        slice(max(int(c.min()) - m, 0), min(int(c.max()) + m + 1, n))
        for c, m, n in zip(coords, margin_vox, mask.shape)
    )


def margin_voxels(radius_mm: float, spacing_mm: tuple[float, float, float]) -> tuple[int, ...]:
    """Number of voxels along each axis covering ``radius_mm`` plus one voxel."""
    return tuple(int(np.ceil(radius_mm / s)) + 1 for s in spacing_mm)


def superior_axis_sign(volume: Volume) -> int:
    """+1 when increasing slice index goes superior (towards LPS +z), -1 when it goes inferior.

    Raises
    ------
    InputError
        When the slice axis is not roughly superior-inferior (a sagittal or coronal series).
    """
    dz = float(volume.direction[2, 2])
    if abs(dz) < 0.5:
        raise InputError(
            "image slices are not axial (slice axis direction "
            f"{np.round(volume.direction[:, 2], 3).tolist()}); reorient it to axial first"
        )
    return 1 if dz > 0 else -1


def slice_area_mm2(mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Area in mm^2 of ``mask`` on each axial slice, shape (z,)."""
    return mask.reshape(mask.shape[0], -1).sum(axis=1) * float(spacing_mm[1] * spacing_mm[2])
