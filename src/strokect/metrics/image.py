"""Image-similarity metrics for synthesized images (e.g. pseudo-DWI): SSIM and PSNR.

Wang, Song et al. (MedIA 2020) report SSIM and PSNR "globally (the entire image) and locally (the
region around the ground-truth lesion)". The paper does not define the region; strokect uses:

- **lesion region** (`lesion_region`): the bounding box of the reference lesion mask, enlarged by
  ``margin_mm`` (default 10 mm) on every side along every axis (``ceil(margin_mm / spacing)``
  voxels, clipped to the image). An empty reference mask has no region: local metrics are NaN.
- **data range**: ``max - min`` of the reference image over the whole image (default), the same
  for the global and the local value so that they are comparable.
- **SSIM** (Wang et al., IEEE TIP 2004): computed slice by slice on axial ``(y, x)`` planes with
  MONAI's ``compute_ssim_and_cs`` (Gaussian window 11 x 11, sigma 1.5, K1 = 0.01, K2 = 0.03), because
  the thick-slice CT/CTP slabs of ISLES 2018 (often < 11 slices) cannot hold a 3D window. The global
  SSIM is the mean of the SSIM map over every window position of every slice; the local SSIM is
  the mean over the window positions whose centre lies inside the lesion region. MONAI computes
  in float32: values agree with scikit-image's float64 ``structural_similarity`` to ~1e-4 for
  CT-range intensities (tested).
- **PSNR** = ``10 log10(data_range^2 / MSE)`` in dB, with the MSE over the whole image (global) or
  over the voxels of the region (local); identical images give ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from strokect.metrics._checks import as_binary_mask, check_spacing
from strokect.preprocess.morphology import bounding_box


def lesion_region(
    ref_mask: np.ndarray, *, spacing_mm: Sequence[float], margin_mm: float = 10.0
) -> np.ndarray | None:
    """Boolean box around the reference lesion, enlarged by ``margin_mm``; None if the mask is empty.

    Parameters
    ----------
    ref_mask
        Binary reference mask ``(z, y, x)``.
    spacing_mm
        Voxel size along each axis (mm).
    margin_mm
        Margin added on each side of the lesion bounding box along every axis (mm, >= 0).
    """
    ref_mask = as_binary_mask(ref_mask, name="ref_mask")
    spacing = check_spacing(spacing_mm, ref_mask.ndim)
    if margin_mm < 0:
        raise ValueError(f"margin_mm must be >= 0; got {margin_mm}")
    if not ref_mask.any():
        return None
    pads = tuple(math.ceil(margin_mm / s - 1e-9) for s in spacing)
    region = np.zeros(ref_mask.shape, dtype=bool)
    region[bounding_box(ref_mask, pads)] = True
    return region


def _data_range(ref_image: np.ndarray, data_range: float | None) -> float:
    if data_range is None:
        data_range = float(ref_image.max() - ref_image.min())
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0; got {data_range} (constant reference image?)")
    return float(data_range)


def _check_images(image: np.ndarray, ref_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image, ref_image = np.asarray(image, dtype=float), np.asarray(ref_image, dtype=float)
    if image.shape != ref_image.shape or image.ndim != 3:
        raise ValueError(
            f"image and ref_image must be 3D (z, y, x) of one shape; got {image.shape} and "
            f"{ref_image.shape}"
        )
    return image, ref_image


def ssim_map(
    image: np.ndarray,
    ref_image: np.ndarray,
    *,
    data_range: float | None = None,
    kernel_size: int = 11,
    kernel_sigma: float = 1.5,
) -> np.ndarray:
    """Slice-wise 2D SSIM map ``(z, y, x)``; NaN where the window does not fit (the border)."""
    import torch
    from monai.metrics.regression import compute_ssim_and_cs

    image, ref_image = _check_images(image, ref_image)
    if min(image.shape[1:]) < kernel_size:
        raise ValueError(
            f"slices of {image.shape[1:]} voxels are smaller than the {kernel_size} window"
        )
    dr = _data_range(ref_image, data_range)
    ssim, _ = compute_ssim_and_cs(
        torch.as_tensor(image[:, None]),
        torch.as_tensor(ref_image[:, None]),
        spatial_dims=2,
        kernel_size=(kernel_size, kernel_size),
        kernel_sigma=(kernel_sigma, kernel_sigma),
        data_range=dr,
    )
    full = np.full(image.shape, np.nan)
    h = kernel_size // 2
    full[:, h : h + ssim.shape[2], h : h + ssim.shape[3]] = ssim[:, 0].double().numpy()
    return full


def compute_ssim(
    image: np.ndarray,
    ref_image: np.ndarray,
    *,
    data_range: float | None = None,
    region: np.ndarray | None = None,
) -> float:
    """Mean slice-wise SSIM of ``image`` against ``ref_image`` (whole image, or inside ``region``).

    Parameters
    ----------
    image, ref_image
        Synthesized and real image ``(z, y, x)``.
    data_range
        Intensity range for the SSIM constants; default ``ref_image.max() - ref_image.min()``.
    region
        Optional boolean mask ``(z, y, x)`` (e.g. from `lesion_region`): average only the window
        positions centred inside it. NaN when it holds no valid window position.
    """
    values = ssim_map(image, ref_image, data_range=data_range)
    if region is not None:
        values = values[np.asarray(region, dtype=bool)]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def compute_psnr(
    image: np.ndarray,
    ref_image: np.ndarray,
    *,
    data_range: float | None = None,
    region: np.ndarray | None = None,
) -> float:
    """PSNR in dB of ``image`` against ``ref_image`` (whole image, or the voxels of ``region``)."""
    image, ref_image = _check_images(image, ref_image)
    dr = _data_range(ref_image, data_range)
    if region is not None:
        region = np.asarray(region, dtype=bool)
        image, ref_image = image[region], ref_image[region]
        if image.size == 0:
            return float("nan")
    mse = float(np.mean((image - ref_image) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(dr**2 / mse)
