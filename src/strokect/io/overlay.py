"""The overlay renderer of strokect: masks drawn over a grey CT slice, saved as PNG.

`overlay_figure` draws one slice; `panels_figure` draws several images of one case side by side
(a method's `strokect.methods.base.Method.overlay_panels`), each with `draw_overlay`.
`annotate_slice` adds the patient's left/right (`edge_labels`, from the volume's direction) and a
scale bar in mm to a drawn slice.

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure`` on a
``FigureCanvasAgg``): no pyplot state, no window, and the user's matplotlib backend is never
changed. matplotlib is imported inside the functions, so ``import strokect.io`` stays light.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from strokect.io.atomic import atomic_output

#: default mask colours, in the order of the masks
PALETTE = ("red", "lime", "deepskyblue", "orange", "magenta", "yellow")


def _as_masks(masks: Any) -> dict[str, np.ndarray]:
    """``{name: bool array}`` from a mapping or a single array (named ``"mask"``)."""
    if not isinstance(masks, Mapping):
        masks = {"mask": masks}
    return {str(k): np.asarray(getattr(m, "array", m)) > 0 for k, m in masks.items()}


def _per_mask(option: Any, name: str, index: int, default: Any) -> Any:
    """A per-mask option: a mapping by name, a sequence by position, or one value for all."""
    if option is None:
        return default
    if isinstance(option, Mapping):
        return option.get(name, default)
    if isinstance(option, Sequence) and not isinstance(option, str):
        return option[index] if index < len(option) else default
    return option


def new_figure(width_in: float = 5.0, height_in: float = 5.0, *, dpi: int = 100, **kwargs):
    """A ``Figure`` attached to an Agg canvas (no pyplot); ``kwargs`` go to ``Figure``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def draw_overlay(
    ax,
    image2d: np.ndarray | None,
    masks: Mapping[str, np.ndarray] | np.ndarray,
    *,
    window: tuple[float, float] | None = None,
    colors: Mapping[str, str] | Sequence[str] | str | None = None,
    fill_alpha: Mapping[str, float] | float = 0.35,
    linewidths: Mapping[str, float] | float = 1.0,
    aspect: float = 1.0,
    cmap: str = "gray",
) -> None:
    """Draw a slice (grey by default) with each mask as a translucent fill and a contour.

    Parameters
    ----------
    ax
        A matplotlib ``Axes``.
    image2d
        The slice; None draws a black background of the masks' shape.
    masks
        ``{name: 2D mask}`` (drawn in that order) or one 2D mask; non-zero is inside.
    window
        Grey scale ``(lo, hi)``; None = the 1st and 99th percentile of the slice's finite values.
    colors
        Mask colours by name, by position or one for all; default `PALETTE` in order.
    fill_alpha
        Opacity of the fill, by name or one for all; 0 draws the contour only.
    linewidths
        Contour width in points, by name or one for all.
    aspect
        Pixel height / width (``spacing_y / spacing_x``).
    cmap
        Matplotlib colormap name of the slice.
    """
    from matplotlib.colors import ListedColormap

    masks = _as_masks(masks)
    if image2d is None:
        shape = next(iter(masks.values())).shape if masks else (1, 1)
        image2d, window = np.zeros(shape), (0.0, 1.0)
    image2d = np.asarray(image2d, dtype=float)
    lo, hi = window if window is not None else _percentile_window(image2d)
    ax.imshow(image2d, cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1.0, aspect=aspect,
              interpolation="nearest")  # fmt: skip
    for i, (name, mask) in enumerate(masks.items()):
        color = _per_mask(colors, name, i, PALETTE[i % len(PALETTE)])
        alpha = float(_per_mask(fill_alpha, name, i, 0.35))
        if alpha > 0 and mask.any():
            ax.imshow(np.ma.masked_where(~mask, mask.astype(float)), cmap=ListedColormap([color]),
                      alpha=alpha, aspect=aspect, interpolation="nearest")  # fmt: skip
        if mask.any() and not mask.all():  # a constant field has no contour
            width = float(_per_mask(linewidths, name, i, 1.0))
            ax.contour(mask.astype(float), levels=[0.5], colors=[color], linewidths=width)


def _percentile_window(image2d: np.ndarray) -> tuple[float, float]:
    finite = image2d[np.isfinite(image2d)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [1, 99])
    return float(lo), float(hi)


def largest_area_slice(mask3d: np.ndarray) -> int:
    """Axial index (axis 0) with the most mask voxels; the middle slice for an empty mask."""
    mask3d = np.asarray(getattr(mask3d, "array", mask3d)) > 0
    area = mask3d.reshape(mask3d.shape[0], -1).sum(axis=1)
    return int(np.argmax(area)) if area.any() else mask3d.shape[0] // 2


def overlay_figure(
    image3d: np.ndarray,
    masks3d: Mapping[str, np.ndarray] | np.ndarray,
    *,
    z: int | None = None,
    window: tuple[float, float] | None = None,
    title: str | None = None,
    colors: Mapping[str, str] | Sequence[str] | str | None = None,
    aspect: float = 1.0,
    size_in: float = 5.0,
    cmap: str = "gray",
):
    """A one-panel ``Figure``: axial slice ``z`` of ``image3d`` with the masks (`draw_overlay`).

    ``image3d`` and the masks are ``(z, y, x)`` arrays (or `Volume` s); ``z`` defaults to
    `largest_area_slice` of the union of the masks; ``cmap`` is the slice's colormap. The figure
    is on an Agg canvas: save it with `save_png`.
    """
    image3d = np.asarray(getattr(image3d, "array", image3d))
    masks = _as_masks(masks3d)
    if z is None:
        union = np.zeros(image3d.shape[-3:], bool)
        for mask in masks.values():
            union |= mask
        z = largest_area_slice(union)
    fig = new_figure(size_in, size_in, layout="constrained")
    ax = fig.add_subplot()
    draw_overlay(ax, image3d[z], {k: m[z] for k, m in masks.items()}, window=window,
                 colors=colors, aspect=aspect, cmap=cmap)  # fmt: skip
    if title:
        ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    return fig


def panels_figure(
    panels: Sequence[Any],
    mask3d: np.ndarray,
    *,
    z: int | None = None,
    title: str | None = None,
    size_in: float = 4.0,
):
    """A one-row ``Figure``: axial slice ``z`` of each panel side by side, with the mask.

    Parameters
    ----------
    panels
        `strokect.methods.base.OverlayPanel` s (or objects with the same attributes: ``title``,
        ``image`` a ``(z, y, x)`` array or `Volume` on the mask's grid, ``window``, ``cmap``,
        ``show_mask``), drawn left to right with `draw_overlay`; the mask is drawn (as
        ``"lesion"``) only on the panels with ``show_mask``.
    mask3d
        ``(z, y, x)`` mask (array or `Volume`); non-zero is inside.
    z
        Axial slice; default `largest_area_slice` of the mask.
    title
        Figure title (suptitle) above the panel titles.
    size_in
        Width and height of one panel in inches.

    The figure is on an Agg canvas: save it with `save_png`.
    """
    mask = np.asarray(getattr(mask3d, "array", mask3d)) > 0
    if not panels:
        raise ValueError("panels_figure needs at least one panel")
    images = [np.asarray(getattr(p.image, "array", p.image)) for p in panels]
    for panel, image in zip(panels, images, strict=True):
        if image.shape != mask.shape:
            raise ValueError(
                f"panel {panel.title!r}: image shape {image.shape} is not {mask.shape}"
            )
    if z is None:
        z = largest_area_slice(mask)
    fig = new_figure(size_in * len(panels), size_in, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel, image in zip(axes, panels, images, strict=True):
        shown = {"lesion": mask[z]} if panel.show_mask else {}
        draw_overlay(ax, image[z], shown, window=panel.window, cmap=panel.cmap)
        if panel.title:
            ax.set_title(panel.title, fontsize=8)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _agg(fig):
    """``fig`` on an Agg canvas: a figure without a backend canvas gets one, others keep theirs."""
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if type(fig.canvas) is FigureCanvasBase:
        FigureCanvasAgg(fig)
    return fig


def figure_to_png_bytes(fig, *, dpi: float | None = None, tight: bool = False) -> bytes:
    """PNG bytes of ``fig``."""
    buf = io.BytesIO()
    _agg(fig).savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buf.getvalue()


def save_png(fig, path: str | Path, *, dpi: float | None = None, tight: bool = False) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically; returns the path.

    ``dpi`` None keeps the figure's own; ``tight`` crops the margins (``bbox_inches="tight"``).
    """
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(figure_to_png_bytes(fig, dpi=dpi, tight=tight))
    return path


# ------------------------------------------------------------------ orientation and scale
#: LPS letter of each world axis (x, y, z): for the positive, then the negative direction
_LPS_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))
#: scale-bar lengths to choose from, in mm
_BAR_MM = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)


def _lps_letter(vector: np.ndarray) -> str:
    k = int(np.argmax(np.abs(vector)))
    return _LPS_LETTERS[k][0 if vector[k] > 0 else 1]


def edge_labels(
    direction: np.ndarray,
    *,
    order: tuple[int, int] = (0, 1),
    flips: tuple[bool, bool] = (False, False),
) -> dict[str, str]:
    """The patient side at each edge of an axial slice as ``imshow`` draws it (row 0 on top).

    Parameters
    ----------
    direction
        The `Volume` direction (ITK, LPS): column ``j`` is the world unit vector of index axis
        ``j`` in the order ``(x, y, z)``.
    order, flips
        How the slice ``(y, x)`` was turned before it was drawn (as
        `strokect.preprocess.overlay.screen_view` does): ``order`` the slice axes (0 = y,
        1 = x) that became screen rows and columns, ``flips`` whether each screen axis was
        reversed. The default is the slice as stored.

    Returns
    -------
    dict
        ``{"left", "right", "top", "bottom"}`` -> ``"R"``, ``"L"``, ``"A"``, ``"P"``, ``"S"`` or
        ``"I"``: the dominant world direction of that edge (for an identity direction the
        patient's left is on the right, radiological convention).
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    along = {0: d[:, 1], 1: d[:, 0]}  # slice axis 0 runs along index y, axis 1 along index x
    rows = along[order[0]] * (-1.0 if flips[0] else 1.0)
    cols = along[order[1]] * (-1.0 if flips[1] else 1.0)
    return {
        "left": _lps_letter(-cols),
        "right": _lps_letter(cols),
        "top": _lps_letter(-rows),
        "bottom": _lps_letter(rows),
    }


def draw_orientation(
    ax, labels: Mapping[str, str], *, letters: str = "LR", fontsize: float = 8
) -> None:
    """Write the `edge_labels` letters in ``letters`` at their edges of ``ax`` (white on black)."""
    where = {"left": (0.03, 0.5, "left", "center"), "right": (0.97, 0.5, "right", "center"),
             "top": (0.5, 0.97, "center", "top"), "bottom": (0.5, 0.03, "center", "bottom")}  # fmt: skip
    box = {"boxstyle": "square,pad=0.15", "facecolor": "black", "alpha": 0.6, "linewidth": 0}
    for edge, (x, y, ha, va) in where.items():
        if labels.get(edge) in letters:
            ax.text(x, y, labels[edge], transform=ax.transAxes, ha=ha, va=va, color="white",
                    fontsize=fontsize, fontweight="bold", bbox=box)  # fmt: skip


def scale_bar_mm(width_mm: float) -> float:
    """A round bar length (1, 2, 5 x 10^k mm) of at most a fifth of ``width_mm``."""
    fits = [b for b in _BAR_MM if b <= width_mm / 5.0]
    return fits[-1] if fits else _BAR_MM[0]


def draw_scale_bar(ax, *, mm_per_pixel: float, fontsize: float = 7, color: str = "white") -> float:
    """Draw a horizontal scale bar in the bottom-left corner of an ``imshow`` axes.

    ``mm_per_pixel`` is the pixel width in mm (the spacing of the screen columns). Call it after
    the image is drawn: the bar is placed from the axes' data limits. Returns the length in mm.
    """
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    length_mm = scale_bar_mm((x1 - x0) * mm_per_pixel)
    start, y = x0 + 0.05 * (x1 - x0), y0 + 0.93 * (y1 - y0)  # rows grow downwards
    if not ax.yaxis_inverted():
        y = y1 - 0.93 * (y1 - y0)
    end = start + length_mm / mm_per_pixel
    ax.plot([start, end], [y, y], color="black", linewidth=3.5, solid_capstyle="butt",
            scalex=False, scaley=False)  # fmt: skip
    ax.plot([start, end], [y, y], color=color, linewidth=2, solid_capstyle="butt",
            scalex=False, scaley=False)  # fmt: skip
    ax.annotate(f"{length_mm:g} mm", ((start + end) / 2, y), xytext=(0, 3),
                textcoords="offset points", ha="center", va="bottom", color=color,
                fontsize=fontsize)  # fmt: skip
    return length_mm


def annotate_slice(
    ax,
    *,
    direction: np.ndarray | None,
    spacing_mm: Sequence[float],
    order: tuple[int, int] = (0, 1),
    flips: tuple[bool, bool] = (False, False),
    fontsize: float = 8,
) -> dict[str, str] | None:
    """Left/right marker (`edge_labels`, none when ``direction`` is None) and a mm scale bar.

    ``spacing_mm`` is the volume's ``(z, y, x)`` spacing; ``order``/``flips`` as in
    `edge_labels`. Returns the edge labels drawn from.
    """
    draw_scale_bar(ax, mm_per_pixel=float(spacing_mm[1:][order[1]]), fontsize=fontsize - 1)
    if direction is None:
        return None
    labels = edge_labels(direction, order=order, flips=flips)
    draw_orientation(ax, labels, fontsize=fontsize)
    return labels
