"""Held-out test of a trained ensemble and release of its weights, for any method.

The shipped-weights recipe (see the model cards in ``src/strokect/weights/``)::

    strokect train --method NAME --data COHORT -o RUN ...     # k folds + calibration
    strokect heldout RUN --data TEST                          # RUN/heldout.json
    strokect release RUN -o src/strokect/weights --name NAME_ROLES   # float16 copies + JSON card
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from strokect.config import config_to_dict
from strokect.errors import InputError
from strokect.io.records import write_json

__all__ = ["evaluate_heldout", "export_weights", "training_summary"]


def evaluate_heldout(
    run: str | Path, test_root: str | Path, *, options=(), seed: int = 0
) -> dict[str, Any]:
    """Ensemble test of a run's fold models on the cases of ``test_root`` (no model saw them).

    Every case goes through the segment pipeline's steps (prepare, predict, combine, finalize
    with the stored calibration, or ``options`` as ``--set``); its primary output is scored
    against the method's reference mask. Writes ``RUN/heldout.json`` and returns its content.
    """
    from strokect.data import load_dataset
    from strokect.inference.search import score_masks
    from strokect.methods.checkpoint import find_model_checkpoints, load_checkpoint
    from strokect.pipelines.segment import load_ensemble, predict_prepared

    run = Path(run)
    paths = find_model_checkpoints(run)
    name = load_checkpoint(paths[0])["method"]
    models, calibration = load_ensemble(paths, method=name, options=options)
    method = models[0][0]
    ref_role = method.reference_roles.get(method.primary_output)
    test = {}
    for case in load_dataset(test_root).cases:
        prepared = method.prepare_case(case)
        if prepared.label is None:
            raise ValueError(f"held-out case {case.case_id} has no {ref_role!r} reference mask")
        t1 = time.time()
        combined = predict_prepared(models, prepared, seed=seed)
        mask = method.finalize(prepared, combined, calibration)[method.primary_output].array > 0
        scores = score_masks(mask, prepared.label, spacing_mm=prepared.target.spacing_mm)
        test[case.case_id] = {
            "dice": scores["dice"],
            "hd_mm": None if scores["hd_substituted"] else scores["hd_mm"],
            "predict_s": round(time.time() - t1, 2),
            "ref_voxels": int(prepared.label.sum()),
            "pred_voxels": int(mask.sum()),
        }
    dice = [v["dice"] for v in test.values()]
    result = {
        "method": name,
        "test_root": str(test_root),
        "calibration": None if calibration is None else config_to_dict(calibration),
        "n_models": len(models),
        "inference_plan": dataclasses.asdict(method.prediction_plan()),
        "test_mean_dice": float(np.mean(dice)),
        "test_median_dice": float(np.median(dice)),
        "test_cases": test,
    }
    write_json(result, run / "heldout.json")
    return result


def training_summary(run: str | Path) -> dict[str, Any]:
    """Per-fold epochs, best epoch and seconds from ``RUN/fold_<i>/log.csv``."""
    from strokect.methods.registry import get_method_class

    run = Path(run)
    saved = json.loads((run / "config.json").read_text())
    cls = get_method_class(saved["method"])
    out = []
    for log_path in sorted(run.glob("fold_*/log.csv")):
        with open(log_path, newline="") as f:
            rows = list(csv.DictReader(f))
        entry = {
            "fold": int(log_path.parent.name.split("_")[1]),
            "epochs_run": len(rows),
            "seconds": round(sum(float(r["time_s"]) for r in rows), 1),
        }
        scored = [r for r in rows if r.get(cls.monitor) not in (None, "", "nan")]
        if scored:
            pick = min if cls.monitor_mode == "min" else max
            entry["best_epoch"] = int(pick(scored, key=lambda r: float(r[cls.monitor]))["epoch"])
        out.append(entry)
    return {"folds": out, "total_s": round(sum(f["seconds"] for f in out), 1)}


def export_weights(
    run: str | Path, dest: str | Path, name: str, *, options: Sequence[str] = ()
) -> list[Path]:
    """Copy a run's fold models to ``dest/<name>_fold<i>.pt`` as float16 state_dicts.

    The checkpoints keep their config, ``extra`` and calibration. Also writes
    ``dest/<name>.json`` (config, splits, calibration, held-out metrics when ``RUN/heldout.json``
    exists, training times). A run whose method has a calibration grid must have been
    calibrated (``strokect train`` does it after the folds). ``options`` (``key=value``) set
    inference options (only those ``segment --set`` may change) as the released weights'
    defaults, e.g. which of two measured alternatives ``segment`` uses; the card records them.
    """
    from strokect.config import resolve_config
    from strokect.data.splits import load_splits
    from strokect.methods.checkpoint import load_model, save_checkpoint
    from strokect.pipelines.segment import split_options

    run, dest = Path(run), Path(dest)
    out = []
    paths = sorted(run.glob("fold_*/model.pt"))
    if not paths:
        raise FileNotFoundError(f"{run}: no fold_*/model.pt (not a finished strokect train run)")
    method = None
    for i, path in enumerate(paths):
        method, nets = load_model(path)
        if method.calibration_grid() is not None and method.calibration is None:
            raise ValueError(f"{path} holds no calibration (the run was not calibrated)")
        config_over, cal_over = split_options(type(method), options)
        if cal_over:
            raise InputError(
                f"release --set {cal_over[0]}: the calibration comes from the run, not from options"
            )
        if config_over:
            method.config = resolve_config(
                type(method.config), overrides=config_over, base=method.config
            )
        half = {k: v.half() for k, v in nets.items()}
        out.append(save_checkpoint(dest / f"{name}_fold{i}.pt", method, half))
    card: dict[str, Any] = {
        "name": name,
        "method": method.name,
        "intended_use": "research and software testing only; NOT FOR CLINICAL USE",
        "run": json.loads((run / "config.json").read_text()),
        "splits": load_splits(run / "splits.json"),
        "training": training_summary(run),
        "release_options": list(options),
    }
    if (run / "calibration.json").is_file():
        card["calibration"] = json.loads((run / "calibration.json").read_text())
        card["calibration"].pop("grid", None)
    if (run / "heldout.json").is_file():
        card["heldout"] = json.loads((run / "heldout.json").read_text())
    out.append(write_json(card, dest / f"{name}.json"))
    return out
