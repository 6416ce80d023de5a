"""`run_preprocess`: named preprocessing steps on one CT, each output on the input's grid.

Every written image and mask is derived with ``Volume.with_array`` from the input, so it has the
input's exact geometry (and NIfTI header). ``preprocess.json`` records which steps ran, with which
parameters, what they wrote and how long they took.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from strokect.errors import InputError
from strokect.io import Volume, ensure_hu, read_volume, require_3d, write_volume
from strokect.io.atomic import staged_output_dir
from strokect.io.records import write_json

log = logging.getLogger(__name__)

#: step name -> one-line description (the CLI lists these)
STEPS: dict[str, str] = {
    "intracranial": "intracranial mask (threecnn recipe: bone > 160 HU, 7 mm, foramen magnum)",
    "csf": "CSF mask (threecnn recipe: [-5, 13] HU grown from the intracranial centroid)",
    "brain": "brain mask (method auto / threecnn / threshold, recorded)",
    "perfusion_brain": "clerigues brain mask: non-zero sum of the given perfusion maps",
    "symmetric": "mirrored CT (and maps) across the registered mid-sagittal plane (clerigues)",
    "windows": "fu2bl HU channels [0, 100] and [100, 1000] scaled to [-1, 1]",
    "zscore": "CT z-scored within the brain mask",
    "overlay": "PNG of the masks over the CT",
}


def parse_steps(steps: str | Sequence[str]) -> list[str]:
    """Validate a comma-separated string or a list of step names (order kept, duplicates dropped)."""
    names = [s.strip() for s in (steps.split(",") if isinstance(steps, str) else steps)]
    names = [s for s in names if s]
    if not names:
        raise InputError(f"--steps: no step given (choose from {', '.join(STEPS)})")
    unknown = [s for s in names if s not in STEPS]
    if unknown:
        raise InputError(f"--steps: unknown step '{unknown[0]}' (choose from {', '.join(STEPS)})")
    return list(dict.fromkeys(names))


def _params(vol: Volume) -> dict:
    keep = ("method", "parameters", "region_growing", "foramen_magnum_slice", "maps")
    return {k: vol.metadata[k] for k in keep if k in vol.metadata}


def run_preprocess(
    input_path: str | Path,
    output_dir: str | Path,
    *,
    steps: str | Sequence[str],
    maps: Mapping[str, str | Path] | None = None,
    brain_method: str = "auto",
    series: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Run ``steps`` on the CT at ``input_path`` and write the results into ``output_dir``.

    ``output_dir`` must be new or empty unless ``overwrite`` is set.

    Parameters
    ----------
    input_path
        NCCT file or DICOM folder (HU; unsigned raw values are converted with a warning).
    steps
        Names from `STEPS`; dependencies (e.g. ``csf`` needs the intracranial mask) are computed
        but written only when asked for.
    maps
        Perfusion maps (name -> path) on the CT grid, for ``symmetric`` and ``perfusion_brain``.

    Returns
    -------
    dict
        The record also written to ``output_dir/preprocess.json``.
    """
    names = parse_steps(steps)
    names = [n for n in names if n != "overlay"] + (["overlay"] if "overlay" in names else [])
    ct = require_3d(ensure_hu(read_volume(input_path, series=series)), name=str(input_path))
    map_vols = {k: read_volume(p) for k, p in (maps or {}).items()}
    if "perfusion_brain" in names and not map_vols:
        raise InputError("--steps perfusion_brain needs at least one --map NAME=PATH")
    state = _State(ct, map_vols, brain_method)
    record = {"input": str(input_path), "geometry": ct.geometry_summary(), "steps": []}
    with staged_output_dir(output_dir, overwrite=overwrite) as out:
        for name in names:
            t0 = time.perf_counter()
            written, params = _RUNNERS[name](state, out)
            seconds = round(time.perf_counter() - t0, 3)
            log.debug("preprocess %s: %s (%.2f s)", name, ", ".join(written), seconds)
            record["steps"].append(
                {"step": name, "outputs": written, "parameters": params, "seconds": seconds}
            )
        write_json(record, out / "preprocess.json")
    return record


class _State:
    """Lazily computed intermediate results shared between steps of one run."""

    def __init__(self, ct: Volume, maps: dict[str, Volume], brain_method: str):
        self.ct, self.maps, self.brain_method = ct, maps, brain_method
        self._cache: dict[str, Volume] = {}
        self.extra: dict = {}  # results of other steps the overlay shows (plane, perfusion brain)

    def get(self, key: str) -> Volume:
        if key not in self._cache:
            from strokect.preprocess.brain import brain_mask, choose_brain_method
            from strokect.preprocess.masks import csf_mask, intracranial_mask

            if key == "intracranial":
                self._cache[key] = intracranial_mask(self.ct)
            elif key == "csf":
                self._cache[key] = csf_mask(self.ct, self.get("intracranial"))
            elif key == "brain":
                chosen = choose_brain_method(self.ct, self.brain_method)
                reuse = self.get("intracranial") if chosen == "threecnn" else None
                self._cache[key] = brain_mask(self.ct, method=chosen, intracranial=reuse)
        return self._cache[key]


def _write(vol: Volume, out: Path, name: str) -> str:
    write_volume(vol, out / f"{name}.nii.gz")
    return f"{name}.nii.gz"


def _mask_step(key: str):
    def run(state: _State, out: Path):
        vol = state.get(key)
        return [_write(vol, out, key)], _params(vol)

    return run


def _perfusion_brain(state: _State, out: Path):
    from strokect.preprocess.brain import perfusion_brain_mask

    vol = perfusion_brain_mask(state.maps)
    if not vol.same_geometry(state.ct, atol_mm=1e-2):
        raise InputError("--map: the perfusion maps are not on the CT grid")
    state.extra["perfusion_brain"] = vol
    return [
        _write(state.ct.with_array(vol.array, **vol.metadata), out, "perfusion_brain")
    ], _params(vol)


def _symmetric(state: _State, out: Path):
    from strokect.preprocess.symmetry import symmetric_modalities

    mirrored, sym = symmetric_modalities(state.ct, state.maps)
    written = [_write(v, out, f"{k}_symmetric") for k, v in mirrored.items()]
    plane = sym.plane
    state.extra["plane"] = plane
    params = {
        "angle_deg": plane.angle_deg,
        "offset_mm": plane.offset_mm,
        "normal_lps": plane.normal_lps,
        "point_lps": plane.point_lps,
        "glide_mm": sym.glide_mm,
        "mirror_matrix_lps": sym.matrix,
        "mirror_offset_lps": sym.offset_lps,
    }
    return written, params


def _windows(state: _State, out: Path):
    from strokect.preprocess.intensity import FU2BL_WINDOWS_HU, window_hu

    written = []
    for lo, hi in FU2BL_WINDOWS_HU:
        arr = window_hu(state.ct.array, (lo, hi))
        vol = state.ct.with_array(arr, window_hu=[lo, hi], scaled_to=[-1, 1])
        written.append(_write(vol, out, f"ct_window_{lo:g}_{hi:g}"))
    return written, {"windows_hu": [list(w) for w in FU2BL_WINDOWS_HU], "range": [-1, 1]}


def _zscore(state: _State, out: Path):
    from strokect.preprocess.intensity import zscore_in_mask

    brain = state.get("brain")
    arr = zscore_in_mask(state.ct.array, brain.array > 0)
    vol = state.ct.with_array(arr, normalisation="zscore-in-brain")
    return [_write(vol, out, "ct_zscore")], {"mask": brain.metadata.get("method")}


def _overlay(state: _State, out: Path):
    """Every mask computed in this run (intracranial and CSF at least) and the plane if computed."""
    from strokect.preprocess.overlay import save_mask_overlay

    for key in ("intracranial", "csf"):
        state.get(key)
    masks = {k: v for k, v in state._cache.items() if k in ("intracranial", "brain", "csf")}
    if "perfusion_brain" in state.extra:
        masks["perfusion_brain"] = state.extra["perfusion_brain"]
    plane = state.extra.get("plane")
    save_mask_overlay(state.ct, masks, out / "overlay.png", plane=plane)
    return ["overlay.png"], {"masks": list(masks), "plane": plane is not None}


_RUNNERS = {
    "intracranial": _mask_step("intracranial"),
    "csf": _mask_step("csf"),
    "brain": _mask_step("brain"),
    "perfusion_brain": _perfusion_brain,
    "symmetric": _symmetric,
    "windows": _windows,
    "zscore": _zscore,
    "overlay": _overlay,
}
