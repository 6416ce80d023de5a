"""Cost of test-time mirroring (``--set test_time_mirror=true``) in ``strokect segment``.

Run: ``.venv/bin/python -m benchmarks.bench_mirror [--repeats N] [--threads T]``.

Each method's shipped weights on the input of its own speed benchmark (``threecnn`` and
``fu2bl``: the 512 x 512 x 32 follow-up NCCT of ``bench_threecnn.py``; ``pseudodwi``: the
256 x 256 x 16 x 50-frame CTP of ``bench_pseudodwi.py``), a fresh ``strokect segment`` process
per run, plain and mirrored alternating, so both see the same machine load. Prints wall time
with start-up, the predict stage and peak RSS (the best of the repeats), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from benchmarks.bench_pseudodwi import make_ctp
from benchmarks.bench_threecnn import make_512, timed_segment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps({"load_average": os.getloadavg()}))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ct, ctp = make_512(tmp), make_ctp(tmp)
        inputs = {
            "threecnn": ["--method", "threecnn", "--input", f"ncct_followup={ct}"],
            "fu2bl": ["--method", "fu2bl", "--input", f"ncct_followup={ct}"],
            "pseudodwi": ["--method", "pseudodwi", "--input", f"ctp={ctp}"],
        }
        rows = []
        for method, base in inputs.items():
            best: dict[str, dict] = {}
            for _ in range(args.repeats):
                for variant, extra in (
                    ("plain", []),
                    ("mirror", ["--set", "test_time_mirror=true"]),
                ):
                    run = timed_segment([*base, *extra], tmp / "out", None, args.threads)
                    keep = best.get(variant)
                    if keep is None or run["wall_s"] < keep["wall_s"]:
                        best[variant] = run
            row = {"method": method}
            for variant, run in best.items():
                row[variant] = {
                    "wall_s": run["wall_s"],
                    "predict_s": run["timings_s"]["predict_s"],
                    "peak_rss_mb": run["peak_rss_mb"],
                }
            row["wall_ratio"] = round(best["mirror"]["wall_s"] / best["plain"]["wall_s"], 2)
            row["predict_ratio"] = round(
                best["mirror"]["timings_s"]["predict_s"] / best["plain"]["timings_s"]["predict_s"],
                2,
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"load_average": os.getloadavg()}))
    print(
        "| method | plain wall / predict s | mirrored wall / predict s | ratio wall / predict | peak RSS MB |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        p, m = r["plain"], r["mirror"]
        print(
            f"| {r['method']} | {p['wall_s']:.2f} / {p['predict_s']:.2f} | {m['wall_s']:.2f} / "
            f"{m['predict_s']:.2f} | {r['wall_ratio']:.2f} / {r['predict_ratio']:.2f} | "
            f"{p['peak_rss_mb']} / {m['peak_rss_mb']} |"
        )


if __name__ == "__main__":
    main()
