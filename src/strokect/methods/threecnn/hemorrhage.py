"""Training-free hemorrhage detector: HU window + region growing (the baseline of ``threecnn``).

Ours (the paper adds back the output of an intracranial hemorrhage CNN; this detector is what
that CNN is compared with). Fresh blood is 50-90 HU on NCCT, brighter than grey matter (35-45)
and darker than calcification and bone (> 100):

1. the CT is smoothed in-plane (Gaussian, sigma 1 mm) against noise;
2. candidates: intracranial voxels in ``window_hu`` farther than ``skull_margin_mm`` from bone
   (> 160 HU), which removes the partial-volume rim of the inner table;
3. region growing: the 6-connected candidate regions holding a seed voxel (>= ``seed_hu``);
4. regions smaller than ``min_volume_ml`` are dropped.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from strokect.io.volume import Volume
from strokect.preprocess.morphology import distance_mm

__all__ = ["detect_hemorrhage_hu"]


def detect_hemorrhage_hu(
    ct: Volume,
    intracranial: np.ndarray,
    *,
    window_hu: tuple[float, float] = (50.0, 95.0),
    seed_hu: float = 60.0,
    skull_margin_mm: float = 5.0,
    min_volume_ml: float = 0.3,
    bone_hu: float = 160.0,
    smooth_mm: float = 1.0,
) -> np.ndarray:
    """Boolean hemorrhage mask on ``ct``'s grid (see the module docstring)."""
    image = ct.array.astype(np.float32)
    if smooth_mm > 0:
        sigma = [0.0] + [smooth_mm / s for s in ct.spacing_mm[1:]]
        image = ndi.gaussian_filter(image, sigma)
    inside = np.asarray(intracranial, bool)
    bone = ct.array > bone_hu
    if skull_margin_mm > 0 and bone.any():
        inside = inside & (distance_mm(bone, ct.spacing_mm) > skull_margin_mm)
    lo, hi = window_hu
    candidate = inside & (image >= lo) & (image <= hi)
    labels, n = ndi.label(candidate)
    if n == 0:
        return np.zeros(ct.spatial_shape, bool)
    seeded = np.unique(labels[candidate & (image >= seed_hu)])
    seeded = seeded[seeded > 0]
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    min_voxels = min_volume_ml / ct.voxel_volume_ml
    keep = seeded[sizes[seeded] >= min_voxels]
    return np.isin(labels, keep)
