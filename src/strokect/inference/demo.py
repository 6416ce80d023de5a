"""The built-in end-to-end run behind ``strokect demo`` and ``make demo``.

It needs no patient data and no network: one digital phantom case is synthesized, its acute
stroke core is segmented from NCCT + perfusion maps with the shipped `clerigues` weights, the
perfusion maps are recomputed from the raw 4D CTP with the training-free threshold readout, and
both results are scored against the phantom's ground truth.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokect.io import read_volume
from strokect.io.atomic import atomic_output, prepare_output_dir

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """Paths and numbers of one demo run (``summary`` is also written as ``demo_summary.json``)."""

    out_dir: Path
    summary: dict[str, Any]


def _scores(pred_path: Path, ref_path: Path) -> dict[str, float]:
    from strokect.metrics import evaluate_masks

    pred, ref = read_volume(pred_path), read_volume(ref_path)
    m = evaluate_masks(pred.array > 0, ref.array > 0, spacing_mm=ref.spacing_mm)
    keys = ("dice", "hd95_mm", "pred_volume_ml", "ref_volume_ml")
    return {k: (None if m.get(k) is None else round(float(m[k]), 4)) for k in keys}


def run_demo(out_dir: str | Path, *, seed: int = 7, overwrite: bool = False) -> DemoResult:
    """Synthesize one phantom case, segment it, run perfusion analysis, score both.

    Parameters
    ----------
    out_dir
        Output folder; ``phantom/``, ``segmentation/`` and ``perfusion/`` are written inside it.
        A non-empty folder is refused unless ``overwrite`` is set.
    seed
        Phantom seed (the same seed gives the same case and the same numbers).
    overwrite
        Replace the outputs of an earlier demo run in ``out_dir``.
    """
    from strokect.data import load_dataset
    from strokect.inference.segment import segment
    from strokect.perfusion.run import run_perfusion
    from strokect.phantom import write_cohort

    out_dir = prepare_output_dir(out_dir, overwrite=overwrite)
    log.info("1/4 synthesizing phantom case (isles preset, seed %d)", seed)
    write_cohort(
        out_dir / "phantom", n_cases=1, seed=seed, preset="isles", preview=True, overwrite=True
    )
    case = load_dataset(out_dir / "phantom").cases[0]
    log.info("2/4 segmenting the acute core with the shipped clerigues ensemble")
    seg = segment(case.images, out_dir / "segmentation", overwrite=True)
    log.info("3/4 perfusion maps from the raw 4D CTP (%s)", case.images["ctp"].name)
    perf_dir = out_dir / "perfusion"
    perf = run_perfusion(case.images["ctp"], perf_dir, overwrite=overwrite)
    log.info("4/4 scoring against the phantom's ground truth")
    truth = case.masks["core"]
    summary = {
        "case": case.case_id,
        "seed": seed,
        "inputs": {role: str(path) for role, path in sorted(case.images.items())},
        "clerigues": {
            "lesion_volume_ml": seg.volume_ml,
            "weights": seg.summary.get("weights"),
            "vs_truth": _scores(seg.paths["mask"], truth),
            "outputs": {k: str(v) for k, v in seg.paths.items()},
        },
        "perfusion_threshold": {
            "core_ml": perf["readout"]["core_ml"],
            "hypoperfusion_ml": perf["readout"].get("hypoperfusion_ml"),
            "vs_truth": _scores(perf_dir / "core.nii.gz", truth),
            "outputs": perf.get("files", {}),
        },
        "note": "phantom data; research software, not for clinical use",
    }
    with atomic_output(out_dir / "demo_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return DemoResult(out_dir, summary)
