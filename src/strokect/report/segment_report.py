"""The per-case report of ``strokect segment``: one self-contained HTML page and a PNG preview.

``report.html`` shows every axial slice that holds lesion in the primary mask (or a few evenly
spaced slices when it is empty) with the masks drawn over the background image, the probability
and uncertainty outputs on the same slices with colour bars, the volume of every mask, the
method, the weights (file name and short SHA-256), the model cards and the provenance record.
Slices are shown in radiological view (`strokect.preprocess.overlay.radiological_view`), each
with a left/right marker worked out from the volume's direction and a scale bar in mm. They are
drawn as arrays and composed with `strokect.report.figures.raster_row` (matplotlib draws only
one colour bar per map), a few tens of milliseconds a slice.

The page embeds its images as ``data:`` URIs and holds no script, stylesheet link or any other
reference, so it opens anywhere without fetching anything. It names no input path: keys that can
hold one (`DROPPED_KEYS`) are removed from the provenance at any depth, and any other text that
looks like a file path is replaced (`scrub_provenance`).

``report.png`` is a compact preview: the largest lesion slices with the masks, the volumes and
the research-use line.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from strokect.io.atomic import atomic_output
from strokect.io.overlay import PALETTE
from strokect.io.volume import Volume
from strokect.preprocess.overlay import radiological_view, screen_view
from strokect.report.figures import (
    annotate_rgb,
    colorbar_rgb,
    overlay_rgb,
    raster_row,
    resample_slice,
    rgb_to_png,
)
from strokect.report.perfusion import report_slices

__all__ = ["DROPPED_KEYS", "RESEARCH_USE", "lesion_slices", "scrub_provenance",
           "write_segment_report"]  # fmt: skip

RESEARCH_USE = "Research software, not for clinical use"
#: provenance keys removed at any depth: each can hold an input path or folder name
DROPPED_KEYS = frozenset(
    {"path", "paths", "command", "folder", "folders", "cwd", "argv", "source", "series",
     "input_dir", "out_dir", "output_dir", "directory"}
)  # fmt: skip
PATH_REMOVED = "[path removed]"
#: raw PNG bytes allowed for the slice images of one page (base64 adds a third)
IMAGE_BUDGET_BYTES = 6_000_000
#: longest side of a slice panel in pixels, and the least the budget may reduce it to
PANEL_PX, MIN_PANEL_PX = 320, 120
FONT_PX = 12
#: slices shown when the primary mask is empty, and in the preview
N_EMPTY_SLICES, N_PREVIEW_SLICES = 5, 4
_PATH_TOKEN = re.compile(
    r"(?<![^\s'\"(=,:])"  # a token of its own: at the start or after a space, quote, =, ( , :
    r"(?:(?:[A-Za-z]:[\\/]|~[\\/]|\.{1,2}[\\/]|[\\/])[^\s'\"]*"  # rooted: /x C:\x ~/x ./x
    r"|[^\s'\"/\\]+(?:[\\/][^\s'\"/\\]+){2,}"  # relative with two separators: a/b/c
    r"|[^\s'\"/\\]+[\\/][^\s'\"]*\.(?:nii|gz|nrrd|mha|mhd|dcm|pt|json|csv|png)\b)"
)

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:20px auto;
max-width:1180px;color:#1d1d1f;background:#fff;padding:0 16px}
h1{font-size:1.5em;margin-bottom:2px}h2{font-size:1.15em;margin-top:24px;border-bottom:1px solid #ddd}
.ruo{background:#fff4e5;border:1px solid #f0a020;padding:6px 10px;font-size:.95em}
.warn{background:#fdecea;border:1px solid #d93025;padding:6px 10px;font-size:.9em}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f8}td.num{text-align:right}
figure{margin:6px 0 14px}figcaption{font-size:.85em;color:#444}
img{max-width:100%;display:block;border:1px solid #e0e0e0}
pre{background:#f7f7f7;padding:6px;font-size:.8em;overflow-x:auto;margin:0;white-space:pre-wrap}
.muted{color:#666;font-size:.85em}details{margin:6px 0}summary{cursor:pointer}
"""


# ------------------------------------------------------------------------------ provenance
def _scrub_text(text: str) -> str:
    return _PATH_TOKEN.sub(PATH_REMOVED, text)


def scrub_provenance(record):
    """A copy of ``record`` without anything that could carry an input path or folder name.

    Keys in `DROPPED_KEYS` (or ending in ``_path``, ``_dir`` or ``_folder``) are dropped at any
    depth; every other string that looks like a file path (rooted, or with two separators, or
    a file name with a folder) is replaced by ``"[path removed]"``. File names alone (a weights
    file, ``lesion.nii.gz``) are kept.
    """
    if isinstance(record, Mapping):
        return {
            str(k): scrub_provenance(v)
            for k, v in record.items()
            if str(k).lower() not in DROPPED_KEYS
            and not str(k).lower().endswith(("_path", "_dir", "_folder"))
        }
    if isinstance(record, (list, tuple)):
        return [scrub_provenance(v) for v in record]
    if isinstance(record, Path):
        return PATH_REMOVED
    if isinstance(record, str):
        return _scrub_text(record)
    if isinstance(record, float) and not math.isfinite(record):
        return str(record)
    return (
        record if isinstance(record, (int, float, bool, type(None))) else _scrub_text(str(record))
    )


# ------------------------------------------------------------------------------ slices
def lesion_slices(mask: np.ndarray) -> list[int]:
    """Axial indices (axis 0) of the ``(z, y, x)`` mask that hold at least one voxel."""
    mask = np.asarray(getattr(mask, "array", mask)) > 0
    return [int(z) for z in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))]


def _display_window(background: np.ndarray) -> tuple[float, float]:
    """1st-99th percentile of the finite voxels above the image's minimum (its padding/air)."""
    finite = background[np.isfinite(background)]
    if finite.size == 0:
        return 0.0, 1.0
    inside = finite[finite > finite.min()]
    lo, hi = np.percentile(inside if inside.size else finite, [1, 99])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def _map_range(volume: Volume, kind: str) -> tuple[float, float]:
    if kind == "probability":
        return 0.0, 1.0
    finite = volume.array[np.isfinite(volume.array)]
    hi = float(np.percentile(finite, 99.9)) if finite.size else 1.0
    return 0.0, hi if hi > 0 else 1.0


class _View:
    """Everything needed to draw one axial slice of the case in radiological view.

    Panels are drawn as arrays (`strokect.report.figures.overlay_rgb`) on a grid of at most
    ``panel_px`` pixels a side, square pixels; each colour bar is drawn once per panel height.
    """

    def __init__(self, background: Volume, window, masks, primary, maps):
        self.order, self.flips = radiological_view(background)
        yx, grid = background.spacing_mm[1:], background.spatial_shape[1:]
        self.extent_mm = tuple(grid[k] * yx[k] for k in self.order)  # screen rows, columns
        self.background, self.window, self.masks, self.primary = background, window, masks, primary
        self.maps = {name: (vol, _map_range(vol, kind), kind) for name, (vol, kind) in maps.items()}
        self.colors = {n: "red" if n == primary else PALETTE[1 + i % (len(PALETTE) - 1)]
                       for i, n in enumerate(masks)}  # fmt: skip
        self._colorbars: dict[tuple[str, int], np.ndarray] = {}

    def shape(self, panel_px: int) -> tuple[int, int]:
        scale = panel_px / max(self.extent_mm)
        return tuple(max(1, round(e * scale)) for e in self.extent_mm)

    def screen(self, array2d: np.ndarray, shape, *, mask: bool = False) -> np.ndarray:
        return resample_slice(screen_view(array2d, self.order, self.flips), shape, mask=mask)

    def mask_panel(self, z: int, shape) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        """The background with every mask, annotated; and where each text was drawn."""
        masks = {n: self.screen(m.array[z] > 0, shape, mask=True) for n, m in self.masks.items()}
        fill = {n: 0.3 if n == self.primary else 0.0 for n in masks}
        rgb = overlay_rgb(self.screen(self.background.array[z], shape), masks, window=self.window,
                          colors=self.colors, fill_alpha=fill)  # fmt: skip
        return rgb, self._annotate(rgb)

    def map_panel(self, z: int, name: str, shape) -> tuple[np.ndarray, np.ndarray]:
        """A map with the primary mask outlined in white, annotated; and its colour bar."""
        volume, (lo, hi), kind = self.maps[name]
        cmap = "magma" if kind == "probability" else "viridis"
        outline = {self.primary: self.screen(self.masks[self.primary].array[z] > 0, shape,
                                             mask=True)}  # fmt: skip
        rgb = overlay_rgb(self.screen(volume.array[z], shape), outline, window=(lo, hi),
                          colors="white", fill_alpha=0.0, cmap=cmap)  # fmt: skip
        self._annotate(rgb)
        if (name, shape[0]) not in self._colorbars:
            self._colorbars[name, shape[0]] = colorbar_rgb(cmap, lo, hi, label=kind,
                                                           height_px=shape[0])  # fmt: skip
        return rgb, self._colorbars[name, shape[0]]

    def _annotate(self, rgb: np.ndarray) -> dict[str, tuple[int, int]]:
        return annotate_rgb(rgb, direction=self.background.direction, order=self.order,
                            flips=self.flips, mm_per_pixel=self.extent_mm[1] / rgb.shape[1],
                            font_px=FONT_PX)  # fmt: skip


def _slice_png(view: _View, z: int, *, panel_px: int, voxel_ml: float) -> bytes:
    """One row: the masks, then each map with its colour bar, titled with the slice number."""
    shape = view.shape(panel_px)
    area_ml = float((view.masks[view.primary].array[z] > 0).sum()) * voxel_ml
    panels = [(f"slice {z}: {view.primary} {area_ml:.2f} mL", view.mask_panel(z, shape)[0], None)]
    panels += [(f"slice {z}: {name}", *view.map_panel(z, name, shape)) for name in view.maps]
    return rgb_to_png(raster_row(panels, font_px=FONT_PX))


def _slice_images(view: _View, slices: Sequence[int], voxel_ml: float) -> tuple[list[str], int]:
    """Base64 PNG per slice, at a panel size that keeps them all within `IMAGE_BUDGET_BYTES`.

    The first slice's size sets the panel size (down to `MIN_PANEL_PX`); if all slices
    together still exceed the budget by half, they are drawn again at the size theirs calls for.
    """

    def draw(z: int, panel_px: int) -> bytes:
        return _slice_png(view, z, panel_px=panel_px, voxel_ml=voxel_ml)

    def smaller(panel_px: int, size: float) -> int:
        return max(MIN_PANEL_PX, int(0.95 * panel_px * math.sqrt(IMAGE_BUDGET_BYTES / size)))

    panel_px, out = PANEL_PX, []
    while not out:
        first = draw(slices[0], panel_px)
        estimate = len(first) * len(slices)
        if estimate <= IMAGE_BUDGET_BYTES or panel_px == MIN_PANEL_PX:
            out = [first]
        else:
            panel_px = smaller(panel_px, estimate)
    out += [draw(z, panel_px) for z in slices[1:]]
    total = sum(len(b) for b in out)
    if total > 1.5 * IMAGE_BUDGET_BYTES and panel_px > MIN_PANEL_PX:
        panel_px = smaller(panel_px, total)
        out = [draw(z, panel_px) for z in slices]
    return [base64.b64encode(b).decode("ascii") for b in out], panel_px


def _preview_png(view: _View, slices: Sequence[int], lines: Sequence[str]) -> bytes:
    shape = view.shape(PANEL_PX)
    panels = [(f"slice {z}", view.mask_panel(z, shape)[0], None) for z in slices]
    return rgb_to_png(raster_row(panels, header=lines, font_px=FONT_PX))


# ------------------------------------------------------------------------------ HTML
def _esc(value) -> str:
    return html.escape(str(value))


def _cell(value) -> str:
    if isinstance(value, (Mapping, list)):
        return f"<td><pre>{_esc(json.dumps(value, indent=1, default=str))}</pre></td>"
    return f"<td>{_esc('–' if value is None else value)}</td>"


def _volumes_table(outputs: Mapping[str, Volume], volumes_ml, primary: str) -> str:
    rows = "".join(
        f"<tr><td>{_esc(name)}{' (primary)' if name == primary else ''}</td>"
        f"<td>{_esc(outputs[name].metadata.get('kind', 'mask') if name in outputs else 'mask')}"
        f"</td><td class='num'>{float(ml):.2f} mL</td></tr>"
        for name, ml in volumes_ml.items()
    )
    return f"<table><tr><th>mask</th><th>kind</th><th>volume</th></tr>{rows}</table>"


def _weights_table(weights) -> str:
    if not weights:
        return "<p class='muted'>No weights recorded.</p>"
    rows = "".join(
        f"<tr><td>{_esc(Path(str(w.get('file', '?'))).name)}</td>"
        f"<td title='{_esc(w.get('sha256', ''))}'><code>{_esc(str(w.get('sha256', '–'))[:12])}"
        "</code></td></tr>"
        for w in weights
    )
    return f"<table><tr><th>weights file</th><th>SHA-256 (first 12)</th></tr>{rows}</table>"


def _model_cards(cards: Sequence[Path]) -> str:
    if not cards:
        return "<p class='muted'>No model card was found next to the weights.</p>"
    parts = []
    for card in map(Path, cards):
        try:
            text = card.read_text(encoding="utf-8")
        except OSError as exc:
            text = f"(not readable: {exc.strerror})"
        parts.append(f"<details><summary>Model card <code>{_esc(card.name)}</code></summary>"
                     f"<pre>{_esc(text)}</pre></details>")  # fmt: skip
    return "".join(parts)


def _warnings(prov: Mapping) -> str:
    """The domain and output-plausibility warnings of the provenance, in words."""
    notes = []
    domain = prov.get("domain_check") or {}
    if isinstance(domain, Mapping) and domain.get("out_of_domain"):
        parts = [f"{f.get('what')} {f.get('value')} vs training {f.get('training')}"
                 for f in domain.get("findings") or [] if f.get("out_of_domain")]  # fmt: skip
        notes.append("Out of domain: the input differs from what these weights were trained on ("
                     + "; ".join(parts) + f"). {domain.get('scope', '')}")  # fmt: skip
    checks = prov.get("output_checks") or {}
    if isinstance(checks, Mapping):
        flagged = set(checks.get("implausible") or [])
        for f in checks.get("findings") or []:
            if f.get("output") in flagged:
                notes.append(_implausible_note(f))
    return "".join(f"<p class='warn'>{_esc(n)}</p>" for n in notes)


def _implausible_note(finding: Mapping) -> str:
    """One report line per flagged mask, saying which rule of `output_checks` it broke."""
    name, flags, why = finding.get("output"), finding.get("flags") or ["too_large"], []
    if "too_large" in flags:
        frac = finding.get("roi_fraction")
        cover = f"covers {frac:.0%} of the region of interest, " if frac is not None else ""
        why.append(f"{cover}more than a complete hemispheric infarct")
    if "mirror_symmetric" in flags:
        why.append(
            f"{finding.get('mirrored_fraction', 0):.0%} ({finding.get('mirrored_ml', 0):.1f} mL) "
            "lies on its own mirror image across the mid-sagittal plane, as normal anatomy does"
        )
    return f"Implausible output: {name} ({'; '.join(why)}): check before using these volumes."


def _page(title: str, sections: Sequence[tuple[str, str]], head: str) -> str:
    body = "".join(f"<h2>{_esc(h)}</h2>{content}" for h, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1><p class='ruo'>{_esc(RESEARCH_USE)}</p>{head}{body}"
        "</body></html>\n"
    )


# ------------------------------------------------------------------------------ entry point
def _guess_kind(array: np.ndarray) -> str:
    """``"mask"`` for an output without a kind whose values are 0/1, else ``"image"``."""
    return "mask" if ((array == 0) | (array == 1)).all() else "image"


def _split_outputs(outputs: Mapping[str, Volume], primary: str, background: Volume):
    if primary not in outputs:
        raise ValueError(f"primary: {primary!r} is not an output; outputs: {', '.join(outputs)}")
    for name, volume in outputs.items():
        if volume.spatial_shape != background.spatial_shape or volume.array.ndim != 3:
            raise ValueError(f"output {name!r}: shape {volume.array.shape} is not the background "
                             f"grid {background.spatial_shape}")  # fmt: skip
    kind = {n: v.metadata.get("kind") or _guess_kind(v.array) for n, v in outputs.items()}
    masks = {n: v for n, v in outputs.items() if kind[n] == "mask" or n == primary}
    maps = {
        n: (v, kind[n]) for n, v in outputs.items() if kind[n] in ("probability", "uncertainty")
    }
    return masks, maps


def write_segment_report(
    folder: Path,
    *,
    outputs: Mapping[str, Volume],
    primary: str,
    background: Volume,
    window: tuple[float, float] | None,
    volumes_ml: Mapping[str, float],
    provenance: Mapping,
    model_cards: Sequence[Path] = (),
    title: str | None = None,
) -> dict[str, Path]:
    """Write ``report.html`` (self-contained) and ``report.png`` (preview) into ``folder``.

    Parameters
    ----------
    folder
        The case output folder; both files are written atomically.
    outputs
        Every named output on one ``(z, y, x)`` grid; ``metadata["kind"]`` says what each is
        (``"mask"``, ``"probability"``, ``"uncertainty"``, ...).
    primary
        Name of the primary mask output: its lesion slices are the slices shown.
    background
        The image the masks are drawn on (same grid), e.g. the NCCT in HU.
    window
        Display range of ``background``; None = its 1st-99th percentile above its minimum.
    volumes_ml
        Volume in mL per mask output, shown as given.
    provenance
        The provenance record; shown without any path (`scrub_provenance`).
    model_cards
        Model card files of the weights used; each is embedded in a ``<details>`` block.
    title
        Page title; default ``"strokect segment: <case id>"``.

    Returns
    -------
    dict
        ``{"report_html": path, "report_png": path}``.
    """
    folder = Path(folder)
    masks, maps = _split_outputs(outputs, primary, background)
    prov = scrub_provenance(provenance)
    case_id = prov.get("case_id") or "case"
    title = title or f"strokect segment: {case_id}"
    window = tuple(window) if window is not None else _display_window(background.array)
    view = _View(background, window, masks, primary, maps)
    shown = lesion_slices(masks[primary].array)
    empty = not shown
    if empty:
        shown = report_slices(background.spatial_shape[0], None, N_EMPTY_SLICES)
    images, panel_px = _slice_images(view, shown, background.voxel_volume_ml)

    method = prov.get("method", "not recorded")
    volume_text = ", ".join(f"{n} {float(v):.2f} mL" for n, v in volumes_ml.items())
    largest = sorted(shown, key=lambda z: -int((masks[primary].array[z] > 0).sum()))
    preview = sorted(largest[:N_PREVIEW_SLICES]) if not empty else shown[:N_PREVIEW_SLICES]
    lines = [f"{title} — method {method}", volume_text or "no mask volume", RESEARCH_USE]
    png_path = folder / "report.png"
    with atomic_output(png_path) as tmp:
        tmp.write_bytes(_preview_png(view, preview, lines))

    what = (f"No lesion in the primary mask <b>{_esc(primary)}</b>: {len(shown)} evenly spaced "
            "slices are shown." if empty else
            f"All {len(shown)} axial slices that hold lesion in <b>{_esc(primary)}</b>.")  # fmt: skip
    legend = ", ".join(f"{_esc(n)} ({view.colors[n]})" for n in masks)
    figures = "".join(
        f"<figure><img class='slice' alt='slice {z}' src='data:image/png;base64,{b64}'>"
        f"<figcaption>slice {z}</figcaption></figure>"
        for z, b64 in zip(shown, images, strict=True)
    )
    summary = [("Case", case_id), ("Method", method),
               ("strokect version", prov.get("strokect_version", "not recorded")),
               ("Device / threads", f"{prov.get('device', '–')} / {prov.get('threads', '–')}")]  # fmt: skip
    head = (
        "<table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in summary)
        + f"</table>{_warnings(prov)}"
    )  # fmt: skip
    sections = [
        ("Volumes", _volumes_table(outputs, volumes_ml, primary)),
        ("Slices", f"<p>{what} Radiological view: the L/R letters mark the patient's side, "
                   f"worked out from the image direction; bar = scale in mm. Masks: {legend}."
                   + (f" Maps: {', '.join(_esc(n) for n in maps)} (primary outline in white)."
                      if maps else "")
                   + (f" Images reduced to {panel_px} px panels to keep the page small."
                      if panel_px < PANEL_PX else "")
                   + f"</p>{figures}"),
        ("Method and weights", f"<p>Method: <b>{_esc(method)}</b></p>"
                               + _weights_table(prov.get("weights") or [])),
        ("Model cards", _model_cards(model_cards)),
        ("Provenance", "<table>" + "".join(f"<tr><th>{_esc(k)}</th>{_cell(v)}</tr>"
                                           for k, v in prov.items()) + "</table>"),
    ]  # fmt: skip
    html_path = folder / "report.html"
    with atomic_output(html_path) as tmp:
        tmp.write_text(_page(title, sections, head), encoding="utf-8")
    return {"report_html": html_path, "report_png": png_path}
