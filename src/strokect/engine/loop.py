"""The one training loop: :func:`fit` runs any `strokect.methods.base.Method`.

Files written in ``out_dir`` (by rank 0 only):

``last.pt``    training checkpoint (networks, optimizers, schedulers, AMP scaler, per-rank RNG
               states, loop counters, early-stopping state, history), every
               ``checkpoint_every_steps`` steps and at every epoch end; ``fit(..., resume=True)``
               continues from it, mid-epoch included, replaying the same batches.
``best.pt``    model checkpoint of the best validation so far (``monitor``/``monitor_mode``).
``model.pt``   the final model checkpoint: best weights when ``keep_best`` and validation ran,
               otherwise the last weights.
``log.csv``    one row per epoch: epoch, step, seconds, learning rates, training means, validation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from strokect.engine.runner import Callback, Run
from strokect.engine.seeding import set_deterministic, set_rng_state
from strokect.errors import InputError
from strokect.methods.base import Method, TrainContext

__all__ = ["FitResult", "fit"]

DataArg = Iterable[Any] | Callable[[TrainContext], Iterable[Any]] | None


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    networks : dict of str to nn.Module
        The trained networks (unwrapped), holding the kept weights (best or last).
    model_path : Path
        The final ``model.pt``.
    best_value : float or None
        Best monitored validation value (None without validation).
    best_epoch : int
        Epoch (0-based) of ``best_value``; -1 without validation.
    epochs_run : int
        Number of completed epochs.
    steps : int
        Number of completed training steps.
    stopped_early : bool
        Whether early stopping ended the run.
    history : list of dict
        The rows of ``log.csv``.
    """

    networks: dict[str, nn.Module]
    model_path: Path
    best_value: float | None
    best_epoch: int
    epochs_run: int
    steps: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)


def _resolve_data(data: DataArg, ctx: TrainContext) -> Iterable[Any] | None:
    return data(ctx) if callable(data) and not hasattr(data, "__iter__") else data


def fit(
    method: Method,
    train_data: DataArg,
    val_data: DataArg = None,
    *,
    out_dir: str | Path,
    max_epochs: int | None = None,
    patience: int | str | None = "config",
    val_every_epochs: int | None = None,
    max_steps: int | None = None,
    checkpoint_every_steps: int | None = 100,
    resume: bool = False,
    seed: int = 0,
    deterministic: bool = False,
    device: str | torch.device | None = None,
    amp: bool = False,
    keep_best: bool = True,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    init_state_dicts: dict | None = None,
    init_name: str = "",
) -> FitResult:
    """Train ``method`` and write its checkpoints and log into ``out_dir``.

    Parameters
    ----------
    method : Method
        Configured method; it builds the networks, optimizers and steps.
    train_data, val_data : iterable of batches, or callable ``ctx -> iterable``
        Re-iterable batches (one pass = one epoch). A callable is called once with the
        `TrainContext` (rank, world size, seed), e.g. ``lambda ctx: method.train_data(cases, ctx)``.
        ``val_data=None`` disables validation (then no early stopping, last weights kept).
    out_dir : path
        Run folder (created). Holding a ``last.pt`` already requires ``resume=True``.
    max_epochs, patience, val_every_epochs : optional
        Default to ``method.config`` (``patience=None`` disables early stopping).
    max_steps : int, optional
        Stop after this many training steps in total (smoke runs, benchmarks).
    checkpoint_every_steps : int or None
        Also write ``last.pt`` every this many steps (it is always written at epoch end).
    resume : bool
        Continue from ``out_dir/last.pt`` (mid-epoch included); a finished run returns at once.
    seed : int
        Seeds Python, NumPy and torch before the networks are built (rank r uses seed + r).
    deterministic : bool
        Use only deterministic torch algorithms (restored to the previous setting afterwards).
    device : str or torch.device, optional
        Default: CUDA (``LOCAL_RANK``'s device) when available, else CPU.
    amp : bool
        Mixed precision with gradient scaling on CUDA (ignored on CPU).
    keep_best : bool
        End with the weights of the best validation instead of the last ones.
    progress : bool
        tqdm progress bars on stderr (rank 0).
    callbacks : sequence of callable
        ``callback(ctx, logs)`` after every training step (tests use it to interrupt a run).
    init_state_dicts : mapping, optional
        Network name -> state dict to start from instead of the random initialisation
        (fine-tuning; ``init_name`` names the source in errors). A resumed run ignores it.

    Returns
    -------
    FitResult
    """
    out_dir = Path(out_dir)
    cfg = method.config
    opts = {
        "device": device,
        "amp": amp,
        "seed": seed,
        "cache_dir": Path(cache_dir) if cache_dir else None,
        "checkpoint_every_steps": checkpoint_every_steps,
        "max_steps": max_steps,
        "patience": cfg.patience if patience == "config" else patience,
        "keep_best": keep_best,
        "progress": progress,
        "init_state_dicts": None if resume else init_state_dicts,
        "init_name": init_name,
    }
    max_epochs = cfg.max_epochs if max_epochs is None else max_epochs
    val_every = val_every_epochs or cfg.val_every_epochs
    if (out_dir / "last.pt").exists() and not resume:
        raise InputError(
            f"{out_dir} already holds a training run; resume it or choose another folder"
        )
    previous = set_deterministic(deterministic) if deterministic else None
    try:
        run = Run(method, out_dir, opts)
        return _train(run, train_data, val_data, max_epochs, val_every, resume, callbacks)
    finally:
        if previous is not None:
            set_deterministic(previous)


def _train(run: Run, train_data, val_data, max_epochs, val_every, resume, callbacks) -> FitResult:
    resume_rng = (
        run.restore(run.out_dir / "last.pt")
        if resume and (run.out_dir / "last.pt").exists()
        else None
    )
    if resume_rng is not None and run.state.batch_in_epoch == 0:
        set_rng_state(resume_rng)
        resume_rng = None
    train = _resolve_data(train_data, run.ctx)
    val = _resolve_data(val_data, run.ctx)
    state = run.state
    while not state.finished and not state.stopped_early and state.epoch < max_epochs:
        if run.opts["max_steps"] and state.step >= run.opts["max_steps"]:
            break
        started = time.perf_counter()
        complete = run.train_epoch(train, resume_rng, callbacks)
        resume_rng = None
        if not complete:
            break
        last = state.epoch + 1 >= max_epochs
        validate = val is not None and ((state.epoch + 1) % val_every == 0 or last)
        run.end_epoch(run.validate(val) if validate else None, started)
        run.save_last()
    model_path = run.out_dir / "model.pt"
    if not (state.finished and model_path.exists()):
        model_path = run.finish()
    if run.joined and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return FitResult(
        networks=run.nets,
        model_path=model_path,
        best_value=state.best_value,
        best_epoch=state.best_epoch,
        epochs_run=state.epoch,
        steps=state.step,
        stopped_early=state.stopped_early,
        history=list(state.history),
    )
