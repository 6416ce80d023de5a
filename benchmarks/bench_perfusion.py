"""Speed of `compute_perfusion_maps` on a 256x256x16x50 CTP vs a per-voxel Python loop.

Run: ``.venv/bin/python benchmarks/bench_perfusion.py``. The per-voxel baseline (same SVD
pseudo-inverse, one matrix-vector product, max/argmax and area per voxel in a Python loop) is
timed on a subset of brain voxels and extrapolated linearly to all brain voxels. Wall and CPU
(process) seconds are printed: on a shared machine the wall time is inflated by other load.
"""

from __future__ import annotations

import time

import numpy as np

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps
from strokect.perfusion.deconvolution import convolution_matrix
from strokect.perfusion.synthetic import synth_ctp

SHAPE = (16, 256, 256)
FRAMES = 50
DT = 1.2
N_NAIVE = 3000


def naive_per_voxel(curves: np.ndarray, aif: np.ndarray, dt: float) -> np.ndarray:
    """Straightforward loop: bcSVD residue per voxel, CBF/Tmax/CBV from it."""
    a = convolution_matrix(aif, dt, circulant=True)
    u, s, vt = np.linalg.svd(a)
    inv = (vt.T * np.where(s >= 0.1 * s[0], 1 / s, 0)) @ u.T
    out = np.zeros((curves.shape[1], 3))
    pad = np.zeros(a.shape[0])
    for j in range(curves.shape[1]):
        pad[: curves.shape[0]] = curves[:, j]
        k = inv @ pad
        out[j] = k.max(), k.argmax() * dt, curves[:, j].sum() / aif.sum()
    return out


def main() -> None:
    vol, _ = synth_ctp(SHAPE, time_s=np.arange(FRAMES) * DT, noise_hu=3.0, seed=0)
    print(f"series {vol.array.shape} (t,z,y,x), dt {DT} s")
    rows = []
    for method in ("ssvd", "bcsvd", "osvd"):
        t0, c0 = time.perf_counter(), time.process_time()
        res = compute_perfusion_maps(vol, config=PerfusionConfig(method=method))
        rows.append(
            (
                f"vectorised {method} (all maps, default denoising)",
                time.perf_counter() - t0,
                time.process_time() - c0,
            )
        )
    n_brain = int(res.brain_mask.array.sum())
    brain = np.flatnonzero(res.brain_mask.array)[:N_NAIVE]
    curves = vol.array.reshape(FRAMES, -1)[:, brain].astype(np.float64)
    curves -= curves[:3].mean(axis=0)
    t0, c0 = time.perf_counter(), time.process_time()
    naive_per_voxel(curves, res.aif.curve, DT)
    scale = n_brain / N_NAIVE
    rows.append(
        (
            f"per-voxel loop bcsvd, deconvolution only (extrapolated from {N_NAIVE} voxels)",
            (time.perf_counter() - t0) * scale,
            (time.process_time() - c0) * scale,
        )
    )
    print(f"brain voxels: {n_brain}")
    print(f"{'implementation':<80} {'wall_s':>8} {'cpu_s':>8}")
    for name, sec, cpu in rows:
        print(f"{name:<80} {sec:8.2f} {cpu:8.2f}")


if __name__ == "__main__":
    main()
