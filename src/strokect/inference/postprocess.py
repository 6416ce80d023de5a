"""Post-processing of probability maps: threshold T, then drop connected components below S_min.

Clèrigues et al., Computers in Biology and Medicine 2019: "threshold T, then remove connected
components smaller than S_min voxels" (the authors' code computed this step but never applied
it; here it is one pure function used by training, grid search and ``strokect segment``).

Conventions: a voxel is foreground when ``prob >= threshold``; components are found with
``scipy.ndimage.label`` and the given connectivity (1: faces only, the default; ``ndim``: faces,
edges and corners); a component is kept when its size is ``>= S_min`` (voxels, or mL computed
from ``spacing_mm``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage

__all__ = ["component_sizes", "postprocess"]


def _as_numpy(prob) -> np.ndarray:
    if isinstance(prob, torch.Tensor):
        return prob.detach().cpu().numpy()
    return np.asarray(prob)


def component_sizes(mask: np.ndarray, *, connectivity: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Label the components of a boolean mask; returns ``(labels, sizes_voxels)``.

    ``sizes_voxels[i]`` is the voxel count of label ``i`` (``sizes_voxels[0]`` is the background).
    """
    if not 1 <= connectivity <= mask.ndim:
        raise ValueError(f"connectivity must be in 1..{mask.ndim}, got {connectivity}")
    structure = ndimage.generate_binary_structure(mask.ndim, connectivity)
    labels, _ = ndimage.label(mask, structure=structure)
    return labels, np.bincount(labels.ravel())


def postprocess(
    prob,
    *,
    threshold: float,
    min_size_voxels: int | None = None,
    min_size_ml: float | None = None,
    spacing_mm: Sequence[float] | None = None,
    connectivity: int = 1,
) -> np.ndarray:
    """Binary lesion mask from a probability map.

    Parameters
    ----------
    prob : array or tensor
        Probabilities, any shape (e.g. ``(Z, Y, X)``).
    threshold : float
        T: voxels with ``prob >= threshold`` are foreground.
    min_size_voxels : int, optional
        S_min in voxels: smaller components are removed.
    min_size_ml : float, optional
        S_min in millilitres (needs ``spacing_mm``); exclusive with ``min_size_voxels``.
    spacing_mm : sequence of float, optional
        Voxel spacing in the axis order of ``prob`` (e.g. ``(z, y, x)``), mm.
    connectivity : int
        1 (faces) .. ``prob.ndim`` (faces, edges, corners).

    Returns
    -------
    np.ndarray
        Boolean mask, same shape as ``prob``.
    """
    prob = _as_numpy(prob)
    if min_size_voxels is not None and min_size_ml is not None:
        raise ValueError("give min_size_voxels or min_size_ml, not both")
    mask = prob >= threshold
    if min_size_ml is not None:
        if spacing_mm is None or len(spacing_mm) != prob.ndim:
            raise ValueError(
                f"min_size_ml needs spacing_mm with {prob.ndim} values, got {spacing_mm!r}"
            )
        voxel_ml = float(np.prod(np.asarray(spacing_mm, dtype=float))) / 1000.0
        labels, sizes = component_sizes(mask, connectivity=connectivity)
        keep = sizes * voxel_ml >= min_size_ml
    elif min_size_voxels:
        labels, sizes = component_sizes(mask, connectivity=connectivity)
        keep = sizes >= min_size_voxels
    else:
        return mask
    keep[0] = False
    return keep[labels]
