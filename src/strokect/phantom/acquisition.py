"""Per-case acquisition: head pose, slab position, CTP timing, rigid misalignment, scanner noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from strokect.phantom.geometry import Grid, head_pose, rigid_matrix
from strokect.phantom.presets import Preset


def sample_acquisition(rng: np.random.Generator, preset: Preset) -> dict:
    """Draw everything about how the case is scanned (JSON-serialisable)."""
    thickness = float(rng.choice(preset.ctp_thickness_mm))
    lo, hi = preset.ctp_slices
    max_slices = max(lo, min(hi, int(110.0 // thickness)))
    n_slices = int(rng.integers(lo, max_slices + 1))
    slab_mm = n_slices * thickness
    # slab centre (head z) chosen so the slab stays within supratentorial brain (-15 .. +60 mm)
    zc_lo, zc_hi = -15.0 + slab_mm / 2, 60.0 - slab_mm / 2
    slab_centre = float(rng.uniform(min(zc_lo, 15.0), max(zc_hi, 15.0)))
    pairs = [
        (n, dt)
        for n in range(preset.ctp_frames[0], preset.ctp_frames[1] + 1)
        for dt in preset.ctp_dt_s
        if (n - 1) * dt >= preset.ctp_min_duration_s
    ]
    n_frames, dt = pairs[int(rng.integers(len(pairs)))]
    return {
        "head_centre_lps_mm": [float(rng.uniform(-12, 12)), float(rng.uniform(-12, 12)), 0.0],
        "yaw_deg": float(rng.uniform(-12.0, 12.0)),
        "ctp_slices": n_slices,
        "ctp_thickness_mm": thickness,
        "slab_centre_head_z_mm": slab_centre,
        "ctp_frames": int(n_frames),
        "ctp_dt_s": float(dt),
        "ctp_prebolus_frames": int(rng.integers(3, 7)),
        "ctp_noise_sd_hu": float(rng.uniform(*preset.ctp_noise_sd_hu)),
        "acute_ncct_noise_sd_hu": float(rng.uniform(3.0, 5.0)),
        "baseline_noise_sd_hu": float(rng.uniform(2.5, 5.0)),
        "followup_noise_sd_hu": float(rng.uniform(3.0, 6.0)),
        "followup_offset_hu": float(rng.uniform(-2.0, 2.0)),
        "followup_contrast_gain": float(rng.uniform(0.92, 1.08)),
        "noise_correlation_px": float(rng.uniform(0.6, 1.0)),
        "early_ischemic_change_hu": float(rng.uniform(1.0, 4.0)),
        "rigid_angles_deg": [float(v) for v in rng.uniform(-3.0, 3.0, 3)],
        "rigid_translation_mm": [float(v) for v in rng.uniform(-4.0, 4.0, 3)],
    }


def acute_pose(acq: dict) -> np.ndarray:
    return head_pose(centre_lps=np.asarray(acq["head_centre_lps_mm"]), yaw_deg=acq["yaw_deg"])


def followup_rigid(acq: dict) -> np.ndarray:
    """Baseline-world -> follow-up-world matrix ``M`` (see `strokect.phantom.geometry`)."""
    return rigid_matrix(
        angles_deg=tuple(acq["rigid_angles_deg"]),
        translation_mm=np.asarray(acq["rigid_translation_mm"]),
        centre_lps=np.asarray(acq["head_centre_lps_mm"]),
    )


def ctp_grid(acq: dict, preset: Preset) -> Grid:
    sy, sx = preset.ctp_spacing_yx_mm
    zc = acq["head_centre_lps_mm"][2] + acq["slab_centre_head_z_mm"]
    return Grid.centred(
        shape=(acq["ctp_slices"], *preset.ctp_shape_yx),
        spacing_mm=(acq["ctp_thickness_mm"], sy, sx),
        centre_lps=(0.0, 0.0, zc),
    )


def ncct_grid(acq: dict, preset: Preset) -> Grid:
    sy, sx = preset.ncct_spacing_yx_mm
    zc = acq["head_centre_lps_mm"][2] + 5.0
    return Grid.centred(
        shape=(preset.ncct_slices, *preset.ncct_shape_yx),
        spacing_mm=(preset.ncct_thickness_mm, sy, sx),
        centre_lps=(0.0, 0.0, zc),
    )


def ctp_times(acq: dict) -> np.ndarray:
    return np.arange(acq["ctp_frames"]) * acq["ctp_dt_s"]


def ct_noise(
    rng: np.random.Generator, shape: tuple[int, ...], *, sd_hu: float, correlation_px: float
) -> np.ndarray:
    """Gaussian noise with in-plane correlated texture, rescaled to ``sd_hu`` (float64).

    White noise is smoothed in-plane with a Gaussian of ``correlation_px`` pixels, which mimics the
    blotchy texture of filtered-back-projection CT, then divided by the theoretical attenuation
    of the filter so the voxel standard deviation is ``sd_hu``.
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    if correlation_px <= 0:
        return white.astype(np.float64) * sd_hu
    sigma = [0.0] * (len(shape) - 2) + [correlation_px, correlation_px]
    smooth = ndimage.gaussian_filter(white, sigma)
    # variance of white noise after a 2D Gaussian of sigma s: 1 / (4 pi s^2) (continuous limit)
    impulse = np.zeros((33, 33))
    impulse[16, 16] = 1.0
    gain = np.sqrt((ndimage.gaussian_filter(impulse, correlation_px) ** 2).sum())
    return smooth.astype(np.float64) * (sd_hu / gain)
