"""CTP preprocessing: motion correction, baseline frames, brain mask, uniform time grid.

CT enhancement is proportional to iodine concentration, so the concentration curve of a voxel is
its HU minus its pre-bolus (baseline) mean, in HU (Axel, Radiology 1980; Konstas et al., AJNR 2009).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from strokect.errors import InputError
from strokect.io.convert import volume_to_sitk
from strokect.io.volume import Volume

log = logging.getLogger(__name__)


def detect_baseline_frames(global_curve: np.ndarray, *, rise_fraction: float = 0.1) -> int:
    """Number of pre-bolus frames from the brain-average curve.

    The curve first exceeds its starting level by ``rise_fraction`` of the peak enhancement at
    frame ``f``; the baseline is frames ``0 .. f - 2`` (one frame of margin, since arterial
    enhancement precedes the brain-average rise). At least 1 frame.
    """
    g = np.asarray(global_curve, dtype=np.float64)
    start = np.median(g[: min(3, g.size)])
    enh = g - start
    peak = int(np.argmax(enh))
    if enh[peak] <= 0:
        raise InputError(
            "no contrast enhancement found in the series (the brain curve never rises)"
        )
    above = np.flatnonzero(enh[: peak + 1] > rise_fraction * enh[peak])
    first = int(above[0]) if above.size else peak
    return int(np.clip(first - 1, 1, max(peak, 1)))


def brain_mask_from_baseline(
    baseline_hu: np.ndarray, *, window_hu: tuple[float, float] = (0.0, 100.0)
) -> np.ndarray:
    """Brain mask: HU window on the baseline image, largest 3D component, holes filled per slice.

    A one-voxel opening first detaches the brain from scalp soft tissue through thin bone gaps.
    """
    lo, hi = window_hu
    raw = (baseline_hu >= lo) & (baseline_hu <= hi)
    opened = ndimage.binary_opening(raw, structure=np.ones((1, 3, 3), bool))
    labels, n = ndimage.label(opened)
    if n == 0:
        raise InputError(f"no voxel of the baseline image lies in the brain window {window_hu} HU")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    mask = labels == int(np.argmax(sizes))
    for z in range(mask.shape[0]):
        mask[z] = ndimage.binary_fill_holes(mask[z])
    return mask


def uniform_time_grid(time_s: np.ndarray, *, dt_s: float | None = None) -> np.ndarray:
    """Uniform grid from the first to the last frame time, step = median frame step by default."""
    t = np.asarray(time_s, dtype=np.float64)
    step = float(np.median(np.diff(t))) if dt_s is None else float(dt_s)
    if step <= 0:
        raise InputError(f"time step must be positive; got {step}")
    n = int(np.floor((t[-1] - t[0]) / step + 1e-6)) + 1
    return t[0] + step * np.arange(n)


def resample_curves(curves: np.ndarray, time_s: np.ndarray, grid_s: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``(T, M)`` curves from ``time_s`` to ``grid_s`` -> ``(G, M)``."""
    t = np.asarray(time_s, dtype=np.float64)
    if t.size == grid_s.size and np.allclose(t, grid_s, atol=1e-6):
        return curves
    hi = np.clip(np.searchsorted(t, grid_s, side="right"), 1, t.size - 1)
    lo = hi - 1
    w = ((grid_s - t[lo]) / (t[hi] - t[lo])).clip(0, 1).astype(np.float32)[:, None]
    return curves[lo] * (1 - w) + curves[hi] * w


def motion_correct(ctp: Volume, *, reference_frame: int = 0, in_plane: bool = False) -> Volume:
    """Rigid registration of every frame to ``reference_frame`` (SimpleITK, mean squares).

    ``in_plane=True`` registers each slice in 2D (thick-slice CTP); otherwise one 3D rigid
    transform per frame. Returns a new 4D `Volume` on the same grid.
    """
    import SimpleITK as sitk

    ref_vol = ctp.frame(reference_frame)
    out = np.empty(ctp.array.shape, np.float32)
    for t in range(ctp.n_frames):
        if t == reference_frame:
            out[t] = ctp.array[t]
            continue
        if in_plane:
            for z in range(ctp.spatial_shape[0]):
                fixed = sitk.GetImageFromArray(ref_vol.array[z].astype(np.float32))
                moving = sitk.GetImageFromArray(ctp.array[t, z].astype(np.float32))
                fixed.SetSpacing(ctp.spacing_mm[:0:-1])
                moving.SetSpacing(ctp.spacing_mm[:0:-1])
                out[t, z] = _register(fixed, moving, sitk.Euler2DTransform())
        else:
            fixed = volume_to_sitk(ref_vol)
            moving = volume_to_sitk(ctp.frame(t))
            fixed = sitk.Cast(fixed, sitk.sitkFloat32)
            moving = sitk.Cast(moving, sitk.sitkFloat32)
            out[t] = _register(fixed, moving, sitk.Euler3DTransform())
        log.debug("motion correction: frame %d registered", t)
    return ctp.with_array(out)


def _register(fixed, moving, transform) -> np.ndarray:
    import SimpleITK as sitk

    init = sitk.CenteredTransformInitializer(
        fixed, moving, transform, sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-3, numberOfIterations=100
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SetInitialTransform(init, inPlace=False)
    final = reg.Execute(fixed, moving)
    fill = float(sitk.GetArrayViewFromImage(moving).min())
    res = sitk.Resample(moving, fixed, final, sitk.sitkLinear, fill)
    return sitk.GetArrayFromImage(res)
