"""``pseudodwi`` (and its ablations, and ``clerigues``) on held-out phantom CTP cases.

Run: ``.venv/bin/python benchmarks/heldout_pseudodwi.py --weights RUN_OR_MODEL [--weights ...]
[--data HELDOUT/manifest.csv] [--json OUT.json]``. A weights entry is a training run folder, a
checkpoint, or a shipped model name (``pseudodwi_ctp``, ``clerigues_ct-cbf-cbv``).

The held-out set (never seen in training or calibration) is made, when ``--data`` is not given,
with::

    strokect synth -o HELDOUT --cases 12 --seed 7777 --preset realistic --layout csv --kind ischemic

Every case goes through the segment pipeline's own steps (`load_ensemble`, `prepare_case`,
`predict_prepared`, `finalize` with the stored calibration). Reported as the paper (Wang, Song et
al., MedIA 2020, Sec. 4): Dice, precision, recall, Hausdorff distance, ASSD, relative volume
error |Vg - Vs| / Vg (`strokect.metrics.evaluate_masks`), per lesion-size group (< 10, 10-50,
> 50 mL of the reference); for a model that synthesizes a pseudo-DWI, SSIM and PSNR against the
case's DWI scaled to [0, 1] by its minimum and 99th percentile, over the whole image and in the
region around the lesion (`strokect.metrics.image`, 10 mm box margin).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SYNTH = ["--cases", "12", "--seed", "7777", "--preset", "realistic", "--layout", "csv",
         "--kind", "ischemic"]  # fmt: skip
SIZE_GROUPS = (("< 10 mL", 0.0, 10.0), ("10-50 mL", 10.0, 50.0), ("> 50 mL", 50.0, np.inf))


def _paths(weights: str) -> list[Path]:
    from strokect.methods.checkpoint import find_model_checkpoints
    from strokect.methods.registry import available_methods, shipped_models

    for method in available_methods():
        shipped = shipped_models(method)
        if weights in shipped:
            return shipped[weights]
    return find_model_checkpoints(weights)


def evaluate(weights: str, data: Path) -> dict:
    from strokect.data import load_dataset
    from strokect.methods.checkpoint import load_checkpoint
    from strokect.methods.pseudodwi.losses import dwi_target_scale
    from strokect.metrics.case import evaluate_masks
    from strokect.metrics.image import compute_psnr, compute_ssim, lesion_region
    from strokect.pipelines.segment import load_ensemble, predict_prepared

    paths = _paths(weights)
    name = load_checkpoint(paths[0])["method"]
    models, calibration = load_ensemble(paths, method=name)
    method = models[0][0]
    cases = []
    for case in load_dataset(data).cases:
        t0 = time.perf_counter()
        prepared = method.prepare_case(case)
        combined = predict_prepared(models, prepared)
        out = method.finalize(prepared, combined, calibration)
        spacing = prepared.target.spacing_mm
        ref = prepared.label > 0
        row = {"case_id": case.case_id,
               **evaluate_masks(out[method.primary_output].array > 0, ref, spacing_mm=spacing)}  # fmt: skip
        pseudo = out.get("pseudo_dwi")
        if pseudo is not None and float(np.abs(pseudo.array).max()) > 0:
            dwi = dwi_target_scale(np.asarray(case.load("dwi").array, np.float32))
            region = lesion_region(ref, spacing_mm=spacing)
            row.update(
                ssim_global=compute_ssim(pseudo.array, dwi, data_range=1.0),
                psnr_global=compute_psnr(pseudo.array, dwi, data_range=1.0),
                ssim_local=compute_ssim(pseudo.array, dwi, data_range=1.0, region=region),
                psnr_local=compute_psnr(pseudo.array, dwi, data_range=1.0, region=region),
            )
        row["seconds"] = round(time.perf_counter() - t0, 1)
        cases.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                          for k, v in row.items()}), flush=True)  # fmt: skip
    return {"weights": str(weights), "method": name, "n_models": len(models),
            "calibration": str(calibration), "cases": cases, "summary": summarize(cases)}  # fmt: skip


METRICS = ("dice", "precision", "recall", "hausdorff_mm", "assd_mm", "relative_volume_error",
           "ssim_global", "psnr_global", "ssim_local", "psnr_local")  # fmt: skip


def summarize(cases: list[dict]) -> dict:
    from strokect.stats.cohort import volume_agreement
    from strokect.stats.summary import describe

    groups = {"all": cases}
    for label, lo, hi in SIZE_GROUPS:
        groups[label] = [c for c in cases if lo <= c["ref_volume_ml"] < hi]
    out = {}
    for name, group in groups.items():
        if not group:
            continue
        stats = {"n": len(group)}
        for metric in METRICS:
            values = [c[metric] for c in group if c.get(metric) is not None]
            values = [v for v in values if np.isfinite(v)]
            if values:
                stats[metric] = describe(values)
        if len(group) >= 3:
            agree = volume_agreement([c["pred_volume_ml"] for c in group],
                                     [c["ref_volume_ml"] for c in group])  # fmt: skip
            stats["icc_3_1"] = agree["icc_3_1"].get("value")
        out[name] = stats
    return out


def table(results: list[dict]) -> str:
    lines = ["| weights | group | n | Dice median [IQR] | Dice mean | precision | recall | "
             "HD mm | ASSD mm | rel. vol. error | SSIM global / local | PSNR global / local |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip

    def med(s, key, fmt="{:.2f}"):
        return fmt.format(s[key]["median"]) if key in s else "-"

    for res in results:
        for group, s in res["summary"].items():
            d = s["dice"]
            lines.append(
                f"| {Path(res['weights']).name} | {group} | {s['n']} | "
                f"{d['median']:.2f} [{d['q1']:.2f}-{d['q3']:.2f}] | {d['mean']:.2f} | "
                f"{med(s, 'precision')} | {med(s, 'recall')} | {med(s, 'hausdorff_mm', '{:.1f}')} | "
                f"{med(s, 'assd_mm', '{:.1f}')} | {med(s, 'relative_volume_error')} | "
                f"{med(s, 'ssim_global')} / {med(s, 'ssim_local')} | "
                f"{med(s, 'psnr_global', '{:.1f}')} / {med(s, 'psnr_local', '{:.1f}')} |"
            )
    return "\n".join(lines)


def paired(results: list[dict]) -> str:
    """Wilcoxon signed-rank test of the per-case Dice of the first weights against each other
    (same cases, two-sided; scipy)."""
    from scipy.stats import wilcoxon

    first = {c["case_id"]: c["dice"] for c in results[0]["cases"]}
    lines = []
    for res in results[1:]:
        other = {c["case_id"]: c["dice"] for c in res["cases"]}
        ids = sorted(set(first) & set(other))
        a, b = np.array([first[i] for i in ids]), np.array([other[i] for i in ids])
        p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
        lines.append(
            f"{Path(results[0]['weights']).name} vs {Path(res['weights']).name}: "
            f"{len(ids)} cases, median Dice difference {np.median(a - b):+.2f}, better on "
            f"{int((a > b).sum())}, worse on {int((a < b).sum())}, signed-rank p = {p:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", action="append", default=[])
    parser.add_argument("--data", type=Path, help="held-out manifest (default: synthesized)")
    parser.add_argument("--json", type=Path, nargs="+",
                        help="write the per-case results here (with --from-json: read these)")  # fmt: skip
    parser.add_argument("--from-json", action="store_true", help="only print the tables of --json")
    args = parser.parse_args()
    if args.from_json:
        results = [r for f in args.json for r in json.loads(f.read_text())["results"]]
        print(table(results))
        print(paired(results))
        return
    if not args.weights:
        parser.error("--weights is required (unless --from-json)")
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            root = Path(tmp) / "heldout"
            cmd = [sys.executable, "-m", "strokect", "synth", "-o", str(root), *SYNTH]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            data = root / "manifest.csv"
        results = [evaluate(w, data) for w in args.weights]
    if args.json:
        args.json[0].write_text(json.dumps({"data": str(data), "results": results}, indent=1))
    print(table(results))
    print(paired(results))


if __name__ == "__main__":
    main()
