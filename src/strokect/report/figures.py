"""Report figures (matplotlib, Agg canvas): Bland-Altman, volume scatter, per-case Dice, overlays.

Every figure function returns a ``matplotlib.figure.Figure`` built without pyplot's global state,
so figures can be made from any thread and never open a window; `figure_to_png_base64` turns one
into the base64 PNG embedded in the HTML report. Pages with many slice images draw them as
arrays instead (`overlay_rgb` panels, `annotate_rgb`, a `colorbar_rgb` drawn once, `raster_row`,
`rgb_to_png`): no figure layout per slice.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image, ImageColor, ImageDraw, ImageFont
from scipy import ndimage

from strokect.io.overlay import (
    PALETTE,
    annotate_slice,
    draw_overlay,
    edge_labels,
    figure_to_png_bytes,
    scale_bar_mm,
)
from strokect.io.volume import Volume
from strokect.preprocess.morphology import bounding_box
from strokect.preprocess.overlay import radiological_view, screen_view
from strokect.stats.agreement import BlandAltmanResult

PRED_COLOR = "#e6194b"  # red: prediction outline
REF_COLOR = "#3cb44b"  # green: reference outline


def _figure(width_in: float = 5.5, height_in: float = 4.2) -> tuple[Figure, object]:
    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def figure_to_png_base64(fig: Figure, *, dpi: int = 100) -> str:
    """PNG bytes of ``fig`` encoded as base64 text (for ``<img src="data:image/png;base64,...">``)."""
    return base64.b64encode(figure_to_png_bytes(fig, dpi=dpi)).decode("ascii")


def bland_altman_figure(
    pred_ml: Sequence[float], ref_ml: Sequence[float], ba: BlandAltmanResult
) -> Figure:
    """Difference (pred - ref) against the mean of both volumes, with bias and limits of agreement."""
    pred, ref = np.asarray(pred_ml, float), np.asarray(ref_ml, float)
    fig, ax = _figure()
    ax.scatter((pred + ref) / 2, pred - ref, s=22, color="#4363d8", alpha=0.8, edgecolor="none")
    ax.axhline(ba.bias, color="k", lw=1.2, label=f"bias {ba.bias:.2f} mL")
    for value, name in ((ba.loa_low, "lower"), (ba.loa_high, "upper")):
        ax.axhline(value, color="k", lw=1, ls="--")
        ax.annotate(f"{name} LoA {value:.2f}", (1.0, value), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", fontsize=8)  # fmt: skip
    ax.axhline(0, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("mean of predicted and reference volume (mL)")
    ax.set_ylabel("predicted - reference volume (mL)")
    ax.set_title(f"Bland-Altman (n = {ba.n}, limits = bias ± {ba.z:g} SD)")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def volume_scatter_figure(
    pred_ml: Sequence[float], ref_ml: Sequence[float], *, r_squared: float | None = None
) -> Figure:
    """Predicted against reference volume with the identity line."""
    pred, ref = np.asarray(pred_ml, float), np.asarray(ref_ml, float)
    fig, ax = _figure(4.6, 4.4)
    top = float(max(pred.max(initial=0), ref.max(initial=0))) * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="0.4", lw=1, ls="--", label="identity")
    ax.scatter(ref, pred, s=22, color="#4363d8", alpha=0.8, edgecolor="none", label="cases")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("reference volume (mL)")
    ax.set_ylabel("predicted volume (mL)")
    title = "Predicted vs reference volume"
    ax.set_title(title + (f" (R² = {r_squared:.3f})" if r_squared is not None else ""))
    ax.legend(loc="upper left", fontsize=8)
    return fig


def dice_figure(case_ids: Sequence[str], dice: Sequence[float]) -> Figure:
    """Per-case Dice, cases sorted by Dice, with the median as a line."""
    dice_arr = np.asarray(dice, float)
    order = np.argsort(np.nan_to_num(dice_arr, nan=-1.0), kind="stable")
    fig, ax = _figure(max(5.5, 0.22 * len(dice_arr) + 1.5), 4.0)
    x = np.arange(len(order))
    ax.bar(x, np.nan_to_num(dice_arr[order]), color="#4363d8", width=0.75)
    if np.isfinite(dice_arr).any():
        med = float(np.nanmedian(dice_arr))
        ax.axhline(med, color="k", lw=1, ls="--", label=f"median {med:.3f}")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xticks(x, [case_ids[i] for i in order], rotation=90, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Dice")
    ax.set_title("Per-case Dice (sorted)")
    return fig


def _mosaic_slices(pred: np.ndarray, ref: np.ndarray, n_slices: int) -> list[int]:
    """Up to ``n_slices`` axial slices with the most lesion voxels (either mask), in z order."""
    load = (pred | ref).sum(axis=(1, 2))
    if not load.any():
        return [pred.shape[0] // 2]
    best = np.argsort(-load, kind="stable")[:n_slices]
    return sorted(int(z) for z in best if load[z] > 0)


def _inplane_box(
    pred: np.ndarray, ref: np.ndarray, spacing_mm, margin_mm: float
) -> tuple[slice, slice]:
    """In-plane (y, x) bounding box of both masks enlarged by ``margin_mm``; whole slice if empty."""
    union = (pred | ref).any(axis=0)
    if not union.any():
        return slice(None), slice(None)
    pads = tuple(int(np.ceil(margin_mm / float(s))) for s in spacing_mm[1:])
    return bounding_box(union, pads)


def overlay_mosaic(
    pred: np.ndarray,
    ref: np.ndarray,
    *,
    spacing_mm: Sequence[float],
    image: np.ndarray | None = None,
    window_hu: tuple[float, float] = (0.0, 80.0),
    title: str = "",
    n_slices: int = 6,
    margin_mm: float = 30.0,
    direction: np.ndarray | None = None,
) -> Figure:
    """Axial slices with prediction (red) and reference (green) outlines on the CT.

    Every slice has a scale bar in mm and, when ``direction`` is given, is shown in radiological
    view with the patient's left/right marked (`strokect.io.overlay.annotate_slice`).

    Parameters
    ----------
    pred, ref
        Binary masks ``(z, y, x)``.
    spacing_mm
        ``(z, y, x)`` voxel size: sets the in-plane aspect ratio and the scale bar.
    image
        CT ``(z, y, x)`` in HU on the same grid, shown with ``window_hu``; None = black background.
    margin_mm
        The view is cropped in-plane to both masks' bounding box enlarged by this margin.
    direction
        The masks' `Volume` direction (ITK, LPS); None shows the slices as stored, without a
        left/right marker.
    """
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    slices = _mosaic_slices(pred, ref, n_slices)
    ys, xs = _inplane_box(pred, ref, spacing_mm, margin_mm)
    pred, ref = pred[:, ys, xs], ref[:, ys, xs]
    image = None if image is None else np.asarray(image)[:, ys, xs]
    order, flips = (0, 1), (False, False)
    if direction is not None:  # only the direction matters to radiological_view
        geometry = Volume(np.zeros((1, 1, 1), np.uint8), spacing_mm=spacing_mm, direction=direction)
        order, flips = radiological_view(geometry)
    fig = Figure(figsize=(max(2.3 * len(slices), 6.5), 2.7), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(slices), squeeze=False)[0]
    in_plane = (float(spacing_mm[1]), float(spacing_mm[2]))
    aspect = in_plane[order[0]] / in_plane[order[1]]
    for ax, z in zip(axes, slices):
        shown = {k: screen_view(m[z], order, flips) for k, m in (("ref", ref), ("pred", pred))}
        back = None if image is None else screen_view(image[z], order, flips)
        # reference drawn wider underneath, so it stays visible where both outlines coincide
        draw_overlay(ax, back, shown, window=window_hu, colors=(REF_COLOR, PRED_COLOR),
                     fill_alpha=0.0, linewidths={"ref": 2.6, "pred": 1.1}, aspect=aspect)  # fmt: skip
        ax.set_title(f"z = {z}", fontsize=8)
        ax.set_axis_off()
        annotate_slice(ax, direction=direction, spacing_mm=spacing_mm, order=order, flips=flips)
    view = "; radiological view" if direction is not None else ""
    fig.suptitle(f"{title}  (green: reference, red: prediction{view})", fontsize=10)
    return fig


# ------------------------------------------------------------------ raster slices (no figure)
# The pictures of `draw_overlay` + `annotate_slice` drawn straight into ``(H, W, 3)`` uint8 arrays
# with numpy and PIL, composed into rows by `raster_row`: milliseconds a slice, no figure layout.


@functools.lru_cache(maxsize=8)
def raster_font(size_px: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (the font matplotlib ships and draws with) at ``size_px`` pixels, for PIL."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path(), "fonts", "ttf", name)), size_px)


def resample_slice(
    array2d: np.ndarray, shape: tuple[int, int], *, mask: bool = False
) -> np.ndarray:
    """``array2d`` on a ``shape`` pixel grid over the same field of view.

    Values are area means (PIL box filter; the nearest pixel when enlarging), NaN read as 0. A
    mask pixel is inside when at least half of it is, or when it holds the centre of a voxel
    inside, so no voxel disappears when a slice is shrunk.
    """
    rows, cols = shape
    values = np.nan_to_num(np.asarray(array2d, dtype=np.float32))
    out = np.asarray(Image.fromarray(values).resize((cols, rows), Image.Resampling.BOX))
    if not mask:
        return out
    inside = out >= 0.5
    ys, xs = np.nonzero(values > 0)
    inside[((ys + 0.5) * (rows / values.shape[0])).astype(np.intp),
           ((xs + 0.5) * (cols / values.shape[1])).astype(np.intp)] = True  # fmt: skip
    return inside


def colormap_rgb(image2d: np.ndarray, window: tuple[float, float], cmap: str = "gray"):
    """``(H, W, 3)`` uint8 colours of ``image2d`` in the matplotlib colormap ``cmap`` as
    ``imshow(vmin=lo, vmax=hi)`` picks them (256 levels); NaN is drawn as ``lo``."""
    lo, hi = float(window[0]), float(window[1])
    hi = hi if hi > lo else lo + 1.0
    table = (colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255 + 0.5).astype(np.uint8)
    scaled = (np.nan_to_num(np.asarray(image2d, dtype=np.float32), nan=lo) - lo) * (256 / (hi - lo))
    return table[np.clip(scaled, 0, 255).astype(np.intp)]


def overlay_rgb(
    image2d: np.ndarray,
    masks: Mapping[str, np.ndarray],
    *,
    window: tuple[float, float],
    colors: Mapping[str, str] | str | None = None,
    fill_alpha: Mapping[str, float] | float = 0.35,
    cmap: str = "gray",
) -> np.ndarray:
    """`draw_overlay` as an ``(H, W, 3)`` uint8 array: the slice, each mask a fill and outline.

    ``image2d`` and the ``{name: 2D mask}`` share one pixel grid (see `resample_slice`); masks
    are drawn in order; ``colors`` (names or ``#rrggbb``, default `PALETTE` in order) and
    ``fill_alpha`` (0 = outline only) are by name or one for all. The outline is the mask's
    one-pixel rim: none along the slice border, none for an empty or full mask.
    """
    rgb = colormap_rgb(image2d, window, cmap).astype(np.float32)
    for i, (name, mask) in enumerate(masks.items()):
        mask = np.asarray(mask) > 0
        if not mask.any():
            continue
        color = colors.get(name) if isinstance(colors, Mapping) else colors
        color = np.array(ImageColor.getrgb(color or PALETTE[i % len(PALETTE)])[:3], np.float32)
        alpha = float(fill_alpha.get(name, 0.35) if isinstance(fill_alpha, Mapping) else fill_alpha)
        if alpha > 0:
            rgb[mask] = (1.0 - alpha) * rgb[mask] + alpha * color
        rgb[mask & ~ndimage.binary_erosion(mask, border_value=1)] = color
    return (rgb + 0.5).astype(np.uint8)


def annotate_rgb(
    rgb: np.ndarray,
    *,
    direction: np.ndarray | None,
    mm_per_pixel: float,
    order: tuple[int, int] = (0, 1),
    flips: tuple[bool, bool] = (False, False),
    font_px: int = 12,
) -> dict[str, tuple[int, int]]:
    """`annotate_slice` on a drawn slice ``rgb`` ``(H, W, 3)`` uint8, changed in place.

    A scale bar (`scale_bar_mm`) in the bottom-left corner and, when ``direction`` is given,
    the patient's left/right letters (`edge_labels` with ``order``/``flips``) white on black at
    their edges. ``mm_per_pixel`` is the width of one pixel of ``rgb``. Returns the centre
    ``(x, y)`` of every text drawn, by text (``"L"``, ``"R"``, ``"50 mm"``).
    """
    height, width = rgb.shape[:2]
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    length_mm = scale_bar_mm(width * mm_per_pixel)
    x0, y = round(0.05 * width), round(0.93 * height)
    x1 = x0 + max(1, round(length_mm / mm_per_pixel))
    draw.rectangle((x0 - 1, y - 2, x1 + 1, y + 2), fill="black")
    draw.rectangle((x0, y - 1, x1, y + 1), fill="white")
    text = f"{length_mm:g} mm"
    draw.text(((x0 + x1) / 2, y - 4), text, fill="white", anchor="md", stroke_width=1,
              stroke_fill="black", font=raster_font(font_px - 1))  # fmt: skip
    marks = {text: (round((x0 + x1) / 2), y - 4 - font_px // 2)}
    labels = edge_labels(direction, order=order, flips=flips) if direction is not None else {}
    bold = raster_font(font_px, bold=True)
    for edge, x, anchor in (("left", 3, "lm"), ("right", width - 4, "rm")):
        if labels.get(edge) in ("L", "R"):
            box = draw.textbbox((x, height // 2), labels[edge], font=bold, anchor=anchor)
            draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill="black")
            draw.text((x, height // 2), labels[edge], fill="white", font=bold, anchor=anchor)
            marks[labels[edge]] = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
    rgb[...] = np.asarray(image)
    return marks


def colorbar_rgb(
    cmap: str, vmin: float, vmax: float, *, label: str, height_px: int, width_px: int = 66
) -> np.ndarray:
    """A vertical colour bar with ticks and ``label`` as a ``(height_px, width_px, 3)`` image.

    Drawn with matplotlib (``Figure.colorbar``, 7 pt text at 100 dpi) once, to be pasted beside
    every panel it explains.
    """
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    bar = fig.colorbar(ScalarMappable(Normalize(vmin, vmax), cmap),
                       cax=fig.add_axes((0.04, 0.04, 0.2, 0.92)))  # fmt: skip
    bar.ax.tick_params(labelsize=7)
    bar.set_label(label, fontsize=7)
    fig.canvas.draw()
    drawn = np.asarray(fig.canvas.buffer_rgba())[:height_px, :width_px, :3]
    out = np.full((height_px, width_px, 3), 255, np.uint8)  # Agg may round a pixel off
    out[: drawn.shape[0], : drawn.shape[1]] = drawn
    return out


def raster_row(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray | None]],
    *,
    header: Sequence[str] = (),
    font_px: int = 12,
    gap_px: int = 14,
) -> np.ndarray:
    """Panels side by side on white, each titled, as one ``(H, W, 3)`` uint8 image.

    ``panels`` are ``(title, rgb, side)``: the title is centred over ``rgb``, ``side`` (a colour
    bar as tall as ``rgb``, or None) follows it. ``header`` lines are centred above the row.
    A panel narrower than its title gets the title's width.
    """
    font = raster_font(font_px)
    line_px = font_px + 5
    top = len(header) * (line_px + 1) + line_px + 4
    slots = [max(rgb.shape[1], round(font.getlength(title)) + 6)
             + (0 if side is None else 4 + side.shape[1]) for title, rgb, side in panels]  # fmt: skip
    row = sum(slots) + gap_px * (len(panels) - 1)
    width = max([row] + [round(font.getlength(line)) + 8 for line in header])
    image = Image.new("RGB", (width, top + max(p[1].shape[0] for p in panels) + 2), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(header):
        draw.text((width / 2, 2 + i * (line_px + 1)), line, fill="black", font=font, anchor="mt")
    x = (width - row) // 2
    for (title, rgb, side), slot in zip(panels, slots, strict=True):
        left = x + (slot - rgb.shape[1] - (0 if side is None else 4 + side.shape[1])) // 2
        draw.text((left + rgb.shape[1] / 2, top - 3), title, fill="black", font=font, anchor="md")
        image.paste(Image.fromarray(rgb), (left, top))
        if side is not None:
            image.paste(Image.fromarray(side), (left + rgb.shape[1] + 4, top))
        x += slot + gap_px
    return np.asarray(image)


def rgb_to_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` uint8 image (PIL, no figure).

    zlib level 4: a third faster than PIL's default 6 on CT slices, for about 2 % more bytes.
    """
    buf = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    image.save(buf, format="PNG", compress_level=4)
    return buf.getvalue()
