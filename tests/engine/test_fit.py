"""The training loop on the two example methods: patterns, resume, determinism, early stopping."""

from __future__ import annotations

import csv

import pytest
import torch

from strokect.config import resolve_config
from strokect.engine import fit
from strokect.errors import InputError
from strokect.methods.base import TrainContext
from strokect.methods.checkpoint import load_model
from strokect.methods.examples import ToyAdversarial, ToyEndToEnd

CASES = list(range(3))


def _data(method):
    return (lambda ctx: method.train_data(CASES, ctx), lambda ctx: method.val_data(CASES[:1], ctx))


def _run(cls, out_dir, *, overrides=(), **kwargs):
    method = cls(resolve_config(cls.config_cls, overrides=list(overrides)))
    train, val = _data(method)
    kwargs.setdefault("progress", False)
    return method, fit(method, train, val, out_dir=out_dir, **kwargs)


def _weights(networks):
    return {
        f"{n}.{k}": v.clone() for n, net in networks.items() for k, v in net.state_dict().items()
    }


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Interrupt(RuntimeError):
    pass


def _interrupt_after(n_steps):
    def callback(ctx, logs):
        if ctx.step + 1 >= n_steps:
            raise Interrupt(f"killed after step {ctx.step + 1}")

    return callback


def test_adversarial_steps_both_optimizers_alternately(tmp_path):
    method = ToyAdversarial()
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    before = _weights(nets)
    ctx = TrainContext()
    logs = method.training_step(next(iter(method.train_data(CASES, ctx))), nets, opts, ctx)
    after = _weights(nets)
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"generator", "discriminator"}
    assert {"loss_d", "loss_l1", "loss_adv"} <= set(logs)
    assert all(len(opt.state) > 0 for opt in opts.values())  # both optimizers stepped


def test_fit_writes_log_checkpoints_and_learns(tmp_path):
    _, result = _run(ToyEndToEnd, tmp_path / "run", overrides=["patience=null"])
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {
        "last.pt",
        "best.pt",
        "model.pt",
        "log.csv",
    }
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert len(rows) == result.epochs_run == 4
    assert {"train_loss", "train_loss_s", "train_loss_g", "val_dice", "lr_joint"} <= set(rows[0])
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert result.best_value == max(float(r["val_dice"]) for r in rows)
    _, nets = load_model(result.model_path, method=ToyEndToEnd)
    assert _same(_weights(nets), _weights(result.networks))


def test_lr_schedule_decays_linearly(tmp_path):
    _, result = _run(
        ToyAdversarial, tmp_path / "run", overrides=["max_epochs=4", "decay_start_epoch=2"]
    )
    lrs = [row["lr_generator"] for row in result.history]
    assert lrs == pytest.approx([2e-3, 2e-3, 2e-3, 1e-3])


def test_early_stopping_keeps_best_weights(tmp_path):
    # lr=0: nothing improves after the first validation, patience 2 stops at epoch 3 of 10
    _, result = _run(
        ToyEndToEnd, tmp_path / "run", overrides=["lr=0.0", "max_epochs=10", "patience=2"]
    )
    assert result.stopped_early
    assert result.best_epoch == 0
    assert result.epochs_run == 3


def test_keep_best_restores_best_epoch_weights(tmp_path):
    _, result = _run(ToyAdversarial, tmp_path / "run", overrides=["max_epochs=3"], keep_best=True)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state_dicts"]
    final = {n: net.state_dict() for n, net in result.networks.items()}
    assert all(torch.equal(best[n][k], final[n][k]) for n in best for k in best[n])


def test_refuses_existing_run_without_resume(tmp_path):
    _run(ToyAdversarial, tmp_path / "run", overrides=["max_epochs=1"])
    with pytest.raises(InputError, match="already holds a training run"):
        _run(ToyAdversarial, tmp_path / "run", overrides=["max_epochs=1"])


@pytest.mark.parametrize("cls", [ToyAdversarial, ToyEndToEnd])
def test_determinism_same_seed_identical_different_seed_differs(tmp_path, cls):
    kw = {"max_steps": 5, "deterministic": True, "overrides": ["patience=null"]}
    _, a = _run(cls, tmp_path / "a", seed=1, **kw)
    _, b = _run(cls, tmp_path / "b", seed=1, **kw)
    _, c = _run(cls, tmp_path / "c", seed=2, **kw)
    assert a.steps == b.steps == 5
    assert _same(_weights(a.networks), _weights(b.networks))
    assert not _same(_weights(a.networks), _weights(c.networks))
    assert not torch.are_deterministic_algorithms_enabled()  # restored afterwards


@pytest.mark.parametrize(("cls", "kill_at", "every"), [(ToyAdversarial, 9, 4), (ToyEndToEnd, 6, 1)])
def test_resume_mid_epoch_matches_uninterrupted_run(tmp_path, cls, kill_at, every):
    kw = {
        "max_epochs": 2,
        "seed": 3,
        "deterministic": True,
        "checkpoint_every_steps": every,
        "overrides": ["patience=null"],
    }
    _, full = _run(cls, tmp_path / "full", **kw)
    with pytest.raises(Interrupt):
        _run(cls, tmp_path / "cut", callbacks=[_interrupt_after(kill_at)], **kw)
    saved = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["loop"]
    assert saved["step"] == ((kill_at - 1) // every) * every  # the last periodic checkpoint
    assert saved["batch_in_epoch"] > 0  # ... which is mid-epoch
    assert not (tmp_path / "cut" / "model.pt").exists()
    _, resumed = _run(cls, tmp_path / "cut", resume=True, **kw)
    assert resumed.steps == full.steps
    assert _same(_weights(resumed.networks), _weights(full.networks))
    assert [r[cls.monitor] for r in resumed.history] == [r[cls.monitor] for r in full.history]


def test_resume_of_finished_run_returns_the_same_model(tmp_path):
    _, first = _run(ToyAdversarial, tmp_path / "run", overrides=["max_epochs=2"])
    _, again = _run(ToyAdversarial, tmp_path / "run", overrides=["max_epochs=2"], resume=True)
    assert again.steps == first.steps
    assert _same(_weights(first.networks), _weights(again.networks))
