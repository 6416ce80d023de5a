"""Per-case acquisition: head pose, slab position, CTP timing, rigid misalignment, scanner noise.

`sample_followup_protocol` draws, from its own random stream, what the follow-up options of
`strokect.phantom.synth_case` need (issue 17): the lesion class of ``"mixed"``, the hemorrhage
draw, the infarct volume, the thin-slice thickness and the follow-up scanner variation (noise
level, HU offset, beam-hardening-like cupping near the inner table, `cupping`).
`sample_pairs_protocol` draws, from the ``pairs`` stream, what ``pairs="realistic"`` and the
lesion-kind shares need (the baseline's own grid and scanner, the 24 h follow-up's grid, scanner,
head pose and hypodensity fraction, the lesion-free / primary-hemorrhage draw).
"""

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


#: thin follow-up slice thicknesses drawn by ``followup_slices="thin"`` (mm)
THIN_SLICE_MM = (1.0, 1.25, 1.5, 2.0)
#: follow-up scanner variation (``scanner_variation=True``): noise SD and extra offset ranges (HU),
#: cupping amplitude magnitude (HU, either sign) and decay length from the inner table (mm)
FOLLOWUP_NOISE_SD_HU = (2.5, 8.0)
FOLLOWUP_EXTRA_OFFSET_HU = (-3.0, 3.0)
CUPPING_AMPLITUDE_HU = (1.5, 5.0)
CUPPING_LENGTH_MM = (6.0, 15.0)


def sample_followup_protocol(rng: np.random.Generator) -> dict:
    """Every draw of the follow-up options, always all of them in this order (JSON-serialisable).

    Drawing them all whatever options are on keeps each option's draw independent of the others.
    """
    return {
        "class_index": int(rng.integers(3)),
        "hemorrhage_u": float(rng.uniform()),
        "volume_z": float(rng.standard_normal()),
        "thin_slice_mm": float(rng.choice(THIN_SLICE_MM)),
        "noise_sd_hu": float(rng.uniform(*FOLLOWUP_NOISE_SD_HU)),
        "offset_hu": float(rng.uniform(*FOLLOWUP_EXTRA_OFFSET_HU)),
        "cupping_amplitude_hu": float(rng.choice([-1.0, 1.0]) * rng.uniform(*CUPPING_AMPLITUDE_HU)),
        "cupping_length_mm": float(rng.uniform(*CUPPING_LENGTH_MM)),
    }


#: ``pairs="realistic"``: thin baseline slice thicknesses (mm), the chance of a thin baseline, the
#: shift of a same-thickness baseline's slice positions (fraction of a slice), its z extent change
#: (slices), the baseline / 24 h scanner HU offset and soft-tissue contrast gain, the share of the
#: 1-week infarct hypodensity that the 24 h follow-up shows
PAIRS_THIN_BASELINE_MM = (1.0, 1.25, 1.5, 2.0, 2.5)
PAIRS_THIN_BASELINE_SHARE = 0.5
PAIRS_SLICE_SHIFT_FRACTION = (0.2, 0.8)
PAIRS_EXTRA_SLICES = (-3, -2, -1, 1, 2, 3)
PAIRS_OFFSET_HU = (-3.0, 3.0)
PAIRS_CONTRAST_GAIN = (0.92, 1.08)
PAIRS_HYPODENSITY_24H_FRACTION = (0.4, 0.7)
#: noise SD ranges (HU) of the baseline and 24 h scans: without / with ``scanner_variation``
PAIRS_NOISE_SD_HU = (2.5, 6.0)


def _pair_scanner(rng: np.random.Generator, prefix: str) -> dict:
    return {
        f"{prefix}_noise_u": float(rng.uniform()),
        f"{prefix}_offset_hu": float(rng.uniform(*PAIRS_OFFSET_HU)),
        f"{prefix}_contrast_gain": float(rng.uniform(*PAIRS_CONTRAST_GAIN)),
        f"{prefix}_cupping_amplitude_hu": float(
            rng.choice([-1.0, 1.0]) * rng.uniform(*CUPPING_AMPLITUDE_HU)
        ),
        f"{prefix}_cupping_length_mm": float(rng.uniform(*CUPPING_LENGTH_MM)),
    }


def sample_pairs_protocol(rng: np.random.Generator) -> dict:
    """Every draw of ``pairs="realistic"`` and the lesion-kind shares, always all of them in this
    order (JSON-serialisable), so each option's draw is independent of the others."""
    draws = {
        "kind_u": float(rng.uniform()),
        "hematoma_u": float(rng.uniform()),
        "baseline_thin_u": float(rng.uniform()),
        "baseline_thin_mm": float(rng.choice(PAIRS_THIN_BASELINE_MM)),
        "baseline_shift_fraction": float(rng.uniform(*PAIRS_SLICE_SHIFT_FRACTION)),
        "baseline_extra_slices": int(rng.choice(PAIRS_EXTRA_SLICES)),
        **_pair_scanner(rng, "baseline"),
        "fu24h_thin_slice_mm": float(rng.choice(THIN_SLICE_MM)),
        "fu24h_shift_fraction": float(rng.uniform()),
        **_pair_scanner(rng, "fu24h"),
        "fu24h_rigid_angles_deg": [float(v) for v in rng.uniform(-3.0, 3.0, 3)],
        "fu24h_rigid_translation_mm": [float(v) for v in rng.uniform(-4.0, 4.0, 3)],
        "fu24h_hypodensity_fraction": float(rng.uniform(*PAIRS_HYPODENSITY_24H_FRACTION)),
    }
    return draws


def pair_scanner(draws: dict, prefix: str, *, variation: bool) -> dict:
    """The scanner of the realistic-pairs baseline (``prefix="baseline"``) or 24 h scan
    (``"fu24h"``): noise SD (`PAIRS_NOISE_SD_HU`, with ``variation`` `FOLLOWUP_NOISE_SD_HU`), HU
    offset, soft-tissue contrast gain about 40 HU, and with ``variation`` a cupping."""
    lo, hi = FOLLOWUP_NOISE_SD_HU if variation else PAIRS_NOISE_SD_HU
    return {
        "noise_sd_hu": lo + draws[f"{prefix}_noise_u"] * (hi - lo),
        "offset_hu": draws[f"{prefix}_offset_hu"],
        "contrast_gain": draws[f"{prefix}_contrast_gain"],
        "cupping_amplitude_hu": draws[f"{prefix}_cupping_amplitude_hu"] if variation else 0.0,
        "cupping_length_mm": draws[f"{prefix}_cupping_length_mm"] if variation else None,
    }


def cupping(
    intracranial: np.ndarray, spacing_yx_mm, *, amplitude_hu: float, length_mm: float
) -> np.ndarray:
    """Beam-hardening-like HU change inside the skull, largest at the inner table (float64).

    ``amplitude_hu * exp(-d / length_mm)`` inside ``intracranial`` (0 outside), ``d`` the in-plane
    distance (mm) of the voxel to the nearest voxel outside the mask in its own slice (the inner
    table): residual beam hardening is a reconstruction effect of each axial slice. A positive
    amplitude brightens the brain near the skull (uncorrected cupping), a negative one darkens it
    (over-correction).
    """
    out = np.zeros(intracranial.shape)
    inside = intracranial.astype(bool)
    for k in np.flatnonzero(inside.any(axis=(1, 2))):
        d = ndimage.distance_transform_edt(inside[k], sampling=spacing_yx_mm)
        out[k][inside[k]] = amplitude_hu * np.exp(-d[inside[k]] / length_mm)
    return out


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


def ncct_grid(
    acq: dict,
    preset: Preset,
    *,
    thickness_mm: float | None = None,
    shift_fraction: float = 0.0,
    extra_slices: int = 0,
) -> Grid:
    """The whole-head NCCT grid; ``thickness_mm`` (contiguous slices) keeps the preset's z extent.

    ``shift_fraction`` moves every slice position up by that fraction of a slice and
    ``extra_slices`` adds (or, negative, removes) slices, half of them below the first slice, half
    above the last (integer division), without moving the others: so a grid with a shift fraction
    in (0, 1) never has a slice position of the unshifted grid of its thickness.
    """
    sy, sx = preset.ncct_spacing_yx_mm
    zc = acq["head_centre_lps_mm"][2] + 5.0
    slices, thickness = preset.ncct_slices, preset.ncct_thickness_mm
    if thickness_mm is not None:
        slices = max(1, round(slices * thickness / thickness_mm))
        thickness = float(thickness_mm)
    grid = Grid.centred(
        shape=(slices, *preset.ncct_shape_yx),
        spacing_mm=(thickness, sy, sx),
        centre_lps=(0.0, 0.0, zc),
    )
    if not shift_fraction and not extra_slices:
        return grid
    ox, oy, oz = grid.origin_lps
    oz += (float(shift_fraction) - int(extra_slices) // 2) * thickness
    return Grid(
        (max(1, slices + int(extra_slices)), *grid.shape[1:]), grid.spacing_mm, (ox, oy, oz)
    )


def pairs_rigid(acq: dict, draws: dict) -> np.ndarray:
    """Baseline-world -> 24 h follow-up-world matrix of ``pairs="realistic"`` (like
    `followup_rigid`, drawn from the ``pairs`` stream)."""
    return rigid_matrix(
        angles_deg=tuple(draws["fu24h_rigid_angles_deg"]),
        translation_mm=np.asarray(draws["fu24h_rigid_translation_mm"]),
        centre_lps=np.asarray(acq["head_centre_lps_mm"]),
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
