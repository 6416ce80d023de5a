"""Random and hand-made masks for the metric oracle tests."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

ANISO_SPACING = (4.0, 0.8, 1.1)  # (z, y, x) mm, deliberately anisotropic


def random_blobs(seed: int, shape=(8, 24, 20), density: float = 0.35) -> np.ndarray:
    """Random lumpy mask: smoothed noise thresholded (several components, holes, border contact)."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(0.7, 1.5, 1.5))
    return noise > np.quantile(noise, 1 - density)
