"""The per-case report of `strokect segment`: a figure per slice (old) against raster panels (new).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_segment_report.py [--old 04c1319]
[--repeats 3]``

"old" is ``src/strokect/report/segment_report.py`` as it was at commit ``--old`` (the last one
that drew every lesion slice as its own matplotlib figure with constrained layout), written by
``git show`` into a temporary folder and imported from there under another module name; it
imports the rest of the package from this checkout. "new" is this checkout's module. Both write
the report of the same case in the same process, alternating old and new, each into a fresh
folder, after one untimed warm-up each on a small case (imports, fonts); every time is the wall
time of one `write_segment_report` call (HTML page + PNG preview). "cold" is the import of the
report module (``strokect.report``: matplotlib, scipy.stats, ...; the same package for both) plus
the first call, in a fresh interpreter that has only read the case.

The case: the real AISD NCCT ``../shared/data/aisd/0019983/CT`` (512x512x17) when present, else
a synthetic head of that size; the mask is every brain-window voxel (20-60 HU), so every slice
holds lesion; the probability is the mask smoothed (sigma 2 voxels), the uncertainty
``4 p (1 - p)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
AISD_CT = REPO.parent / "shared" / "data" / "aisd" / "0019983" / "CT"
MODULE = "src/strokect/report/segment_report.py"


def old_module_file(commit: str, folder: Path) -> Path:
    """The segment report module as it was at ``commit``, written to a file in ``folder``."""
    text = subprocess.run(["git", "show", f"{commit}:{MODULE}"], cwd=REPO, check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    path = folder / "segment_report_old.py"
    path.write_text(text, encoding="utf-8")
    return path


def load_module(path: Path | None):
    """The old module from its file, or (None) this checkout's module."""
    if path is None:
        from strokect.report import segment_report

        return segment_report
    spec = importlib.util.spec_from_file_location("bench_segment_report_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_case():
    """``(description, background, outputs)``: the AISD CT if present, else a synthetic head."""
    from strokect.io import Volume, read_volume

    if AISD_CT.is_dir():
        ct, what = read_volume(AISD_CT), "AISD 0019983 NCCT"
    else:
        y, x = np.indices((512, 512))
        head = np.broadcast_to(
            ((y - 256) / 230.0) ** 2 + ((x - 256) / 190.0) ** 2 < 1, (17, 512, 512)
        )
        noise = np.random.default_rng(0).normal(0, 8, head.shape)
        ct = Volume(np.where(head, 35.0 + noise, -1000.0).astype(np.int16),
                    spacing_mm=(8.0, 0.45, 0.45))  # fmt: skip
        what = "synthetic head"
    mask = (ct.array >= 20) & (ct.array <= 60)
    prob = ndimage.gaussian_filter(mask.astype(np.float32), 2.0)
    outputs = {
        "lesion": ct.with_array(mask.astype(np.uint8), kind="mask"),
        "probability": ct.with_array(prob, kind="probability"),
        "uncertainty": ct.with_array(4 * prob * (1 - prob), kind="uncertainty"),
    }
    shape = "x".join(str(n) for n in ct.array.shape[::-1])
    return f"{what}, {shape} (x, y, z)", ct, outputs


def write(module, folder: Path, ct, outputs) -> tuple[float, Path]:
    """Wall time of one report written into ``folder``, and its page."""
    mask = outputs["lesion"].array
    start = time.perf_counter()
    paths = module.write_segment_report(
        folder, outputs=outputs, primary="lesion", background=ct, window=(0.0, 80.0),
        volumes_ml={"lesion": float(mask.sum()) * ct.voxel_volume_ml},
        provenance={"case_id": "bench", "method": "bench"},
    )  # fmt: skip
    return time.perf_counter() - start, paths["report_html"]


def cold(module_file: Path | None, folder: Path) -> tuple[float, float]:
    """Import and first-report wall times in a fresh interpreter (``--child``)."""
    child = [sys.executable, __file__, "--child", str(module_file or "new"), "--out", str(folder)]
    out = subprocess.run(child, check=True, capture_output=True, text=True, cwd=REPO)
    import_s, call_s = out.stdout.split()[-2:]
    return float(import_s), float(call_s)


def child(module_file: str, folder: Path) -> None:
    _, ct, outputs = benchmark_case()
    start = time.perf_counter()
    module = load_module(None if module_file == "new" else Path(module_file))
    import_s = time.perf_counter() - start
    print(import_s, write(module, folder, ct, outputs)[0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="04c1319", help="commit of the old report module")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.out)

    from tests.report.segment_case_for_tests import case_outputs

    from strokect.report import segment_report as new

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old_file = old_module_file(args.old, tmp)
        old = load_module(old_file)
        what, ct, outputs = benchmark_case()
        n_slices = len(new.lesion_slices(outputs["lesion"].array))
        print(f"case: {what}, {n_slices} lesion slices; load average {os.getloadavg()}")
        firsts, imports = {"old": [], "new": []}, {"old": [], "new": []}
        for i in range(args.repeats):
            for name, file in (("old", old_file), ("new", None)):
                import_s, call_s = cold(file, tmp / f"cold_{name}{i}")
                firsts[name].append(call_s)
                imports[name].append(import_s)
                print(f"  {name} cold {i}: import {import_s:.2f} s + first report {call_s:.2f} s")
        small, small_outputs = case_outputs()
        for name, module in (("old", old), ("new", new)):
            write(module, tmp / f"warm_{name}", small, small_outputs)
        times, pages = {"old": [], "new": []}, {}
        for i in range(args.repeats):
            for name, module in (("old", old), ("new", new)):
                seconds, pages[name] = write(module, tmp / f"{name}{i}", ct, outputs)
                times[name].append(seconds)
                print(f"  {name} run {i}: {seconds:.2f} s")
        print(f"load average after: {os.getloadavg()}")
        for name in ("old", "new"):
            page = pages[name].read_text(encoding="utf-8")
            images = len(re.findall(r"<img class='slice'", page))
            preview = pages[name].with_name("report.png").stat().st_size / 1e6
            print(f"{name}: warm median {statistics.median(times[name]):.2f} s (min "
                  f"{min(times[name]):.2f}); cold: first report median "
                  f"{statistics.median(firsts[name]):.2f} s after an import of "
                  f"{statistics.median(imports[name]):.2f} s; page {len(page) / 1e6:.2f} MB with "
                  f"{images} slice images; preview {preview:.2f} MB")  # fmt: skip
        with_import = {k: [a + b for a, b in zip(firsts[k], imports[k])] for k in firsts}
        for label, runs in (("warm", times), ("first report", firsts), ("import + first report",
                                                                        with_import)):  # fmt: skip
            ratio = statistics.median(runs["old"]) / statistics.median(runs["new"])
            print(f"old / new, {label} medians: {ratio:.1f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # tests.report.segment_case_for_tests: the warm-up case
    main()
