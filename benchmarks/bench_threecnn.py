"""``threecnn`` inference speed: dense whole-slice evaluation vs per-voxel patches, and segment.

Run: ``.venv/bin/python benchmarks/bench_threecnn.py [--weights RUN_OR_MODEL] [--repeats 2]``

1. **Dense vs per-voxel** (one `PatchCNN`, one thread and two): the region-of-interest voxels
   of 4 slices of a prepared phantom follow-up (`isles`, 5 mm, 0.977 mm) classified (a) by
   extracting every voxel's 19x19x3 patch and running the patch network on batches of 2048
   patches, (b) by the dense network on the 4 cropped slices. Same voxels, same weights; the
   probabilities are compared too. The FLOP ratio is about 10x (the patch network computes a
   15x15 first-layer map and a 3x3 second-layer map per voxel that the dense network shares
   between neighbours), the measured ratio adds the cost of building the patches.
2. **Segment a 512x512x32 follow-up NCCT** (phantom `full` preset, 0.45 mm pixels, 32 slices of
   4.69 mm, so the network grid is resliced to 5 mm and 1 mm): a fresh ``strokect segment
   --method threecnn`` process per run (start-up, reading, masks, the dense CNNs of every ensemble
   member: 2 for the shipped single-CNN weights, 4 for a three-CNN run; resampling back, writing
   every output), wall time and peak RSS (the child's VmHWM), fp32
   and bf16, one thread and two. Runs alternate so all see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def dense_vs_patches(threads: int) -> dict:
    import torch

    from strokect.methods.threecnn import PatchCNN, ThreeCnnConfig
    from strokect.methods.threecnn.preprocessing import extract_patches, prepare_ncct
    from strokect.phantom import synth_case

    torch.set_num_threads(threads)
    case = synth_case(seed=4, preset="isles", lesion_class="intermediate")
    prepared = prepare_ncct(case.followup["ncct_followup"], ThreeCnnConfig())
    zs = np.flatnonzero(prepared.roi.any(axis=(1, 2)))
    zs = zs[len(zs) // 2 - 2 : len(zs) // 2 + 2]
    centres = np.argwhere(prepared.roi[zs])
    centres[:, 0] = zs[centres[:, 0]]
    torch.manual_seed(0)
    net = PatchCNN().eval()
    pad = prepared.data["pad_value"]
    with torch.inference_mode():
        t0 = time.perf_counter()
        probs = []
        for i in range(0, len(centres), 2048):
            x = torch.from_numpy(extract_patches(prepared.image, centres[i : i + 2048], pad))
            probs.append(torch.softmax(net(x), 1)[:, 1])
        per_voxel = torch.cat(probs).numpy()
        t_patch = time.perf_counter() - t0
        t0 = time.perf_counter()
        dense = []
        for z in zs:
            x = torch.from_numpy(prepared.image[:, z][None])
            dense.append(torch.softmax(net.dense_logits(x, pad_value=pad), 1)[0, 1].numpy())
        t_dense = time.perf_counter() - t0
    dense_at = np.array([dense[list(zs).index(z)][y, x] for z, y, x in centres])
    return {
        "threads": threads,
        "voxels": len(centres),
        "slice_shape": list(prepared.roi.shape[1:]),
        "per_voxel_s": round(t_patch, 3),
        "dense_s": round(t_dense, 3),
        "ratio": round(t_patch / t_dense, 1),
        "max_abs_diff": float(np.abs(dense_at - per_voxel).max()),
    }


def make_512(folder: Path) -> Path:
    from strokect.io import write_volume
    from strokect.phantom import synth_case

    case = synth_case(seed=4, preset="full", lesion_class="intermediate", followup_slices=4.6875)
    vol = case.followup["ncct_followup"]
    assert vol.spatial_shape == (32, 512, 512), vol.spatial_shape
    return write_volume(vol, folder / "fu_512x512x32.nii.gz")


def timed_segment(args: list[str], out: Path, weights: str | None, threads: int) -> dict:
    """A fresh ``strokect segment ARGS -o OUT`` process (also used by ``bench_fu2bl.py`` and
    ``bench_pseudodwi.py``): wall time, peak RSS, the pipeline's stage timings, the volumes."""
    cmd = [sys.executable, "-c", CHILD, "segment", *args, "-o", str(out), "--overwrite",
           "--quiet", "--threads", str(threads)]  # fmt: skip
    if weights:
        cmd += ["--weights", weights]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    rss = float(proc.stderr.rsplit("RSS_MB", 1)[1].split()[0])
    prov = json.loads((out / "provenance.json").read_text())
    return {
        "threads": threads,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(rss),
        "timings_s": prov["timings_s"],
        "volumes_ml": prov["volumes_ml"],
        "ensemble": len(prov["weights"]),
    }


def segment_run(
    method: str, ct: Path, out: Path, weights: str | None, precision: str, threads: int
) -> dict:
    """`timed_segment` of ``--method METHOD`` on a follow-up NCCT at ``precision``."""
    args = ["--method", method, "--input", f"ncct_followup={ct}", "--set",
            f"precision={precision}"]  # fmt: skip
    run = timed_segment(args, out, weights, threads)
    volumes = run.pop("volumes_ml")
    return {"precision": precision, **run, "infarct_ml": volumes["infarct"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="default: the shipped threecnn model")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-dense", action="store_true")
    args = parser.parse_args()
    print("load:", os.getloadavg())
    if not args.skip_dense:
        for threads in (1, 2):
            print(json.dumps(dense_vs_patches(threads)))
    with tempfile.TemporaryDirectory() as tmp:
        ct = make_512(Path(tmp))
        for _ in range(args.repeats):
            for precision in ("fp32", "bf16"):
                for threads in (1, 2):
                    r = segment_run(
                        "threecnn", ct, Path(tmp) / "out", args.weights, precision, threads
                    )
                    print(json.dumps(r))
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
