"""Input pipeline of ``pseudodwi``: maps (given or computed), temporal features, network grid.

Wang, Song et al., MedIA 2020, Sec. 3.1: the network inputs are the perfusion maps F_o (CBF,
CBV, MTT, Tmax), the temporal MIP F_l of the raw 4D CTP, and the perfusion stage of the series
cropped to [T_s, T_e] and resampled to C_e frames (I*), all from `strokect.perfusion.temporal`.
Ours (the paper gives no intensity normalization): every map and F_l z-scored over the brain
(maps of unknown vendor scale become comparable), the C_e frames z-scored together (one mean and
SD, so the shape of the curves is kept), 0 outside the brain; the brain is where the maps are
non-zero (`strokect.preprocess.perfusion_brain_mask`). With ``pixel_mm`` the channels are
averaged in-plane onto coarser pixels (`reslice_to_spacing`) and the predictions are resampled
back onto the input grid (`to_output_grid`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from strokect.errors import InputError
from strokect.inference.prepared import Prepared
from strokect.io.atomic import atomic_output
from strokect.io.checks import check_same_geometry, ensure_hu, require_4d
from strokect.io.digest import sha256_file
from strokect.io.volume import Volume
from strokect.methods.pseudodwi.config import MAP_ROLES, PseudoDwiConfig
from strokect.methods.pseudodwi.losses import attention_map, dwi_target_scale
from strokect.perfusion.temporal import crop_perfusion_window, temporal_mip
from strokect.preprocess.brain import perfusion_brain_mask
from strokect.preprocess.intensity import zscore_in_mask
from strokect.preprocess.resample import resample_onto, reslice_to_spacing

__all__ = [
    "compute_maps",
    "perfusion_config",
    "prepare_case",
    "prepare_volumes",
    "to_output_grid",
]

log = logging.getLogger(__name__)
_CACHE_VERSION = 1


def frame_channels(c_e: int) -> list[str]:
    return [f"frame_{i}" for i in range(c_e)]


def perfusion_config(cfg: PseudoDwiConfig):
    """The `PerfusionConfig` used when the maps are missing: vendor-like maps (CSF and vessels
    kept, like the maps the phantom's ``realistic`` preset and vendor software give)."""
    from strokect.perfusion import PerfusionConfig

    return PerfusionConfig(
        csf_max_hu=-1000.0,
        vessel_cbv_max=1e9,
        smoothing_sigma_mm=cfg.smoothing_sigma_mm,
        oscillation_step_s=None,  # as the `realistic` phantom maps the weights were trained on
    )


def compute_maps(ctp: Volume, cfg: PseudoDwiConfig) -> tuple[dict[str, Volume], dict]:
    """CBF, CBV, MTT, Tmax from the 4D CTP with `perfusion_config`, and a history record."""
    from strokect.perfusion import compute_perfusion_maps

    pcfg = perfusion_config(cfg)
    res = compute_perfusion_maps(ctp, config=pcfg)
    maps = {m: res.maps[m] for m in MAP_ROLES}
    record = {
        "step": "perfusion_maps",
        "computed_from": "ctp",
        "config": {k: v for k, v in pcfg.to_dict().items() if not isinstance(v, tuple)},
    }
    return maps, record


def _on_network_grid(volume: Volume, cfg: PseudoDwiConfig) -> Volume:
    if cfg.pixel_mm is None:
        return volume
    target = (volume.spacing_mm[0], cfg.pixel_mm, cfg.pixel_mm)
    return reslice_to_spacing(volume, target, tolerance=0.05)


def to_output_grid(prepared: Prepared, array: np.ndarray) -> np.ndarray:
    """An array on the network grid taken onto the output grid (linear, 0 outside)."""
    if prepared.output_grid is None:
        return np.asarray(array, np.float32)
    vol = prepared.grid.with_array(np.asarray(array, np.float32))
    return resample_onto(vol, prepared.target, interpolation="linear", fill_value=0.0).array


def prepare_volumes(
    volumes: Mapping[str, Volume],
    cfg: PseudoDwiConfig,
    *,
    dwi: Volume | None = None,
    label: Volume | None = None,
) -> Prepared:
    """One case's raw 4D CTP (and maps when given) as network channels.

    Parameters
    ----------
    volumes : mapping role -> Volume
        ``ctp`` (4D, HU) and either all of ``cbf, cbv, mtt, tmax`` (on the CTP's spatial grid)
        or none of them (computed with `compute_maps`).
    cfg : PseudoDwiConfig
    dwi, label : Volume, optional
        Training only: the DWI (absent: a zero target) and the core mask on the same grid; they become
        ``data["dwi"]`` (scaled to [0, 1] by its minimum and 99th percentile), ``data["label"]``
        and ``data["attention"]`` (Eq. 9) on the network grid, and ``label`` on the output grid.

    Returns
    -------
    Prepared
        ``image`` (4 + 1 + C_e, Z, Y, X) on the network grid, ``roi`` the brain there;
        ``output_grid`` the maps' grid (None when it is the network grid).
    """
    if "ctp" not in volumes:
        raise InputError(
            "pseudodwi needs the raw 4D CTP series (role ctp); the perfusion maps alone are not enough"
        )
    ctp = volumes["ctp"]
    if not ctp.is_4d:
        raise InputError("ctp: pseudodwi needs the raw 4D CTP series (t, z, y, x); got a 3D image")
    require_4d(ctp, name="ctp", min_frames=cfg.k + 2)
    ctp = ensure_hu(ctp, name="ctp")
    history: list[dict] = []
    given = [m for m in MAP_ROLES if m in volumes]
    if given and len(given) < len(MAP_ROLES):
        missing = [m for m in MAP_ROLES if m not in volumes]
        raise InputError(
            f"give all four perfusion maps or none (they are then computed from the CTP); "
            f"missing: {', '.join(missing)}"
        )
    if given:
        maps = {m: volumes[m] for m in MAP_ROLES}
        spatial = ctp.with_array(ctp.array[0])
        check_same_geometry({"ctp": spatial, **maps})
        history.append({"step": "perfusion_maps", "given": list(MAP_ROLES)})
    else:
        maps, record = compute_maps(ctp, cfg)
        history.append(record)
    grid = maps["cbf"]
    arrays = {m: np.nan_to_num(np.asarray(v.array, np.float32)) for m, v in maps.items()}
    brain = perfusion_brain_mask({m: grid.with_array(a) for m, a in arrays.items()}).array > 0
    if not brain.any():
        raise InputError("the perfusion maps are zero everywhere: empty brain mask")
    series = np.asarray(ctp.array, np.float32)
    mip = temporal_mip(series)
    frames, (t_s, t_e) = crop_perfusion_window(series, k=cfg.k, n_frames=cfg.c_e)
    del series
    history.append(
        {"step": "temporal_features", "k": cfg.k, "c_e": cfg.c_e, "t_s": t_s, "t_e": t_e,
         "n_frames": int(ctp.n_frames)}
    )  # fmt: skip
    channels = [zscore_in_mask(arrays[m], brain) for m in MAP_ROLES]
    channels.append(zscore_in_mask(mip, brain))
    channels.extend(zscore_in_mask(frames, brain))
    history.append({"step": "zscore_brain", "frames": "jointly"})
    net_brain = brain
    net_grid = grid
    if cfg.pixel_mm is not None:
        channels = [_on_network_grid(grid.with_array(c), cfg).array for c in channels]
        net_grid = _on_network_grid(grid.with_array(brain.astype(np.float32)), cfg)
        net_brain = net_grid.array >= 0.5
        history.append({"step": "network_grid", "spacing_mm": list(net_grid.spacing_mm)})
    image = np.stack(channels).astype(np.float32) * net_brain
    prepared = Prepared(
        image=np.ascontiguousarray(image),
        grid=net_grid.with_array(np.zeros(net_grid.spatial_shape, np.float32)),
        channels=[*MAP_ROLES, "mip", *frame_channels(cfg.c_e)],
        roi=net_brain,
        output_grid=None if cfg.pixel_mm is None else grid,
        output_roi=None if cfg.pixel_mm is None else brain,
        history=history,
        data={"tmax": arrays["tmax"]},
    )
    if dwi is not None or label is not None:
        _add_training_targets(prepared, grid, dwi, label, cfg)
    return prepared


def _add_training_targets(prepared, grid, dwi, label, cfg) -> None:
    """The targets on the network grid; without a DWI (SLNet on the maps, an ablation) the
    synthesis target is zero (unused)."""
    others = {**({"dwi": dwi} if dwi is not None else {}), **({"core": label} if label else {})}
    check_same_geometry({"cbf": grid, **others})
    target = np.zeros(grid.spatial_shape, np.float32)
    if dwi is not None:
        target = dwi_target_scale(np.nan_to_num(np.asarray(dwi.array, np.float32)))
    lab = np.zeros(grid.spatial_shape, bool) if label is None else np.asarray(label.array) > 0
    prepared.label = lab.astype(np.uint8)
    if cfg.pixel_mm is not None:
        target = _on_network_grid(grid.with_array(target), cfg).array
        lab = _on_network_grid(grid.with_array(lab.astype(np.float32)), cfg).array >= 0.5
    spacing = prepared.grid.spacing_mm
    prepared.data.update(
        dwi=target.astype(np.float32),
        label=lab.astype(np.uint8),
        attention=attention_map(lab, spacing, w=cfg.w, d_mm=cfg.d_mm),
    )


# -- training cases ------------------------------------------------------------------------------
def _cache_key(case, cfg: PseudoDwiConfig, roles) -> str:
    files = {r: sha256_file(Path(p)) for r, p in case.resolve_roles(roles).items()}
    payload = {
        "v": _CACHE_VERSION,
        "files": files,
        "k": cfg.k,
        "c_e": cfg.c_e,
        "pixel_mm": cfg.pixel_mm,
        "w": cfg.w,
        "d_mm": cfg.d_mm,
        "smoothing_sigma_mm": cfg.smoothing_sigma_mm,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def prepare_case(case, cfg: PseudoDwiConfig, *, cache_dir: str | Path | None = None) -> Prepared:
    """A `strokect.data.Case` with its DWI and core mask (when present), cached as npz.

    The cache file name hashes the input files' contents and every setting that changes the
    result, so a changed image or setting never reuses a stale entry.
    """
    images = ["ctp", *(m for m in MAP_ROLES if m in case.images), "dwi"]
    images = [r for r in images if r in case.images]
    roles = [*images, *(["core"] if "core" in case.masks else [])]
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"pseudodwi-{_cache_key(case, cfg, roles)}.npz"
        if path.is_file():
            return _read_cache(path, case.case_id)
    volumes = case.load_roles(images)
    dwi = volumes.pop("dwi", None)
    label = case.load("core") if "core" in case.masks else None
    prepared = prepare_volumes(volumes, cfg, dwi=dwi, label=label)
    prepared.case_id = case.case_id
    if path is not None:
        _write_cache(path, prepared)
    return prepared


def _grid_arrays(prefix: str, vol: Volume) -> dict:
    return {
        f"{prefix}_shape": np.array(vol.spatial_shape),
        f"{prefix}_spacing": np.array(vol.spacing_mm),
        f"{prefix}_origin": np.array(vol.origin),
        f"{prefix}_direction": vol.direction,
    }


def _grid_from(data, prefix: str) -> Volume:
    shape = tuple(int(v) for v in data[f"{prefix}_shape"])
    return Volume(
        np.zeros(shape, np.float32),
        tuple(data[f"{prefix}_spacing"]),
        tuple(data[f"{prefix}_origin"]),
        data[f"{prefix}_direction"],
    )


def _write_cache(path: Path, prepared: Prepared) -> None:
    arrays = {
        "image": prepared.image,
        "roi": prepared.roi.astype(np.uint8),
        "channels": np.array(prepared.channels),
        "history": np.array(json.dumps(prepared.history)),
        "label": prepared.label if prepared.label is not None else np.zeros(0, np.uint8),
        **{f"data_{k}": v for k, v in prepared.data.items()},
        **_grid_arrays("grid", prepared.grid),
    }
    if prepared.output_grid is not None:
        arrays.update(_grid_arrays("out", prepared.output_grid))
        arrays["output_roi"] = prepared.output_roi.astype(np.uint8)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _read_cache(path: Path, case_id: str) -> Prepared:
    with np.load(path) as data:
        has_out = "out_shape" in data
        label = data["label"]
        return Prepared(
            image=data["image"],
            grid=_grid_from(data, "grid"),
            channels=[str(c) for c in data["channels"]],
            roi=data["roi"].astype(bool),
            history=json.loads(str(data["history"])),
            label=label if label.size else None,
            case_id=case_id,
            data={k[5:]: data[k] for k in data.files if k.startswith("data_")},
            output_grid=_grid_from(data, "out") if has_out else None,
            output_roi=data["output_roi"].astype(bool) if has_out else None,
        )
