"""The one segment pipeline: any registered method, any inputs, every named output.

Life of one case (``docs/architecture.md``):

1. **inputs** -> roles (`strokect.pipelines.inputs`): a case or dataset folder, ``--input
   ROLE=PATH``, or `Volume`s;
2. **weights**: a checkpoint, a training run (its fold models = the ensemble), a shipped model
   name, or by default the shipped model of the method with the most inputs that are all given;
   ``--set`` changes the method's inference options or its calibration;
3. **read** the method's roles (`strokect.io.read_volume`: NIfTI, NRRD, MetaImage, DICOM);
4. **prepare** (`Method.prepare`) -> network input, output grid, ROI, history;
5. **predict** (`strokect.inference.predict_volume`): every member x MC pass, slice by slice,
   reduced by `Method.combine`;
6. **finalize** (`Method.finalize`) with the calibration -> named outputs;
7. **write** every output on the input's exact grid, ``volumes.csv``/``volumes.json`` (one row per
   mask, mL), ``provenance.json`` and ``overlay.png``.

No method name appears here: a method plugs in through `strokect.methods.base.Method`.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strokect.errors import InputError
from strokect.inference.prepared import Prepared
from strokect.io.atomic import staged_output_dir
from strokect.io.readwrite import read_volume, write_volume
from strokect.io.records import write_csv, write_json
from strokect.io.volume import Volume
from strokect.pipelines.inputs import CaseInputs, resolve_case_inputs
from strokect.pipelines.output_checks import lesion_plausibility, symmetry_reference
from strokect.version import __version__

__all__ = [
    "DEFAULT_THREADS",
    "SegmentResult",
    "load_ensemble",
    "predict_prepared",
    "segment",
    "split_options",
]

log = logging.getLogger(__name__)

#: Torch threads when ``threads`` is not given. Measured on the 2-core machine with one slice per
#: network call (``benchmarks/RESULTS.md``): 2 threads were 9 % faster at 256x256x16 and 4 %
#: slower at 512x512x32 when the machine was quiet, 2.2x slower with one other busy process.
DEFAULT_THREADS = 1
NOTE = "research software, not for clinical use"
OUTPUT_FORMATS = ("nifti", "dicom-seg", "both")


@dataclass
class SegmentResult:
    """What `segment` produced.

    Attributes
    ----------
    outputs : dict of str to Volume
        Every named output of the method (masks, probability, uncertainty...), input geometry.
    volumes_ml : dict of str to float
        Volume in mL of every mask output.
    n_voxels : dict of str to int
        Voxel count of every mask output.
    primary : str
        The method's primary output (what ``strokect evaluate`` scores by default).
    provenance : dict
        What ``provenance.json`` holds.
    paths : dict of str to Path
        Written files by name (outputs, ``volumes_csv``, ``volumes_json``, ``provenance``,
        ``overlay``); empty when no output folder was given.
    out_dir : Path or None
    """

    outputs: dict[str, Volume]
    volumes_ml: dict[str, float]
    n_voxels: dict[str, int]
    primary: str
    provenance: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def volume_ml(self) -> float:
        """Volume of the primary mask in mL."""
        return self.volumes_ml[self.primary]


# ------------------------------------------------------------------------------------ weights
def _weight_files(method: str, weights: str | Path | None, available: Iterable[str]) -> list[Path]:
    from strokect.methods.checkpoint import find_model_checkpoints
    from strokect.methods.registry import default_weights, get_method_class, shipped_models

    get_method_class(method)  # an unknown or planned method is named before anything else
    if weights is None:
        return default_weights(method, available)
    shipped = shipped_models(method)
    if str(weights) in shipped and not Path(weights).exists():
        return shipped[str(weights)]
    return find_model_checkpoints(weights)


def split_options(method_cls, options: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``--set key=value`` options into config overrides and calibration overrides.

    A key of the method's calibration overrides the calibration; a key in the method's
    ``inference_options`` or in `SHARED_INFERENCE_OPTIONS` overrides the config; any other key
    is refused (it would not fit the weights, or is unknown).
    """
    from strokect.methods.base import SHARED_INFERENCE_OPTIONS

    cal_fields = (
        {f.name for f in dataclasses.fields(method_cls.calibration_cls)}
        if method_cls.calibration_cls is not None
        else set()
    )
    config_fields = {f.name for f in dataclasses.fields(method_cls.config_cls)}
    inference = set(method_cls.inference_options) | set(SHARED_INFERENCE_OPTIONS)
    allowed = sorted(cal_fields | inference)
    config_over, cal_over = [], []
    for item in options:
        key = item.partition("=")[0].strip()
        if key in cal_fields:
            cal_over.append(item)
        elif key in inference:
            config_over.append(item)
        else:
            what = "a training setting fixed by the weights" if key in config_fields else "unknown"
            raise InputError(
                f"--set {item}: {key!r} is {what} for method {method_cls.name!r}; "
                f"segment options: {', '.join(allowed) or 'none'}"
            )
    return config_over, cal_over


def load_ensemble(
    paths: Sequence[Path],
    *,
    method: str,
    options: Sequence[str] = (),
    device: str = "cpu",
) -> tuple[list[tuple[Any, dict]], Any]:
    """Load checkpoints as ``[(method, networks)]`` with ``options`` applied, and the calibration.

    All checkpoints must be of ``method`` with one stored config (the folds of one run). The
    calibration is the one stored in the checkpoints (the method's default when none), then
    the calibration keys of ``options``.
    """
    from strokect.config import config_from_dict, resolve_config
    from strokect.methods.checkpoint import load_checkpoint, model_from_checkpoint
    from strokect.methods.registry import get_method_class

    cls = get_method_class(method)
    config_over, cal_over = split_options(cls, options)
    stored = [load_checkpoint(p, method=method) for p in paths]  # each file read once
    if any(d["config"] != stored[0]["config"] for d in stored[1:]):
        raise InputError(f"the {len(paths)} checkpoints of the ensemble have different configs")
    config = resolve_config(
        cls.config_cls,
        overrides=config_over,
        base=config_from_dict(cls.config_cls, stored[0]["config"], source=f"{paths[0]} config"),
    )
    models = [
        model_from_checkpoint(d, cls, path=p, device=device, config=config)
        for p, d in zip(paths, stored, strict=True)
    ]
    stored_cal = [m.calibration for m, _ in models]
    if any(c != stored_cal[0] for c in stored_cal[1:]):
        raise InputError(
            f"the {len(paths)} checkpoints of the ensemble have different calibrations"
        )
    first = models[0][0]
    calibration = (
        first.calibration if first.calibration is not None else first.default_calibration()
    )
    if cal_over:
        calibration = resolve_config(cls.calibration_cls, overrides=cal_over, base=calibration)
    return models, calibration


# ------------------------------------------------------------------------------------ helpers
@contextmanager
def _torch_threads(threads: int | None):
    """Torch CPU threads set to ``threads`` (None: unchanged until `_set_threads`), restored."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device must be auto, cpu or cuda; got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA device is available")
    return device


def _geometry(volume: Volume) -> dict[str, Any]:
    out = {
        "shape": list(volume.array.shape),
        "spacing_mm": list(volume.spacing_mm),
        "origin_lps_mm": list(volume.origin),
        "direction": volume.direction.tolist(),
    }
    for key in ("interpolated_slices_mm", "gantry_tilt_corrected_deg", "hu_offset_applied"):
        if key in volume.metadata:
            out[key] = volume.metadata[key]
    return out


def _read_inputs(
    selected: Mapping[str, Path | Volume],
    inputs: CaseInputs,
    bar,
    checks: list[dict],
    *,
    allow_slice_gaps: bool = False,
) -> dict:
    """Read every selected role and check it is plausible for its role (`check_input`)."""
    from strokect.data.plausibility import check_input

    volumes = {}
    for role, source in selected.items():
        if isinstance(source, Volume):
            volume = source.with_array(source.array)  # do not tag the caller's object
        else:
            try:
                volume = read_volume(
                    source,
                    series=inputs.series_of(role, source),
                    allow_slice_gaps=allow_slice_gaps,
                )
            except InputError as exc:
                raise InputError(f"input {role}: {exc}") from None
        volume, role_checks = check_input(role, volume)
        checks.extend(role_checks)
        volume.metadata["role"] = role
        volumes[role] = volume
        bar.update(1)
    return volumes


def _progress(total: int, desc: str, quiet: bool):
    """A tqdm bar on stderr; none when ``quiet`` or when stderr is not a terminal (logs, CI)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="",
        disable=True if quiet else None,
        leave=False,
        file=sys.stderr,
    )


def _write(result_outputs, out_dir: Path, tables: list[dict], provenance: dict, primary: str):
    paths = {}
    for name, volume in result_outputs.items():
        paths[name] = write_volume(volume, out_dir / f"{name}.nii.gz")
    columns = [
        "case_id", "method", "output", "volume_ml", "n_voxels", "voxel_volume_ml", "out_of_domain",
        "implausible",
    ]  # fmt: skip
    paths["volumes_csv"] = write_csv(tables, out_dir / "volumes.csv", columns=columns)
    domain = provenance.get("domain_check", {})
    paths["volumes_json"] = write_json(
        {
            "volumes": tables,
            "primary_output": primary,
            "out_of_domain": domain.get("out_of_domain"),
            "implausible_outputs": provenance.get("output_checks", {}).get("implausible", []),
            "model_scope": domain.get("scope", ""),
            "note": NOTE,
        },
        out_dir / "volumes.json",
    )
    provenance["files"] = {k: p.name for k, p in paths.items()}
    paths["provenance"] = write_json(provenance, out_dir / "provenance.json")
    return paths


def _overlay(
    path: Path,
    method: Any,
    prepared: Prepared,
    outputs: Mapping[str, Volume],
    mask: np.ndarray,
    title: str,
) -> Path:
    """``overlay.png``: the panels of `Method.overlay_panels` with the primary mask ``mask``.

    One panel is drawn as the one-slice figure (`overlay_figure`), several side by side
    (`panels_figure`); both on the mask's largest cross-section.
    """
    from strokect.io.overlay import largest_area_slice, overlay_figure, panels_figure, save_png

    panels = list(method.overlay_panels(prepared, outputs))
    if not panels:
        raise ValueError(f"method {method.name!r}: overlay_panels returned no panel")
    mask = np.asarray(mask) > 0
    if len(panels) > 1:
        return save_png(panels_figure(panels, mask, title=title), path)
    (panel,) = panels
    image = getattr(panel.image, "array", panel.image)
    masks = {"lesion": mask} if panel.show_mask else {}
    fig = overlay_figure(image, masks, z=largest_area_slice(mask), window=panel.window,
                         title=title, cmap=panel.cmap)  # fmt: skip
    return save_png(fig, path)


# ------------------------------------------------------------------------------------ segment
@dataclass
class _Run:
    """State of one `segment` call, filled stage by stage."""

    inputs: CaseInputs
    method: str
    options: Sequence[str]
    device: str
    threads: int | None
    seed: int
    quiet: bool
    timings: dict[str, float] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    allow_slice_gaps: bool = False
    domain: dict = field(default_factory=dict)
    output_checks: dict = field(default_factory=dict)
    reuse_models: bool = False
    output_format: str = "nifti"

    @contextmanager
    def stage(self, name: str, total: int = 1):
        """A progress bar (``total`` steps) and a timing for one stage."""
        t0 = time.perf_counter()
        with _progress(total, name, self.quiet) as bar:
            yield bar
            bar.update(total - bar.n)
        self.timings[f"{name.split(' ')[0]}_s"] = time.perf_counter() - t0


def predict_prepared(
    models: Sequence[tuple[Any, dict]],
    prepared: Prepared,
    *,
    seed: int = 0,
    device: str = "cpu",
    progress=None,
) -> np.ndarray:
    """Combined prediction ``(K', Z, Y, X)`` of an ensemble for one prepared case.

    The one place where a method's plan, predictor and ``combine`` meet the prediction loop:
    `segment`, the calibration after training and held-out tests all call it.
    """
    from strokect.inference.predict import predict_volume

    first = models[0][0]
    return predict_volume(
        prepared.image,
        [(m.predictor(nets), list(nets.values())) for m, nets in models],
        plan=first.prediction_plan(),
        combine=first.combine,
        roi=prepared.roi,
        seed=seed,
        device=device,
        progress=progress,
    )


#: Ensembles kept for the life of the process when `segment` is called with ``reuse_models``
#: (cohort runs: the models of a worker load once, whatever the number of its cases).
_ENSEMBLES: dict[tuple, tuple] = {}


def cached_ensemble(paths: Sequence[Path], *, method: str, options: Sequence[str], device: str):
    """`load_ensemble`, once per process for the same files, options and device."""
    key = (method, tuple(str(Path(p).resolve()) for p in paths), tuple(options), device)
    if key not in _ENSEMBLES:
        _ENSEMBLES[key] = load_ensemble(paths, method=method, options=options, device=device)
    return _ENSEMBLES[key]


def _predict(run: _Run, paths: list[Path]):
    """Load the ensemble, read and prepare the inputs, predict, finalize (stages with bars)."""
    load = cached_ensemble if run.reuse_models else load_ensemble
    with run.stage("load_weights", len(paths)):
        models, calibration = load(paths, method=run.method, options=run.options, device=run.device)
    first = models[0][0]
    if run.threads is None:  # the method's measured choice, else the pipeline's default
        run.threads = first.prediction_plan().threads or DEFAULT_THREADS
        _set_threads(run.threads)
    roles = first.input_roles()
    missing = [r for r in roles.required if r not in run.inputs.roles]
    if missing:
        where = f"case {run.inputs.case_id}" if run.inputs.case_id else "the inputs"
        folder = f" ({run.inputs.case.folder})" if run.inputs.case.folder else ""
        notes = "".join(f"; {r} is {first.role_notes[r]}" for r in missing if r in first.role_notes)
        raise InputError(
            f"{where}{folder}: method {run.method} ({paths[0].name}) needs "
            f"{', '.join(roles.required)}; missing input(s): {', '.join(missing)} "
            f"(give them with --input ROLE=PATH){notes}"
        )
    selected = run.inputs.select(
        [*roles.required, *(r for r in roles.optional if r in run.inputs.roles)]
    )
    if run.output_format != "nifti" and not any(
        isinstance(src, Path) and src.is_dir() for src in selected.values()
    ):
        raise InputError(
            f"--output-format {run.output_format}: no input is a DICOM series (a DICOM-SEG "
            "references its source series); use --output-format nifti"
        )
    with run.stage("read", len(selected)) as bar:
        volumes = _read_inputs(
            selected, run.inputs, bar, run.checks, allow_slice_gaps=run.allow_slice_gaps
        )
    with run.stage("prepare"):
        prepared = first.prepare(volumes)
        prepared.case_id = run.inputs.case_id
    run.domain = _domain_check(first, volumes, prepared)
    plan = first.prediction_plan()
    n_slices = prepared.image.shape[1]
    if prepared.roi is not None:
        n_slices = int(prepared.roi.reshape(n_slices, -1).any(1).sum())
    with run.stage("predict (slices)", n_slices) as bar:
        combined = predict_prepared(
            models, prepared, seed=run.seed, device=run.device, progress=bar.update
        )
    with run.stage("finalize"):
        outputs = first.finalize(prepared, combined, calibration)
    _check_outputs(first, outputs, prepared.target)
    run.output_checks = lesion_plausibility(
        outputs, prepared.target_roi, symmetry_reference(volumes, prepared.target)
    )
    return first, calibration, plan, selected, volumes, prepared, outputs


def segment(
    inputs: str | Path | Mapping[str, str | Path | Volume] | CaseInputs | None = None,
    out_dir: str | Path | None = None,
    *,
    method: str = "clerigues",
    weights: str | Path | None = None,
    case_id: str | None = None,
    extra_inputs: Iterable[str] = (),
    options: Sequence[str] = (),
    device: str = "auto",
    threads: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
    quiet: bool = True,
    allow_slice_gaps: bool = False,
    command: str | None = None,
    output_format: str = "nifti",
    anonymize: bool = False,
    report: bool = True,
    reuse_models: bool = False,
    ct_role: str = "ct",
) -> SegmentResult:
    """Segment one case with a registered method; write its outputs when ``out_dir`` is given.

    Parameters
    ----------
    inputs : path, mapping role -> path or Volume, or CaseInputs
        A case folder, a dataset root (with ``case_id``), an ISLES 2024 subject folder, a
        manifest, or the images by role (see `strokect.pipelines.inputs`).
    out_dir : path, optional
        Output folder (an existing non-empty folder is refused unless ``overwrite``); None
        returns the outputs without writing anything.
    method : str
        A registered method name.
    weights : path or str, optional
        Checkpoint file, training run folder (``fold_*/model.pt``), or shipped model name.
        Default: the shipped model of ``method`` with the most inputs that are all given.
    case_id : str, optional
        The case of a dataset root (``--case``).
    extra_inputs : iterable of str
        ``ROLE=PATH[::SERIES]`` (``--input``).
    options : sequence of str
        ``key=value`` (``--set``): the method's inference options and calibration fields.
    device : {"auto", "cpu", "cuda"}
    threads : int, optional
        Torch CPU threads (default: the method's `InferencePlan.threads`, else
        `DEFAULT_THREADS`; both measured).
    seed : int
        Seed of the Monte-Carlo dropout draws.
    quiet : bool
        No progress bars (one per stage on stderr otherwise).
    allow_slice_gaps : bool
        DICOM inputs: interpolate across a missing slice instead of refusing the series (the
        interpolated planes are recorded in the provenance).
    command : str, optional
        The command line recorded in the provenance (the CLI passes its own, with every path
        replaced by a placeholder).
    output_format : {"nifti", "dicom-seg", "both"}
        The masks as NIfTI files, as one DICOM-SEG (``segmentation.dcm``, one segment per
        mask, referencing the source series: the input of the output grid must be DICOM), or
        both. Probability and other non-mask outputs are NIfTI in every case.
    anonymize : bool
        DICOM-SEG: blank the patient and study identifiers copied from the source
        (`strokect.io.dicomseg.write_dicom_seg`).
    report : bool
        Write ``report.html`` and ``report.png`` (`strokect.report.segment_report`).
    reuse_models : bool
        Keep the loaded ensemble in this process for later calls (cohort workers).
    ct_role : str
        ``inputs`` is a DICOM study folder: the role of its 3D CT series (``ct``, the acute
        NCCT; ``ncct_followup`` for a follow-up scan).

    Returns
    -------
    SegmentResult
    """
    t_start = time.perf_counter()
    case_inputs = resolve_case_inputs(
        inputs, explicit=extra_inputs, case_id=case_id, ct_role=ct_role
    )
    threads = None if threads is None else int(threads)
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be >= 1; got {threads}")
    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"--output-format must be one of {', '.join(OUTPUT_FORMATS)}; got {output_format!r}"
        )
    run = _Run(
        case_inputs, method, list(options), _device(device), threads, seed, quiet,
        allow_slice_gaps=allow_slice_gaps, reuse_models=reuse_models, output_format=output_format,
    )  # fmt: skip
    paths = _weight_files(method, weights, case_inputs.roles)
    staging = (
        nullcontext(None) if out_dir is None else staged_output_dir(out_dir, overwrite=overwrite)
    )
    with staging as tmp:
        with _torch_threads(threads):
            first, calibration, plan, selected, volumes, prepared, outputs = _predict(run, paths)
        primary = first.primary_output
        masks = {k: v for k, v in outputs.items() if v.metadata.get("kind") == "mask"}
        n_voxels = {k: int(np.count_nonzero(v.array)) for k, v in masks.items()}
        volumes_ml = {k: round(n_voxels[k] * v.voxel_volume_ml, 4) for k, v in masks.items()}
        provenance = _provenance(run, first, calibration, plan, paths, selected, volumes, prepared)
        provenance.update(
            outputs={k: _output_record(first, k, v) for k, v in outputs.items()},
            volumes_ml=volumes_ml,
            command=command if command is not None else "python API: strokect.segment",
        )
        out_path = None if out_dir is None else Path(out_dir)
        result = SegmentResult(outputs, volumes_ml, n_voxels, primary, provenance, out_dir=out_path)
        if tmp is not None:
            tables = [_volume_row(run, k, v, n_voxels[k], volumes_ml[k]) for k, v in masks.items()]
            provenance["timings_s"]["total_s"] = round(time.perf_counter() - t_start, 3)
            with run.stage("write", len(outputs) + 1):
                nifti = outputs if output_format != "dicom-seg" else _not_masks(outputs)
                extra = {}
                if output_format != "nifti":
                    extra["dicom_seg"] = _write_seg(run, selected, prepared, masks, tmp, anonymize)
                    for name in masks:
                        provenance["outputs"][name]["dicom_seg"] = extra["dicom_seg"].name
                        if output_format == "dicom-seg":
                            provenance["outputs"][name]["file"] = None
                written = {**_write(nifti, tmp, tables, provenance, primary), **extra}
                if primary in masks:
                    title = f"{method}: {primary} {volumes_ml[primary]:.2f} mL ({NOTE})"
                    written["overlay"] = _overlay(
                        tmp / "overlay.png", first, prepared, outputs, masks[primary].array, title
                    )
                    if report:
                        written.update(
                            _report(tmp, first, prepared, outputs, volumes_ml, provenance, paths)
                        )
            result.paths = {k: out_path / p.name for k, p in written.items()}
    provenance["timings_s"]["total_s"] = round(time.perf_counter() - t_start, 3)
    return result


def _output_record(method, name: str, volume: Volume) -> dict:
    return {
        "kind": volume.metadata.get("kind"),
        "file": f"{name}.nii.gz",
        "reference_role": method.reference_roles.get(name),
    }


def _volume_row(run: _Run, name: str, volume: Volume, n_voxels: int, volume_ml: float) -> dict:
    """One row of ``volumes.csv``: a mask output's volume in mL."""
    return {
        "case_id": run.inputs.case_id or "",
        "method": run.method,
        "output": name,
        "volume_ml": volume_ml,
        "n_voxels": n_voxels,
        "voxel_volume_ml": round(volume.voxel_volume_ml, 8),
        "out_of_domain": run.domain.get("out_of_domain", ""),
        # flagged by `strokect.pipelines.output_checks` ("" when not checked)
        "implausible": (
            name in run.output_checks.get("implausible", [])
            if run.output_checks.get("checked")
            else ""
        ),
    }


def _domain_check(method, volumes: Mapping[str, Volume], prepared: Prepared) -> dict:
    """Compare the inputs with the statistics of the training inputs; warn when out of domain."""
    from strokect.data.domain import assess_domain
    from strokect.errors import warn

    domain = method.training_domain
    if not domain:
        return {"checked": False, "why": "the weights hold no training-domain statistics"}
    findings = assess_domain(volumes, prepared.target_roi, domain, grid=prepared.grid)
    out = [f for f in findings if f["out_of_domain"]]
    if out:
        parts = [
            f"{f['what']} {f['value']:g} vs training {f['training'][0]:g}-{f['training'][1]:g}"
            for f in out
        ]
        warn(
            "out of domain: the input differs from what these weights were trained on ("
            + "; ".join(parts)
            + f"); {domain.get('scope', '')}; treat the result with caution"
        )
    return {
        "checked": True,
        "out_of_domain": bool(out),
        "scope": domain.get("scope", ""),
        "rule": domain.get("rule", ""),
        "findings": findings,
    }


def _provenance(run: _Run, first, calibration, plan, paths, selected, volumes, prepared) -> dict:
    """Everything needed to reproduce the run; no DICOM patient tag."""
    from strokect.config import config_to_dict
    from strokect.io.digest import sha256_file

    return {
        "strokect_version": __version__,
        "method": run.method,
        "case_id": run.inputs.case_id,
        "primary_output": first.primary_output,
        "weights": [{"file": p.name, "path": str(p), "sha256": sha256_file(p)} for p in paths],
        "config": config_to_dict(first.config),
        "calibration": None if calibration is None else config_to_dict(calibration),
        "calibration_source": _calibration_source(first, run.options),
        "calibration_info": dict(first.calibration_info),
        "options": list(run.options),
        "inference_plan": dataclasses.asdict(plan),
        "input_checks": run.checks,
        "domain_check": run.domain,
        "output_checks": run.output_checks,
        "preprocessing": prepared.history,
        "inputs": {
            role: _input_record(run, role, src, volumes[role]) for role, src in selected.items()
        },
        "device": run.device,
        "threads": run.threads,
        "seed": run.seed,
        "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
        "note": NOTE,
    }


def _input_record(run: _Run, role: str, source: Path | Volume, volume: Volume) -> dict:
    """What the provenance says of one input: its format, file name and geometry, never its
    folder (a DICOM folder, or the folder of a file, may be named after the patient)."""
    if isinstance(source, Volume):
        where = {"source": "in-memory Volume"}
    elif source.is_dir():
        where = {"source": "DICOM series", "series": run.inputs.series_of(role, source)}
    else:
        where = {"source": "file", "file": source.name}
    return {**where, **_geometry(volume)}


def _not_masks(outputs: Mapping[str, Volume]) -> dict[str, Volume]:
    return {k: v for k, v in outputs.items() if v.metadata.get("kind") != "mask"}


def _write_seg(run: _Run, selected, prepared: Prepared, masks, folder: Path, anonymize: bool):
    """``segmentation.dcm``: every mask, referencing the DICOM series of the output grid."""
    from strokect.io.dicomseg import write_dicom_seg

    role = prepared.target.metadata.get("role")
    source = selected.get(role)
    if not isinstance(source, Path) or not source.is_dir():
        raise InputError(
            f"--output-format {run.output_format}: the masks lie on the grid of input {role!r}, "
            "which is not a DICOM series (DICOM-SEG references its source series); use nifti"
        )
    return write_dicom_seg(
        masks,
        source,
        folder / "segmentation.dcm",
        series=run.inputs.series_of(role, source),
        anonymize=anonymize,
        series_description=f"strokect {run.method}",
    )


def model_cards(paths: Sequence[Path]) -> list[Path]:
    """The model cards (``<model>.md`` beside shipped folds, ``model_card.md`` in a run)."""
    import re

    found = []
    for p in paths:
        for card in (
            p.parent / (re.sub(r"_fold\d+$", "", p.stem) + ".md"),
            p.with_suffix(".md"),
            p.parent / "model_card.md",
            p.parent.parent / "model_card.md",
        ):
            if card.is_file() and card not in found:
                found.append(card)
                break
    return found


def _report(folder, method, prepared, outputs, volumes_ml, provenance, paths) -> dict:
    """``report.html`` and ``report.png`` (`strokect.report.segment_report`)."""
    from strokect.report.segment_report import write_segment_report

    panel = method.overlay_panels(prepared, outputs)[0]
    background = (
        panel.image
        if isinstance(panel.image, Volume)
        else prepared.target.with_array(np.asarray(panel.image, dtype=np.float32))
    )
    return write_segment_report(
        folder,
        outputs=outputs,
        primary=method.primary_output,
        background=background,
        window=panel.window,
        volumes_ml=volumes_ml,
        provenance=provenance,
        model_cards=model_cards(paths),
    )


def _calibration_source(method, options: Sequence[str]) -> str:
    base = "checkpoint" if method.calibration is not None else "method defaults (config)"
    return base + (" + --set" if split_options(type(method), options)[1] else "")


def _check_outputs(method, outputs: Mapping[str, Volume], grid: Volume) -> None:
    from strokect.methods.base import OUTPUT_KINDS

    if method.primary_output not in outputs:
        raise TypeError(
            f"method {method.name!r}: finalize returned no {method.primary_output!r} output"
        )
    for name, volume in outputs.items():
        if volume.metadata.get("kind") not in OUTPUT_KINDS:
            raise TypeError(f"method {method.name!r}: output {name!r} has no kind (output_volume)")
        if not volume.same_geometry(grid):
            raise TypeError(f"method {method.name!r}: output {name!r} is not on the input grid")
