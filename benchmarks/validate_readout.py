"""Validate the perfusion readout (core, Tmax > 6 s, mismatch) against the phantom's truth.

Run: ``.venv/bin/python benchmarks/validate_readout.py [--json out.json] [--tmax peak onset]``.

The validation set is fixed: ``isles``-preset phantoms (256 x 256, 0.98 mm, the case's own slab)
with ischemic lesions (seeds `LESION_SEEDS`) and without (`FREE_SEEDS`), each acquired for 60 s
at frame intervals of 1, 1.5 and 2 s (61, 41 and 31 frames) and at CTP noise of 6, 9 and 12 HU
(the phantom's range), with the automatic AIF and the default `PerfusionConfig` except the Tmax
estimator. Truth: core = the phantom's core label, hypoperfusion = true Tmax > 6 s, both within
the analysed tissue (brain without CSF and vessels), as in `validate_perfusion.py`.

Targets (issue 15): hypoperfusion median Dice >= 0.85 and median |relative volume error| <= 15 %
(each case <= 25 % or <= 2 mL); core median Dice >= 0.5; lesion-free cases <= 1 mL of either.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from strokect.perfusion import PerfusionConfig, compute_perfusion_maps, readout_from_maps
from strokect.phantom import synth_case
from strokect.phantom.presets import ctp_protocol

LESION_SEEDS = (1, 2, 3, 4, 5, 6)
FREE_SEEDS = (7, 8)
FRAME_INTERVALS_S = (1.0, 1.5, 2.0)
NOISE_SD_HU = (6.0, 9.0, 12.0)
DURATION_S = 60.0
CORE_LABEL = 5


def validation_preset(dt_s: float, noise_sd_hu: float):
    """The ``isles`` preset with one frame interval, a 60 s acquisition and fixed CTP noise."""
    return ctp_protocol("isles", dt_s=dt_s, duration_s=DURATION_S, noise_sd_hu=noise_sd_hu)


def _dice(a: np.ndarray, b: np.ndarray) -> float | None:
    total = int(a.sum() + b.sum())
    return None if total == 0 else float(2 * (a & b).sum() / total)


def score_case(case, options: dict) -> dict:
    """Readout of one case with ``PerfusionConfig(**options)`` against the truth."""
    res = compute_perfusion_maps(case.acute["ctp"], config=PerfusionConfig(**options))
    ro = readout_from_maps(res.maps["cbf"], res.maps["tmax"], brain_mask=res.tissue_mask)
    tissue = res.tissue_mask.array > 0
    ml = res.tissue_mask.voxel_volume_ml
    core_t = (case.acute["labels"].array == CORE_LABEL) & tissue
    hypo_t = (case.acute["tmax"].array > 6.0) & tissue
    core_e, hypo_e = ro.core.array > 0, ro.hypoperfusion.array > 0
    hypo_true = float(hypo_t.sum() * ml)
    labels = case.acute["labels"].array
    cbf_ratio = {}
    for name, label in (("gm", 1), ("wm", 2)):
        sel = (labels == label) & tissue & (case.acute["cbf"].array > 0)
        cbf_ratio[name] = float(
            np.median(res.maps["cbf"].array[sel] / case.acute["cbf"].array[sel])
        )
    return {
        "gm_cbf_found_over_true": cbf_ratio["gm"],
        "wm_cbf_found_over_true": cbf_ratio["wm"],
        "core_ml": ro.core_ml,
        "core_ml_true": float(core_t.sum() * ml),
        "core_dice": _dice(core_e, core_t),
        "hypo_ml": ro.hypoperfusion_ml,
        "hypo_ml_true": hypo_true,
        "hypo_dice": _dice(hypo_e, hypo_t),
        "hypo_rel_err": None if hypo_true == 0 else (ro.hypoperfusion_ml - hypo_true) / hypo_true,
        "mismatch_ml": ro.mismatch_ml,
        "mismatch_ml_true": hypo_true - float(core_t.sum() * ml),
    }


def summarise(rows: list[dict]) -> dict:
    """Targets of issue 15 over ``rows`` (one per case) of one condition."""
    lesion = [r for r in rows if r["lesion"]]
    free = [r for r in rows if not r["lesion"]]
    rel = np.abs([r["hypo_rel_err"] for r in lesion])
    abs_err = np.abs([r["hypo_ml"] - r["hypo_ml_true"] for r in lesion])
    per_case_ok = bool(np.all((rel <= 0.25) | (abs_err <= 2.0)))
    out = {
        "hypo_dice_median": float(np.median([r["hypo_dice"] for r in lesion])),
        "hypo_abs_rel_err_median": float(np.median(rel)),
        "hypo_abs_rel_err_max": float(rel.max()),
        "hypo_each_case_ok": per_case_ok,
        "core_dice_median": float(np.median([r["core_dice"] or 0.0 for r in lesion])),
        "free_max_ml": float(max(max(r["core_ml"], r["hypo_ml"]) for r in free)) if free else 0.0,
        "gm_cbf_ratio_median": float(np.median([r["gm_cbf_found_over_true"] for r in rows])),
        "wm_cbf_ratio_median": float(np.median([r["wm_cbf_found_over_true"] for r in rows])),
    }
    out["meets_targets"] = bool(
        out["hypo_dice_median"] >= 0.85
        and out["hypo_abs_rel_err_median"] <= 0.15
        and per_case_ok
        and out["core_dice_median"] >= 0.5
        and out["free_max_ml"] <= 1.0
    )
    return out


def run(variants: dict[str, dict], intervals, noises, lesion_seeds, free_seeds) -> dict:
    """``variants``: name -> `PerfusionConfig` options; every variant sees the same cases."""
    results = {}
    for dt in intervals:
        for sd in noises:
            preset = validation_preset(dt, sd)
            cases = [(s, synth_case(s, preset, kind="ischemic"), True) for s in lesion_seeds]
            cases += [(s, synth_case(s, preset, kind="none"), False) for s in free_seeds]
            for name, options in variants.items():
                t0 = time.perf_counter()
                rows = [
                    {"seed": s, "lesion": lesion, **score_case(case, options)}
                    for s, case, lesion in cases
                ]
                seconds = (time.perf_counter() - t0) / len(cases)
                results[(name, dt, sd)] = {
                    "rows": rows,
                    "summary": summarise(rows),
                    "seconds": seconds,
                }
    return results


def parse_variant(text: str) -> tuple[str, dict]:
    """``"name:key=value,key=value"`` (values parsed as JSON when they can be) or ``"default"``."""
    name, _, spec = text.partition(":")
    options = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def _row(label: str, dt: str, sd: str, s: dict, seconds: str) -> str:
    return (
        f"| {label} | {dt} | {sd} | {s['hypo_dice_median']:.2f} | "
        f"{100 * s['hypo_abs_rel_err_median']:.1f} % ({100 * s['hypo_abs_rel_err_max']:.1f} %) | "
        f"{'yes' if s['hypo_each_case_ok'] else 'no'} | {s['core_dice_median']:.2f} | "
        f"{s['free_max_ml']:.2f} | {'yes' if s['meets_targets'] else 'no'} | "
        f"{s['gm_cbf_ratio_median']:.2f} / {s['wm_cbf_ratio_median']:.2f} | {seconds} |"
    )


def print_tables(results: dict) -> None:
    """One row per variant and condition, then one per variant over every condition pooled."""
    print(
        "| variant | frame interval s | CTP noise SD HU | Tmax>6 s Dice (median) | "
        "Tmax>6 s abs rel volume error median (max) | each case <= 25 % or 2 mL | "
        "core Dice (median) | lesion-free max mL | targets met | normal GM / WM CBF found/true "
        "(median) | s/case |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    pooled: dict[str, list] = {}
    for (name, dt, sd), r in results.items():
        print(_row(name, f"{dt:g}", f"{sd:g}", r["summary"], f"{r['seconds']:.1f}"))
        pooled.setdefault(name, []).extend(r["rows"])
    for name, rows in pooled.items():
        print(_row(f"**{name}, all conditions pooled**", "all", "all", summarise(rows), "-"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--variant",
        nargs="+",
        default=["default"],
        help='configurations to compare, "name:key=value,..." (PerfusionConfig fields); '
        '"default" is PerfusionConfig()',
    )
    p.add_argument("--intervals", type=float, nargs="+", default=list(FRAME_INTERVALS_S))
    p.add_argument("--noise", type=float, nargs="+", default=list(NOISE_SD_HU))
    p.add_argument("--json", default=None, help="also write every per-case row here")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="lesion seeds subset")
    args = p.parse_args()
    variants = dict(parse_variant(v) for v in args.variant)
    lesion, free = (LESION_SEEDS, FREE_SEEDS) if args.seeds is None else (args.seeds, ())
    results = run(variants, args.intervals, args.noise, lesion, free)
    print_tables(results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                [
                    {"variant": e, "dt_s": dt, "noise_sd_hu": sd, **r}
                    for (e, dt, sd), r in results.items()
                ],
                fh,
                indent=1,
            )


if __name__ == "__main__":
    main()
