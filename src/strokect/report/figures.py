"""Report figures (matplotlib, Agg canvas): Bland-Altman, volume scatter, per-case Dice, overlays.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot's global state, so
figures can be made from any thread and never open a window; `figure_to_png_base64` turns one into
the base64 PNG embedded in the HTML report.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from strokect.io.overlay import annotate_slice, draw_overlay, figure_to_png_bytes
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
