"""Benchmark of `strokect segment` (clerigues) and of clerigues training throughput.

Run: ``.venv/bin/python benchmarks/bench_segment.py [--weights RUN_OR_FILE] [--repeats 3]``

1. segment: one phantom case (``strokect.phantom.synth_case(15, "isles")``, z tiled or cropped to
   16 slices of 256x256, CT + CBF + CBV written as NIfTI), with the shipped CT+CBF+CBV ensemble
   (5 models) x 3 MC passes, whole-slice and 64x64-tile prediction; wall time includes reading,
   preprocessing (skull strip, z-score, symmetric registration) and writing all outputs. Each
   run is a fresh subprocess so its peak resident memory (ru_maxrss) is the one of segment alone.
2. training throughput: patches/s of `CleriguesMethod.training_step` (batch 64, 64x64 patches,
   6 channels) with the shipped model's settings, one thread.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from strokect.inference.segment import segment
case, out, weights, tile = sys.argv[1:5]
res = segment(case, out, weights=None if weights == "-" else weights, overwrite=True,
              tile_size=None if tile == "none" else int(tile))
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "n_models": res.summary["n_models"], "mc_passes": res.summary["mc_passes"]}))
"""


def make_case(folder: Path, n_slices: int = 16) -> tuple[int, ...]:
    from strokect.io import write_volume
    from strokect.phantom import synth_case

    case = synth_case(15, preset="isles", kind="ischemic")
    for role in ("ct", "cbf", "cbv"):
        vol = case.acute[role]
        idx = np.arange(n_slices) % vol.spatial_shape[0]
        arr = vol.array[idx]
        from strokect.io import Volume

        write_volume(
            Volume(arr, vol.spacing_mm, origin=vol.origin, direction=vol.direction),
            folder / f"{role}.nii.gz",
        )
    return arr.shape


def bench_segment(case: Path, weights: str, tile: str, repeats: int) -> dict:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(case), str(Path(tmp) / "out"), weights, tile],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    walls = [r["wall_s"] for r in runs]
    return {**runs[-1], "wall_s_min": min(walls), "wall_s_median": float(np.median(walls))}


def bench_training(n_steps: int = 5) -> float:
    import torch

    from strokect.engine.checkpoint import load_model
    from strokect.inference.segment import default_weights
    from strokect.methods.base import TrainContext
    from strokect.methods.clerigues import CleriguesMethod

    torch.set_num_threads(1)
    try:
        cfg = load_model(default_weights("clerigues", ["ct", "cbf", "cbv"])[0])[0].config
    except ValueError:
        from strokect.methods.clerigues import CleriguesConfig

        cfg = CleriguesConfig(modalities=("ct", "cbf", "cbv"))
    method = CleriguesMethod(cfg)
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    x = torch.randn(cfg.batch_size, len(method.channels), cfg.patch_size, cfg.patch_size)
    y = (torch.rand(cfg.batch_size, cfg.patch_size, cfg.patch_size) > 0.7).long()
    ctx = TrainContext()
    method.training_step((x, y), nets, opts, ctx)  # warm-up
    t0 = time.perf_counter()
    for _ in range(n_steps):
        method.training_step((x, y), nets, opts, ctx)
    return n_steps * cfg.batch_size / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--weights", default="-", help="checkpoint or run folder (default: shipped)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        case.mkdir()
        shape = make_case(case)
        rows = [
            (tile, bench_segment(case, args.weights, tile, args.repeats)) for tile in ("none", "64")
        ]
    pps = bench_training()
    print(f"case: CT+CBF+CBV, {shape[0]}x{shape[1]}x{shape[2]} (z, y, x)")
    print("| prediction | models x MC passes | wall s (median / min) | peak RSS MB |")
    print("|---|---|---|---|")
    for tile, r in rows:
        name = "whole slices" if tile == "none" else "64x64 tiles, overlap 0.5"
        print(
            f"| {name} | {r['n_models']} x {r['mc_passes']} | {r['wall_s_median']:.1f} / "
            f"{r['wall_s_min']:.1f} | {r['peak_rss_mb']:.0f} |"
        )
    print(f"training throughput: {pps:.1f} patches/s (batch 64, 1 thread)")


if __name__ == "__main__":
    main()
