"""Engine and inference overheads: training steps/s, checkpoint I/O, sliding window, grid search.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--threads N]`` (prints a Markdown table; CPU,
seeded; default 2 torch threads).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from strokect.config import resolve_config
from strokect.engine import fit
from strokect.inference import (
    Objective,
    ensemble,
    grid_search,
    mc_dropout,
    mean_variance,
    postprocess,
    predict_slices,
    score_masks,
)
from strokect.methods.checkpoint import load_checkpoint, save_checkpoint
from strokect.methods.clerigues import PAPER_MIN_SIZES_VOXELS, PAPER_THRESHOLDS
from strokect.methods.examples import ToyAdversarial, ToyEndToEnd
from strokect.nn import MCDropout


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_fit(cls, tmp: Path) -> tuple[str, str]:
    method = cls(
        resolve_config(
            cls.config_cls, overrides=["max_epochs=2", "samples_per_case=32", "patience=null"]
        )
    )
    cases = list(range(4))
    start = time.perf_counter()
    result = fit(
        method,
        lambda c: method.train_data(cases, c),
        None,
        out_dir=tmp / cls.name,
        progress=False,
        checkpoint_every_steps=None,
    )
    seconds = time.perf_counter() - start
    return (
        f"fit {cls.name} (16x16 px, {result.steps} steps, 2 epochs + checkpoints)",
        f"{result.steps / seconds:.1f} steps/s",
    )


class SliceNet(nn.Module):
    """A small 2D conv net (10 -> 8 -> 16 -> 8 -> 2 channels), a stand-in predictor."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(10, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            MCDropout(0.1),
            nn.Conv2d(16, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 2, 1),
        )

    def forward(self, x):
        return torch.softmax(self.body(x), dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    threads = parser.parse_args().threads
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    torch.optim.Adam(
        nn.Linear(1, 1).parameters()
    )  # warm-up: the first optimizer imports torch._dynamo
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for cls in (ToyAdversarial, ToyEndToEnd):
            rows.append(bench_fit(cls, tmp))
        method = ToyEndToEnd()
        nets = {"a": nn.Conv2d(64, 64, 3), "b": nn.Conv2d(64, 64, 3)}
        path = tmp / "ckpt.pt"
        t_save, _ = timed(lambda: save_checkpoint(path, method, nets))
        t_load, _ = timed(lambda: load_checkpoint(path))
        rows.append(
            (
                f"checkpoint save / load ({path.stat().st_size / 1e6:.2f} MB)",
                f"{t_save * 1e3:.1f} / {t_load * 1e3:.1f} ms",
            )
        )
    volume = torch.rand(10, 16, 256, 256)  # (C, Z, Y, X)
    models = [SliceNet().eval() for _ in range(5)]
    t, _ = timed(
        lambda: predict_slices(models[0], volume, roi_size=(64, 64), overlap=0.5, batch_size=64),
        repeat=1,
    )
    rows.append(("1 model, 256x256x16, 10 ch, 64x64 windows overlap 0.5", f"{t:.2f} s"))
    sampled = ensemble([mc_dropout(m, m, n_passes=3) for m in models])
    t, _ = timed(
        lambda: predict_slices(
            mean_variance(sampled), volume, roi_size=(64, 64), overlap=0.5, batch_size=64
        ),
        repeat=1,
    )
    rows.append(("5 models x 3 MC passes, same volume (mean + variance)", f"{t:.2f} s"))
    rng = np.random.default_rng(0)
    refs = [np.zeros((16, 256, 256), bool) for _ in range(5)]
    for r in refs:
        r[4:10, 100:140, 90:150] = True
    probs = [np.clip(r * 0.7 + rng.uniform(0, 0.4, r.shape), 0, 1) for r in refs]
    t, res = timed(lambda: _grid_search(probs, refs, (5.0, 0.9, 0.9)), repeat=1)
    best = res.best
    rows.append(
        (
            f"grid search 9 T x 6 S_min, 5 cases 256x256x16 (best T={best['threshold']}, "
            f"S={best['min_size_vox']})",
            f"{t:.2f} s",
        )
    )
    print(f"machine: {platform.machine()}, torch {torch.__version__}, threads {threads}\n")
    print("| benchmark | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def _grid_search(probs, refs, spacing_mm):
    """The paper's T/S_min grid with the Dice + HD rank sum, as `clerigues` calibrates."""

    def scorer(prob, ref):
        cache = {}

        def score(params):
            mask = postprocess(
                prob, threshold=params["threshold"], min_size_voxels=params["min_size_vox"]
            )
            key = np.packbits(mask).tobytes()
            if key not in cache:
                cache[key] = score_masks(mask, ref, spacing_mm=spacing_mm)
            return cache[key]

        return score

    grid = {"threshold": PAPER_THRESHOLDS, "min_size_vox": PAPER_MIN_SIZES_VOXELS}
    objective = Objective((("dice", "max"), ("hd_mm", "min")))
    return grid_search(grid, [scorer(p, r) for p, r in zip(probs, refs)], objective)


if __name__ == "__main__":
    main()
