"""Benchmark: HD + HD95 + ASSD of a 512x512x32 mask pair, strokect vs MONAI, side by side.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--repeats 5]``. Prints one table row per
implementation (best of ``--repeats`` wall-clock times, in seconds) and the values each returned.
MONAI needs one call per metric (HD, HD95, ASSD); strokect computes the surfaces and the two
directed distance sets once and derives all three.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import ndimage

SHAPE = (32, 512, 512)
SPACING_MM = (5.0, 0.45, 0.45)


def make_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A lobulated reference lesion (~tens of mL) and a perturbed prediction with two islands."""
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    zz, yy, xx = (z - 16) * SPACING_MM[0], (y - 250) * SPACING_MM[1], (x - 300) * SPACING_MM[2]
    ref = (zz / 35) ** 2 + (yy / 30) ** 2 + (xx / 22) ** 2 < 1
    noise = ndimage.gaussian_filter(rng.standard_normal(SHAPE), sigma=(1, 12, 12))
    ref &= noise > -0.05
    zz2, yy2, xx2 = (z - 17) * SPACING_MM[0], (y - 258) * SPACING_MM[1], (x - 294) * SPACING_MM[2]
    pred = (zz2 / 32) ** 2 + (yy2 / 33) ** 2 + (xx2 / 20) ** 2 < 1
    pred &= noise > -0.1
    pred[10:12, 100:110, 100:112] = True  # false-positive islands
    pred[20, 400:404, 380:390] = True
    return pred, ref


def run_monai(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    p, r = torch.as_tensor(pred[None, None]), torch.as_tensor(ref[None, None])
    kw = {"include_background": True, "spacing": SPACING_MM}
    hd = compute_hausdorff_distance(p, r, **kw).item()
    hd95 = compute_hausdorff_distance(p, r, percentile=95, **kw).item()
    assd = compute_average_surface_distance(p, r, symmetric=True, **kw).item()
    return hd, hd95, assd


def run_monai_hd95_only(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    import torch
    from monai.metrics import compute_hausdorff_distance

    p, r = torch.as_tensor(pred[None, None]), torch.as_tensor(ref[None, None])
    hd95 = compute_hausdorff_distance(
        p, r, include_background=True, spacing=SPACING_MM, percentile=95
    ).item()
    return float("nan"), hd95, float("nan")


def run_strokect(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    from strokect.metrics import compute_surface_distances

    sd = compute_surface_distances(pred, ref, spacing_mm=SPACING_MM)
    return sd.hausdorff_mm, sd.hd95_mm, sd.assd_mm


def best_time(fn, *args, repeats: int) -> tuple[float, tuple[float, float, float]]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    pred, ref = make_pair()
    voxel_ml = float(np.prod(SPACING_MM)) / 1000
    print(
        f"masks {SHAPE} (z,y,x), spacing {SPACING_MM} mm; ref {ref.sum() * voxel_ml:.1f} mL, "
        f"pred {pred.sum() * voxel_ml:.1f} mL; best of {args.repeats}"
    )
    run_monai(pred, ref)  # warm-up (imports, first torch calls)
    run_strokect(pred, ref)
    rows = [
        ("MONAI (3 calls)", *best_time(run_monai, pred, ref, repeats=args.repeats)),
        ("MONAI HD95 only", *best_time(run_monai_hd95_only, pred, ref, repeats=args.repeats)),
        ("strokect (1 call)", *best_time(run_strokect, pred, ref, repeats=args.repeats)),
    ]
    print(f"{'implementation':<20} {'time_s':>8} {'HD_mm':>12} {'HD95_mm':>12} {'ASSD_mm':>12}")
    for name, seconds, (hd, hd95, assd) in rows:
        print(f"{name:<20} {seconds:8.3f} {hd:12.6f} {hd95:12.6f} {assd:12.6f}")
    diff = max(abs(a - b) for a, b in zip(rows[0][2], rows[-1][2]))
    print(f"max |difference| between implementations: {diff:.2e} mm (MONAI works in float32)")
    print(
        f"speed-up vs MONAI 3 calls: {rows[0][1] / rows[-1][1]:.2f}x, vs MONAI HD95 alone: "
        f"{rows[1][1] / rows[-1][1]:.2f}x"
    )


if __name__ == "__main__":
    main()
