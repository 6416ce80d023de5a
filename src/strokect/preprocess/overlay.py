"""Mosaic PNG of preprocessing masks over a CT, for checking masks by eye.

Every axial slice is shown (top of the head first) in radiological convention whatever the
input's storage order (NIfTI or DICOM): the patient's left on the right of each panel, anterior at
the top, marked ``R`` / ``L`` / ``A`` / ``P``. Every mask given is drawn (CSF filled, the others
outlined) with a legend, and the mid-sagittal plane when it was computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from strokect.io.overlay import draw_overlay, new_figure, save_png
from strokect.io.volume import Volume
from strokect.preprocess.morphology import superior_axis_sign
from strokect.preprocess.symmetry import MidsagittalPlane

__all__ = ["COLOURS", "radiological_view", "save_mask_overlay"]

#: colours per mask name (anything else is drawn in white)
COLOURS = {
    "intracranial": "red",
    "brain": "orange",
    "csf": "deepskyblue",
    "perfusion_brain": "lime",
}


def radiological_view(volume: Volume) -> tuple[tuple[int, int], tuple[bool, bool]]:
    """How to show an axial slice ``(y, x)`` in radiological convention.

    Returns ``(order, flips)``: ``order`` the array axes (0 = y, 1 = x) that become the screen's
    rows and columns, ``flips`` whether each screen axis is reversed, so that screen columns run
    towards the patient's left (LPS +x) and screen rows towards posterior (LPS +y).
    """
    # LPS components of the in-plane index axes (direction columns 0 = x index, 1 = y index)
    x_axis, y_axis = volume.direction[:2, 0], volume.direction[:2, 1]
    if abs(x_axis[0]) >= abs(x_axis[1]):  # x index runs left-right: columns stay columns
        order = (0, 1)
        flips = (y_axis[1] < 0, x_axis[0] < 0)
    else:  # x index runs anterior-posterior: transpose
        order = (1, 0)
        flips = (x_axis[1] < 0, y_axis[0] < 0)
    return order, flips


def screen_view(image: np.ndarray, order, flips) -> np.ndarray:
    """An axial slice ``(y, x)`` as shown on screen, given `radiological_view`'s ``order, flips``."""
    out = image if order == (0, 1) else image.T
    if flips[0]:
        out = out[::-1]
    if flips[1]:
        out = out[:, ::-1]
    return out


def save_mask_overlay(
    ct: Volume,
    masks: Mapping[str, Volume],
    path: str | Path,
    *,
    window_hu: tuple[float, float] = (0.0, 80.0),
    plane: MidsagittalPlane | None = None,
    title: str = "",
    panel_in: float = 2.4,
    dpi: int = 100,
) -> Path:
    """Write a mosaic of every axial slice with every mask (and the plane) in radiological view.

    Parameters
    ----------
    ct : Volume
        The CT (HU), axial.
    masks : mapping name -> Volume
        Masks on the CT grid; ``csf`` is filled, the others outlined (colours `COLOURS`).
    path : path
        PNG file (written atomically).
    window_hu : (float, float)
        Grey window.
    plane : MidsagittalPlane, optional
        Drawn as a dashed yellow line where it crosses each slice.
    panel_in, dpi : float, int
        Panel size in inches and resolution (default 240 px panels, readable at 100 %).
    """
    zs = np.arange(ct.spatial_shape[0])
    if superior_axis_sign(ct) > 0:
        zs = zs[::-1]
    order, flips = radiological_view(ct)
    spacing = (ct.spacing_mm[1], ct.spacing_mm[2])
    aspect = spacing[order[0]] / spacing[order[1]]
    colors = {name: COLOURS.get(name, "white") for name in masks}
    fill = {name: 0.45 if name == "csf" else 0.0 for name in masks}
    n_cols = min(6, len(zs))
    n_rows = math.ceil(len(zs) / n_cols)
    fig = new_figure(panel_in * n_cols, panel_in * n_rows + 0.5, dpi=dpi)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    line = _plane_sides(ct, plane) if plane is not None else None
    for ax, k in zip(axes, zs):
        slice_masks = {name: screen_view(m.array[k] > 0, order, flips) for name, m in masks.items()}
        draw_overlay(ax, screen_view(ct.array[k], order, flips), slice_masks, window=window_hu,
                     colors=colors, fill_alpha=fill, linewidths=0.9, aspect=aspect)  # fmt: skip
        if line is not None:
            ax.contour(screen_view(line[k], order, flips), levels=[0.0], colors="yellow",
                       linewidths=0.8, linestyles="--")  # fmt: skip
        _orientation_marks(ax)
        ax.set_title(f"slice {k}", fontsize=8)
        ax.axis("off")
    for ax in axes[len(zs) :]:
        ax.axis("off")
    legend = ", ".join(f"{name} ({colors[name]})" for name in masks)
    legend += ", mid-sagittal plane (yellow dashes)" if plane is not None else ""
    fig.suptitle(f"{title}  {legend}; radiological view (R on the left)".strip(), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return save_png(fig, path)


def _orientation_marks(ax) -> None:
    style = {"color": "white", "fontsize": 8, "transform": ax.transAxes, "ha": "center"}
    ax.text(0.04, 0.5, "R", va="center", **style)
    ax.text(0.96, 0.5, "L", va="center", **style)
    ax.text(0.5, 0.96, "A", va="top", **style)
    ax.text(0.5, 0.02, "P", va="bottom", **style)


def _plane_sides(ct: Volume, plane: MidsagittalPlane) -> np.ndarray:
    """Signed distance (mm) of every voxel centre from the plane, ``(Z, Y, X)``."""
    idx = np.indices(ct.spatial_shape).reshape(3, -1).T.astype(float)
    side = (ct.index_to_world(idx) - np.asarray(plane.point_lps)) @ np.asarray(plane.normal_lps)
    return side.reshape(ct.spatial_shape)
