"""End-to-end perfusion analysis of a 4D CTP file: maps, readout and a JSON summary on disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from strokect.data.plausibility import check_input
from strokect.io import read_volume, require_4d, write_volume
from strokect.io.atomic import staged_output_dir
from strokect.io.records import write_json
from strokect.perfusion.maps import (
    MAP_NAMES,
    PerfusionConfig,
    PerfusionResult,
    compute_perfusion_maps,
)
from strokect.perfusion.readout import Readout, readout_from_maps


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


def run_perfusion(
    input_path: str | Path,
    out_dir: str | Path,
    *,
    config: PerfusionConfig | None = None,
    aif_mask_path: str | Path | None = None,
    method: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Read a 4D CTP (NIfTI or DICOM folder), compute maps and readout, write everything.

    ``out_dir`` must be new or empty unless ``overwrite`` is set. Returns the summary dict also
    written to ``out_dir/perfusion.json``.
    """
    cfg = config or PerfusionConfig()
    if method is not None:
        cfg = replace(cfg, method=method)
    ctp = require_4d(read_volume(input_path), name=str(input_path), min_frames=cfg.min_frames)
    check_input("ctp", ctp)  # a series without a contrast bolus gives confident wrong maps
    aif_mask = read_volume(aif_mask_path) if aif_mask_path is not None else None
    with staged_output_dir(out_dir, overwrite=overwrite) as tmp:
        result = compute_perfusion_maps(ctp, config=cfg, aif_mask=aif_mask)
        readout = readout_from_maps(
            result.maps["cbf"], result.maps["tmax"], brain_mask=result.tissue_mask
        )
        paths = write_perfusion_outputs(result, readout, tmp)
        summary = perfusion_summary(result, readout)
    summary["files"] = {k: str(Path(out_dir) / Path(v).relative_to(tmp)) for k, v in paths.items()}
    return summary
