"""``strokect segment --method pseudodwi`` on a 256x256x16 x 50-frame CTP, and training throughput.

Run: ``.venv/bin/python benchmarks/bench_pseudodwi.py [--weights RUN_OR_MODEL] [--repeats 2]``

* segment: a fresh process (start-up, reading, the perfusion maps computed from the 4D series,
  temporal features, the ensemble, writing), wall time and peak RSS, with 1 and 2 torch threads.
  The series is a phantom CTP (``realistic`` preset, seed 2) brought to 16 slices (its slices
  repeated in order) and 50 frames (linear in time over the same acquisition);
* training: slices per second of one end-to-end training step (batch 5) at the shipped width
  and at the paper's width (64 base filters), same crop, same process.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_threecnn import timed_segment

SHAPE = (50, 16, 256, 256)


def make_ctp(folder: Path) -> Path:
    """The 256x256x16 x 50-frame CTP described in the module docstring."""
    from strokect.io import Volume, write_volume
    from strokect.perfusion.temporal import resample_frames
    from strokect.phantom import synth_case

    ctp = synth_case(2, preset="realistic").acute["ctp"]
    idx = np.sort(np.resize(np.arange(ctp.spatial_shape[0]), SHAPE[1]))
    arr = resample_frames(ctp.array[:, idx].astype(np.float32), SHAPE[0])
    times = np.linspace(ctp.time_s[0], ctp.time_s[-1], SHAPE[0])
    vol = Volume(np.rint(arr).astype(np.int16), ctp.spacing_mm, ctp.origin, ctp.direction,
                 time_s=times)  # fmt: skip
    assert vol.array.shape == SHAPE, vol.array.shape
    return write_volume(vol, folder / "ctp.nii.gz")


def segment_run(ctp: Path, out: Path, weights: str | None, threads: int) -> dict:
    run = timed_segment(["--method", "pseudodwi", "--input", f"ctp={ctp}"], out, weights, threads)
    volumes = run.pop("volumes_ml")
    return {**run, "core_ml": volumes["mask"]}


def training_throughput(base_filters: int, size: int = 112, steps: int = 3) -> dict:
    import torch

    from strokect.methods.base import TrainContext
    from strokect.methods.pseudodwi import PseudoDwiConfig, PseudoDwiMethod

    torch.manual_seed(0)
    method = PseudoDwiMethod(PseudoDwiConfig(base_filters=base_filters, context_pretrain_epochs=1))
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    n_params = {k: sum(p.numel() for p in v.parameters()) for k, v in nets.items()}
    batch = {
        "x": torch.randn(5, 11, size, size),
        "dwi": torch.rand(5, 1, size, size),
        "label": (torch.rand(5, size, size) > 0.9).long(),
        "attention": torch.ones(5, size, size),
    }
    ctx = TrainContext(epoch=1)
    method.training_step(batch, nets, opts, ctx)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        method.training_step(batch, nets, opts, ctx)
    dt = (time.perf_counter() - t0) / steps
    return {
        "base_filters": base_filters,
        "crop": size,
        "params_m": {k: round(v / 1e6, 3) for k, v in n_params.items()},
        "threads": torch.get_num_threads(),
        "s_per_step": round(dt, 3),
        "slices_per_s": round(5 / dt, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="default: the shipped pseudodwi model")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    print("load:", os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        ctp = make_ctp(Path(tmp))
        print("ctp:", SHAPE, f"{ctp.stat().st_size / 1e6:.1f} MB on disk")
        for _ in range(args.repeats):
            for threads in (1, 2):
                print(json.dumps(segment_run(ctp, Path(tmp) / "out", args.weights, threads)))
    if not args.skip_training:
        for base in (8, 64):
            print(json.dumps(training_throughput(base)))
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
