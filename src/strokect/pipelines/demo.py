"""The built-in end-to-end run behind ``strokect demo`` and ``make demo``.

It needs no patient data and no network: one digital phantom case is synthesized, it is segmented
by every registered method that ships weights (through the one segment pipeline), the perfusion
maps are recomputed from the raw 4D CTP with the training-free threshold readout, and every
result is scored against the phantom's ground truth.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokect.io.atomic import prepare_output_dir
from strokect.io.readwrite import read_volume
from strokect.io.records import write_json
from strokect.io.volume import Volume

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """Paths and numbers of one demo run (``summary`` is also written as ``demo_summary.json``)."""

    out_dir: Path
    summary: dict[str, Any]


def _scores(pred: Volume, ref_path: Path) -> dict[str, float]:
    from strokect.metrics import evaluate_masks

    ref = read_volume(ref_path)
    m = evaluate_masks(pred.array > 0, ref.array > 0, spacing_mm=ref.spacing_mm)
    keys = ("dice", "hd95_mm", "pred_volume_ml", "ref_volume_ml")
    return {k: (None if m.get(k) is None else round(float(m[k]), 4)) for k in keys}


def _has(case, role: str) -> bool:
    from strokect.errors import InputError

    try:
        case.path(role)
    except InputError:
        return False
    return True


def _case_for(name: str, cases) -> Any:
    """The first phantom case view holding every input ``name`` needs (acute or follow-up)."""
    from strokect.methods.registry import get_method_class

    roles = get_method_class(name)().input_roles().required
    for case in cases:
        if all(_has(case, r) for r in roles):
            return case, roles
    raise RuntimeError(f"the demo phantom has no case with the inputs of {name}: {roles}")


def _segment_with(name: str, cases, out_dir: Path) -> dict[str, Any]:
    """Segment the phantom case with the shipped weights of method ``name``; score it."""
    from strokect.methods.registry import get_method_class
    from strokect.pipelines.segment import segment

    case, roles = _case_for(name, cases)
    # a case folder (ISLES layout) as a user gives it; a manifest case by its files
    source = (
        case.folder if case.folder and case.folder.is_dir() else {r: case.path(r) for r in roles}
    )
    seg = segment(source, out_dir / name, method=name, overwrite=True)
    ref_role = get_method_class(name).reference_roles.get(seg.primary)
    entry: dict[str, Any] = {
        "primary_output": seg.primary,
        "volumes_ml": seg.volumes_ml,
        "weights": [w["file"] for w in seg.provenance["weights"]],
        "outputs": {k: str(v) for k, v in seg.paths.items()},
    }
    if ref_role in case.masks:
        entry["reference_role"] = ref_role
        entry["vs_truth"] = _scores(seg.outputs[seg.primary], case.masks[ref_role])
    return entry


def run_demo(out_dir: str | Path, *, seed: int = 7, overwrite: bool = False) -> DemoResult:
    """Synthesize one phantom case, segment it with every method that ships weights, run the
    perfusion threshold readout, and score each against the phantom's truth.

    Parameters
    ----------
    out_dir
        Output folder; ``phantom/``, ``segmentation/<method>/`` and ``perfusion/`` are written
        inside it. A non-empty folder is refused unless ``overwrite`` is set.
    seed
        Phantom seed (the same seed gives the same case and the same numbers).
    overwrite
        Replace the outputs of an earlier demo run in ``out_dir``.
    """
    # Written in place (its outputs name each other's paths), but a failed demo that created
    # the folder leaves nothing behind.
    created = not Path(out_dir).exists()
    out_dir = prepare_output_dir(out_dir, overwrite=overwrite)
    try:
        summary = _run_demo(out_dir, seed, overwrite)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return DemoResult(out_dir, summary)


def _run_demo(out_dir: Path, seed: int, overwrite: bool) -> dict[str, Any]:
    from strokect.data import load_dataset
    from strokect.methods.registry import available_methods, shipped_models
    from strokect.perfusion.run import run_perfusion
    from strokect.phantom import write_cohort

    log.info("synthesizing phantom case (isles preset, seed %d)", seed)
    # the follow-up NCCT of the same subject: an intermediate hypodensity (threecnn's classes)
    # with a hematoma; these options change only the follow-up images (docs/phantom.md)
    write_cohort(
        out_dir / "phantom", n_cases=1, seed=seed, preset="isles", preview=True, overwrite=True,
        lesion_class="intermediate", infarct_volumes="paper", hemorrhage_share=1.0,
    )  # fmt: skip
    case = load_dataset(out_dir / "phantom").cases[0]
    followup = load_dataset(out_dir / "phantom" / "extras" / "manifest_ncct_pairs.csv").cases[0]
    methods: dict[str, Any] = {}
    for name in available_methods():
        if not shipped_models(name):
            continue
        log.info("segmenting with %s (shipped weights)", name)
        methods[name] = _segment_with(name, [case, followup], out_dir / "segmentation")
    log.info(
        "perfusion maps and threshold readout from the raw 4D CTP (%s)", case.images["ctp"].name
    )
    perf_dir = out_dir / "perfusion"
    perf = run_perfusion(case.images["ctp"], perf_dir, overwrite=overwrite)
    summary = {
        "case": case.case_id,
        "seed": seed,
        "inputs": {role: str(path) for role, path in sorted(case.images.items())},
        "methods": methods,
        "perfusion_threshold": {
            "core_ml": perf["readout"]["core_ml"],
            "hypoperfusion_ml": perf["readout"].get("hypoperfusion_ml"),
            "vs_truth": _scores(read_volume(perf_dir / "core.nii.gz"), case.masks["core"]),
            "outputs": perf.get("files", {}),
        },
        "note": "phantom data; research software, not for clinical use",
    }
    write_json(summary, out_dir / "demo_summary.json")
    return summary
