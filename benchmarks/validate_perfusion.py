"""Validate `strokect.perfusion` against the digital phantom's ground truth and real ISLES CBF.

Run: ``.venv/bin/python benchmarks/validate_perfusion.py [--preset tiny] [--seeds 0 1 2]``.
Prints, per deconvolution and tissue class, the median absolute percentage error of CBF and CBV
and the mean absolute error of Tmax and MTT over the analysed voxels (`result.tissue_mask`: brain
without CSF and vessels; the coverage column says which fraction of the class that is), voxels
pooled over the seeds, automatic AIF, the phantom's own noise, then the rCBF < 30% core Dice on ISLES 2018 case_1/case_2.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps, readout_from_maps

CLASSES = {"normal GM": 1, "normal WM": 2, "penumbra": 4, "core": 5}
ISLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "isles2018" / "TRAINING"


def class_errors(case, res) -> dict:
    """Per tissue class: analysed voxels, coverage and per-voxel errors against the truth maps."""
    a = case.acute
    analysed = res.tissue_mask.array > 0
    out = {}
    for cname, lab in CLASSES.items():
        cls = a["labels"].array == lab
        sel = cls & analysed
        err = {"n": int(sel.sum()), "n_class": int(cls.sum())}
        for k in ("cbf", "cbv"):
            t, e = a[k].array[sel], res.maps[k].array[sel]
            err[k] = np.abs(e - t) / np.maximum(t, 1e-6) * 100
        for k in ("tmax", "mtt"):
            err[k] = np.abs(res.maps[k].array[sel] - a[k].array[sel])
        out[cname] = err
    return out


def phantom_table(preset: str, seeds: list[int], methods: list[str], **options) -> dict:
    """Print the per-class table (voxels pooled over seeds); returns {(method, class): medians}."""
    from strokect.phantom import synth_case

    cases = [synth_case(s, preset=preset) for s in seeds]
    print(
        f"phantom preset {preset!r}, seeds {seeds}, automatic AIF, options {options or 'default'}"
    )
    print(
        "| method | class | voxels (coverage %) | CBF MdAPE % | CBV MdAPE % | Tmax MAE s "
        "| MTT MAE s | seconds/case |"
    )
    print("|---|---|---|---|---|---|---|---|")
    summary, readouts = {}, []
    for method in methods:
        pooled = {c: [] for c in CLASSES}
        t0 = time.perf_counter()
        for seed, case in zip(seeds, cases, strict=True):
            cfg = PerfusionConfig(method=method, **options)
            res = compute_perfusion_maps(case.acute["ctp"], config=cfg)
            for cname, err in class_errors(case, res).items():
                pooled[cname].append(err)
            readouts.append((method, seed, readout_errors(case, res)))
        sec = (time.perf_counter() - t0) / len(cases)
        for cname, errs in pooled.items():
            v = {k: np.concatenate([e[k] for e in errs]) for k in ("cbf", "cbv", "tmax", "mtt")}
            n, n_cls = sum(e["n"] for e in errs), sum(e["n_class"] for e in errs)
            row = {
                "cbf": float(np.median(v["cbf"])),
                "cbv": float(np.median(v["cbv"])),
                "tmax": float(np.mean(v["tmax"])),
                "mtt": float(np.mean(v["mtt"])),
            }
            summary[(method, cname)] = row
            print(
                f"| {method} | {cname} | {n} ({100 * n / max(n_cls, 1):.0f}) | {row['cbf']:.1f} | "
                f"{row['cbv']:.1f} | {row['tmax']:.2f} | {row['mtt']:.2f} | {sec:.1f} |"
            )
    print(
        "\nReadout (what a user gets, `readout_from_maps` on the tissue mask) against the truth:"
        " core = phantom core label, hypoperfusion = true Tmax > 6 s (analysed tissue)"
    )
    print(
        "| method | seed | core mL (true) | core Dice | Tmax>6 s mL (true) | Tmax>6 s Dice "
        "| mismatch mL (true) |"
    )
    print("|---|---|---|---|---|---|---|")
    for method, seed, r in readouts:
        print(
            f"| {method} | {seed} | {r['core_ml']:.1f} ({r['core_ml_true']:.1f}) | "
            f"{r['core_dice']:.2f} | {r['hypo_ml']:.1f} ({r['hypo_ml_true']:.1f}) | "
            f"{r['hypo_dice']:.2f} | {r['hypo_ml'] - r['core_ml']:.1f} "
            f"({r['hypo_ml_true'] - r['core_ml_true']:.1f}) |"
        )
        summary[(method, seed, "readout")] = r
    return summary


def readout_errors(case, res) -> dict:
    """Core (rCBF < 30 %) and hypoperfusion (Tmax > 6 s) of the default readout vs the truth."""
    a = case.acute
    tissue = res.tissue_mask.array > 0
    ro = readout_from_maps(res.maps["cbf"], res.maps["tmax"], brain_mask=res.tissue_mask)
    vml = res.tissue_mask.voxel_volume_ml
    core_t = (a["labels"].array == CLASSES["core"]) & tissue
    hypo_t = (a["tmax"].array > 6.0) & tissue
    core_e, hypo_e = ro.core.array > 0, ro.hypoperfusion.array > 0

    def dice(x, y):
        return float(2 * (x & y).sum() / max(x.sum() + y.sum(), 1))

    return {
        "core_ml": ro.core_ml,
        "core_ml_true": float(core_t.sum() * vml),
        "core_dice": dice(core_e, core_t),
        "hypo_ml": ro.hypoperfusion_ml,
        "hypo_ml_true": float(hypo_t.sum() * vml),
        "hypo_dice": dice(hypo_e, hypo_t),
    }


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
    p.add_argument("--methods", nargs="+", default=["ssvd", "bcsvd", "osvd"])
    p.add_argument("--sigma-mm", type=float, default=None, help="smoothing_sigma_mm override")
    p.add_argument("--temporal-s", type=float, default=None, help="temporal_sigma_s override")
    p.add_argument("--svd-threshold", type=float, default=None, help="ssvd/bcsvd truncation")
    p.add_argument("--osvd-thresholds", type=float, nargs="+", default=None)
    p.add_argument("--oscillation-limit", type=float, default=None)
    p.add_argument("--temporal-rank", default=None, help="temporal_rank override (auto or int)")
    p.add_argument("--adaptive", action="store_true", help="adaptive_truncation=True")
    p.add_argument("--tmax", default=None, help="tmax_estimator override: onset|calibrated|peak")
    p.add_argument("--no-isles", action="store_true", help="skip the ISLES 2018 readout table")
    args = p.parse_args()
    options = {}
    if args.sigma_mm is not None:
        options["smoothing_sigma_mm"] = args.sigma_mm
    if args.temporal_s is not None:
        options["temporal_sigma_s"] = args.temporal_s
    if args.svd_threshold is not None:
        options["svd_threshold"] = args.svd_threshold
    if args.osvd_thresholds is not None:
        options["osvd_thresholds"] = tuple(args.osvd_thresholds)
    if args.oscillation_limit is not None:
        options["oscillation_limit"] = args.oscillation_limit
    if args.adaptive:
        options["adaptive_truncation"] = True
    if args.tmax is not None:
        options["tmax_estimator"] = args.tmax
    if args.temporal_rank is not None:
        tr = args.temporal_rank
        options["temporal_rank"] = tr if tr == "auto" else int(tr)
    phantom_table(args.preset, args.seeds, args.methods, **options)
    if not args.no_isles:
        isles_table()


if __name__ == "__main__":
    main()
