"""Benchmark of the phantom cohort generator: a 20-case ``isles`` cohort + 4 ``full`` NCCT pairs.

Run: ``.venv/bin/python benchmarks/bench_phantom.py [--workers 2] [--isles 20] [--full 4]``.
Prints a table (wall time, CPU time of this process and its worker processes, per-case time, size
on disk); the issue's target is < ~2 minutes in total on a 2-core machine. CPU seconds are the
better measure on a loaded machine: wall time grows with other people's jobs, CPU time much less.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import tempfile
import time
from pathlib import Path

from strokect.phantom import synth_case, write_cohort


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its finished child processes (workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--isles", type=int, default=20)
    parser.add_argument("--full", type=int, default=4)
    args = parser.parse_args()
    rows, summary = [], ""
    start, cpu = time.perf_counter(), _cpu_s()
    synth_case(0, "tiny")
    rows.append(
        ("tiny synth_case (1 case, in memory)", 1, time.perf_counter() - start, _cpu_s() - cpu, 0.0)
    )
    with tempfile.TemporaryDirectory() as tmp:
        for preset, n, layout in (("isles", args.isles, "isles2018"), ("full", args.full, "csv")):
            if n < 1:
                continue
            root = Path(tmp) / preset
            start, cpu = time.perf_counter(), _cpu_s()
            write_cohort(
                root, n_cases=n, seed=0, preset=preset, layout=layout, workers=args.workers
            )
            rows.append(
                (
                    f"{preset} cohort ({layout}, {args.workers} workers)",
                    n,
                    time.perf_counter() - start,
                    _cpu_s() - cpu,
                    _size_mb(root),
                )
            )
            if preset == "isles":
                summary = _lesion_summary(root)
    total, total_cpu = sum(r[2] for r in rows[1:]), sum(r[3] for r in rows[1:])
    print(f"{'task':<42} {'cases':>5} {'wall s':>8} {'cpu s':>8} {'cpu s/case':>10} {'MB':>8}")
    for name, n, wall, cpu_s, mb in rows:
        print(f"{name:<42} {n:>5} {wall:>8.1f} {cpu_s:>8.1f} {cpu_s / n:>10.2f} {mb:>8.0f}")
    print(f"{'total (isles + full cohorts)':<42} {'':>5} {total:>8.1f} {total_cpu:>8.1f}")
    if args.isles:
        print(summary)


def _lesion_summary(root: Path) -> str:
    """Lesion kinds, classes and volumes of a written cohort (from its metadata JSONs)."""
    metas = [json.loads(p.read_text()) for p in sorted((root / "metadata").glob("*.json"))]
    kinds = collections.Counter(m["lesion"]["kind"] for m in metas)
    classes = collections.Counter(str(m["lesion_class"]) for m in metas)
    hit = sum(
        m["lesion_class"] == m["lesion"]["lesion_class_requested"]
        for m in metas
        if m["lesion_class"]
    )
    inf = sorted(
        m["volumes_ml"]["followup"]["infarct"]
        for m in metas
        if m["volumes_ml"]["followup"]["infarct"] > 0
    )
    core = sorted(m["volumes_ml"]["acute"]["core"] for m in metas)

    def q(v, f):
        return v[min(int(f * len(v)), len(v) - 1)] if v else float("nan")

    return (
        f"lesion kinds {dict(kinds)}; classes {dict(classes)} ({hit} as requested)\n"
        f"follow-up infarct mL: n={len(inf)} median {q(inf, 0.5):.1f} [IQR {q(inf, 0.25):.1f}-{q(inf, 0.75):.1f}] "
        f"max {max(inf, default=float('nan')):.1f}, > 100 mL: {sum(v > 100 for v in inf)}; "
        f"acute core on slab mL: median {q(core, 0.5):.1f}, max {max(core):.1f}"
    )


if __name__ == "__main__":
    main()
