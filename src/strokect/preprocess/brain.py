"""Brain masks: a general NCCT brain mask and the perfusion-sum mask of ``clerigues``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage as ndi

from strokect.errors import InputError, warn
from strokect.io.checks import require_3d
from strokect.io.volume import Volume
from strokect.preprocess.masks import intracranial_mask
from strokect.preprocess.morphology import distance_mm

#: Methods accepted by `brain_mask`.
BRAIN_METHODS = ("auto", "threecnn", "threshold")

#: Voxels below this (air) are never brain, whatever the method.
AIR_BELOW_HU = -200.0

#: Minimum bone volume (voxels > 160 HU) for ``method="auto"`` to trust the skull, in mL.
MIN_SKULL_ML = 20.0


def brain_mask(
    ct: Volume,
    *,
    method: str = "auto",
    tissue_window_hu: tuple[float, float] = (-15.0, 100.0),
    intracranial: Volume | None = None,
) -> Volume:
    """Brain (parenchyma + CSF) mask of any head NCCT; the method used is in ``metadata``.

    Methods
    -------
    ``"threecnn"``
        The intracranial mask of Barros et al. (JNIS 2020; `intracranial_mask`), which van Voorst
        et al. (AJNR 2022) use for ``fu2bl``, restricted to ``tissue_window_hu`` (drops the bone
        rim the 7 mm expansion reaches), largest 3D component, holes filled slice by slice
        except with air (voxels below `AIR_BELOW_HU`).
    ``"threshold"``
        For images without a skull (skull-stripped inputs): voxels in ``tissue_window_hu``,
        opened by 3 mm, largest 3D component, holes filled slice by slice (not with air).
    ``"auto"``
        ``"threecnn"`` when the image holds at least `MIN_SKULL_ML` of bone (> 160 HU),
        otherwise ``"threshold"``; the choice is recorded as ``metadata["method"]``.

    ``intracranial`` reuses an already computed `intracranial_mask` of ``ct``.

    Returns
    -------
    Volume
        uint8 mask on the CT grid with ``metadata["method"]`` and ``metadata["parameters"]``.
    """
    require_3d(ct, name="ct")
    if method not in BRAIN_METHODS:
        raise ValueError(f"method must be one of {BRAIN_METHODS}; got {method!r}")
    lo, hi = tissue_window_hu
    tissue = (ct.array >= lo) & (ct.array <= hi)
    chosen = choose_brain_method(ct, method)
    if chosen == "threecnn":
        if intracranial is None:
            intracranial = intracranial_mask(ct)
        elif not intracranial.same_geometry(ct):
            raise InputError("intracranial: mask grid differs from the CT grid")
        inside = intracranial.array > 0
        mask = inside & tissue
    else:
        mask = _open_mm(tissue, 3.0, ct.spacing_mm)
    mask = _largest_component(mask)
    # holes are filled (vessels, calcifications), but never with air: a sinus or air cell that a
    # slice of the mask happens to enclose stays out
    mask = np.stack([ndi.binary_fill_holes(s) for s in mask]) & (ct.array >= AIR_BELOW_HU)
    if not mask.any():
        warn("brain mask: empty (no voxel in the tissue window)")
    return ct.with_array(
        mask.astype(np.uint8),
        mask="brain",
        method=f"brain-{chosen}",
        requested_method=method,
        parameters={"tissue_window_hu": [lo, hi]},
    )


def choose_brain_method(ct: Volume, method: str = "auto") -> str:
    """The method `brain_mask` uses: ``method`` itself, or for ``"auto"`` ``"threecnn"`` when the
    image holds at least `MIN_SKULL_ML` of bone (> 160 HU) and ``"threshold"`` otherwise."""
    if method not in BRAIN_METHODS:
        raise ValueError(f"method must be one of {BRAIN_METHODS}; got {method!r}")
    if method != "auto":
        return method
    bone_ml = np.count_nonzero(ct.array > 160) * ct.voxel_volume_ml
    return "threecnn" if bone_ml >= MIN_SKULL_ML else "threshold"


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n <= 1:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _open_mm(mask: np.ndarray, radius_mm: float, spacing_mm) -> np.ndarray:
    eroded = distance_mm(~mask, spacing_mm) > radius_mm
    return distance_mm(eroded, spacing_mm) <= radius_mm


def perfusion_brain_mask(maps: Mapping[str, Volume] | Sequence[Volume]) -> Volume:
    """Brain mask of Clèrigues et al. (CBM 2019): voxels where the sum of the maps is non-zero.

    Parameters
    ----------
    maps : mapping name -> Volume, or a sequence of Volumes
        Perfusion maps on one grid (the paper uses CBF, CBV, MTT and Tmax; any non-empty subset
        is accepted and the names used are recorded). Non-finite voxels count as zero.

    Returns
    -------
    Volume
        uint8 mask on the maps' grid.
    """
    items = list(maps.items()) if isinstance(maps, Mapping) else list(enumerate(maps))
    if not items:
        raise InputError("maps: at least one perfusion map is needed")
    ref = items[0][1]
    total = np.zeros(ref.spatial_shape, dtype=np.float64)
    for name, vol in items:
        require_3d(vol, name=str(name))
        if not vol.same_geometry(ref, atol_mm=1e-2):
            raise InputError(f"maps: '{name}' is not on the grid of '{items[0][0]}'")
        total += np.nan_to_num(vol.array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return ref.with_array(
        (total != 0).astype(np.uint8),
        mask="brain",
        method="clerigues-perfusion-sum",
        maps=[str(name) for name, _ in items],
    )
