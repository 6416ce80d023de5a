"""Cross-validated post-processing, held-out ensemble test and weight export for ``clerigues``.

Follows Clèrigues et al., CBM 2019, sec. 4: every fold model predicts its validation cases (MC
dropout as at inference), T and S_min are chosen by grid search on these cross-validation maps
(`strokect.inference.gridsearch`), and the fold models, averaged with 3 MC-dropout passes each,
form the ensemble evaluated on cases no model has seen.

`cross_validate_postprocess` runs at the end of ``strokect train --method clerigues`` (through
`CleriguesMethod.after_cross_validation`). The other steps of the shipped-weights recipe run as::

    python -m strokect.methods.clerigues.evaluation heldout RUN TEST_ROOT
    python -m strokect.methods.clerigues.evaluation export RUN DEST --name NAME
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from strokect.data.splits import load_splits
from strokect.engine.checkpoint import load_checkpoint, load_model, save_checkpoint
from strokect.inference.gridsearch import grid_search_postprocess
from strokect.inference.postprocess import postprocess
from strokect.inference.segment import load_ensemble, predict_probability
from strokect.io.atomic import atomic_output
from strokect.metrics import compute_dice, compute_hausdorff
from strokect.report.evaluation import write_json

__all__ = [
    "cross_validate_postprocess",
    "evaluate_heldout",
    "export_weights",
    "store_postprocess",
    "training_summary",
]

log = logging.getLogger(__name__)


def _scores(mask: np.ndarray, ref: np.ndarray, spacing_mm) -> dict[str, float]:
    return {
        "dice": float(compute_dice(mask, ref)),
        "hd_mm": float(compute_hausdorff(mask, ref, spacing_mm=spacing_mm)),
    }


def store_postprocess(path: str | Path, post: Mapping) -> Path:
    """Rewrite checkpoint ``path`` atomically with ``extra["postprocess"] = post``."""
    path = Path(path)
    data = load_checkpoint(path, method="clerigues")
    data["extra"] = {**(data.get("extra") or {}), "postprocess": dict(post)}
    with atomic_output(path) as tmp:
        torch.save(data, tmp)
    return path


def _cv_predictions(run_dir, splits, cases, cache_dir, tile_size):
    """``(case_id, probability, reference, spacing_mm)`` of every validation case, predicted by
    the model of its fold with the configured MC-dropout passes."""
    out = []
    for i, split in enumerate(splits):
        method, nets = load_model(Path(run_dir) / f"fold_{i}" / "model.pt", method="clerigues")
        for cid in split["val"]:
            case = cases[cid]
            prepared = method.prepare(case, _Cache(cache_dir))
            if prepared.label is None:
                continue
            prob, _ = predict_probability(
                prepared.image,
                [(method, nets)],
                mc_passes=method.config.mc_passes,
                tile_size=tile_size,
                overlap=method.config.overlap,
            )
            spacing = case.load(method.config.modalities[0]).spacing_mm
            out.append((cid, prob * prepared.brain, prepared.label, spacing))
    return out


class _Cache:
    """Minimal stand-in for a `TrainContext` carrying only ``cache_dir``."""

    def __init__(self, cache_dir):
        self.cache_dir = cache_dir


def cross_validate_postprocess(
    run_dir: str | Path,
    *,
    splits: Sequence[Mapping[str, Sequence[str]]],
    cases: Mapping[str, object],
    cache_dir: str | Path | None = None,
    tile_size: int | None = None,
) -> dict:
    """Choose T and S_min on the cross-validation predictions and store them in the run.

    Every fold's ``model.pt`` predicts that fold's validation cases; `grid_search_postprocess`
    (T = 0.1..0.9, S_min in {10, 50, 100, 200, 300, 500} voxels, joint Dice + HD ranking) picks
    the setting; ``RUN/postprocess.json`` records it with the per-case scores and the grid, and
    every fold's ``model.pt`` (and ``best.pt``) is rewritten with ``extra["postprocess"]``, so
    ``strokect segment --weights RUN`` uses it.

    Parameters
    ----------
    run_dir : path
        A finished ``strokect train --method clerigues`` run (``fold_<i>/model.pt``).
    splits : sequence of {"train": [...], "val": [...]}
        The run's folds (``RUN/splits.json``).
    cases : mapping case_id -> `strokect.data.Case`
        At least every validation case, with its ``core`` mask.
    cache_dir : path, optional
        Cache of preprocessed cases (``RUN/cache``).
    tile_size : int or None
        Prediction tiles (None: whole slices, as ``strokect segment`` by default).

    Returns
    -------
    dict
        The content of ``postprocess.json``.
    """
    run_dir = Path(run_dir)
    t0 = time.time()
    preds = _cv_predictions(run_dir, splits, cases, cache_dir, tile_size)
    if not preds:
        raise ValueError(f"{run_dir}: no validation case with a core mask; cannot choose T/S_min")
    ids, probs, refs, spacings = (list(v) for v in zip(*preds, strict=True))
    grid = grid_search_postprocess(probs, refs, spacing_mm=spacings)
    per_case = {
        cid: _scores(
            postprocess(p, threshold=grid.threshold, min_size_voxels=grid.min_size_voxels), r, s
        )
        | {"ref_voxels": int(r.sum())}
        for cid, p, r, s in zip(ids, probs, refs, spacings, strict=True)
    }
    post = {
        "threshold": float(grid.threshold),
        "min_size_vox": int(grid.min_size_voxels),
        "chosen_by": f"joint Dice+HD grid search on {len(ids)} cross-validation predictions",
        "cv_mean_dice": float(grid.mean_dice),
        "cv_mean_hd_mm": float(grid.mean_hd_mm),
    }
    for i in range(len(splits)):
        for name in ("model.pt", "best.pt"):
            path = run_dir / f"fold_{i}" / name
            if path.is_file():
                store_postprocess(path, post)
    result = {
        **post,
        "tile_size": tile_size,
        "seconds": round(time.time() - t0, 1),
        "cv_cases": per_case,
        "grid": grid.table,
    }
    write_json(result, run_dir / "postprocess.json")
    log.info("cross-validated T = %.1f, S_min = %d voxels", grid.threshold, grid.min_size_voxels)
    return result


def evaluate_heldout(
    run: str | Path, test_root: str | Path, *, tile_size: int | None = None
) -> dict:
    """Ensemble test of a run's fold models on the cases of ``test_root`` (no model saw them).

    Uses the T/S_min stored in the checkpoints (`cross_validate_postprocess`) and the configured
    MC passes; writes ``RUN/heldout.json`` and returns its content.
    """
    from strokect.data import load_dataset
    from strokect.engine.checkpoint import find_model_checkpoints

    run = Path(run)
    models = load_ensemble(find_model_checkpoints(run), method="clerigues")
    method = models[0][0]
    cfg = method.config
    post = method.extra.get("postprocess") or {}
    t, s_min = post.get("threshold", cfg.threshold), post.get("min_size_vox", cfg.min_size_vox)
    test = {}
    for case in load_dataset(test_root).cases:
        prepared = method.prepare(case)
        t1 = time.time()
        prob, _ = predict_probability(
            prepared.image,
            models,
            mc_passes=cfg.mc_passes,
            tile_size=tile_size,
            overlap=cfg.overlap,
        )
        mask = postprocess(prob * prepared.brain, threshold=t, min_size_voxels=s_min)
        spacing = case.load(cfg.modalities[0]).spacing_mm
        test[case.case_id] = {
            **_scores(mask, prepared.label, spacing),
            "predict_s": round(time.time() - t1, 2),
            "ref_voxels": int(prepared.label.sum()),
            "pred_voxels": int(mask.sum()),
        }
    dice = [v["dice"] for v in test.values()]
    result = {
        "test_root": str(test_root),
        "threshold": t,
        "min_size_vox": s_min,
        "n_models": len(models),
        "mc_passes": cfg.mc_passes,
        "tile_size": tile_size,
        "test_mean_dice": float(np.mean(dice)),
        "test_median_dice": float(np.median(dice)),
        "test_cases": test,
    }
    write_json(result, run / "heldout.json")
    return result


def training_summary(run: str | Path) -> dict:
    """Per-fold epochs, seconds and patches/s from ``RUN/fold_<i>/log.csv`` and the config."""
    run = Path(run)
    saved = json.loads((run / "config.json").read_text())
    folds = load_splits(run / "splits.json")
    per_case = saved["config"]["patches_per_case"]
    out = []
    for i, split in enumerate(folds):
        with open(run / f"fold_{i}" / "log.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        seconds = sum(float(r["time_s"]) for r in rows)
        patches = len(split["train"]) * per_case * len(rows)
        best = min(rows, key=lambda r: float(r["val_l1_plus_error"]))
        out.append(
            {
                "fold": i,
                "epochs_run": len(rows),
                "best_epoch": int(best["epoch"]),
                "seconds": round(seconds, 1),
                "patches_per_s": round(patches / seconds, 1),
            }
        )
    return {"folds": out, "total_s": round(sum(f["seconds"] for f in out), 1)}


def export_weights(run: str | Path, dest: str | Path, name: str) -> list[Path]:
    """Copy a run's fold models to ``dest/<name>_fold<i>.pt`` as float16 state_dicts.

    The checkpoints keep their ``extra`` (channels, cross-validated ``postprocess``). Also writes
    ``dest/<name>.json`` (config, splits, CV post-processing, held-out metrics when
    ``RUN/heldout.json`` exists, training times).
    """
    run, dest = Path(run), Path(dest)
    out = []
    for i, path in enumerate(sorted(run.glob("fold_*/model.pt"))):
        method, nets = load_model(path, method="clerigues")
        if "postprocess" not in method.extra:
            raise ValueError(f"{path} holds no cross-validated T/S_min (run not post-processed)")
        half = {k: v.half() for k, v in nets.items()}
        out.append(save_checkpoint(dest / f"{name}_fold{i}.pt", method, half))
    card = {
        "name": name,
        "method": "clerigues",
        "intended_use": "research and software testing only; NOT FOR CLINICAL USE",
        "run": json.loads((run / "config.json").read_text()),
        "splits": load_splits(run / "splits.json"),
        "training": training_summary(run),
        "postprocess": json.loads((run / "postprocess.json").read_text()),
    }
    if (run / "heldout.json").is_file():
        card["heldout"] = json.loads((run / "heldout.json").read_text())
    card["postprocess"].pop("grid", None)
    out.append(write_json(card, dest / f"{name}.json"))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m strokect.methods.clerigues.evaluation {heldout,export} ...``."""
    parser = argparse.ArgumentParser(prog="python -m strokect.methods.clerigues.evaluation")
    sub = parser.add_subparsers(dest="step", required=True)
    held = sub.add_parser("heldout", help="ensemble test of RUN on the cases of TEST_ROOT")
    held.add_argument("run")
    held.add_argument("test_root")
    held.add_argument("--tile-size", type=int, default=None, help="default: whole slices")
    exp = sub.add_parser("export", help="float16 copies of RUN's fold models into DEST")
    exp.add_argument("run")
    exp.add_argument("dest")
    exp.add_argument("--name", required=True, help="file stem, e.g. clerigues_ct-cbf-cbv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.step == "heldout":
        evaluate_heldout(args.run, args.test_root, tile_size=args.tile_size)
        print((Path(args.run) / "heldout.json").read_text())
    else:
        for path in export_weights(args.run, args.dest, args.name):
            print(path)


if __name__ == "__main__":
    main()
