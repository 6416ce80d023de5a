"""Quick-look PNG of preprocessing masks over a CT (for checking masks by eye)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from strokect.io.overlay import draw_overlay, new_figure, save_png
from strokect.io.volume import Volume
from strokect.preprocess.morphology import superior_axis_sign
from strokect.preprocess.symmetry import MidsagittalPlane

#: contour colours per mask name (anything else is drawn in white)
COLOURS = {"intracranial": "red", "brain": "orange", "csf": "deepskyblue"}


def save_mask_overlay(
    ct: Volume,
    masks: Mapping[str, Volume],
    path: str | Path,
    *,
    n_slices: int = 4,
    window_hu: tuple[float, float] = (0.0, 80.0),
    plane: MidsagittalPlane | None = None,
    title: str = "",
    dpi: int = 60,
) -> Path:
    """Write a row of axial slices (top of the head first) with mask contours.

    CSF is drawn as a translucent fill, other masks as contours; ``plane`` adds the mid-sagittal
    line. Slices are spread over the extent of the first mask (or of the whole volume). Pixels are
    shown with their true aspect ratio.
    """
    ref = next(iter(masks.values())).array > 0 if masks else np.ones(ct.spatial_shape, bool)
    zs = np.nonzero(ref.reshape(ref.shape[0], -1).any(axis=1))[0]
    zs = zs if zs.size else np.arange(ct.spatial_shape[0])
    picks = np.unique(np.linspace(zs.min(), zs.max(), n_slices + 2).round().astype(int)[1:-1])
    if superior_axis_sign(ct) > 0:
        picks = picks[::-1]
    aspect = ct.spacing_mm[1] / ct.spacing_mm[2]
    colors = {name: COLOURS.get(name, "white") for name in masks}
    fill = {name: 0.5 if name == "csf" else 0.0 for name in masks}  # CSF filled, others outlined
    fig = new_figure(2.6 * len(picks), 2.9)
    for ax, k in zip(fig.subplots(1, len(picks), squeeze=False)[0], picks):
        slice_masks = {name: mask.array[k] for name, mask in masks.items()}
        draw_overlay(ax, ct.array[k], slice_masks, window=window_hu, colors=colors,
                     fill_alpha=fill, linewidths=0.8, aspect=aspect)  # fmt: skip
        if plane is not None:
            _draw_plane(ax, ct, k, plane)
        ax.set_title(f"slice {k}", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return save_png(fig, path, dpi=dpi)


def _draw_plane(ax, ct: Volume, k: int, plane: MidsagittalPlane) -> None:
    """Trace of the plane on slice ``k``: points where (p - point) . normal = 0."""
    ny, nx = ct.spatial_shape[1:]
    jj, ii = np.mgrid[0:ny:4, 0:nx:4]
    idx = np.stack([np.full(jj.shape, k), jj, ii], -1).astype(float)
    side = (ct.index_to_world(idx) - np.asarray(plane.point_lps)) @ np.asarray(plane.normal_lps)
    ax.contour(ii, jj, side, levels=[0.0], colors="yellow", linewidths=0.6, linestyles="--")
