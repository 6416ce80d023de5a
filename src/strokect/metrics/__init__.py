"""Segmentation metrics: overlap, surface distances (spacing required), volumes, lesion-wise,
and image similarity (SSIM, PSNR) for synthesized images. Every function is a pure ``compute_*``;
empty-mask rules are written in each module's docstring."""

from strokect.metrics.case import METRIC_COLUMNS, evaluate_masks
from strokect.metrics.image import compute_psnr, compute_ssim, lesion_region, ssim_map
from strokect.metrics.lesionwise import LesionDetection, compute_lesion_detection
from strokect.metrics.overlap import (
    Confusion,
    compute_confusion,
    compute_dice,
    compute_jaccard,
    compute_precision,
    compute_recall,
)
from strokect.metrics.surface import (
    SurfaceDistances,
    compute_assd,
    compute_hausdorff,
    compute_hd95,
    compute_surface_distances,
    mask_surface,
)
from strokect.metrics.volume import (
    VolumeErrors,
    compute_volume_errors,
    compute_volume_ml,
    volume_errors,
)

__all__ = [
    "METRIC_COLUMNS",
    "Confusion",
    "LesionDetection",
    "SurfaceDistances",
    "VolumeErrors",
    "compute_assd",
    "compute_confusion",
    "compute_dice",
    "compute_hausdorff",
    "compute_hd95",
    "compute_jaccard",
    "compute_lesion_detection",
    "compute_precision",
    "compute_psnr",
    "compute_recall",
    "compute_ssim",
    "compute_surface_distances",
    "compute_volume_errors",
    "compute_volume_ml",
    "evaluate_masks",
    "lesion_region",
    "mask_surface",
    "ssim_map",
    "volume_errors",
]
