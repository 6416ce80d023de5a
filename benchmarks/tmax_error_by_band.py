"""Tmax error of the default perfusion maps by band of true Tmax, per validation case.

Run: ``.venv/bin/python benchmarks/tmax_error_by_band.py --dt 1.5 --noise 9 --seeds 4 11``.

For each ischemic phantom case of `validate_readout.py` (same preset, frame interval and CTP
noise), the analysed tissue is split by the phantom's true Tmax (= the delay of the tissue
curve) into bands; per band: the number of voxels, the median of (found - true) Tmax in s, the
share of voxels read above 6 s, and the median true MTT. It shows where a hypoperfusion volume
error comes from: voxels just under 6 s read late (over-reading) or voxels above 6 s read early
(under-reading).
"""

from __future__ import annotations

import argparse

import numpy as np
from validate_readout import validation_preset

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps
from strokect.phantom import synth_case

BANDS_S = ((0, 3), (3, 5), (5, 6), (6, 7), (7, 9), (9, 20))


def band_table(seed: int, dt_s: float, noise_sd_hu: float) -> list[dict]:
    """One row per band of true Tmax with at least 20 voxels."""
    case = synth_case(seed, validation_preset(dt_s, noise_sd_hu), kind="ischemic")
    res = compute_perfusion_maps(case.acute["ctp"], config=PerfusionConfig())
    tissue = res.tissue_mask.array > 0
    true_tmax = case.acute["tmax"].array
    found = res.maps["tmax"].array
    mtt = case.acute["mtt"].array
    rows = []
    for lo, hi in BANDS_S:
        sel = tissue & (true_tmax > lo) & (true_tmax <= hi)
        if sel.sum() < 20:
            continue
        rows.append(
            {
                "band_s": f"{lo}-{hi}",
                "voxels": int(sel.sum()),
                "median_error_s": float(np.median(found[sel] - true_tmax[sel])),
                "share_above_6s": float(np.mean(found[sel] > 6.0)),
                "median_true_mtt_s": float(np.median(mtt[sel])),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dt", type=float, default=2.0, help="frame interval, s")
    p.add_argument("--noise", type=float, default=6.0, help="CTP noise SD, HU")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    args = p.parse_args()
    print("| seed | true Tmax band s | voxels | median found - true s | read > 6 s | true MTT s |")
    print("|---|---|---|---|---|---|")
    for seed in args.seeds:
        for r in band_table(seed, args.dt, args.noise):
            print(
                f"| {seed} | {r['band_s']} | {r['voxels']} | {r['median_error_s']:+.2f} | "
                f"{r['share_above_6s']:.2f} | {r['median_true_mtt_s']:.1f} |"
            )


if __name__ == "__main__":
    main()
