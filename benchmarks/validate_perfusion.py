"""Validate `strokect.perfusion` against the digital phantom's ground truth and real ISLES CBF.

Run: ``.venv/bin/python benchmarks/validate_perfusion.py [--preset tiny] [--seeds 0 1 2]``.
Prints, per deconvolution and tissue class, the median absolute percentage error of CBF and CBV
and the mean absolute error of Tmax and MTT (voxels pooled over the seeds, automatic AIF, the
phantom's own noise), then the rCBF < 30% core Dice on ISLES 2018 case_1/case_2.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps, readout_from_maps

CLASSES = {"normal GM": 1, "normal WM": 2, "penumbra": 4, "core": 5}
ISLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "isles2018" / "TRAINING"


def phantom_table(preset: str, seeds: list[int]) -> None:
    from strokect.phantom import synth_case

    cases = [synth_case(s, preset=preset) for s in seeds]
    print(f"phantom preset {preset!r}, seeds {seeds}, automatic AIF, default options")
    print("| method | class | voxels | CBF MdAPE % | CBV MdAPE % | Tmax MAE s | MTT MAE s |")
    print("|---|---|---|---|---|---|---|")
    for method in ("ssvd", "bcsvd", "osvd"):
        pooled = {c: {k: [] for k in ("cbf", "cbv", "tmax", "mtt")} for c in CLASSES}
        for case in cases:
            a = case.acute
            res = compute_perfusion_maps(a["ctp"], config=PerfusionConfig(method=method))
            inside = res.brain_mask.array > 0
            for cname, lab in CLASSES.items():
                sel = (a["labels"].array == lab) & inside
                for k in ("cbf", "cbv"):
                    t, e = a[k].array[sel], res.maps[k].array[sel]
                    pooled[cname][k].append(np.abs(e - t) / np.maximum(t, 1e-6) * 100)
                for k in ("tmax", "mtt"):
                    pooled[cname][k].append(np.abs(res.maps[k].array[sel] - a[k].array[sel]))
        for cname, d in pooled.items():
            v = {k: np.concatenate(x) for k, x in d.items()}
            print(
                f"| {method} | {cname} | {v['cbf'].size} | {np.median(v['cbf']):.1f} | "
                f"{np.median(v['cbv']):.1f} | {np.mean(v['tmax']):.2f} | {np.mean(v['mtt']):.2f} |"
            )


def isles_table() -> None:
    from strokect.io import read_volume

    if not ISLES.exists():
        print(f"ISLES 2018 data not found at {ISLES}; skipped")
        return
    print("\n| ISLES 2018 | core (rCBF<30%) mL | OT mL | Dice |")
    print("|---|---|---|---|")
    for case in ("case_1", "case_2"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ct, cbf, ot = (
                read_volume(next((ISLES / case).glob(f"*.{m}.*/*.nii")))
                for m in ("CT", "CT_CBF", "OT")
            )
        brain = (ct.array >= 20) & (ct.array <= 60) & (cbf.array > 0)
        ro = readout_from_maps(cbf, None, brain_mask=brain)
        core, truth = ro.core.array > 0, ot.array > 0
        dice = 2 * (core & truth).sum() / (core.sum() + truth.sum())
        print(
            f"| {case} | {ro.core_ml:.2f} | {truth.sum() * ot.voxel_volume_ml:.2f} | {dice:.3f} |"
        )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="tiny")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    phantom_table(args.preset, args.seeds)
    isles_table()


if __name__ == "__main__":
    main()
