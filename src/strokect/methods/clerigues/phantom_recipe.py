"""Recipe of the shipped ``clerigues`` weights: 5-fold training on a phantom cohort, evaluation.

Run as ``python -m strokect.methods.clerigues.phantom_recipe train COHORT RUN [--set k=v ...]``
then ``... evaluate COHORT RUN`` and ``... export DEST RUN --name NAME`` (float16 copies). ``COHORT`` holds one folder per case with ``ct.nii.gz``,
``cbf.nii.gz``, ``cbv.nii.gz``, ``mtt.nii.gz``, ``tmax.nii.gz`` and ``core.nii.gz`` (written from
`strokect.phantom.synth_case`); the first ``n_cv`` cases (sorted) are cross-validated by patient
(one phantom seed = one patient) and the others are held out for the ensemble test.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from strokect.data.case import Case
from strokect.data.splits import make_kfold_splits, save_splits
from strokect.engine.loop import fit
from strokect.methods.base import config_to_dict, resolve_config
from strokect.methods.clerigues.config import ALL_MODALITIES, CleriguesConfig
from strokect.methods.clerigues.method import CleriguesMethod
from strokect.methods.clerigues.preprocessing import prepare_case

__all__ = ["cohort_cases", "train_cv"]

log = logging.getLogger(__name__)


def cohort_cases(cohort: str | Path) -> list[Case]:
    """`Case`s of a folder of ``<case_id>/<role>.nii.gz`` folders (sorted by name)."""
    cases = []
    for d in sorted(p for p in Path(cohort).iterdir() if p.is_dir()):
        images = {r: d / f"{r}.nii.gz" for r in ALL_MODALITIES if (d / f"{r}.nii.gz").is_file()}
        masks = {"core": d / "core.nii.gz"} if (d / "core.nii.gz").is_file() else {}
        cases.append(Case(d.name, d.name, images=images, masks=masks, layout="phantom"))
    return cases


def train_cv(
    cohort: str | Path,
    run: str | Path,
    *,
    overrides: list[str] = (),
    n_cv: int = 20,
    k: int = 5,
    seed: int = 0,
) -> dict:
    """Train one model per fold into ``run/fold_<i>/model.pt``; returns a summary dict."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    cfg = resolve_config(CleriguesConfig, overrides=list(overrides))
    cases = cohort_cases(cohort)[:n_cv]
    splits = make_kfold_splits(cases, k, seed=seed)
    save_splits(splits, run / "splits.json")
    (run / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=1))
    t0 = time.time()
    prepared = {
        c.case_id: prepare_case(
            c, modalities=cfg.modalities, symmetric=cfg.symmetric, cache_dir=run / "cache"
        )
        for c in cases
    }
    summary = {"prepare_s": time.time() - t0, "folds": []}
    for i, split in enumerate(splits):
        method = CleriguesMethod(cfg)
        train = [prepared[c] for c in split["train"]]
        val = [prepared[c] for c in split["val"]]
        t1 = time.time()
        result = fit(
            method,
            lambda ctx, train=train, method=method: method.train_data(train, ctx),
            lambda ctx, val=val, method=method: method.val_data(val, ctx),
            out_dir=run / f"fold_{i}",
            seed=seed + i,
            progress=False,
        )
        seconds = time.time() - t1
        n_patches = len(train) * cfg.patches_per_case
        fold = {
            "fold": i,
            "seconds": round(seconds, 1),
            "train_patches": n_patches,
            "patches_per_s": round(n_patches * result.epochs_run / seconds, 2),
            "best_value": result.best_value,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "steps": result.steps,
        }
        summary["folds"].append(fold)
        log.info("fold %d done in %.0f s", i, seconds)
        (run / "train_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="phantom_recipe")
    parser.add_argument("step", choices=["train", "evaluate", "export"])
    parser.add_argument("cohort")
    parser.add_argument("run")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--n-cv", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tile-size", type=int, default=None, help="evaluate: None = whole slices")
    parser.add_argument("--name", help="export: weights file stem, e.g. clerigues_ct-cbf-cbv")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.step == "train":
        train_cv(args.cohort, args.run, overrides=args.overrides, n_cv=args.n_cv, k=args.folds)
    elif args.step == "evaluate":
        from strokect.methods.clerigues.evaluation import evaluate_run

        evaluate_run(args.cohort, args.run, n_cv=args.n_cv, tile_size=args.tile_size)
    else:  # export: COHORT is the destination folder here
        from strokect.methods.clerigues.evaluation import export_weights

        export_weights(args.run, args.cohort, args.name)


if __name__ == "__main__":
    main()
