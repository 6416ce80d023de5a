"""Cross-validated post-processing, held-out ensemble test and weight export for ``clerigues``.

Follows Clèrigues et al., CBM 2019, sec. 4: every fold model predicts its validation cases, T and
S_min are chosen by grid search on these cross-validation maps (`strokect.inference.gridsearch`),
and the 5 fold models, averaged with 3 MC-dropout passes each, form the ensemble evaluated on
cases no model has seen.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from strokect.data.splits import load_splits
from strokect.engine.checkpoint import load_model, save_checkpoint
from strokect.inference.gridsearch import grid_search_postprocess
from strokect.inference.postprocess import postprocess
from strokect.inference.segment import predict_probability
from strokect.methods.base import config_from_dict
from strokect.methods.clerigues.config import CleriguesConfig
from strokect.methods.clerigues.phantom_recipe import cohort_cases
from strokect.methods.clerigues.preprocessing import prepare_case
from strokect.metrics import compute_dice, compute_hausdorff

__all__ = ["evaluate_run", "export_weights"]

log = logging.getLogger(__name__)


def _scores(mask: np.ndarray, ref: np.ndarray, spacing_mm) -> dict[str, float]:
    return {
        "dice": float(compute_dice(mask, ref)),
        "hd_mm": float(compute_hausdorff(mask, ref, spacing_mm=spacing_mm)),
    }


def evaluate_run(
    cohort: str | Path, run: str | Path, *, n_cv: int = 20, tile_size: int | None = None
) -> dict:
    """Grid-search T/S_min on the CV predictions, test the ensemble; writes ``evaluation.json``."""
    run = Path(run)
    cfg = config_from_dict(CleriguesConfig, json.loads((run / "config.json").read_text()))
    cases = cohort_cases(cohort)
    splits = load_splits(run / "splits.json")
    by_id = {c.case_id: c for c in cases}

    def prepared(case):
        return prepare_case(
            case, modalities=cfg.modalities, symmetric=cfg.symmetric, cache_dir=run / "cache"
        )

    folds = [
        load_model(run / f"fold_{i}" / "model.pt", method="clerigues") for i in range(len(splits))
    ]
    probs, refs, spacings, cv_ids = [], [], [], []
    t0 = time.time()
    for model, split in zip(folds, splits):
        for cid in split["val"]:
            p = prepared(by_id[cid])
            prob, _ = predict_probability(
                p.image, [model], mc_passes=cfg.mc_passes, tile_size=tile_size
            )
            probs.append(prob * p.brain)
            refs.append(p.label)
            spacings.append(by_id[cid].load("core").spacing_mm)
            cv_ids.append(cid)
    grid = grid_search_postprocess(probs, refs, spacing_mm=spacings)
    cv_cases = {
        cid: _scores(
            postprocess(pr, threshold=grid.threshold, min_size_voxels=grid.min_size_voxels), rf, sp
        )
        for cid, pr, rf, sp in zip(cv_ids, probs, refs, spacings)
    }
    test = {}
    for case in cases[n_cv:]:
        p = prepared(case)
        t1 = time.time()
        prob, _ = predict_probability(p.image, folds, mc_passes=cfg.mc_passes, tile_size=tile_size)
        mask = postprocess(
            prob * p.brain, threshold=grid.threshold, min_size_voxels=grid.min_size_voxels
        )
        test[case.case_id] = {
            **_scores(mask, p.label, case.load("core").spacing_mm),
            "predict_s": round(time.time() - t1, 2),
            "ref_voxels": int(p.label.sum()),
            "pred_voxels": int(mask.sum()),
        }
    result = {
        "threshold": grid.threshold,
        "min_size_voxels": grid.min_size_voxels,
        "cv_mean_dice": grid.mean_dice,
        "cv_mean_hd_mm": grid.mean_hd_mm,
        "cv_cases": cv_cases,
        "test_cases": test,
        "test_mean_dice": float(np.mean([v["dice"] for v in test.values()])) if test else None,
        "test_median_dice": float(np.median([v["dice"] for v in test.values()])) if test else None,
        "tile_size": tile_size,
        "mc_passes": cfg.mc_passes,
        "seconds": round(time.time() - t0, 1),
        "grid": grid.table,
    }
    (run / "evaluation.json").write_text(json.dumps(result, indent=1))
    return result


def export_weights(run: str | Path, dest: str | Path, name: str) -> list[Path]:
    """Copy the fold models to ``dest/<name>_fold<i>.pt`` as float16, with the cross-validated
    T and S_min of ``run/evaluation.json`` in ``extra["postprocess"]``."""
    run, dest = Path(run), Path(dest)
    evaluation = json.loads((run / "evaluation.json").read_text())
    out = []
    for i, path in enumerate(sorted(run.glob("fold_*/model.pt"))):
        method, nets = load_model(path, method="clerigues")
        method.extra["postprocess"] = {
            "threshold": evaluation["threshold"],
            "min_size_vox": evaluation["min_size_voxels"],
            "chosen_by": "grid search on 5-fold cross-validation predictions (phantom cohort)",
        }
        half = {k: v.half() for k, v in nets.items()}
        out.append(save_checkpoint(dest / f"{name}_fold{i}.pt", method, half))
    return out


def _finite_or_none(obj):
    """JSON-safe copy: NaN/inf floats (e.g. HD with one empty mask) become None."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_model_card(run: str | Path, dest: str | Path, name: str, *, notes: str = "") -> Path:
    """Write ``dest/<name>.json`` (machine-readable card) from the run's config, training summary
    and evaluation; the prose card ``<name>.md`` is written by hand next to it."""
    run, dest = Path(run), Path(dest)
    evaluation = json.loads((run / "evaluation.json").read_text())
    card = {
        "name": name,
        "method": "clerigues",
        "intended_use": "research and software testing only; NOT FOR CLINICAL USE",
        "training_data": "synthetic phantom cohort (strokect.phantom.synth_case, preset 'isles', "
        "kind 'ischemic', seeds 0-19 for 5-fold CV, seeds 20-24 held out); no patient data",
        "config": json.loads((run / "config.json").read_text()),
        "splits": load_splits(run / "splits.json"),
        "training": json.loads((run / "train_summary.json").read_text()),
        "postprocess": {
            "threshold": evaluation["threshold"],
            "min_size_voxels": evaluation["min_size_voxels"],
        },
        "phantom_metrics": {
            k: evaluation[k]
            for k in ("cv_mean_dice", "cv_mean_hd_mm", "test_mean_dice", "test_median_dice")
        },
        "test_cases": evaluation["test_cases"],
        "prediction": {"tile_size": evaluation["tile_size"], "mc_passes": evaluation["mc_passes"]},
        "notes": notes,
    }
    path = dest / f"{name}.json"
    path.write_text(json.dumps(_finite_or_none(card), indent=1, allow_nan=False))
    return path
