"""Tmax of a small lesion near the 6 s threshold against the truncation level and frame step.

Run: ``.venv/bin/python benchmarks/tmax_by_truncation.py [--seed 6] [--noise 6]``.

The readout-validation phantom of ``validate_readout.py`` (``isles`` preset, 60 s acquisition,
fixed CTP noise) at 1, 1.5 and 2 s frames. For oSVD with the oscillation limit per second of
curve (the default), oSVD with the limit applied per sample, and bcSVD at fixed truncations, it
prints the median Tmax found where the true Tmax is above 6 s, the share of those voxels read
above 6 s, and the Tmax > 6 s volume found against the truth (docs/perfusion.md, step 7).
"""

from __future__ import annotations

import argparse

import numpy as np
from validate_readout import validation_preset

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps
from strokect.phantom import synth_case

VARIANTS = {
    "oSVD, limit per second (default)": {},
    "oSVD, limit per sample": {"oscillation_step_s": None},
    **{f"bcSVD {int(100 * t)} %": {"method": "bcsvd", "svd_threshold": t}
       for t in (0.02, 0.05, 0.1, 0.15, 0.25)},
}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--noise", type=float, default=6.0, help="CTP noise SD, HU")
    args = p.parse_args()
    print("| frame interval s | deconvolution | median Tmax found (true > 6 s) | share read > 6 s "
          "| Tmax > 6 s mL found / true |")  # fmt: skip
    print("|---|---|---|---|---|")
    for dt in (1.0, 1.5, 2.0):
        case = synth_case(args.seed, validation_preset(dt, args.noise), kind="ischemic")
        true_tmax = case.acute["tmax"].array
        for name, options in VARIANTS.items():
            res = compute_perfusion_maps(case.acute["ctp"], config=PerfusionConfig(**options))
            tissue = res.tissue_mask.array > 0
            hypo = (true_tmax > 6.0) & tissue
            found = res.maps["tmax"].array
            ml = res.tissue_mask.voxel_volume_ml
            print(
                f"| {dt:g} | {name} | {np.median(found[hypo]):.1f} s | "
                f"{np.mean(found[hypo] > 6.0):.2f} | "
                f"{((found > 6.0) & tissue).sum() * ml:.1f} / {hypo.sum() * ml:.1f} |"
            )


if __name__ == "__main__":
    main()
