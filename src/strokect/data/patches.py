"""Balanced 2D patch sampling on the slices of 3D cases, with elastic repetition of small lesions.

Clèrigues et al., CBM 2019, sec. 3.1: a fixed number of patches per case, half centred on lesion
voxels and half on healthy brain voxels, both taken at regular steps through the voxels of the
class; lesion centres get a random x/y offset (uniform, at most half the patch, so the sampled voxel
stays inside the patch); when a case has fewer lesion voxels than lesion patches wanted, lesion
voxels are repeated and the repetitions elastically deformed (Simard et al., ICDAR 2003).

Randomness follows the "sample parameters, then apply a deterministic function" pattern:
`plan_patches` and `sample_elastic_params` draw from a ``numpy.random.Generator``;
`extract_patches` and `elastic_deform` are deterministic given their inputs.

Elastic parameters. The paper gives ``alpha = 2.5`` and ``gamma = 0.12`` without units. We read them
as: a per-pixel uniform(-1, 1) displacement field is smoothed with a Gaussian of standard deviation
``gamma * patch side`` (0.12 x 64 = 7.7 pixels), rescaled so its largest absolute value is 1, and
multiplied by ``alpha`` pixels (largest displacement 2.5 pixels). Simard's unnormalized recipe with
these two numbers would move pixels by far less than one pixel (no augmentation at all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "ElasticParams",
    "PatchPlan",
    "elastic_deform",
    "extract_patches",
    "plan_patches",
    "sample_elastic_params",
]


@dataclass(frozen=True)
class PatchPlan:
    """Where to cut the patches of one case.

    Attributes
    ----------
    centres_zyx : ndarray, shape (N, 3), int
        Slice index and in-plane centre of each patch (offset already applied). A patch of side
        ``(h, w)`` covers rows ``[y - h//2, y - h//2 + h)`` and columns likewise.
    is_lesion : ndarray, shape (N,), bool
        True for lesion-centred patches.
    deform : ndarray, shape (N,), bool
        True for repetitions of lesion voxels, to be elastically deformed.
    """

    centres_zyx: np.ndarray
    is_lesion: np.ndarray
    deform: np.ndarray

    def __len__(self) -> int:
        return int(self.centres_zyx.shape[0])


@dataclass(frozen=True)
class ElasticParams:
    """Displacement field ``(2, h, w)`` in pixels (row shift, column shift) for one patch."""

    displacement: np.ndarray


def _regular(coords: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows of ``coords`` (raster order) at regular steps; repeats when fewer exist."""
    if n <= 0 or len(coords) == 0:
        return coords[:0]
    idx = np.floor(np.arange(n) * (len(coords) / n)).astype(int)
    return coords[idx]


def plan_patches(
    label: np.ndarray,
    brain: np.ndarray,
    *,
    n_patches: int,
    patch_size: tuple[int, int] = (64, 64),
    rng: np.random.Generator,
) -> PatchPlan:
    """Plan ``n_patches`` balanced patch centres for one case.

    Parameters
    ----------
    label, brain : ndarray, shape (Z, Y, X)
        Lesion mask and brain mask (non-zero = inside). Healthy = brain and not lesion.
    n_patches : int
        Patches for this case (paper: 4000); half lesion (rounded down) when the case has a lesion,
        all healthy otherwise.
    patch_size : (int, int)
        Patch side ``(h, w)`` in pixels.
    rng : numpy.random.Generator
        Source of the random lesion offsets.

    Returns
    -------
    PatchPlan
    """
    if label.shape != brain.shape or label.ndim != 3:
        raise ValueError(f"label {label.shape} and brain {brain.shape} must be equal 3D shapes")
    lesion = np.argwhere(label > 0)
    healthy = np.argwhere((brain > 0) & ~(label > 0))
    if len(healthy) == 0 and len(lesion) == 0:
        raise ValueError("plan_patches: empty brain mask and empty lesion mask")
    n_lesion = n_patches // 2 if len(lesion) else 0
    if len(healthy) == 0:
        n_lesion = n_patches
    n_healthy = n_patches - n_lesion
    les = _regular(lesion, n_lesion)
    deform = np.zeros(n_lesion, bool)
    if 0 < len(lesion) < n_lesion:  # first pass plain, repetitions deformed
        deform[len(lesion) :] = True
    limit = np.array(patch_size) // 2 - 1  # offset < half patch keeps the voxel inside
    offsets = rng.integers(-limit, limit + 1, size=(n_lesion, 2))
    les = les.copy()
    les[:, 1:] += offsets
    hea = _regular(healthy, n_healthy)
    centres = np.concatenate([les, hea]).astype(np.int64)
    is_lesion = np.r_[np.ones(n_lesion, bool), np.zeros(n_healthy, bool)]
    return PatchPlan(centres, is_lesion, np.r_[deform, np.zeros(n_healthy, bool)])


def sample_elastic_params(
    rng: np.random.Generator,
    patch_size: tuple[int, int] = (64, 64),
    *,
    alpha: float = 2.5,
    gamma: float = 0.12,
) -> ElasticParams:
    """Draw one elastic displacement field (see the module docstring for ``alpha``, ``gamma``)."""
    h, w = patch_size
    field = rng.uniform(-1.0, 1.0, size=(2, h, w))
    sigma = gamma * max(h, w)
    field = np.stack([ndimage.gaussian_filter(f, sigma, mode="reflect") for f in field])
    peak = np.abs(field).max()
    if peak > 0:
        field = field / peak
    return ElasticParams((alpha * field).astype(np.float32))


def elastic_deform(
    image: np.ndarray, label: np.ndarray, params: ElasticParams
) -> tuple[np.ndarray, np.ndarray]:
    """Warp an image patch and its label with the SAME displacement field (deterministic).

    Parameters
    ----------
    image : ndarray, shape (C, h, w)
        Linear interpolation, reflected borders.
    label : ndarray, shape (h, w)
        Interpolated linearly as a float then thresholded at 0.5, so a label equal to a
        thresholded image channel stays equal to that channel thresholded after warping.
    params : ElasticParams
        Field of shape ``(2, h, w)``.

    Returns
    -------
    (image, label) with the input shapes and dtypes.
    """
    h, w = label.shape
    if image.shape[1:] != (h, w) or params.displacement.shape != (2, h, w):
        raise ValueError(
            f"image {image.shape}, label {label.shape} and field {params.displacement.shape} disagree"
        )
    grid = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = grid + params.displacement

    def warp(a: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(a.astype(np.float32), coords, order=1, mode="reflect")

    warped = np.stack([warp(c) for c in image]).astype(image.dtype, copy=False)
    warped_label = (warp(label) > 0.5).astype(label.dtype)
    return warped, warped_label


def extract_patches(
    image: np.ndarray,
    label: np.ndarray,
    plan: PatchPlan,
    *,
    patch_size: tuple[int, int] = (64, 64),
    elastic: list[ElasticParams | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the planned 2D patches (zero padding outside the slice), warping where asked.

    Parameters
    ----------
    image : ndarray, shape (C, Z, Y, X)
    label : ndarray, shape (Z, Y, X)
    plan : PatchPlan
    patch_size : (int, int)
    elastic : list of ElasticParams or None, optional
        One entry per patch (None = no warp); default no warping.

    Returns
    -------
    patches : ndarray, shape (N, C, h, w), float32
    labels : ndarray, shape (N, h, w), uint8
    """
    h, w = patch_size
    pad = ((0, 0), (0, 0), (h // 2, h - h // 2), (w // 2, w - w // 2))
    img = np.pad(image.astype(np.float32, copy=False), pad)
    lab = np.pad((label > 0).astype(np.uint8), pad[1:])
    n = len(plan)
    patches = np.empty((n, image.shape[0], h, w), np.float32)
    labels = np.empty((n, h, w), np.uint8)
    for i, (z, y, x) in enumerate(plan.centres_zyx):
        y0 = int(np.clip(y, 0, image.shape[2] - 1))  # centre clipped into the slice
        x0 = int(np.clip(x, 0, image.shape[3] - 1))
        patches[i] = img[:, z, y0 : y0 + h, x0 : x0 + w]
        labels[i] = lab[z, y0 : y0 + h, x0 : x0 + w]
        if elastic is not None and elastic[i] is not None:
            patches[i], labels[i] = elastic_deform(patches[i], labels[i], elastic[i])
    return patches, labels
