"""Intracranial and CSF masks of a head NCCT (the ``threecnn`` recipe).

Barros RS, Tolhuisen ML, Boers AM, et al. "Automatic segmentation of cerebral infarcts in
follow-up computed tomography images with convolutional neural networks." J Neurointerv Surg
2020;12:848-52, section "Preprocessing". The same mask is the "automatic brain mask based on
intensity thresholds and region growing" that van Voorst et al. (AJNR 2022, ref. 9) use to drop
``fu2bl`` detections outside the skull.

All radii are in mm and all areas in mm^2, from the real voxel spacing.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage as ndi

from strokect.errors import InputError, warn
from strokect.io.checks import require_3d
from strokect.io.volume import Volume
from strokect.preprocess.morphology import (
    bounding_box,
    dilate_mm,
    margin_voxels,
    slice_area_mm2,
    superior_axis_sign,
)

log = logging.getLogger(__name__)


def intracranial_mask(
    ct: Volume,
    *,
    bone_hu: float = 160.0,
    closing_radius_mm: float = 7.0,
    expansion_radius_mm: float = 7.0,
    foramen_area_mm2: float = 900.0,
) -> Volume:
    """Intracranial region of a head NCCT, following Barros et al. (JNIS 2020) exactly.

    1. bone = ``HU > bone_hu``; 2. dilate the bone by ``closing_radius_mm`` (closes every
    foramen but the foramen magnum); 3. region growing from the bone's centre of gravity = the
    connected (6-neighbour) non-bone region holding it; 4. dilate that region by
    ``expansion_radius_mm``; 5. scanning slices from the top of the head down, the foramen magnum
    slice is the first slice after the maximum-area slice whose area is below
    ``foramen_area_mm2``; every voxel below it is removed.

    Parameters
    ----------
    ct : Volume
        3D head NCCT in HU, axial slices in any order (the direction matrix says which way is up).

    Returns
    -------
    Volume
        uint8 mask (1 = intracranial) on the CT's grid. ``metadata`` records the method, the
        parameters, the foramen magnum slice index (or None) and whether a fallback was needed.

    Raises
    ------
    InputError
        When no voxel exceeds ``bone_hu`` (no skull in the image).
    """
    require_3d(ct, name="ct")
    up = superior_axis_sign(ct)
    spacing = ct.spacing_mm
    bone_full = ct.array > bone_hu
    if not bone_full.any():
        raise InputError(f"ct: no voxel above {bone_hu:g} HU, so no skull to build the mask from")
    margin = margin_voxels(closing_radius_mm + expansion_radius_mm, spacing)
    box = bounding_box(bone_full, margin)
    bone = bone_full[box]
    skull = dilate_mm(bone, closing_radius_mm, spacing)
    region, grow_mode = _grow_inside(skull, bone, spacing)
    region = dilate_mm(region, expansion_radius_mm, spacing)
    fm_slice = _foramen_magnum_slice(region, spacing, up=up, area_mm2=foramen_area_mm2)
    if fm_slice is not None:
        below = slice(0, fm_slice) if up > 0 else slice(fm_slice + 1, None)
        region[below] = False
    mask = np.zeros(ct.spatial_shape, dtype=np.uint8)
    mask[box] = region
    if fm_slice is not None:
        fm_slice += box[0].start
    return ct.with_array(
        mask,
        mask="intracranial",
        method="threecnn-intracranial",
        region_growing=grow_mode,
        foramen_magnum_slice=fm_slice,
        parameters={
            "bone_hu": bone_hu,
            "closing_radius_mm": closing_radius_mm,
            "expansion_radius_mm": expansion_radius_mm,
            "foramen_area_mm2": foramen_area_mm2,
        },
    )


def _grow_inside(
    skull: np.ndarray, bone: np.ndarray, spacing_mm: tuple[float, float, float]
) -> tuple[np.ndarray, str]:
    """Connected non-skull region containing the bone's centre of gravity.

    When the centre of gravity falls on dilated bone, the nearest non-skull voxel within 20 mm
    seeds the growth instead. When the grown region reaches the in-plane image border it leaked
    out of the head (a gap in a thick-slice or coarse skull, a craniectomy, a volume cut through
    the skull base): the growth is then repeated slice by slice from the seed slice, refusing the
    in-slice components that reach the image border, with a warning; when even the seed slice
    leaks, it is grown inside the slice-wise convex hull of the dilated skull.
    """
    seed = tuple(np.round(ndi.center_of_mass(bone)).astype(int))
    region = _component_at(~skull, seed, spacing_mm)
    if region is not None and not _touches_border(region):
        return region, "3d-region-growing"
    region = _grow_slicewise(~skull, seed)
    if region is not None:
        warn(
            "intracranial mask: region growing leaked out of the skull (a gap in the skull or "
            "a cut skull base); grew it slice by slice, dropping the parts that reach the border"
        )
        return region, "slicewise-region-growing"
    from skimage.morphology import convex_hull_image

    hull = np.stack([convex_hull_image(s) if s.any() else s for s in skull])
    region = _component_at(hull & ~skull, seed, spacing_mm)
    if region is None:
        raise InputError("ct: could not find the inside of the skull (open skull?)")
    warn(
        "intracranial mask: the skull is open on the seed slice; grew the region inside the "
        "slice-wise convex hull of the dilated skull"
    )
    return region, "3d-region-growing-in-convex-hull"


def _slice_components(free_slice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2D labels of a slice and the labels touching the image border."""
    labels, _ = ndi.label(free_slice)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return labels, np.unique(edge[edge > 0])


def _grow_slicewise(free: np.ndarray, seed) -> np.ndarray | None:
    """Grow slice by slice from ``seed``'s slice through in-slice components of ``free`` that
    overlap the previous slice's region and do not reach the in-plane border."""
    k0 = int(seed[0])
    labels, border = _slice_components(free[k0])
    label = int(labels[seed[1], seed[2]])
    if label == 0 or label in border:
        return None
    region = np.zeros(free.shape, dtype=bool)
    region[k0] = labels == label
    for step in (1, -1):
        prev, k = region[k0], k0 + step
        while 0 <= k < free.shape[0] and prev.any():
            labels, border = _slice_components(free[k])
            ids = np.setdiff1d(np.unique(labels[prev & (labels > 0)]), border)
            region[k] = np.isin(labels, ids) if ids.size else False
            prev, k = region[k], k + step
    return region


def _component_at(candidate: np.ndarray, seed, spacing_mm) -> np.ndarray | None:
    """6-connected component of ``candidate`` at ``seed`` (or at its nearest voxel, <= 20 mm)."""
    labels, _ = ndi.label(candidate)
    label = int(labels[seed])
    if label == 0:
        label = _nearest_label(labels, np.asarray(seed), spacing_mm, radius_mm=20.0)
    return None if label == 0 else labels == label


def _touches_border(region: np.ndarray) -> bool:
    return bool(
        region[:, 0, :].any()
        or region[:, -1, :].any()
        or region[:, :, 0].any()
        or region[:, :, -1].any()
    )


def _nearest_label(labels, seed, spacing_mm, *, radius_mm: float) -> int:
    lo = [max(int(c - radius_mm / s), 0) for c, s in zip(seed, spacing_mm)]
    hi = [min(int(c + radius_mm / s) + 1, n) for c, s, n in zip(seed, spacing_mm, labels.shape)]
    window = labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    idx = np.argwhere(window > 0)
    if idx.size == 0:
        return 0
    d = np.linalg.norm((idx + lo - seed) * np.asarray(spacing_mm), axis=1)
    return int(window[tuple(idx[np.argmin(d)])])


def _foramen_magnum_slice(
    region: np.ndarray, spacing_mm, *, up: int, area_mm2: float
) -> int | None:
    """Index (in ``region``) of the foramen magnum slice, or None when no slice qualifies."""
    areas = slice_area_mm2(region, spacing_mm)
    order = np.arange(region.shape[0])[::-1] if up > 0 else np.arange(region.shape[0])
    top_down = areas[order]
    i_max = int(np.argmax(top_down))
    below = np.nonzero(top_down[i_max + 1 :] < area_mm2)[0]
    if below.size == 0:
        return None
    return int(order[i_max + 1 + below[0]])


def csf_mask(
    ct: Volume,
    intracranial: Volume | None = None,
    *,
    seed_radius_mm: float = 15.0,
    csf_window_hu: tuple[float, float] = (-5.0, 13.0),
    smooth_mm: float = 1.0,
    seeds: str = "slices",
) -> Volume:
    """CSF mask by region growing from the intracranial centre (Barros et al., JNIS 2020).

    The paper seeds the voxels within ``seed_radius_mm`` of the centroid of the intracranial
    region whose HU lies in ``csf_window_hu`` (inclusive) and grows (6-neighbour) through
    intracranial voxels inside the same limits. Two changes, both measured on the real series in
    ``../shared/data`` (docs/preprocess.md), make it find the ventricles on real scans:

    - ``smooth_mm`` (default 1 mm): the window is applied to the CT smoothed in-plane by a
      Gaussian of this sigma. Real ventricles sit near the top of the window (ISLES 2018 case 2:
      11.4 +- 4 HU), so on the raw image a third of their voxels fall outside it and the region
      breaks into pieces; 0 applies the window to the raw HU, as in the paper.
    - ``seeds="slices"`` (default): the seeds lie within ``seed_radius_mm`` of each slice's
      intracranial centroid (a column through the head) instead of a ball round the 3D centroid
      (``seeds="ball"``, the paper). A 40 mm slab whose centroid lies above the ventricles (ISLES
      case 2) has no CSF in the ball, and on noisy images the ball's seeds were noise voxels in
      brain tissue that reached one ventricle only.

    Parameters
    ----------
    ct : Volume
        3D head NCCT in HU.
    intracranial : Volume, optional
        Intracranial mask on the CT grid; computed with `intracranial_mask` when omitted.

    Returns
    -------
    Volume
        uint8 CSF mask on the CT grid; empty (with a warning) when no seed qualifies.
    """
    require_3d(ct, name="ct")
    if intracranial is None:
        intracranial = intracranial_mask(ct)
    elif not intracranial.same_geometry(ct):
        raise InputError("intracranial: mask grid differs from the CT grid")
    inside = intracranial.array > 0
    lo, hi = csf_window_hu
    if lo > hi:
        raise ValueError(f"csf_window_hu must be (low, high) with low <= high; got {csf_window_hu}")
    if seeds not in ("slices", "ball"):
        raise ValueError(f"seeds must be 'slices' or 'ball'; got {seeds!r}")
    if smooth_mm < 0:
        raise ValueError(f"smooth_mm must be >= 0; got {smooth_mm}")
    meta = {
        "mask": "csf",
        "method": "threecnn-csf",
        "parameters": {
            "seed_radius_mm": seed_radius_mm,
            "csf_window_hu": [lo, hi],
            "smooth_mm": smooth_mm,
            "seeds": seeds,
        },
    }
    if not inside.any():
        warn("csf mask: the intracranial mask is empty; CSF mask left empty")
        return ct.with_array(np.zeros(ct.spatial_shape, np.uint8), **meta)
    image = ct.array
    if smooth_mm > 0:
        sigma = [0.0] + [smooth_mm / s for s in ct.spacing_mm[1:]]
        image = ndi.gaussian_filter(image.astype(np.float32), sigma)
    candidate = inside & (image >= lo) & (image <= hi)
    if seeds == "ball":
        centroid = np.asarray(ndi.center_of_mass(inside))
        region = _ball(ct.spatial_shape, centroid, seed_radius_mm, ct.spacing_mm)
    else:
        region = _slice_discs(inside, seed_radius_mm, ct.spacing_mm)
    seed_voxels = candidate & region
    if not seed_voxels.any():
        where = "the centroid" if seeds == "ball" else "each slice's centroid"
        warn(f"csf mask: no voxel in {csf_window_hu} HU within {seed_radius_mm} mm of {where}")
        return ct.with_array(np.zeros(ct.spatial_shape, np.uint8), **meta)
    labels, _ = ndi.label(candidate)
    keep = np.unique(labels[seed_voxels])
    mask = np.isin(labels, keep[keep > 0]).astype(np.uint8)
    return ct.with_array(mask, **meta)


def _slice_discs(inside: np.ndarray, radius_mm: float, spacing_mm) -> np.ndarray:
    """In-plane discs of ``radius_mm`` around each slice's centroid of ``inside``."""
    out = np.zeros(inside.shape, bool)
    yy, xx = np.indices(inside.shape[1:], dtype=np.float32)
    for k in np.flatnonzero(inside.any(axis=(1, 2))):
        cy, cx = ndi.center_of_mass(inside[k])
        out[k] = np.hypot((yy - cy) * spacing_mm[1], (xx - cx) * spacing_mm[2]) <= radius_mm
    return out


def _ball(shape, centre_zyx, radius_mm, spacing_mm) -> np.ndarray:
    """Boolean ball of ``radius_mm`` around a fractional index ``centre_zyx``."""
    axes = [((np.arange(n) - c) * s) ** 2 for n, c, s in zip(shape, centre_zyx, spacing_mm)]
    return (axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :]) <= (
        radius_mm**2
    )
