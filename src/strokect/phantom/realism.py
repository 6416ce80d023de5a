"""Vendor-like acute inputs for the ``realistic`` preset (issue 16).

What real ISLES 2018 cases look like and the phantom did not (`docs/phantom.md`, "Real data vs
phantom", measured by ``benchmarks/real_vs_phantom.py``): perfusion maps computed by software from
a noisy 4D series, with vessels as bright dots and lines, CSF and vessels kept in the map, unknown
integer scaling (brain median CBF 153-214, CBV 19-28); lesions drawn on DWI that are far less
conspicuous on CBF (lesion / contralateral median 0.74-0.77) and only partly match the
perfusion deficit; CT noise that is stronger and finer grained (3x3-median residual SD 2.7-3.0 HU,
autocorrelation below 0.5 at 0.55 px). `make_realistic` turns the acute volumes of a case into
that (the phantom's own truth maps are kept as ``truth_<map>``); every draw comes from the case's
``realism`` random stream. Conspicuity is set where the maps are made (`Preset.core_cbf_fraction`,
`Preset.core_cbv_fraction`, drawn per subject).

Design choices (each drawn per case, uniform in the range; the measured real values they aim at
are above): map scale CBF x 6-10 and CBV x 7-12, rounded to integers like the real files;
MTT and Tmax in seconds; extra in-plane Gaussian blur of the maps, sigma 0-1 pixel;
deconvolution smoothing 1-3 mm (real vendor CBF is wide: P95 2.5-3.2x its median); a smooth
log-normal texture on CBF and CBV (log SD 0.25-0.5, correlation 2-4 mm; the same field for
both) for the width of the real maps (brain CBF IQR/median 0.73-0.80); CT extra white noise 1.5-3 HU, gain 0.95-1.05 about 40 HU and
offset -3..3 HU; label = the core moved by up to 2 pixels in-plane and grown or shrunk by one
pixel (a DWI lesion drawn on another scan).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from strokect.io import Volume

#: acute keys replaced by vendor-like maps (the truth kept as ``truth_<key>``)
MAP_KEYS = ("cbf", "cbv", "mtt", "tmax")


def draw_realism(rng: np.random.Generator) -> dict:
    """The per-case realism parameters (JSON-serialisable)."""
    return {
        "cbf_scale": float(rng.uniform(6.0, 10.0)),
        "cbv_scale": float(rng.uniform(7.0, 12.0)),
        "map_blur_px": float(rng.uniform(0.0, 1.0)),
        "deconvolution_smoothing_mm": float(rng.uniform(1.0, 3.0)),
        "ct_extra_noise_hu": float(rng.uniform(1.5, 3.0)),
        "ct_gain": float(rng.uniform(0.95, 1.05)),
        "ct_offset_hu": float(rng.uniform(-3.0, 3.0)),
        "label_shift_px": [int(v) for v in rng.integers(-2, 3, 2)],
        "label_grow_px": int(rng.integers(-1, 2)),
        "map_texture_sd": float(rng.uniform(0.25, 0.5)),
        "map_texture_mm": float(rng.uniform(2.0, 4.0)),
    }


def _texture(shape, spacing_mm, params: dict, rng: np.random.Generator) -> np.ndarray:
    """A smooth log-normal multiplicative field (median 1, log SD ``map_texture_sd``, in-plane
    correlation ``map_texture_mm``): the spread of real vendor maps (brain CBF IQR/median
    0.73-0.80 against 0.36-0.42 without it)."""
    white = rng.standard_normal(shape).astype(np.float32)
    sigma = [0.0] + [params["map_texture_mm"] / s for s in spacing_mm[1:]]
    field = ndimage.gaussian_filter(white, sigma)
    field /= field.std() + 1e-12
    return np.exp(params["map_texture_sd"] * field).astype(np.float32)


def vendor_maps(
    ctp: Volume, params: dict, rng: np.random.Generator | None = None
) -> dict[str, np.ndarray]:
    """CBF/CBV/MTT/Tmax from the noisy 4D series, as vendor software shows them: every voxel of
    the brain (CSF and vessels included), scaled, blurred, CBF and CBV rounded to integers."""
    from strokect.perfusion import PerfusionConfig, compute_perfusion_maps

    cfg = PerfusionConfig(
        csf_max_hu=-1000.0,  # keep CSF in the maps (vendor maps cover sulci and ventricles)
        vessel_cbv_max=1e9,  # and vessels (bright dots and lines)
        smoothing_sigma_mm=params["deconvolution_smoothing_mm"],
        oscillation_step_s=None,  # the maps the preset's measured statistics were made with
    )
    res = compute_perfusion_maps(ctp, config=cfg)
    brain = res.tissue_mask.array > 0
    sigma = [0.0, params["map_blur_px"], params["map_blur_px"]]
    texture = None
    if rng is not None and params.get("map_texture_sd", 0) > 0:
        texture = _texture(brain.shape, ctp.spacing_mm, params, rng)
    out = {}
    for key in MAP_KEYS:
        arr = np.clip(res.maps[key].array.astype(np.float32), 0.0, None)
        if texture is not None and key in ("cbf", "cbv"):
            arr = arr * texture
        if params["map_blur_px"] > 0:
            arr = ndimage.gaussian_filter(arr, sigma)
        if key in ("cbf", "cbv"):
            arr = np.rint(arr * params[f"{key}_scale"])
        out[key] = np.where(brain, arr, 0.0).astype(np.float32)
    return out


def _label(core: np.ndarray, params: dict) -> np.ndarray:
    dy, dx = params["label_shift_px"]
    moved = np.roll(core, (dy, dx), axis=(1, 2))
    grow = params["label_grow_px"]
    ball = ndimage.generate_binary_structure(2, 1)[None]
    if grow > 0:
        moved = ndimage.binary_dilation(moved, ball, iterations=grow)
    elif grow < 0:
        shrunk = ndimage.binary_erosion(moved, ball, iterations=-grow)
        moved = shrunk if shrunk.any() else moved
    return moved


def make_realistic(acute: dict[str, Volume], rng: np.random.Generator) -> tuple[dict, dict]:
    """Vendor-like acute volumes and the parameters drawn (see the module docstring).

    Replaces ``cbf``, ``cbv``, ``mtt``, ``tmax`` (truth kept as ``truth_<key>``), ``ct`` and the
    ``core`` label (the geometric core kept as ``core_truth``); nothing else changes.
    """
    params = draw_realism(rng)
    out = dict(acute)
    maps = vendor_maps(acute["ctp"], params, rng)
    for key in MAP_KEYS:
        out[f"truth_{key}"] = acute[key]
        unit = {"cbf": "a.u. (vendor-like)", "cbv": "a.u. (vendor-like)"}.get(key, "s")
        out[key] = acute[key].with_array(maps[key], unit=unit)
    ct = acute["ct"].array.astype(np.float32)
    noise = rng.standard_normal(ct.shape, dtype=np.float32) * params["ct_extra_noise_hu"]
    soft = (ct > -200.0) & (ct < 300.0)
    ct = np.where(soft, 40.0 + params["ct_gain"] * (ct - 40.0), ct) + params["ct_offset_hu"]
    out["ct"] = acute["ct"].with_array(
        np.rint(ct + noise).astype(np.int16), modality="CT", unit="HU"
    )
    core = acute["core"].array > 0
    out["core_truth"] = acute["core"]
    out["core"] = acute["core"].with_array(_label(core, params).astype(np.uint8))
    return out, params
