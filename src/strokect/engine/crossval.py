"""Train a registered method on a dataset with patient-level k-fold cross-validation.

Run folder layout (what ``strokect train -o RUN`` writes)::

    RUN/config.json       method name, resolved config, folds, seed, data root, version
    RUN/splits.json       patient-level folds (`strokect.data.splits`): per fold the training
                          cases, the early-stopping (`stop`) cases and the validation fold
    RUN/fold_<i>/         one `strokect.engine.fit` run per fold: last.pt, best.pt, model.pt, log.csv
    RUN/cache/            optional cache of preprocessed cases (method-defined)

The k fold models form the method's ensemble (`strokect.methods.checkpoint.find_model_checkpoints`).
What needs every fold model (the calibration of a method's post-processing on the
cross-validation predictions) is a pipeline step after this one:
`strokect.pipelines.train.train` runs both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from strokect.config import config_from_dict, config_to_dict, resolve_config
from strokect.engine import distributed as ddp
from strokect.engine.loop import FitResult, fit
from strokect.errors import InputError, warn
from strokect.io.records import write_json
from strokect.methods.registry import get_method_class
from strokect.version import __version__

__all__ = ["CrossValResult", "train_cross_validation"]

logger = logging.getLogger(__name__)


@dataclass
class CrossValResult:
    """Outcome of `train_cross_validation`: the run folder, its folds (the saved splits), the
    cases by id and one `FitResult` per fold trained by this call."""

    run_dir: Path
    folds: dict[int, FitResult]
    splits: list[dict]
    cases: dict
    method_cls: type
    config: object
    data_root: str = ""


def _prepare_run(run_dir, method_name, config_file, overrides, resume, run_info, base=None):
    """Resolve the config (from ``base`` when fine-tuning); refuse to clobber a run; on resume,
    reuse the run's saved config."""
    cls = get_method_class(method_name)
    config_path = run_dir / "config.json"
    if resume:
        if not config_path.is_file():
            raise InputError(f"--resume: {run_dir} holds no config.json (not a strokect run)")
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        if saved.get("method") != method_name:
            raise InputError(
                f"--resume: {run_dir} is a {saved.get('method')!r} run, not {method_name!r}"
            )
        config = config_from_dict(cls.config_cls, saved["config"], source=str(config_path))
        if (config_file or overrides) and config != resolve_config(
            cls.config_cls, config_file, overrides, base=base
        ):
            raise InputError(
                f"--resume: --config/--set differ from the config saved in {config_path}"
            )
        return cls, config, saved
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(
            f"run folder {run_dir} already exists and is not empty; use --resume or another -o"
        )
    config = resolve_config(cls.config_cls, config_file, overrides, base=base)
    return cls, config, {"method": method_name, **run_info, "config": config_to_dict(config)}


def _init_from(init_from, method_name: str):
    """(source files, their config) for ``--init-from``; (None, None) without it."""
    if init_from is None:
        return None, None
    from strokect.methods.checkpoint import init_sources, load_checkpoint

    cls = get_method_class(method_name)
    sources = init_sources(init_from, method_name)
    first = load_checkpoint(sources[0], method=method_name)
    base = config_from_dict(cls.config_cls, first["config"], source=str(sources[0]))
    return sources, base


def _splits(run_dir: Path, cases, folds: int, seed: int, resume: bool, is_main: bool, method):
    from strokect.data.splits import load_splits, make_kfold_splits, save_splits

    path = run_dir / "splits.json"
    if resume and path.is_file():
        return load_splits(path)
    if folds == 1:
        splits = [{"train": [c.case_id for c in cases], "stop": [], "val": []}]
    else:
        strata = {c.case_id: method.split_stratum(c) for c in cases}
        stratified = any(v is not None for v in strata.values())
        splits = make_kfold_splits(cases, folds, seed=seed, strata=strata if stratified else None)
    if is_main:
        save_splits(splits, path)
    return splits


def _fold_init(sources, fold: int) -> dict:
    if not sources:
        return {}
    from strokect.methods.checkpoint import load_checkpoint

    path = sources[fold % len(sources)]
    return {"init_state_dicts": load_checkpoint(path)["state_dicts"], "init_name": str(path)}


def check_cases(method, cases) -> None:
    """Refuse, before any training, cases that lack a role of ``method.training_roles()``.

    Raises
    ------
    InputError
        One line counting every missing role and naming the first three (case, role and folder
        looked in, `strokect.data.Case.path`).
    """
    problems = []
    for case in cases:
        for role in method.training_roles():
            try:
                case.path(role)
            except InputError as exc:
                problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InputError(
            f"{len(problems)} missing input(s), nothing trained: " + "; ".join(problems[:3]) + more
        )


def train_cross_validation(
    method_name: str,
    data_root: str | Path,
    run_dir: str | Path,
    *,
    folds: int = 5,
    fold: int | None = None,
    config_file: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: bool = False,
    seed: int = 0,
    deterministic: bool = False,
    device: str | None = None,
    progress: bool = True,
    init_from: str | Path | None = None,
) -> CrossValResult:
    """Train ``method_name`` on the dataset at ``data_root`` fold by fold (see the module docstring).

    Parameters
    ----------
    method_name : str
        A name of `strokect.methods.registry.METHODS`.
    data_root : path
        A dataset in any layout `strokect.data.load_dataset` reads.
    run_dir : path
        New (or empty) run folder; an existing run needs ``resume=True``.
    folds : int
        Number of patient-level folds (1: train on every case, without validation).
    fold : int, optional
        Train only this fold (0-based), e.g. one fold per job on a cluster.
    config_file, overrides :
        Config file and ``key=value`` overrides (`strokect.methods.base.resolve_config`).
    resume : bool
        Continue an interrupted run with its saved config and splits; finished folds are kept.
    seed, deterministic, device, progress :
        Passed to `strokect.engine.fit`.
    init_from : path or name, optional
        Fine-tune: start every fold from a compatible model (`strokect.methods.checkpoint.
        init_sources`: a checkpoint, a run folder, ``shipped`` or a shipped model name); fold
        ``i`` starts from source ``i`` modulo their number. The config starts from the source's
        (its architecture and inputs), then ``config_file`` and ``overrides``.

    Before training, every case is checked for the roles the method needs (`check_cases`), so
    a missing image is one clear error before hours of training, not a traceback later.
    """
    from strokect.data import load_dataset

    run_dir = Path(run_dir)
    if folds < 1:
        raise InputError(f"--folds must be >= 1, got {folds}")
    if fold is not None and not 0 <= fold < folds:
        raise InputError(f"--fold must be in 0..{folds - 1}, got {fold}")
    info = ddp.dist_info_from_env()
    dev = torch.device(device) if device else None
    joined = ddp.init_process_group(
        info, dev or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    try:
        run_info = {
            "strokect_version": __version__,
            "folds": folds,
            "seed": seed,
            "data_root": str(data_root),
        }
        sources, base = _init_from(init_from, method_name)
        if sources:
            run_info["init_from"] = [str(p) for p in sources]
        cls, config, saved = _prepare_run(
            run_dir, method_name, config_file, overrides, resume, run_info, base=base
        )
        if joined:
            torch.distributed.barrier()  # every rank checked the folder before rank 0 writes
        cases = load_dataset(data_root).cases
        if not cases:
            raise InputError(f"no cases found in {data_root}")
        check_cases(cls(config), cases)
        by_id = {c.case_id: c for c in cases}
        splits = _splits(
            run_dir, cases, int(saved.get("folds", folds)), seed, resume, info.rank == 0,
            cls(config),
        )  # fmt: skip
        if info.rank == 0:
            write_json(saved, run_dir / "config.json")
        results = {}
        for i, split in enumerate(splits):
            if fold is not None and i != fold:
                continue
            method = cls(config)
            train_cases = [by_id[c] for c in split["train"]]
            # early stopping watches the fold's `stop` cases; the `val` fold is left for the
            # calibration and the cross-validation scores (runs resumed from before the stop
            # sets existed, `stop` None, keep watching their val fold as they did)
            stop_ids = split["val"] if split.get("stop") is None else split["stop"]
            stop_cases = [by_id[c] for c in stop_ids]
            fold_dir = run_dir / f"fold_{i}"
            logger.info(
                "fold %d: %d training, %d early-stopping and %d validation cases",
                i,
                len(train_cases),
                len(stop_cases),
                len(split["val"]),
            )
            if not stop_cases and split["val"]:
                warn(
                    f"fold {i}: too few training patients to hold some out for early stopping; "
                    "it trains for max_epochs"
                )
            results[i] = fit(
                method,
                lambda ctx, m=method, cs=train_cases: m.train_data(cs, ctx),
                (lambda ctx, m=method, cs=stop_cases: m.val_data(cs, ctx)) if stop_cases else None,
                out_dir=fold_dir,
                resume=resume and (fold_dir / "last.pt").exists(),
                seed=seed,
                deterministic=deterministic,
                device=device,
                progress=progress,
                cache_dir=run_dir / "cache",
                **_fold_init(sources, i),
            )
        if joined:
            torch.distributed.barrier()
        return CrossValResult(run_dir, results, splits, by_id, cls, config, str(data_root))
    finally:
        if joined and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
