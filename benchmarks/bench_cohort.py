"""A 20-case phantom cohort: one batch ``strokect segment ROOT`` vs 20 separate calls.

Side by side in one run, on the same cohort (``strokect synth --preset isles``), default method
and shipped weights, outputs and reports included:

* ``separate``: 20 ``strokect segment ROOT --case case_N -o OUT/case_N`` calls one after the other
  (what a shell loop does: one process start-up and one model load per case);
* ``batch``: ``strokect segment ROOT -o OUT`` in one process (models loaded once);
* ``batch --threads 2``: the same with 2 torch threads;
* ``batch --workers 2``: a local Dask cluster of 2 worker processes of 1 torch thread each.

The volumes of every variant are checked equal to the separate calls'. Prints cases/min and the
load average before and after; ``benchmarks/RESULTS.md`` records the numbers.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_cohort [--cases 20]``
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _strokect(*args) -> list[str]:
    return [sys.executable, "-m", "strokect", *map(str, args)]


def _run(cmd: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def _volumes(out: Path, case_ids) -> dict:
    rows = {}
    for case_id in case_ids:
        with open(out / case_id / "volumes.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                rows[(case_id, row["output"])] = row["volume_ml"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_cohort_"))
    try:
        root = tmp / "ds"
        _run(_strokect("synth", "-o", root, "--cases", args.cases, "--preset", "isles",
                       "--seed", args.seed))  # fmt: skip
        ids = [f"case_{i}" for i in range(1, args.cases + 1)]
        print(f"load before: {os.getloadavg()}")
        results = {}
        sep = tmp / "separate"
        t0 = time.perf_counter()
        for case_id in ids:
            _run(_strokect("segment", root, "--case", case_id, "-o", sep / case_id, "--quiet"))
        results["separate calls"] = time.perf_counter() - t0
        reference = _volumes(sep, ids)
        variants = {
            "batch, 1 process": [],
            "batch, 1 process, --threads 2": ["--threads", "2"],
            "batch, --workers 2": ["--workers", "2"],
        }
        for name, extra in variants.items():
            out = tmp / name.replace(" ", "_").replace(",", "")
            results[name] = _run(_strokect("segment", root, "-o", out, "--quiet", *extra))
            same = _volumes(out, ids) == reference
            print(f"{name}: volumes equal to the separate calls: {same}")
            if not same:
                raise SystemExit(f"{name}: volumes differ from the separate calls")
        print(f"load after: {os.getloadavg()}")
        print("| variant | wall s | cases/min | vs separate |")
        print("|---|---|---|---|")
        for name, seconds in results.items():
            rate = 60.0 * args.cases / seconds
            ratio = results["separate calls"] / seconds
            print(f"| {name} | {seconds:.1f} | {rate:.1f} | {ratio:.2f}x |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
