"""`strokect segment` before/after the generic pipeline, side by side in one run.

Run: ``.venv/bin/python benchmarks/bench_segment.py [--before 71a117e] [--repeats 2]``

"before" is the source tree of commit ``--before`` (the last commit before the generic segment
pipeline), unpacked with ``git archive`` into a temporary folder and put first on
``PYTHONPATH``; "after" is this checkout. Both run the same command line in a fresh process,
``python -c 'strokect.cli.main.main(...)' segment CASE -o OUT``, so every wall time includes
interpreter start-up, imports, reading, preprocessing, 5 models x 3 MC passes (the shipped
CT+CBF+CBV ensemble), post-processing and writing every output. Peak RSS is the process's own
VmHWM (``ru_maxrss`` would include the parent's peak: Linux keeps it across exec). Runs
alternate before/after so both see the same machine load.

Cases (phantom ``synth_case(15, "isles", kind="ischemic")``, CT + CBF + CBV as NIfTI):
256x256x16 (the slab tiled to 16 slices) and 512x512x32 (each pixel repeated 2x2 at half the
spacing, tiled to 32 slices).

``--busy N`` runs N CPU-bound background processes during the segment runs (a shared machine);
``--cases NAME`` limits the cases.

Also measured: the import time of what ``segment`` imports before its first computation, the
torch thread count (1 vs 2) of the new pipeline, which sets its default, and the training
throughput of `CleriguesMethod.training_step` (batch 64, 64x64 patches, the shipped model's
settings, one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Peak RSS of the child is its VmHWM, not ``ru_maxrss``: Linux keeps ``ru_maxrss`` across
# fork + exec, so a child reported the parent's peak when the parent (which synthesized the
# input) had used more memory than the child (before 2026-12-07 these scripts printed that).
CHILD = r"""
import atexit, sys
def _peak_mb():
    with open("/proc/self/status") as status:
        line = next(l for l in status if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
atexit.register(lambda: print("RSS_MB", _peak_mb(), file=sys.stderr))
from strokect.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

IMPORTS = {
    "before": "strokect.inference.segment, strokect.methods.clerigues, strokect.engine.checkpoint",
    "after": "strokect.pipelines.segment, strokect.methods.clerigues, strokect.methods.checkpoint, "
    "strokect.inference.predict",
}
IMPORT_CHILD = r"""
import resource, sys, time
t0 = time.perf_counter()
import {modules}
r = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, r.ru_utime + r.ru_stime,
      int("matplotlib" in sys.modules), int("scipy.stats" in sys.modules), int("monai" in sys.modules))
"""


def make_cases(folder: Path) -> dict[str, Path]:
    from strokect.io import Volume, write_volume
    from strokect.phantom import synth_case

    case = synth_case(15, preset="isles", kind="ischemic")
    out = {}
    for name, n_z, up in (("256x256x16", 16, 1), ("512x512x32", 32, 2)):
        dest = folder / name
        for role in ("ct", "cbf", "cbv"):
            vol = case.acute[role]
            arr = vol.array[np.arange(n_z) % vol.spatial_shape[0]]
            arr = np.repeat(np.repeat(arr, up, axis=1), up, axis=2)
            sz, sy, sx = vol.spacing_mm
            write_volume(
                Volume(arr, (sz, sy / up, sx / up), origin=vol.origin, direction=vol.direction),
                dest / f"{role}.nii.gz",
            )
        out[name] = dest
    return out


def unpack_before(commit: str, dest: Path) -> Path:
    archive = dest / "before.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), commit, "src"], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def run_segment(src: Path | None, case: Path, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-c", CHILD, "segment", str(case), "-o", str(out), "--overwrite"]
    t0 = time.perf_counter()
    done = subprocess.run([*cmd, *extra], capture_output=True, text=True, env=_env(src))
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    rss = [float(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("RSS_MB")]
    return {"wall_s": wall, "peak_rss_mb": rss[-1]}


def import_time(src: Path | None, which: str, repeats: int) -> dict:
    code = IMPORT_CHILD.format(modules=IMPORTS[which])
    rows = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=_env(src), check=True
        )
        rows.append([float(v) for v in done.stdout.split()])
    rows = np.array(rows)
    return {
        "wall_s": float(np.median(rows[:, 0])),
        "cpu_s": float(np.median(rows[:, 1])),
        "matplotlib": bool(rows[0, 2]),
        "scipy_stats": bool(rows[0, 3]),
        "monai": bool(rows[0, 4]),
    }


def bench_training(n_steps: int = 5) -> float:
    """Patches/s of `CleriguesMethod.training_step` with the shipped model's settings."""
    import torch

    from strokect.methods.base import TrainContext
    from strokect.methods.checkpoint import load_model
    from strokect.methods.clerigues import CleriguesMethod
    from strokect.methods.registry import default_weights

    torch.set_num_threads(1)
    cfg = load_model(default_weights("clerigues", ["ct", "cbf", "cbv"])[0])[0].config
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="71a117e", help="commit of the 'before' tree")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound background processes")
    parser.add_argument("--cases", nargs="*", help="only these cases (e.g. 256x256x16)")
    args = parser.parse_args()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        _run(args)
    finally:
        for proc in busy:
            proc.kill()


def _run(args) -> None:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before_src = unpack_before(args.before, tmp)
        cases = make_cases(tmp / "cases")
        configs = [
            ("before", before_src, []),
            ("after, 1 thread", None, ["--quiet", "--threads", "1"]),
            ("after, 2 threads", None, ["--quiet", "--threads", "2"]),
        ]
        results: dict[tuple[str, str], list[dict]] = {}
        for case_name, case in cases.items():
            if args.cases and case_name not in args.cases:
                continue
            repeats = args.repeats if case_name.startswith("256") else 1
            for _ in range(repeats):  # interleaved: before, after, after, before, ...
                for label, src, extra in configs:
                    r = run_segment(src, case, tmp / "out", extra)
                    results.setdefault((case_name, label), []).append(r)
                    print(case_name, label, json.dumps(r), file=sys.stderr, flush=True)
        imports = {w: import_time(before_src if w == "before" else None, w, 3) for w in IMPORTS}
    pps = bench_training()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; busy processes: {args.busy}")  # fmt: skip
    print("| case | code | wall s (median, min) | peak RSS MB |")
    print("|---|---|---|---|")
    for (case_name, label), runs in results.items():
        walls = [r["wall_s"] for r in runs]
        rss = max(r["peak_rss_mb"] for r in runs)
        print(
            f"| {case_name} | {label} | {np.median(walls):.1f}, {min(walls):.1f} "
            f"(n={len(walls)}) | {rss:.0f} |"
        )
    print("\n| imports of a segment run | wall s | CPU s | matplotlib | scipy.stats | monai |")
    print("|---|---|---|---|---|---|")
    for which, r in imports.items():
        print(
            f"| {which}: {IMPORTS[which]} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
            f"{r['matplotlib']} | {r['scipy_stats']} | {r['monai']} |"
        )
    print(f"\ntraining throughput: {pps:.1f} patches/s (batch 64, 1 thread)")


if __name__ == "__main__":
    main()
