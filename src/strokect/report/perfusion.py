"""The per-study CT perfusion report: one self-contained HTML page and the same summary as a PNG.

What clinical CTP software shows, from the outputs of `strokect perfusion`: colour maps of CBF,
CBV, MTT and Tmax with colour bars (fixed clinical display ranges, radiological view), the core
(rCBF < 30 %, magenta) and the Tmax > 6 s region (green) over the baseline image, the core /
hypoperfusion / mismatch volumes and the mismatch ratio, the arterial and venous input curves
with their voxels marked on the image, the deconvolution method and settings, and a provenance
record. The page names no input path and no patient attribute (a DICOM folder name or header can
identify a patient): only what the caller passes in ``settings`` and ``provenance`` is shown.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from strokect.io.atomic import atomic_output
from strokect.io.overlay import figure_to_png_bytes
from strokect.io.volume import Volume
from strokect.preprocess.overlay import radiological_view, screen_view

RESEARCH_USE = (
    "Research use only. Not a medical device; not for diagnosis or treatment decisions. "
    "Validated on a digital phantom (docs/perfusion.md), not on patients."
)

#: map -> (display range, unit, title); the usual fixed ranges of clinical CTP displays
MAP_DISPLAY = {
    "cbf": ((0.0, 60.0), "mL/100 g/min", "CBF"),
    "cbv": ((0.0, 6.0), "mL/100 g", "CBV"),
    "mtt": ((0.0, 12.0), "s", "MTT"),
    "tmax": ((0.0, 12.0), "s", "Tmax"),
}
CORE_COLOUR = "#ff00ff"  # magenta: rCBF < 30 %
HYPO_COLOUR = "#00e000"  # green: Tmax > 6 s
AIF_COLOUR = "#e6194b"
VOF_COLOUR = "#4363d8"
MAX_ROWS = 6

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:20px auto;max-width:1180px;
color:#1d1d1f;background:#fff;padding:0 16px}
h1{font-size:1.5em;margin-bottom:2px}h2{font-size:1.15em;margin-top:24px;border-bottom:1px solid #ddd}
.ruo{background:#fff4e5;border:1px solid #f0a020;padding:6px 10px;font-size:.9em}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right}th{background:#f2f4f8}
td:first-child,th:first-child{text-align:left}.big td{font-size:1.15em}
img{max-width:100%;display:block;margin:6px 0 14px;border:1px solid #e0e0e0}
pre{background:#f7f7f7;padding:8px;font-size:.8em;overflow-x:auto}.muted{color:#666;font-size:.85em}
"""


def _new_figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def report_slices(n_slices: int, lesion: np.ndarray | None, max_rows: int = MAX_ROWS) -> list[int]:
    """Slices to show: all when few, else evenly spaced ones including the largest-lesion slice."""
    if n_slices <= max_rows:
        return list(range(n_slices))
    picks = np.rint(np.linspace(0, n_slices - 1, max_rows + 2)[1:-1]).astype(int).tolist()
    if lesion is not None and lesion.any():
        best = int(np.argmax(lesion.reshape(n_slices, -1).sum(1)))
        if best not in picks:
            picks[int(np.argmin([abs(p - best) for p in picks]))] = best
    return sorted(set(picks))


def _colour_map():
    from matplotlib import colormaps

    return colormaps["jet"].with_extremes(bad="black")


def maps_figure(
    maps: Mapping[str, Volume],
    base: Volume,
    tissue: Volume,
    core: Volume,
    hypoperfusion: Volume | None,
    slices: list[int],
) -> Figure:
    """Rows = slices; columns = baseline with core/Tmax > 6 s, then CBF, CBV, MTT, Tmax."""
    order, flips = radiological_view(base)
    cols = ["readout", *MAP_DISPLAY]
    fig = _new_figure(2.3 * len(cols), 2.2 * len(slices) + 1.2)
    axes = fig.subplots(len(slices), len(cols), squeeze=False)
    cmap = _colour_map()
    shown = {}
    for r, k in enumerate(slices):
        inside = screen_view(tissue.array[k] > 0, order, flips)
        for c, name in enumerate(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if name == "readout":
                ax.imshow(screen_view(base.array[k], order, flips), cmap="gray", vmin=0, vmax=80)
                layers = [(hypoperfusion, HYPO_COLOUR), (core, CORE_COLOUR)]
                for vol, colour in layers:
                    if vol is None:
                        continue
                    m = screen_view(vol.array[k] > 0, order, flips)
                    ax.imshow(np.ma.masked_where(~m, m), cmap=ListedColormap([colour]), alpha=0.6)
                ax.set_ylabel(f"slice {k}", fontsize=8)
            else:
                (lo, hi), _, _ = MAP_DISPLAY[name]
                img = screen_view(maps[name].array[k], order, flips)
                shown[name] = ax.imshow(
                    np.ma.masked_where(~inside, img), cmap=cmap, vmin=lo, vmax=hi
                )
            if r == 0:
                title = "baseline: core, Tmax>6 s" if name == "readout" else MAP_DISPLAY[name][2]
                ax.set_title(title, fontsize=9)
            if r == 0 and c == 0:
                ax.text(0.02, 0.5, "R", color="w", transform=ax.transAxes, fontsize=8)
                ax.text(0.93, 0.5, "L", color="w", transform=ax.transAxes, fontsize=8)
    for c, name in enumerate(cols):
        if name in shown:
            (_, _), unit, title = MAP_DISPLAY[name]
            bar = fig.colorbar(shown[name], ax=axes[:, c], orientation="horizontal", shrink=0.9)
            bar.set_label(f"{title} ({unit})", fontsize=8)
            bar.ax.tick_params(labelsize=7)
    return fig


def curves_figure(aif: Mapping, vof: Mapping | None, base: Volume) -> Figure:
    """AIF and VOF (HU above baseline over time) and where their voxels are."""
    order, flips = radiological_view(base)
    fig = _new_figure(11.0, 3.0)
    ax_c, ax_a, ax_v = fig.subplots(1, 3, width_ratios=[2.2, 1, 1])
    for fn, name, colour, ax in ((aif, "AIF", AIF_COLOUR, ax_a), (vof, "VOF", VOF_COLOUR, ax_v)):
        ax.set_xticks([])
        ax.set_yticks([])
        if fn is None:
            ax.set_title(f"{name}: not found", fontsize=9)
            ax.axis("off")
            continue
        ax_c.plot(fn["time_s"], fn["curve_hu"], color=colour, lw=1.6, label=name)
        voxels = np.asarray(fn["voxels_zyx"], int).reshape(-1, 3)
        k = int(np.bincount(voxels[:, 0]).argmax()) if voxels.size else 0
        ax.imshow(screen_view(base.array[k], order, flips), cmap="gray", vmin=0, vmax=80)
        pts = np.zeros(base.spatial_shape[1:], bool)
        pts[voxels[:, 1], voxels[:, 2]] = True  # every voxel, projected onto the shown slice
        yy, xx = np.nonzero(screen_view(pts, order, flips))
        ax.scatter(xx, yy, s=90, facecolors="none", edgecolors=colour, linewidths=1.8)
        ax.scatter(xx, yy, s=4, color=colour)
        ax.set_title(f"{name}: {len(voxels)} voxels (shown on slice {k})", fontsize=9)
    ax_c.set_xlabel("time (s)")
    ax_c.set_ylabel("enhancement (HU)")
    ax_c.set_title("input functions", fontsize=9)
    ax_c.legend(fontsize=8)
    ax_c.grid(alpha=0.3)
    return fig


def _png(fig: Figure) -> bytes:
    return figure_to_png_bytes(fig, dpi=100, tight=True)


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _table(rows: list[tuple[str, str]], cls: str = "") -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(a))}</td><td>{html.escape(str(b))}</td></tr>" for a, b in rows
    )
    return f"<table class='{cls}'>{body}</table>"


def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def readout_rows(readout: Mapping) -> list[tuple[str, str]]:
    p = readout.get("params", {})
    rcbf = p.get("rcbf_threshold", 0.3)
    tmax = p.get("tmax_threshold_s", 6.0)
    ratio = readout.get("mismatch_ratio")
    return [
        (f"Ischemic core (rCBF < {100 * rcbf:g} %)", _fmt(readout["core_ml"], "mL")),
        (f"Hypoperfusion (Tmax > {tmax:g} s)", _fmt(readout.get("hypoperfusion_ml"), "mL")),
        ("Mismatch volume", _fmt(readout.get("mismatch_ml"), "mL")),
        ("Mismatch ratio", "– (no core)" if ratio is None else f"{ratio:.2f}"),
        ("Affected side (by Tmax > 6 s volume)", str(readout.get("affected_side", "–"))),
        (
            "Reference CBF (contralateral median)",
            _fmt(readout.get("reference_cbf"), "mL/100 g/min"),
        ),
    ]


def _summary_text(readout: Mapping) -> str:
    return "   ".join(f"{k}: {v}" for k, v in readout_rows(readout)[:4])


def summary_png(maps_png: bytes, curves_png: bytes, readout: Mapping, title: str) -> bytes:
    """One PNG: title, the four readout numbers, the maps and the curves, the research-use line."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    parts = [Image.open(io.BytesIO(png)) for png in (maps_png, curves_png)]
    width = max(p.width for p in parts)
    font = ImageFont.load_default(size=16)
    small = ImageFont.load_default(size=13)
    head, foot = 76, 30
    out = Image.new("RGB", (width, head + sum(p.height for p in parts) + foot), "white")
    draw = ImageDraw.Draw(out)
    draw.text((10, 8), title, fill="black", font=font)
    draw.text((10, 36), _summary_text(readout), fill="black", font=small)
    draw.text(
        (10, 52), "magenta: core; green: Tmax > 6 s; radiological view", fill="black", font=small
    )
    y = head
    for p in parts:
        out.paste(p, (0, y))
        y += p.height
    draw.text((10, y + 8), RESEARCH_USE, fill=(150, 70, 0), font=small)
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


def write_perfusion_report(
    out_dir: str | Path,
    *,
    maps: Mapping[str, Volume],
    base: Volume,
    tissue: Volume,
    core: Volume,
    hypoperfusion: Volume | None,
    readout: Mapping,
    aif: Mapping,
    vof: Mapping | None,
    settings: Mapping[str, object],
    provenance: Mapping[str, object],
    title: str = "CT perfusion report",
) -> dict[str, Path]:
    """Write ``report.html`` (self-contained) and ``report.png`` into ``out_dir``.

    ``base`` is the pre-contrast (baseline-average) image and ``tissue`` the analysed tissue mask
    (maps are shown inside it, black elsewhere); ``readout`` is `Readout.to_dict()`, ``aif`` and
    ``vof`` are `InputFunction.to_dict()`; ``settings`` (method and parameters) and
    ``provenance`` are shown as given, so they must not hold input paths or patient attributes.
    """
    import json

    out = Path(out_dir)
    lesion = None if hypoperfusion is None else hypoperfusion.array > 0
    slices = report_slices(base.spatial_shape[0], lesion)
    # each figure is rendered once; the HTML and the summary PNG embed the same bytes
    maps_png = _png(maps_figure(maps, base, tissue, core, hypoperfusion, slices))
    curves_png = _png(curves_figure(aif, vof, base))
    png_path = out / "report.png"
    with atomic_output(png_path) as tmp:
        tmp.write_bytes(summary_png(maps_png, curves_png, readout, title))
    settings_rows = [
        (k, json.dumps(v) if not isinstance(v, str) else v) for k, v in settings.items()
    ]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="ruo">{html.escape(RESEARCH_USE)}</p>
<h2>Readout</h2>
{_table(readout_rows(readout), "big")}
<p class="muted">Core: CBF below 30 % of the median CBF of the contralateral hemisphere, within the
Tmax &gt; 6 s region. Mismatch = hypoperfusion - core; ratio = hypoperfusion / core.</p>
<h2>Maps</h2>
<p class="muted">Radiological view (patient right on the left). Magenta: core; green: Tmax &gt; 6 s.
Black: outside the analysed tissue (CSF, vessels and non-brain are excluded).</p>
<img alt="perfusion maps" src='data:image/png;base64,{_b64(maps_png)}'>
<h2>Arterial and venous input functions</h2>
<img alt="AIF and VOF" src='data:image/png;base64,{_b64(curves_png)}'>
<h2>Method and settings</h2>
{_table(settings_rows)}
<h2>Provenance</h2>
<pre>{html.escape(json.dumps(provenance, indent=1, default=str))}</pre>
</body></html>
"""
    html_path = out / "report.html"
    with atomic_output(html_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return {"report_html": html_path, "report_png": png_path}
