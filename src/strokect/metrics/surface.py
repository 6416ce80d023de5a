"""Surface-distance metrics: Hausdorff distance (max), HD95 and ASSD, in millimetres.

Definitions (identical to MONAI 1.x ``compute_hausdorff_distance`` / ``compute_average_surface_distance``
with ``distance_metric="euclidean"``; the tests check equality)

- **Surface** of a mask: its voxels that have at least one 6-connected (face) neighbour outside the
  mask, i.e. ``mask & ~binary_erosion(mask)`` with a face-connectivity structuring element; voxels on
  the array border count as surface (outside the array is background).
- **Directed distances** ``d(P->R)``: for every surface voxel of P, the Euclidean distance in mm
  (voxel centres scaled by ``spacing_mm``) to the nearest surface voxel of R; likewise ``d(R->P)``.
- **Hausdorff distance** = ``max(max d(P->R), max d(R->P))``.
- **HD95** = ``max(q95(d(P->R)), q95(d(R->P)))``, with ``q95`` the 95th percentile by linear
  interpolation between order statistics (``numpy.percentile`` default = ``torch.quantile``
  default). This is the definition in the shared evaluation vocabulary (METHODS.md) and the one
  MONAI and the ISLES challenges use; taking the percentile of each directed set separately keeps
  a small, far-away false-positive island from vanishing in the pooled set of a large lesion.
- **ASSD** = mean of the pooled distances ``d(P->R) ∪ d(R->P)`` (each surface voxel weighs the same).

Empty-mask rules
----------------
- Both masks empty: HD = HD95 = ASSD = 0 mm (the prediction agrees perfectly with the reference,
  consistent with Dice = 1); ``both_empty`` is flagged so summaries can report these cases.
- Exactly one mask empty: all three are NaN (undefined; MONAI returns inf) and counted as NaN in
  the summaries.

Speed: the surfaces are extracted once inside the bounding box of both masks (+1 voxel margin),
and the two directed distance sets come from two exact Euclidean distance transforms
(``scipy.ndimage.distance_transform_edt`` with ``sampling=spacing_mm``) over that box only. All three
metrics are derived from the same two arrays, so HD + HD95 + ASSD cost one computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokect.metrics._checks import check_pair, check_spacing
from strokect.preprocess.morphology import bounding_box


@dataclass(frozen=True)
class SurfaceDistances:
    """Directed surface distances (mm) of a prediction P and a reference R.

    Attributes
    ----------
    pred_to_ref
        1D float64 array, one distance per surface voxel of P (mm).
    ref_to_pred
        1D float64 array, one distance per surface voxel of R (mm).
    pred_empty, ref_empty
        Whether each mask is empty.
    """

    pred_to_ref: np.ndarray
    ref_to_pred: np.ndarray
    pred_empty: bool
    ref_empty: bool

    @property
    def both_empty(self) -> bool:
        return self.pred_empty and self.ref_empty

    @property
    def one_empty(self) -> bool:
        return self.pred_empty != self.ref_empty

    def percentile_hausdorff(self, percentile: float) -> float:
        """``max(q(d(P->R)), q(d(R->P)))`` in mm for ``percentile`` in [0, 100]."""
        if not 0 <= percentile <= 100:
            raise ValueError(f"percentile must be in [0, 100]; got {percentile}")
        if self.both_empty:
            return 0.0
        if self.one_empty:
            return float("nan")
        return float(
            max(
                np.percentile(self.pred_to_ref, percentile),
                np.percentile(self.ref_to_pred, percentile),
            )
        )

    @property
    def hausdorff_mm(self) -> float:
        return self.percentile_hausdorff(100.0)

    @property
    def hd95_mm(self) -> float:
        return self.percentile_hausdorff(95.0)

    @property
    def assd_mm(self) -> float:
        if self.both_empty:
            return 0.0
        if self.one_empty:
            return float("nan")
        pooled_sum = self.pred_to_ref.sum() + self.ref_to_pred.sum()
        return float(pooled_sum / (self.pred_to_ref.size + self.ref_to_pred.size))


def mask_surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels of a boolean mask: voxels with a face neighbour outside the mask.

    Voxels on the array border are surface voxels (the outside of the array is background),
    as in MONAI's ``get_mask_edges``.
    """
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)


def compute_surface_distances(
    pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float]
) -> SurfaceDistances:
    """Directed surface distances between two binary masks (see module docstring).

    Parameters
    ----------
    pred, ref
        Binary masks of one shape, e.g. ``(z, y, x)``.
    spacing_mm
        Voxel size along each array axis, in mm (``(z, y, x)`` for a 3D `Volume`).
    """
    pred, ref = check_pair(pred, ref)
    spacing = check_spacing(spacing_mm, pred.ndim)
    pred_empty, ref_empty = not pred.any(), not ref.any()
    empty = np.zeros(0)
    if pred_empty or ref_empty:
        return SurfaceDistances(empty, empty, pred_empty, ref_empty)
    box = bounding_box(pred | ref, (1,) * pred.ndim)  # union's box + 1 voxel, clipped
    pred, ref = pred[box], ref[box]
    surf_pred, surf_ref = mask_surface(pred), mask_surface(ref)
    dist_to_ref = ndimage.distance_transform_edt(~surf_ref, sampling=spacing)
    dist_to_pred = ndimage.distance_transform_edt(~surf_pred, sampling=spacing)
    return SurfaceDistances(
        pred_to_ref=dist_to_ref[surf_pred],
        ref_to_pred=dist_to_pred[surf_ref],
        pred_empty=False,
        ref_empty=False,
    )


def compute_hausdorff(pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float]) -> float:
    """Hausdorff distance (maximum of both directed surface distances), mm."""
    return compute_surface_distances(pred, ref, spacing_mm=spacing_mm).hausdorff_mm


def compute_hd95(pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float]) -> float:
    """HD95: the larger of the two directed 95th-percentile surface distances, mm."""
    return compute_surface_distances(pred, ref, spacing_mm=spacing_mm).hd95_mm


def compute_assd(pred: np.ndarray, ref: np.ndarray, *, spacing_mm: Sequence[float]) -> float:
    """Average symmetric surface distance (mean of the pooled directed distances), mm."""
    return compute_surface_distances(pred, ref, spacing_mm=spacing_mm).assd_mm
