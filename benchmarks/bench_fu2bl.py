"""``fu2bl`` speed: segment a 512x512x32 follow-up, and training throughput at two sizes.

Run: ``.venv/bin/python benchmarks/bench_fu2bl.py [--weights RUN_OR_MODEL] [--repeats 2]``

1. **Segment a 512x512x32 follow-up NCCT** (phantom `full` preset, 0.45 mm pixels, 32 slices of
   4.69 mm): a fresh ``strokect segment --method fu2bl`` process per run (start-up, reading, brain
   mask, the generator on every slice of the network grid per ensemble member, resampling back,
   writing every output), wall time and peak RSS (the child's VmHWM), fp32 and bf16, one thread and
   two. Runs alternate so all see the same machine load.
2. **Generator forward on 32 slices**: the shipped size (16 filters, 128x128 slices of 2 mm)
   against the paper's (64 filters, the native 512x512 slices), random weights, one process, two
   threads: what ``segment`` would cost at the paper's size (the naive way).
3. **Training throughput** (slices/s, one ``training_step`` = a discriminator and a generator
   step, augmentations included) at the shipped recipe (16 filters, 128x128, batch 4) and at the
   paper's (64 filters, 512x512, batch 2), two threads.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench_threecnn import make_512, segment_run

SHIPPED = {"gen_filters": 16, "disc_filters": 16, "image_size": 128, "pixel_mm": 2.0}
PAPER = {"gen_filters": 64, "disc_filters": 64, "image_size": 512, "pixel_mm": 0.45}


def generator_forward(size: dict, slices: int = 32) -> dict:
    import torch

    from strokect.methods.fu2bl import Fu2blConfig
    from strokect.methods.fu2bl.network import build_generator

    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = Fu2blConfig(**size)
    gen = build_generator(cfg).eval()
    n = cfg.image_size
    x = torch.randn(1, 2, n, n)
    with torch.inference_mode():
        gen(x)
        t0 = time.perf_counter()
        for _ in range(slices):
            gen(x)
        seconds = time.perf_counter() - t0
    params = sum(p.numel() for p in gen.parameters())
    return {"size": size, "slices": slices, "seconds": round(seconds, 2), "params": params}


def training_throughput(size: dict, batch: int, steps: int) -> dict:
    import torch

    from strokect.methods.base import TrainContext
    from strokect.methods.fu2bl import Fu2blConfig, Fu2blMethod

    torch.set_num_threads(2)
    torch.manual_seed(0)
    method = Fu2blMethod(Fu2blConfig(batch_size=batch, **size))
    nets = method.build_networks()
    opts = method.build_optimizers(nets)
    n = size["image_size"]
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    head = ((yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (0.4 * n) ** 2).float() * 1060 - 1024
    batch_ = {"followup": head.repeat(batch, 1, 1), "baseline": head.repeat(batch, 1, 1)}
    method.training_step(batch_, nets, opts, TrainContext())
    t0 = time.perf_counter()
    for _ in range(steps):
        method.training_step(batch_, nets, opts, TrainContext())
    seconds = time.perf_counter() - t0
    return {"size": size, "batch": batch, "steps": steps,
            "slices_per_s": round(steps * batch / seconds, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="default: the shipped fu2bl model")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-segment", action="store_true")
    args = parser.parse_args()
    print("load:", os.getloadavg())
    if not args.skip_segment:
        with tempfile.TemporaryDirectory() as tmp:
            ct = make_512(Path(tmp))
            for _ in range(args.repeats):
                for precision in ("fp32", "bf16"):
                    for threads in (1, 2):
                        r = segment_run(
                            "fu2bl", ct, Path(tmp) / "out", args.weights, precision, threads
                        )
                        print(json.dumps(r))
    for size in (SHIPPED, PAPER):
        print(json.dumps(generator_forward(size)))
    print(json.dumps(training_throughput(SHIPPED, batch=4, steps=10)))
    print(json.dumps(training_throughput(PAPER, batch=2, steps=3)))
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
