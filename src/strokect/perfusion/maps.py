"""From a raw 4D CTP `Volume` to CBF, CBV, MTT, Tmax and TTP maps.

Units and constants (Østergaard et al., MRM 1996; Konstas et al., AJNR 2009):
``CBF = kH / rho * max_t k(t) * 6000`` in mL/100 g/min (``k`` in 1/s from `deconvolve`),
``CBV = kH / rho * 100 * ∫C_t / ∫C_a`` in mL/100 g, ``MTT = CBV / CBF * 60`` in s,
``Tmax`` = time of the residue maximum (s), ``TTP`` = time of the tissue curve maximum after the
first frame (s). ``rho = 1.04 g/mL`` (brain density), ``kH = (1 - 0.45) / (1 - 0.25) = 0.73``
(large-vessel vs. capillary hematocrit).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage
from scipy.stats import chi2

from strokect.errors import InputError, warn
from strokect.io import ensure_hu, require_4d
from strokect.io.volume import Volume
from strokect.perfusion.aif import InputFunction, aif_from_mask, select_aif, select_vof
from strokect.perfusion.deconvolution import (
    DEFAULT_ADAPTIVE_RANGE,
    DEFAULT_OSCILLATION_LIMIT,
    DEFAULT_OSVD_THRESHOLDS,
    METHODS,
    TMAX_ESTIMATORS,
    deconvolve,
    peak_and_time,
)
from strokect.perfusion.denoise import (
    cbv_noise_sd,
    smooth_temporal,
    smoothed_tissue_curves,
    temporal_subspace_denoise,
    tissue_mask,
)
from strokect.perfusion.preprocess import (
    brain_mask_from_baseline,
    detect_baseline_frames,
    motion_correct,
    resample_curves,
    uniform_time_grid,
)

log = logging.getLogger(__name__)

TISSUE_DENSITY_G_PER_ML = 1.04
HEMATOCRIT_FACTOR = (1 - 0.45) / (1 - 0.25)
MAP_NAMES = ("cbf", "cbv", "mtt", "tmax", "ttp")


@dataclass(frozen=True)
class PerfusionConfig:
    """Options of `compute_perfusion_maps` (defaults in brackets in the field comments)."""

    method: str = "osvd"  # ssvd | bcsvd | osvd
    svd_threshold: float | None = None  # ssvd 0.2, bcsvd 0.1 (fraction of largest singular value)
    osvd_thresholds: tuple[float, ...] = DEFAULT_OSVD_THRESHOLDS
    oscillation_limit: float = DEFAULT_OSCILLATION_LIMIT
    oscillation_step_s: float | None = 2.0  # limit x dt / this step; None: as given
    # Tmax: residue maximum ("peak"), its half-maximum rise ("onset"), or the rise / the maximum
    # minus its tabulated truncation bias ("calibrated" / "peak_calibrated")
    tmax_estimator: str = "peak"
    adaptive_truncation: bool = False  # per-voxel discrepancy-principle rank (measured noise)
    adaptive_range: tuple[float, float] = DEFAULT_ADAPTIVE_RANGE  # loosest, strictest threshold
    n_baseline: int | None = None  # None: detected from the brain-average curve
    dt_s: float | None = None  # uniform grid step; None: median frame step
    motion_correction: bool = False
    motion_in_plane: bool = False
    smoothing_sigma_mm: float = 4.0  # in-plane normalized convolution within tissue (0: off)
    temporal_sigma_s: float = 0.0  # Gaussian smoothing of every curve along time (0: off)
    temporal_rank: int | str = "auto"  # temporal-subspace denoising: "auto", a rank, 0 = off
    temporal_min_rank: int = 1  # floor of the "auto" rank
    temporal_voxel_threshold: float = 0.0  # per-voxel hard threshold of the other components
    brain_window_hu: tuple[float, float] = (0.0, 100.0)
    csf_max_hu: float = 15.0  # baseline HU at or below -> CSF, excluded from the tissue mask
    vessel_cbv_max: float = 8.0  # area-ratio CBV (mL/100 g) above -> vessel, excluded
    aif_n_voxels: int = 5
    aif_candidate_percentile: float = 95.0
    vof_scaling: bool = False  # scale the AIF so that its area equals the VOF's
    min_frames: int = 8
    tissue_density_g_per_ml: float = TISSUE_DENSITY_G_PER_ML
    hematocrit_factor: float = HEMATOCRIT_FACTOR

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.tmax_estimator not in TMAX_ESTIMATORS:
            raise InputError(
                f"Tmax estimator must be one of {', '.join(TMAX_ESTIMATORS)}; "
                f"got {self.tmax_estimator!r}"
            )
        object.__setattr__(self, "temporal_rank", parse_temporal_rank(self.temporal_rank))
        if self.oscillation_step_s is not None and not self.oscillation_step_s > 0:
            raise InputError(
                f"oscillation step must be > 0 s (or None); got {self.oscillation_step_s!r}"
            )
        if not self.temporal_voxel_threshold >= 0:
            raise InputError(
                f"temporal voxel threshold must be >= 0; got {self.temporal_voxel_threshold!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def parse_temporal_rank(value) -> int | str:
    """``"auto"`` or a non-negative integer (also given as text); anything else: `InputError`."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        rank = int(value)
    except (TypeError, ValueError):
        rank = -1
    if isinstance(value, float) and value != rank:
        rank = -1
    if rank < 0:
        raise InputError(f"temporal rank must be 'auto' or an integer >= 0; got {value!r}")
    return rank


@dataclass
class PerfusionResult:
    """Maps (3D `Volume`s on the input grid), masks, input functions and what was used."""

    maps: dict[str, Volume]
    brain_mask: Volume
    tissue_mask: Volume  # brain without CSF and vessels: the analysed voxels
    aif: InputFunction
    vof: InputFunction | None
    aif_scale: float
    n_baseline: int
    dt_s: float
    config: PerfusionConfig
    info: dict = field(default_factory=dict)


def _as_mask(mask, ref: Volume, name: str) -> np.ndarray:
    arr = mask.array if isinstance(mask, Volume) else np.asarray(mask)
    if arr.shape != ref.spatial_shape:
        raise InputError(
            f"{name}: shape {arr.shape} does not match the CTP grid {ref.spatial_shape}"
        )
    return arr > 0


def _prepare(ctp: Volume, cfg: PerfusionConfig, brain_mask):
    """Baseline frames, baseline image and brain mask of the (float32) series."""
    arr = ctp.array.astype(np.float32, copy=False)
    rough = (
        _as_mask(brain_mask, ctp, "brain_mask")
        if brain_mask is not None
        else brain_mask_from_baseline(arr[0], window_hu=cfg.brain_window_hu)
    )
    global_curve = arr.reshape(arr.shape[0], -1)[:, np.flatnonzero(rough)].mean(axis=1)
    nb = cfg.n_baseline or detect_baseline_frames(global_curve)
    if not 1 <= nb < arr.shape[0] - 2:
        raise InputError(f"n_baseline must be between 1 and {arr.shape[0] - 3}; got {nb}")
    baseline = arr[:nb].mean(axis=0)
    brain = (
        rough
        if brain_mask is not None
        else brain_mask_from_baseline(baseline, window_hu=cfg.brain_window_hu)
    )
    return arr, baseline, brain, nb


def compute_perfusion_maps(
    ctp: Volume,
    *,
    config: PerfusionConfig | None = None,
    aif_mask: Volume | np.ndarray | None = None,
    brain_mask: Volume | np.ndarray | None = None,
    aif_curve_hu: np.ndarray | None = None,
) -> PerfusionResult:
    """CBF, CBV, MTT, Tmax, TTP from a 4D CTP series in HU.

    Steps: baseline and brain mask; AIF/VOF from the unsmoothed curves; tissue mask = brain
    without CSF and vessels (`strokect.perfusion.denoise.tissue_mask`); in-plane normalized
    convolution of the concentration curves within tissue (``smoothing_sigma_mm``); optional
    temporal smoothing; deconvolution; maps.

    Parameters
    ----------
    ctp : Volume
        4D ``(t, z, y, x)`` series in HU with ``time_s`` (strictly increasing; may be non-uniform:
        curves are resampled linearly to a uniform grid before deconvolution).
    config : PerfusionConfig, optional
    aif_mask : Volume or (z, y, x) array, optional
        Voxels whose mean curve is the AIF; default: automatic selection.
    brain_mask : Volume or (z, y, x) array, optional
        Default: HU window on the baseline, largest component, holes filled.
    aif_curve_hu : (T,) array, optional
        A given AIF (HU enhancement above baseline at ``ctp.time_s``), e.g. measured elsewhere or
        a phantom's true AIF; replaces the automatic selection and ``aif_mask``.

    Returns
    -------
    PerfusionResult
        ``maps[name]`` 3D float32 Volumes on the input grid, 0 outside the tissue mask
        (``result.tissue_mask``: brain without CSF and vessels).
    """
    cfg = config or PerfusionConfig()
    require_4d(ctp, name="CTP", min_frames=cfg.min_frames)
    ctp = ensure_hu(ctp, name="CTP")
    if cfg.motion_correction:
        ctp = motion_correct(ctp, in_plane=cfg.motion_in_plane)
    arr, baseline, brain, nb = _prepare(ctp, cfg, brain_mask)
    grid = uniform_time_grid(ctp.time_s, dt_s=cfg.dt_s)
    dt = float(grid[1] - grid[0])
    aif, vof, scale, cbv_raw = _vascular(arr, baseline, brain, grid, ctp, aif_mask, cfg)
    if aif_curve_hu is not None:  # the vessel test's CBV follows the AIF actually used
        old_area = float(np.sum(aif.curve * scale))
        aif, scale = _given_aif(aif_curve_hu, ctp, grid), 1.0
        cbv_raw = cbv_raw * (old_area / max(float(np.sum(aif.curve)), 1e-9))
    noise_hu = _noise_hu(arr, brain, nb)
    factor = cfg.hematocrit_factor / cfg.tissue_density_g_per_ml
    cbv_sd = cbv_noise_sd(noise_hu, grid.size, nb, float(np.sum(aif.curve * scale)), factor)
    tissue, vessel = tissue_mask(
        brain,
        baseline,
        cbv_raw,
        ctp.spacing_mm,
        csf_max_hu=cfg.csf_max_hu,
        vessel_cbv_max=cfg.vessel_cbv_max,
        cbv_noise_sd=cbv_sd,
    )
    curves = smoothed_tissue_curves(arr, baseline, tissue, cfg.smoothing_sigma_mm, ctp.spacing_mm)
    idx = np.flatnonzero(tissue)
    curves = resample_curves(curves, ctp.time_s, grid)
    curves = smooth_temporal(curves, cfg.temporal_sigma_s, dt)
    curves, subspace = temporal_subspace_denoise(
        curves,
        cfg.temporal_rank,
        min_rank=cfg.temporal_min_rank,
        voxel_threshold=cfg.temporal_voxel_threshold,
    )
    noise_sd = curve_noise_sd(curves, grid, ctp.time_s, nb) if cfg.adaptive_truncation else None
    maps = _maps_from_curves(curves, aif.curve * scale, grid, cfg, noise_sd=noise_sd)
    ref = ctp.frame(0)
    out = {}
    for name, values in maps.items():
        full = np.zeros(ref.spatial_shape, np.float32)
        full.ravel()[idx] = values
        out[name] = ref.with_array(full, map=name)
    log.info(
        "perfusion maps: %d tissue voxels (%d vessel voxels excluded), method %s, AIF at %s",
        idx.size,
        int(vessel.sum()),
        cfg.method,
        np.round(aif.location_zyx, 1).tolist(),
    )
    return PerfusionResult(
        maps=out,
        brain_mask=ref.with_array(brain.astype(np.uint8)),
        tissue_mask=ref.with_array(tissue.astype(np.uint8)),
        aif=aif,
        vof=vof,
        aif_scale=scale,
        n_baseline=nb,
        dt_s=dt,
        config=cfg,
        info={
            "n_tissue_voxels": int(idx.size),
            "n_vessel_voxels": int(vessel.sum()),
            "curve_noise_sd_hu": noise_sd,
            "temporal_rank": subspace.rank if cfg.temporal_rank else None,
        },
    )


def _given_aif(curve_hu, ctp: Volume, grid: np.ndarray) -> InputFunction:
    """`InputFunction` of a user-given AIF sampled at ``ctp.time_s`` (no voxel location)."""
    curve = np.asarray(curve_hu, dtype=np.float64).reshape(-1)
    if curve.size != ctp.n_frames:
        raise InputError(
            f"aif_curve_hu has {curve.size} samples; the CTP has {ctp.n_frames} frames"
        )
    nan3 = np.full(3, np.nan)
    return InputFunction(
        curve=resample_curves(curve[:, None], ctp.time_s, grid)[:, 0],
        time_s=grid,
        voxels_zyx=np.zeros((0, 3), int),
        location_zyx=nan3,
        location_world_lps=nan3,
        source="given",
    )


def curve_noise_sd(
    curves: np.ndarray, grid: np.ndarray, time_s: np.ndarray, nb: int
) -> float | None:
    """Noise SD (HU) of the denoised ``(G, M)`` tissue curves: median over voxels of the SD of
    their samples before the first bolus frame (``time_s[nb]``); needs >= 3 such samples."""
    pre = int(np.searchsorted(grid, time_s[nb] - 1e-6))
    if pre < 3:
        warn(f"only {pre} pre-bolus samples: noise unknown, fixed truncation thresholds used")
        return None
    sd = curves[:pre].std(axis=0, ddof=1)
    return float(np.median(sd)) / _MEDIAN_SD_FACTOR.get(pre, 1.0)


#: median of the sample SD of ``n`` Gaussian samples in units of sigma (unbiased median estimate)
_MEDIAN_SD_FACTOR = {n: float(np.sqrt(chi2.median(n - 1) / (n - 1))) for n in range(3, 64)}


def _noise_hu(arr: np.ndarray, brain: np.ndarray, nb: int) -> float:
    """Median over the brain of the temporal SD of the baseline frames (HU); 0 if < 3 frames."""
    if nb < 3:
        return 0.0
    return float(np.median(arr[:nb, brain].std(axis=0, ddof=1)))


def _vascular(arr, baseline, brain, grid, ctp, aif_mask, cfg):
    """AIF, VOF, AIF scale and the unsmoothed area-ratio CBV map (for vessel detection)."""
    region = ndimage.binary_dilation(brain, structure=np.ones((1, 3, 3), bool), iterations=3)
    if aif_mask is not None:
        region |= _as_mask(aif_mask, ctp, "aif_mask")
    flat = np.flatnonzero(region)
    curves = arr.reshape(arr.shape[0], -1)[:, flat] - baseline.ravel()[flat][None]
    curves = resample_curves(curves, ctp.time_s, grid)
    in_brain = brain.ravel()[flat]
    aif, vof, scale = _input_functions(curves, flat, grid, ctp, in_brain, aif_mask, cfg)
    factor = cfg.hematocrit_factor / cfg.tissue_density_g_per_ml
    cbv_raw = np.zeros(brain.shape, np.float32)
    area = curves.sum(axis=0, dtype=np.float64) / float(np.sum(aif.curve * scale))
    cbv_raw.ravel()[flat] = area * factor * 100.0
    return aif, vof, scale, cbv_raw


def _input_functions(curves, flat, grid, ctp, in_brain, aif_mask, cfg):
    if aif_mask is not None:
        aif = aif_from_mask(curves, flat, grid, ctp, _as_mask(aif_mask, ctp, "aif_mask"))
    else:
        aif = select_aif(
            curves[:, in_brain],
            flat[in_brain],
            grid,
            ctp,
            n_voxels=cfg.aif_n_voxels,
            candidate_percentile=cfg.aif_candidate_percentile,
        )
    try:
        vof = select_vof(curves, flat, grid, ctp, aif, n_voxels=cfg.aif_n_voxels)
    except InputError as exc:
        if cfg.vof_scaling:
            raise
        log.debug("no VOF: %s", exc)
        vof = None
    scale = 1.0
    if cfg.vof_scaling and vof is not None:
        scale = vof.area() / max(aif.area(), 1e-9)
        if scale < 1.0:
            warn(f"VOF area is smaller than the AIF area (ratio {scale:.2f}); AIF left unscaled")
            scale = 1.0
    return aif, vof, scale


def oscillation_limit(cfg: PerfusionConfig, dt_s: float) -> float:
    """The oSVD oscillation-index limit used at analysis step ``dt_s``.

    Wu et al.'s oscillation index (MRM 2003, Eq. 7) sums the second differences of the residue
    over its ``L`` samples and divides by ``L``: the same residue sampled twice as finely keeps
    the second differences of its jumps over twice as many samples, so its index is about half,
    and a fixed limit lets 1 s series keep much less regularised (noisier, earlier-peaking)
    residues than 2 s series. ``cfg.oscillation_limit`` is therefore held at the frame step
    ``cfg.oscillation_step_s`` (2 s: the frame step of every phantom series it was validated on
    before issue 15) and scaled by ``dt_s / step``,
    i.e. the index is taken per second of curve rather than per sample. Measured on the readout
    validation (docs/perfusion.md): Tmax > 6 s volumes at 1 s frames follow those at 2 s instead
    of falling short. ``oscillation_step_s=None``: the limit as given at every step.
    """
    if cfg.oscillation_step_s is None:
        return cfg.oscillation_limit
    return cfg.oscillation_limit * dt_s / cfg.oscillation_step_s


def _maps_from_curves(tissue, aif, grid, cfg, *, noise_sd=None) -> dict:
    """Per-voxel map values from ``(G, M)`` tissue curves and a ``(G,)`` AIF; ``noise_sd`` (HU,
    or None: fixed thresholds) drives the adaptive truncation when ``cfg.adaptive_truncation``."""
    dt = float(grid[1] - grid[0])
    summ = deconvolve(
        tissue,
        aif,
        dt,
        method=cfg.method,
        threshold=cfg.svd_threshold,
        osvd_thresholds=cfg.osvd_thresholds,
        oscillation_limit=oscillation_limit(cfg, dt),
        noise_sd=noise_sd if cfg.adaptive_truncation else None,
        adaptive_range=cfg.adaptive_range,
        tmax=cfg.tmax_estimator,
    )
    factor = cfg.hematocrit_factor / cfg.tissue_density_g_per_ml
    cbf = np.maximum(summ.peak, 0) * factor * 6000.0
    aif_area = float(np.sum(aif))
    cbv = np.maximum(tissue.sum(axis=0, dtype=np.float64) / aif_area, 0) * factor * 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mtt = np.where(cbf > 1e-3, cbv / cbf * 60.0, 0.0)
    _, ttp = peak_and_time(np.ascontiguousarray(tissue.T), dt, circulant=False)
    return {
        "cbf": cbf.astype(np.float32),
        "cbv": cbv.astype(np.float32),
        "mtt": mtt.astype(np.float32),
        "tmax": summ.peak_time_s.astype(np.float32),
        "ttp": ttp.astype(np.float32),
    }
