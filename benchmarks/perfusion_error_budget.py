"""Error budget of `strokect.perfusion` on the digital phantom: which step costs how much.

Run: ``.venv/bin/python benchmarks/perfusion_error_budget.py [--preset tiny] [--seeds 0 1 2]
[--methods ssvd bcsvd osvd] [--threshold 0.1] [--fixed] [--range LO HI] [--vof-scaling]``.

For every deconvolution method, per tissue class (normal GM, normal WM, penumbra, core; voxels of
the analysed tissue mask, pooled over seeds) it prints the CBF median absolute percentage error
(MdAPE), the median CBF ratio found/true (the bias), the Tmax mean absolute error and the median
Tmax bias for five stages that add one error source at a time:

A0. as A without truncation (threshold 1e-6 of the largest singular value): the floor set by
   sampling the residue at the frame step, which no regularisation choice can beat;
A. noise-free curves (the phantom's own forward model, `strokect.phantom.perfusion.ResidueTable`,
   evaluated on the truth maps at the acquisition times) deconvolved with the TRUE AIF:
   discretisation + truncation (regularisation) only;
B. the same noise-free curves with the automatically selected AIF (from the noisy series):
   + AIF selection / partial volume / baseline;
C. the real noisy series through the whole pipeline (tissue mask, denoising) with the TRUE AIF:
   + noise after denoising (and the noise-adaptive truncation it drives);
D. the whole default pipeline (automatic AIF): what a user gets.

It also prints, per case, the area of the selected AIF (and the VOF) over the true AIF's area.
The truth is only used to score and to build the stage A/B curves, never inside the algorithm.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps
from strokect.perfusion.maps import _maps_from_curves
from strokect.perfusion.preprocess import resample_curves, uniform_time_grid

CLASSES = {"normal GM": 1, "normal WM": 2, "penumbra": 4, "core": 5}
STAGES = (
    "A0 noise-free, true AIF, no truncation",
    "A noise-free, true AIF",
    "B noise-free, auto AIF",
    "C noisy, true AIF",
    "D pipeline",
)


def _noise_free_maps(case, sel, aif_grid, grid, cfg) -> dict:
    """Maps of the voxels ``sel`` from noise-free phantom curves and a given AIF on ``grid``."""
    from strokect.phantom.perfusion import ResidueTable

    a, times = case.acute, case.acute["ctp"].time_s
    table = ResidueTable(case.metadata["aif"], t_end_s=float(times[-1]) + 1.0)
    curves = table.curves(
        times,
        cbf=a["cbf"].array[sel],
        mtt_s=a["mtt"].array[sel],
        delay_s=a["tmax"].array[sel],
    ).astype(np.float32)
    return _maps_from_curves(
        resample_curves(curves, times, grid), aif_grid, grid, cfg, noise_sd=0.0
    )


def _untruncated(cfg: PerfusionConfig) -> PerfusionConfig:
    """The same deconvolution with (numerically) no truncation: the discretisation floor."""
    return replace(cfg, svd_threshold=1e-6, osvd_thresholds=(1e-6,), adaptive_truncation=False)


def _errors(case, sel, cbf, tmax) -> dict:
    t_cbf, t_tmax = case.acute["cbf"].array[sel], case.acute["tmax"].array[sel]
    return {"ratio": cbf / np.maximum(t_cbf, 1e-6), "dtmax": tmax - t_tmax}


def case_budget(case, cfg: PerfusionConfig) -> tuple[dict, dict]:
    """Per stage and class: arrays of CBF ratio and Tmax error; plus AIF/VOF area ratios."""
    ctp = case.acute["ctp"]
    true_aif = np.asarray(case.metadata["aif"]["curve_hu"], float)
    grid = uniform_time_grid(ctp.time_s, dt_s=cfg.dt_s)
    true_grid = resample_curves(true_aif[:, None], ctp.time_s, grid)[:, 0]
    res_d = compute_perfusion_maps(ctp, config=cfg)
    res_c = compute_perfusion_maps(ctp, config=cfg, aif_curve_hu=true_aif)
    auto_grid = res_d.aif.curve * res_d.aif_scale
    out = {}
    for cname, lab in CLASSES.items():
        sel_d = (case.acute["labels"].array == lab) & (res_d.tissue_mask.array > 0)
        sel_c = (case.acute["labels"].array == lab) & (res_c.tissue_mask.array > 0)
        a0 = _noise_free_maps(case, sel_d, true_grid, grid, _untruncated(cfg))
        a = _noise_free_maps(case, sel_d, true_grid, grid, cfg)
        b = _noise_free_maps(case, sel_d, auto_grid, grid, cfg)
        out[(STAGES[0], cname)] = _errors(case, sel_d, a0["cbf"], a0["tmax"])
        out[(STAGES[1], cname)] = _errors(case, sel_d, a["cbf"], a["tmax"])
        out[(STAGES[2], cname)] = _errors(case, sel_d, b["cbf"], b["tmax"])
        for stage, res, sel in ((STAGES[3], res_c, sel_c), (STAGES[4], res_d, sel_d)):
            m = res.maps
            out[(stage, cname)] = _errors(case, sel, m["cbf"].array[sel], m["tmax"].array[sel])
    true_area = float(np.sum(true_grid))
    areas = {
        "aif": float(np.sum(auto_grid)) / true_area,
        "aif_unscaled": float(np.sum(res_d.aif.curve)) / true_area,
        "vof": None if res_d.vof is None else float(np.sum(res_d.vof.curve)) / true_area,
        "aif_scale": res_d.aif_scale,
    }
    return out, areas


def budget(preset: str, seeds: list[int], methods: list[str], **options) -> dict:
    """Print the error budget table; returns ``{(method, stage, class): row}``."""
    from strokect.phantom import synth_case

    cases = [synth_case(s, preset=preset) for s in seeds]
    print(f"phantom preset {preset!r}, seeds {seeds}, options {options or 'default'}")
    print(
        "| method | stage | class | CBF MdAPE % | CBF ratio (median) | Tmax MAE s "
        "| Tmax bias (median) s |"
    )
    print("|---|---|---|---|---|---|---|")
    summary, area_rows = {}, []
    for method in methods:
        cfg = PerfusionConfig(method=method, **options)
        pooled = {}
        for seed, case in zip(seeds, cases, strict=True):
            per, areas = case_budget(case, cfg)
            area_rows.append((method, seed, areas))
            for key, err in per.items():
                pooled.setdefault(key, []).append(err)
        for (stage, cname), errs in pooled.items():
            ratio = np.concatenate([e["ratio"] for e in errs])
            dtm = np.concatenate([e["dtmax"] for e in errs])
            row = {
                "cbf_mdape": float(np.median(np.abs(ratio - 1)) * 100),
                "cbf_ratio": float(np.median(ratio)),
                "tmax_mae": float(np.mean(np.abs(dtm))),
                "tmax_bias": float(np.median(dtm)),
            }
            summary[(method, stage, cname)] = row
            print(
                f"| {method} | {stage} | {cname} | {row['cbf_mdape']:.1f} | "
                f"{row['cbf_ratio']:.2f} | {row['tmax_mae']:.2f} | {row['tmax_bias']:+.2f} |"
            )
    print("\n| method | seed | auto AIF area / true | unscaled | VOF area / true | VOF scale |")
    print("|---|---|---|---|---|---|")
    for method, seed, ar in area_rows:
        vof = "-" if ar["vof"] is None else f"{ar['vof']:.2f}"
        print(
            f"| {method} | {seed} | {ar['aif']:.2f} | {ar['aif_unscaled']:.2f} | {vof} "
            f"| {ar['aif_scale']:.2f} |"
        )
    return summary


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="tiny")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["ssvd", "bcsvd", "osvd"])
    p.add_argument("--threshold", type=float, default=None, help="svd_threshold (ssvd/bcsvd)")
    p.add_argument("--vof-scaling", action="store_true")
    p.add_argument("--fixed", action="store_true", help="fixed thresholds (no adaptive truncation)")
    p.add_argument("--range", type=float, nargs=2, default=None, help="adaptive_range lo hi")
    args = p.parse_args()
    options = {}
    if args.threshold is not None:
        options["svd_threshold"] = args.threshold
    if args.fixed:
        options["adaptive_truncation"] = False
    if args.range:
        options["adaptive_range"] = tuple(args.range)
    if args.vof_scaling:
        options["vof_scaling"] = True
    budget(args.preset, args.seeds, args.methods, **options)


if __name__ == "__main__":
    main()
