"""Measure how the real ISLES 2018 cases differ from the digital phantom (issue 16).

Run: ``.venv/bin/python benchmarks/real_vs_phantom.py [--seeds 0 1 2 3 4] [--figure PATH]``.

Compares ISLES 2018 training case_1 and case_2 (CT, CT_CBF, CT_CBV, OT; read from
``../shared/data/isles2018/TRAINING``, skipped with a message when absent) with ``isles``-preset
ischemic phantoms: their truth maps, and the CBF/CBV recomputed by `compute_perfusion_maps` from
the phantom's own noisy 4D CTP (automatic AIF, default settings).

Masks. Real brain: CT in [20, 60] HU and CBF > 0 (as `validate_perfusion.py::isles_table`).
Phantom brain: the truth ``brain`` mask (grey and white matter, penumbra, core; no CSF, vessels),
intersected with ``tissue_mask`` for the recomputed maps (they are zero outside it). Lesion: OT
(drawn on DWI) or the phantom ``core``, each within the brain mask. Intracranial (CSF fraction
only): real = CBF > 0 with holes filled per slice (the vendor maps cover the CSF), phantom = the
truth ``intracranial`` mask.

Measures, per case and map: brain median, 5th/95th percentile, IQR/median; lesion median /
contralateral brain median (hemispheres split at the brain's centre of mass along x); fraction of
brain voxels above 3x the brain median; the residual of a 3x3 in-plane median filter (SD inside
the brain eroded by one pixel in-plane, and for CT the in-plane lag at which its autocorrelation
falls below 0.5); mean in-plane CT gradient magnitude after a 1 mm Gaussian; the fraction of
intracranial voxels below 15 HU; lesion volume and its fraction with rCBF < 0.3 (CBF over the
contralateral brain median). Saves a figure (default ``docs/img/real_vs_phantom.png``).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from strokect.perfusion import compute_perfusion_maps
from strokect.phantom import synth_case

ROOT = Path(__file__).resolve().parents[1]
ISLES = ROOT.parent / "shared" / "data" / "isles2018" / "TRAINING"
FIGURE = ROOT / "docs" / "img" / "real_vs_phantom.png"
REAL_CASES = ("case_1", "case_2")
MAPS = ("ct", "cbf", "cbv")
INPLANE = np.ones((1, 3, 3), bool)


def sig(x: float, n: int = 3) -> str:
    """``x`` rounded to ``n`` significant digits, without an exponent."""
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    d = n - 1 - math.floor(math.log10(abs(x)))
    return f"{round(x, d):.{max(d, 0)}f}"


def load_real(case: str) -> dict:
    from strokect.io import read_volume

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the known sform/pixdim conflict
        v = {
            m: read_volume(next((ISLES / case).glob(f"*.{m}.*/*.nii")))
            for m in ("CT", "CT_CBF", "CT_CBV", "OT")
        }
    ct, cbf = v["CT"].array.astype(np.float32), v["CT_CBF"].array.astype(np.float32)
    pos = cbf > 0
    return {
        "name": f"real {case}",
        "ct": ct,
        "cbf": cbf,
        "cbv": v["CT_CBV"].array.astype(np.float32),
        "lesion": v["OT"].array > 0,
        "brain": (ct >= 20) & (ct <= 60) & pos,
        "intracranial": np.stack([ndi.binary_fill_holes(s) for s in pos]),
        "spacing": tuple(v["CT"].spacing_mm),
        "voxel_ml": v["CT"].voxel_volume_ml,
    }


def load_phantom(seed: int, preset: str = "isles") -> tuple[dict, dict]:
    """The case's own maps ("truth"; vendor-like maps with ``--preset realistic``) and the maps
    recomputed from its 4D CTP, as two sources."""
    a = synth_case(seed, preset, kind="ischemic").acute
    res = compute_perfusion_maps(a["ctp"])
    brain = a["brain"].array > 0
    common = {
        "ct": a["ct"].array.astype(np.float32),
        "lesion": a["core"].array > 0,
        "labels": a["labels"].array,
        "intracranial": a["intracranial"].array > 0,
        "spacing": tuple(a["ct"].spacing_mm),
        "voxel_ml": a["ct"].voxel_volume_ml,
    }
    truth = {
        **common,
        "name": f"phantom {seed} {'truth' if preset != 'realistic' else 'realistic maps'}",
        "cbf": a["cbf"].array.astype(np.float32),
        "cbv": a["cbv"].array.astype(np.float32),
        "brain": brain,
    }
    ctp = a["ctp"].array
    recomputed = {
        **common,
        "name": f"phantom {seed} CTP",
        "cbf": res.maps["cbf"].array.astype(np.float32),
        "cbv": res.maps["cbv"].array.astype(np.float32),
        "brain": brain & (res.tissue_mask.array > 0),
        "baseline": ctp[:3].mean(axis=0),
        "skip_ct": True,  # same CT as the truth row
    }
    return truth, recomputed


def residual(img: np.ndarray) -> np.ndarray:
    """Image minus its 3x3 in-plane median filter."""
    return img - ndi.median_filter(img, footprint=INPLANE, mode="nearest")


def acf_length(res: np.ndarray, mask: np.ndarray, max_lag: int = 8) -> float:
    """In-plane lag (pixels, linear interpolation) at which the masked autocorrelation < 0.5.

    Autocorrelation per slice by zero-padded FFT, normalised by the number of mask pairs at each
    lag, summed over slices; the x and y profiles are averaged.
    """
    r = np.where(mask, res - res[mask].mean(), 0.0)
    ny, nx = r.shape[1:]
    shape = (2 * ny, 2 * nx)
    fr = np.fft.rfft2(r, s=shape)
    fm = np.fft.rfft2(mask.astype(float), s=shape)
    num = np.fft.irfft2(np.abs(fr) ** 2, s=shape).sum(axis=0)
    den = np.fft.irfft2(np.abs(fm) ** 2, s=shape).sum(axis=0)
    acf = num / np.maximum(den, 1.0)
    acf = acf / acf[0, 0]
    prof = 0.5 * (acf[0, : max_lag + 1] + acf[: max_lag + 1, 0])
    for k in range(1, max_lag + 1):
        if prof[k] < 0.5:
            return float(k - 1 + (prof[k - 1] - 0.5) / (prof[k - 1] - prof[k]))
    return float("nan")


def contralateral(src: dict) -> tuple[np.ndarray, np.ndarray]:
    """(lesion within brain, contralateral brain without lesion)."""
    brain, lesion = src["brain"], src["lesion"] & src["brain"]
    x = np.arange(brain.shape[2])
    cx = (brain.sum(axis=(0, 1)) * x).sum() / brain.sum()
    if not lesion.any():
        raise ValueError(f"{src['name']}: no lesion voxel inside the brain mask")
    lesion_x = np.nonzero(lesion)[2].mean()
    side = x >= cx if lesion_x < cx else x < cx
    return lesion, brain & side[None, None, :] & ~src["lesion"]


def measure(src: dict) -> dict:
    brain = src["brain"]
    inner = ndi.binary_erosion(brain, structure=INPLANE)
    lesion, contra = contralateral(src)
    out = {"brain_n": int(brain.sum())}
    for m in MAPS:
        v = src[m][brain]
        med = float(np.median(v))
        p5, p25, p75, p95 = np.percentile(v, [5, 25, 75, 95])
        out[m] = {
            "median": med,
            "p5": float(p5),
            "p95": float(p95),
            "iqr_rel": float((p75 - p25) / med),
            "ratio": float(np.median(src[m][lesion]) / np.median(src[m][contra])),
        }
        if m != "ct":
            out[m]["vessel"] = float((v > 3 * med).mean())
            r = residual(src[m])[inner]
            out[m]["res_sd"] = float(r.std() / med)
            out[m]["res_mad"] = float(1.4826 * np.median(np.abs(r - np.median(r))) / med)
    r = residual(src["ct"])
    out["ct"]["res_sd"] = float(r[inner].std())
    lo, hi = np.percentile(r[inner], [1, 99])
    out["ct"]["res_sd_trim"] = float(r[inner][(r[inner] >= lo) & (r[inner] <= hi)].std())
    out["ct"]["acf"] = acf_length(r, inner)
    _, dy, dx = src["spacing"]
    smooth = ndi.gaussian_filter(src["ct"], sigma=(0, 1.0 / dy, 1.0 / dx))
    gy, gx = np.gradient(smooth, dy, dx, axis=(1, 2))
    g = np.hypot(gy, gx)[brain]
    out["ct"]["grad"] = float(g.mean())
    out["ct"]["grad_median"] = float(np.median(g))
    out["ct"]["grad_p99"] = float(np.percentile(g, 99))
    out["ct"]["csf"] = float((src["ct"][src["intracranial"]] < 15).mean())
    contra_cbf = np.median(src["cbf"][contra])
    out["lesion_ml"] = float(src["lesion"].sum() * src["voxel_ml"])
    out["lesion_in_brain"] = float(lesion.sum() / max(src["lesion"].sum(), 1))
    out["rcbf_lt_03"] = float((src["cbf"][lesion] / contra_cbf < 0.3).mean())
    if "labels" in src:  # phantom: CBF in the vessel label relative to the brain median
        vessel = src["labels"] == 6
        out["vessel_label_cbf"] = float(np.median(src["cbf"][vessel]) / out["cbf"]["median"])
    return out


def print_tables(sources: list[dict], results: list[dict]) -> None:
    rows = list(zip(sources, results))

    def dist(r: dict, m: str) -> str:
        d = r[m]
        return f"{sig(d['median'])} [{sig(d['p5'])}, {sig(d['p95'])}] {sig(d['iqr_rel'], 2)}"

    print("\n**Brain intensity: median [P5, P95] IQR/median**\n")
    print("| case | brain voxels | CT (HU) | CBF | CBV |")
    print("|---|---|---|---|---|")
    for s, r in rows:
        ct = "same as truth" if s.get("skip_ct") else dist(r, "ct")
        print(f"| {s['name']} | {r['brain_n']} | {ct} | {dist(r, 'cbf')} | {dist(r, 'cbv')} |")

    print("\n**Lesion (OT / phantom core) conspicuity: lesion median / contralateral median**\n")
    print("| case | lesion mL | in brain mask | CT | CBF | CBV | lesion with rCBF < 0.3 |")
    print("|---|---|---|---|---|---|---|")
    for s, r in rows:
        ct = "–" if s.get("skip_ct") else sig(r["ct"]["ratio"])
        print(
            f"| {s['name']} | {sig(r['lesion_ml'])} | {sig(100 * r['lesion_in_brain'], 2)} % | "
            f"{ct} | {sig(r['cbf']['ratio'], 2)} | {sig(r['cbv']['ratio'], 2)} | "
            f"{sig(100 * r['rcbf_lt_03'], 2)} % |"
        )

    print("\n**Vessels and map texture** (residual = map minus its 3x3 in-plane median)\n")
    print(
        "| case | CBF > 3x median | CBV > 3x median | CBF residual SD / median "
        "| CBF residual 1.48 MAD / median | CBV residual SD / median "
        "| vessel label: CBF median / brain median |"
    )
    print("|---|---|---|---|---|---|---|")
    for s, r in rows:
        print(
            f"| {s['name']} | {sig(100 * r['cbf']['vessel'], 2)} % | "
            f"{sig(100 * r['cbv']['vessel'], 2)} % | {sig(r['cbf']['res_sd'], 2)} | "
            f"{sig(r['cbf']['res_mad'], 2)} | {sig(r['cbv']['res_sd'], 2)} | "
            f"{sig(r['vessel_label_cbf'], 2) if 'vessel_label_cbf' in r else '–'} |"
        )

    print("\n**CT noise and sharpness**\n")
    print(
        "| case | residual SD (HU) | residual SD, P1-P99 only (HU) | residual ACF < 0.5 at (px) "
        "| gradient mean / median / P99 (HU/mm) | intracranial < 15 HU | slices x mm |"
    )
    print("|---|---|---|---|---|---|---|")
    for s, r in rows:
        if s.get("skip_ct"):
            continue
        c = r["ct"]
        print(
            f"| {s['name']} | {sig(c['res_sd'], 2)} | {sig(c['res_sd_trim'], 2)} | {sig(c['acf'], 2)} | "
            f"{sig(c['grad'], 2)} / {sig(c['grad_median'], 2)} / {sig(c['grad_p99'], 2)} | "
            f"{sig(100 * c['csf'], 2)} % | {s['ct'].shape[0]} x {sig(s['spacing'][0], 2)} |"
        )


def largest_lesion_slice(src: dict) -> int:
    return int(np.argmax(src["lesion"].sum(axis=(1, 2))))


def crop_box(mask: np.ndarray, pad: int = 12) -> tuple[slice, slice]:
    """A square in-plane box around ``mask`` (any slice) plus ``pad`` pixels."""
    ys, xs = np.nonzero(mask.any(axis=0))
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    h = max(ys.max() - ys.min(), xs.max() - xs.min()) // 2 + pad
    return slice(max(cy - h, 0), cy + h), slice(max(cx - h, 0), cx + h)


def save_figure(path: Path, real: list[dict], truth: list[dict], ctp: list[dict], k: int) -> None:
    """Real case_1/case_2 and phantom ``k`` (truth and recomputed) + brain histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 8), dpi=80)
    gs = fig.add_gridspec(3, 6, height_ratios=[1, 1, 1.25], hspace=0.12, wspace=0.04)
    panels = [(0, 0, real[0], "ct"), (0, 3, truth[k], "ct"), (1, 0, real[1], "ct")]
    panels.append((1, 3, ctp[k], "baseline"))
    for row, col0, src, first in panels:
        z = largest_lesion_slice(src)
        box = crop_box(src["intracranial"])
        lesion = src["lesion"][z][box]
        for j, m in enumerate((first, "cbf", "cbv")):
            ax = fig.add_subplot(gs[row, col0 + j])
            img = src[m][z][box]
            if m == "ct":
                ax.imshow(img, cmap="gray", vmin=0, vmax=80)
                title = f"{src['name']} CT z={z}"
            elif m == "baseline":
                ax.imshow(img, cmap="gray", vmin=0, vmax=80)
                title = "CTP frames 0-2 mean"
            else:
                med = float(np.median(src[m][src["brain"]]))
                ax.imshow(img, cmap="gray", vmin=0, vmax=3 * med)
                title = f"{m.upper()} 0-3x median ({sig(3 * med, 2)})"
            if lesion.any():
                ax.contour(lesion, [0.5], colors="r", linewidths=0.8)
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()

    groups = [(r["name"], [r]) for r in real]
    groups += [("phantom truth (pooled)", truth), ("phantom CTP maps (pooled)", ctp)]
    styles = ["C3", "C1", "C0", "C2"]
    for j, m in enumerate(("cbf", "cbv", "ct")):
        ax = fig.add_subplot(gs[2, 2 * j : 2 * j + 2])
        bins = np.linspace(0, 80, 81) if m == "ct" else np.linspace(0, 4, 81)
        for (label, srcs), color in zip(groups, styles):
            if m == "ct" and "CTP" in label:
                continue
            vals = []
            for s in srcs:
                v = s[m][s["brain"]]
                vals.append(v if m == "ct" else v / np.median(v))
            ax.hist(np.concatenate(vals), bins=bins, density=True, histtype="step", color=color)
            ax.plot([], [], color=color, label=label)
        ax.set_xlabel("CT in brain mask (HU)" if m == "ct" else f"{m.upper()} / brain median")
        ax.set_yticks([])
        ax.tick_params(labelsize=8)
        if j == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--figure", type=Path, default=FIGURE)
    p.add_argument("--preset", default="isles", help="phantom preset (isles, realistic)")
    args = p.parse_args()
    t0 = time.time()
    print(
        f"real_vs_phantom {time.strftime('%Y-%m-%d')}, phantom seeds {args.seeds} ({args.preset})"
    )
    real = []
    if ISLES.exists():
        real = [load_real(c) for c in REAL_CASES]
    else:
        print(f"ISLES 2018 data not found at {ISLES}; real cases skipped")
    truth, ctp = [], []
    for seed in args.seeds:
        t, c = load_phantom(seed, args.preset)
        truth.append(t)
        ctp.append(c)
    sources = real + [s for pair in zip(truth, ctp) for s in pair]
    print_tables(sources, [measure(s) for s in sources])
    if real:
        k = int(np.argmax([s["lesion"].sum() * s["voxel_ml"] for s in truth]))
        save_figure(args.figure, real, truth, ctp, k)
        print(f"\nfigure: {args.figure} (phantom seed {args.seeds[k]})")
    else:
        print("\nfigure skipped (it needs the real cases)")
    print(f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
