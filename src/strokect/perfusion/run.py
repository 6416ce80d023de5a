"""End-to-end perfusion analysis of a 4D CTP file: maps, readout and a JSON summary on disk."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from strokect.data.plausibility import check_input
from strokect.io import Volume, read_volume, require_4d, write_volume
from strokect.io.atomic import staged_output_dir
from strokect.io.records import write_json
from strokect.perfusion.maps import (
    MAP_NAMES,
    PerfusionConfig,
    PerfusionResult,
    compute_perfusion_maps,
    oscillation_limit,
)
from strokect.perfusion.readout import Readout, readout_from_maps
from strokect.version import __version__

#: Tmax estimator -> what the report says
TMAX_DEFINITIONS = {
    "peak": "time to the maximum of the residue function",
    "onset": "half-maximum rise of the residue function",
    "calibrated": "half-maximum rise corrected for the truncation bias",
    "peak_calibrated": "time to the residue maximum corrected for the truncation bias",
}


def write_perfusion_outputs(
    result: PerfusionResult, readout: Readout, out_dir: str | Path, *, extension: str = ".nii.gz"
) -> dict[str, Path]:
    """Write ``cbf/cbv/mtt/tmax/ttp``, ``core/hypoperfusion/mismatch`` masks, ``brain_mask`` and
    ``perfusion.json`` into ``out_dir``; returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in MAP_NAMES:
        paths[name] = out / f"{name}{extension}"
        write_volume(result.maps[name], paths[name])
    for name in ("core", "hypoperfusion", "mismatch"):
        vol = getattr(readout, name)
        if vol is not None:
            paths[name] = out / f"{name}{extension}"
            write_volume(vol, paths[name])
    paths["brain_mask"] = out / f"brain_mask{extension}"
    write_volume(result.brain_mask, paths["brain_mask"])
    summary = perfusion_summary(result, readout)
    paths["json"] = write_json(summary, out / "perfusion.json")
    return paths


def perfusion_summary(result: PerfusionResult, readout: Readout) -> dict:
    """JSON-ready summary: readout volumes (mL), AIF/VOF location and curves, parameters."""
    return {
        "readout": readout.to_dict(),
        "aif": result.aif.to_dict(),
        "vof": None if result.vof is None else result.vof.to_dict(),
        "aif_scale": round(result.aif_scale, 4),
        "n_baseline_frames": result.n_baseline,
        "dt_s": result.dt_s,
        "units": {"cbf": "mL/100 g/min", "cbv": "mL/100 g", "mtt": "s", "tmax": "s", "ttp": "s"},
        "parameters": result.config.to_dict(),
        "analysis": {
            k: result.info.get(k) for k in ("n_tissue_voxels", "n_vessel_voxels", "temporal_rank")
        },
    }


def baseline_image(ctp: Volume, n_baseline: int) -> Volume:
    """Mean of the pre-contrast frames (the image the report draws the readout on)."""
    frames = np.asarray(ctp.array[: max(int(n_baseline), 1)], dtype=np.float32)
    return ctp.with_array(frames.mean(axis=0))


def write_report(
    ctp: Volume, result: PerfusionResult, readout: Readout, out_dir: Path, *, seconds: float
) -> dict[str, Path]:
    """The per-study report; it names no input path and no patient attribute."""
    from strokect.report.perfusion import write_perfusion_report

    cfg = result.config
    times = np.asarray(ctp.time_s, float)
    settings = {
        "deconvolution": {"ssvd": "sSVD", "bcsvd": "bcSVD", "osvd": "oSVD"}[cfg.method],
        "Tmax definition": TMAX_DEFINITIONS[cfg.tmax_estimator],
        "AIF": f"{result.aif.source}, {len(result.aif.voxels_zyx)} voxels",
        "VOF": "not found" if result.vof is None else f"{len(result.vof.voxels_zyx)} voxels",
        "baseline frames": result.n_baseline,
        "time step of the analysis (s)": round(result.dt_s, 3),
        "oSVD oscillation-index limit at this step": (
            round(oscillation_limit(cfg, result.dt_s), 4) if cfg.method == "osvd" else "-"
        ),
        "temporal rank": result.info.get("temporal_rank"),
        "analysed tissue voxels": result.info.get("n_tissue_voxels"),
        "excluded vessel voxels": result.info.get("n_vessel_voxels"),
        **{f"parameter {k}": v for k, v in cfg.to_dict().items()},
    }
    provenance = {
        "software": f"strokect {__version__}",
        "analysed_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "input": {
            "frames": int(ctp.array.shape[0]),
            "spatial_shape_zyx": list(ctp.spatial_shape),
            "spacing_mm_zyx": [round(float(v), 4) for v in ctp.spacing_mm],
            "frame_times_s": [round(float(times[0]), 3), round(float(times[-1]), 3)],
        },
        "seconds_maps_and_readout": round(seconds, 2),
        "outputs": "cbf, cbv, mtt, tmax, ttp, core, hypoperfusion, mismatch, brain_mask, "
        "perfusion.json (same folder)",
    }
    return write_perfusion_report(
        out_dir,
        maps=result.maps,
        base=baseline_image(ctp, result.n_baseline),
        tissue=result.tissue_mask,
        core=readout.core,
        hypoperfusion=readout.hypoperfusion,
        readout=readout.to_dict(),
        aif=result.aif.to_dict(),
        vof=None if result.vof is None else result.vof.to_dict(),
        settings=settings,
        provenance=provenance,
    )


def run_perfusion(
    input_path: str | Path,
    out_dir: str | Path,
    *,
    config: PerfusionConfig | None = None,
    aif_mask_path: str | Path | None = None,
    method: str | None = None,
    overwrite: bool = False,
    report: bool = True,
    series: str | None = None,
) -> dict:
    """Read a 4D CTP (NIfTI or DICOM folder), compute maps and readout, write everything.

    ``out_dir`` must be new or empty unless ``overwrite`` is set. With ``report`` (default) the
    folder also gets ``report.html`` and ``report.png`` (`strokect.report.perfusion`). Returns the
    summary dict also written to ``out_dir/perfusion.json``. ``series`` picks one series of a
    DICOM folder holding several (as `strokect.io.read_volume`).
    """
    cfg = config or PerfusionConfig()
    if method is not None:
        cfg = replace(cfg, method=method)
    ctp = require_4d(
        read_volume(input_path, series=series), name=str(input_path), min_frames=cfg.min_frames
    )
    check_input("ctp", ctp)  # a series without a contrast bolus gives confident wrong maps
    aif_mask = read_volume(aif_mask_path) if aif_mask_path is not None else None
    with staged_output_dir(out_dir, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        result = compute_perfusion_maps(ctp, config=cfg, aif_mask=aif_mask)
        readout = readout_from_maps(
            result.maps["cbf"], result.maps["tmax"], brain_mask=result.tissue_mask
        )
        seconds = time.perf_counter() - t0
        paths = write_perfusion_outputs(result, readout, tmp)
        summary = perfusion_summary(result, readout)
        if report:
            paths.update(write_report(ctp, result, readout, tmp, seconds=seconds))
    summary["files"] = {k: str(Path(out_dir) / Path(v).relative_to(tmp)) for k, v in paths.items()}
    return summary
