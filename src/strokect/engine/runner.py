"""Internals of :func:`strokect.engine.fit`: one run's state, epochs, validation, checkpoints."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from strokect.engine import distributed as ddp
from strokect.engine.seeding import get_rng_state, seed_everything, set_rng_state
from strokect.errors import InputError
from strokect.io.records import write_csv
from strokect.methods.base import Method, TrainContext
from strokect.methods.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["Callback", "move_to_device"]

logger = logging.getLogger("strokect.engine")

Callback = Callable[[TrainContext, dict[str, float]], None]


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside ``batch`` (tensor, dict, list, tuple) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [move_to_device(v, device) for v in batch]
        return type(batch)(moved) if not hasattr(batch, "_fields") else type(batch)(*moved)
    return batch


def default_device(info: ddp.DistInfo) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", info.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


@dataclass
class LoopState:
    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    best_value: float | None = None
    best_epoch: int = -1
    bad_validations: int = 0
    stopped_early: bool = False
    finished: bool = False
    train_sums: dict[str, float] = field(default_factory=dict)
    train_count: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.__dict__)


def _load_initial_weights(nets, state_dicts, name: str) -> None:
    """Start ``nets`` from ``state_dicts`` (fine-tuning); any mismatch is one clear error."""
    if set(nets) != set(state_dicts):
        raise InputError(
            f"--init-from {name}: networks {sorted(state_dicts)} do not match the method's "
            f"{sorted(nets)}"
        )
    for key, net in nets.items():
        try:
            net.load_state_dict(state_dicts[key])
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            detail = first[1].strip() if len(first) > 1 else first[0]
            raise InputError(
                f"--init-from {name}: network '{key}' has another architecture ({detail})"
            ) from None


class Run:
    """State of one `fit` call (kept in a class because it really is state)."""

    def __init__(self, method: Method, out_dir: Path, opts: dict[str, Any]) -> None:
        self.method, self.out_dir, self.opts = method, out_dir, opts
        self.info = ddp.dist_info_from_env()
        self.device = torch.device(opts["device"]) if opts["device"] else default_device(self.info)
        self.joined = ddp.init_process_group(self.info, self.device)
        scaler = None
        if opts["amp"] and self.device.type == "cuda":
            scaler = torch.amp.GradScaler("cuda")
        self.ctx = TrainContext(
            device=self.device,
            rank=self.info.rank,
            world_size=self.info.world_size,
            seed=opts["seed"],
            cache_dir=opts["cache_dir"],
            scaler=scaler,
        )
        seed_everything(opts["seed"] + self.info.rank)
        nets = method.build_networks()
        if opts.get("init_state_dicts"):
            _load_initial_weights(nets, opts["init_state_dicts"], opts.get("init_name", ""))
        self.nets = {k: v.to(self.device) for k, v in nets.items()}
        self.wrapped = ddp.wrap_networks(self.nets, self.info, self.device)
        self.optimizers = method.build_optimizers(self.wrapped)
        self.schedulers = method.build_schedulers(self.optimizers)
        self.state = LoopState()
        self.epoch_rng: dict[str, Any] | None = None
        self.best_weights: dict[str, dict[str, torch.Tensor]] | None = None

    # -- checkpoints ---------------------------------------------------------------------------
    def save_last(self) -> None:
        rng = ddp.gather_objects(
            {"current": get_rng_state(), "epoch_start": self.epoch_rng}, self.info
        )
        if not self.ctx.is_main:
            return
        scaler = self.ctx.scaler.state_dict() if self.ctx.scaler is not None else None
        save_checkpoint(
            self.out_dir / "last.pt",
            self.method,
            self.nets,
            kind="training",
            training_state={
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "scaler": scaler,
                "rng": rng,
                "loop": self.state.as_dict(),
            },
        )

    def restore(self, path: Path) -> dict[str, Any]:
        data = load_checkpoint(path, method=self.method)
        for name, net in self.nets.items():
            net.load_state_dict(data["state_dicts"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(data["optimizers"][name])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(data["schedulers"][name])
        if self.ctx.scaler is not None and data.get("scaler"):
            self.ctx.scaler.load_state_dict(data["scaler"])
        self.method.extra = dict(data.get("extra") or {})
        self.state = LoopState(**data["loop"])
        best = self.out_dir / "best.pt"
        if best.is_file():
            self.best_weights = load_checkpoint(best, method=self.method)["state_dicts"]
        ranks = data["rng"]
        rng = ranks[self.info.rank] if len(ranks) == self.info.world_size else ranks[0]
        self.epoch_rng = rng["epoch_start"]
        logger.info("resuming %s at epoch %d, step %d", path, self.state.epoch, self.state.step)
        return rng["current"]

    # -- training ------------------------------------------------------------------------------
    def autocast(self):
        if self.ctx.scaler is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type)

    def batches(self, data: Iterable[Any], resume_rng: dict[str, Any] | None):
        """Iterate one epoch; on mid-epoch resume replay the epoch's order and skip done batches."""
        sampler = getattr(data, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.state.epoch)
        skip = self.state.batch_in_epoch
        if skip and resume_rng is not None and self.epoch_rng is not None:
            set_rng_state(self.epoch_rng)
        else:
            skip = 0
            self.state.batch_in_epoch = 0
            self.epoch_rng = get_rng_state()
        iterator = iter(data)
        for _ in range(skip):
            next(iterator)
        if resume_rng is not None:
            set_rng_state(resume_rng)
        return iterator

    def train_epoch(self, data: Iterable[Any], resume_rng, callbacks: Sequence[Callback]) -> bool:
        """One pass over ``data``; False when ``max_steps`` stopped it before the end."""
        for net in self.wrapped.values():
            net.train()
        total = len(data) if hasattr(data, "__len__") else None
        bar = tqdm(
            self.batches(data, resume_rng),
            total=total,
            initial=self.state.batch_in_epoch,
            desc=f"epoch {self.state.epoch}",
            disable=not (self.opts["progress"] and self.ctx.is_main),
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )
        every = self.opts["checkpoint_every_steps"]
        for batch in bar:
            self.ctx.epoch, self.ctx.step = self.state.epoch, self.state.step
            with self.autocast():
                logs = self.method.training_step(
                    move_to_device(batch, self.device), self.wrapped, self.optimizers, self.ctx
                )
            self.state.step += 1
            self.state.batch_in_epoch += 1
            for key, value in logs.items():
                self.state.train_sums[key] = self.state.train_sums.get(key, 0.0) + float(value)
            self.state.train_count += 1
            if self.method.scheduler_interval == "step":
                self.step_schedulers(None)
            bar.set_postfix({k: f"{float(v):.4g}" for k, v in logs.items()}, refresh=False)
            for callback in callbacks:
                callback(self.ctx, logs)
            if every and self.state.step % every == 0:
                self.save_last()
            if self.opts["max_steps"] and self.state.step >= self.opts["max_steps"]:
                return False
        return True

    def step_schedulers(self, monitored: float | None) -> None:
        for sched in self.schedulers.values():
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                if monitored is not None:
                    sched.step(monitored)
            else:
                sched.step()

    @torch.no_grad()
    def validate(self, data: Iterable[Any]) -> dict[str, float]:
        for net in self.wrapped.values():
            net.eval()
        sums: dict[str, float] = {}
        weight = 0.0
        self.ctx.epoch, self.ctx.step = self.state.epoch, self.state.step
        for batch in data:
            with self.autocast():
                out = dict(
                    self.method.validation_step(
                        move_to_device(batch, self.device), self.wrapped, self.ctx
                    )
                )
            n = float(out.pop("n", 1.0))
            for key, value in out.items():
                sums[key] = sums.get(key, 0.0) + float(value) * n
            weight += n
        means = self.method.summarize_validation(ddp.all_reduce_means(sums, weight, self.device))
        if self.method.monitor not in means:
            raise KeyError(
                f"method {self.method.name!r}: validation_step must return the monitored key "
                f"{self.method.monitor!r}, got {sorted(means)}"
            )
        return means

    # -- epoch end -----------------------------------------------------------------------------
    def improved(self, value: float) -> bool:
        best = self.state.best_value
        if best is None or math.isnan(best):
            return not math.isnan(value)
        return value < best if self.method.monitor_mode == "min" else value > best

    def end_epoch(self, val_means: dict[str, float] | None, started_s: float) -> None:
        """Early stopping, best weights, schedulers and the log row of the finished epoch."""
        state, patience = self.state, self.opts["patience"]
        row: dict[str, float] = {"epoch": state.epoch, "step": state.step}
        row["time_s"] = round(time.perf_counter() - started_s, 3)
        for name, opt in self.optimizers.items():
            row[f"lr_{name}"] = opt.param_groups[0]["lr"]
        for key, total in state.train_sums.items():
            row[f"train_{key}"] = total / max(state.train_count, 1)
        monitored = None
        if val_means is not None:
            row.update({k if k.startswith("val_") else f"val_{k}": v for k, v in val_means.items()})
            monitored = float(val_means[self.method.monitor])
            if self.improved(monitored):
                state.best_value, state.best_epoch, state.bad_validations = (
                    monitored,
                    state.epoch,
                    0,
                )
                self.best_weights = {k: copy.deepcopy(n.state_dict()) for k, n in self.nets.items()}
                if self.ctx.is_main:
                    save_checkpoint(
                        self.out_dir / "best.pt", self.method, self.nets, metrics=val_means
                    )
            else:
                state.bad_validations += 1
                if patience is not None and state.bad_validations >= patience:
                    state.stopped_early = True
        if self.method.scheduler_interval == "epoch":
            self.step_schedulers(monitored)
        state.history.append(row)
        state.epoch += 1
        state.batch_in_epoch, state.train_sums, state.train_count = 0, {}, 0
        if self.ctx.is_main:
            write_log(self.out_dir / "log.csv", state.history)
            logger.info(
                "epoch %d: %s", row["epoch"], ", ".join(f"{k}={v:.4g}" for k, v in row.items())
            )

    def finish(self) -> Path:
        """Load the kept weights and write ``model.pt`` (rank 0)."""
        if self.opts["keep_best"] and self.best_weights is not None:
            for name, net in self.nets.items():
                net.load_state_dict(self.best_weights[name])
        self.state.finished = True
        self.save_last()
        path = self.out_dir / "model.pt"
        if self.ctx.is_main:
            best = (
                {"best_value": self.state.best_value} if self.state.best_value is not None else {}
            )
            save_checkpoint(path, self.method, self.nets, metrics=best)
        return path


def write_log(path: Path, rows: list[dict[str, float]]) -> None:
    """Rewrite the whole epoch table ``log.csv`` (atomic): one row per finished epoch so far.

    Columns are the union of the rows' keys in first-seen order; a value a row lacks (e.g. the
    validation columns of an epoch without validation) is an empty cell.
    """
    write_csv(rows, path, columns=list(dict.fromkeys(k for row in rows for k in row)))
