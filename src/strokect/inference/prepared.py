"""`Prepared`: one case turned into network input by a method's ``prepare`` step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strokect.io.volume import Volume

__all__ = ["Prepared"]


@dataclass
class Prepared:
    """A case ready for prediction, with what is needed to turn predictions into outputs.

    Like a TorchIO ``Subject`` it keeps the history of the steps applied, so the provenance of
    every output can say how its input was made.

    Attributes
    ----------
    image : ndarray, shape (C, Z, Y, X), float32
        Network input channels, in ``channels`` order.
    grid : Volume
        A 3D volume on the output grid: every output is written with its geometry (and its source
        NIfTI header, so a mask reproduces the input's affine exactly). Only its geometry is used.
    channels : list of str
        Channel names (e.g. ``["ct", "cbf", "ct_sym", "cbf_sym"]``).
    roi : ndarray (Z, Y, X) of bool, or None
        Region of interest (e.g. the brain). Outputs outside it are not used: slices without any
        ROI voxel are not predicted (their outputs are 0). None: everywhere.
    history : list of dict
        Steps applied, in order: ``{"step": name, **parameters}``.
    data : dict
        Method-specific arrays `Method.finalize` needs besides the prediction (e.g. the CT in HU).
    label : ndarray of uint8, or None
        Reference mask when known (training, calibration, held-out tests), on `target`.
    case_id : str or None
    output_grid : Volume or None
        The grid the outputs are written on when the network works on another grid (e.g. a
        method that reslices to 5 mm predicts on ``grid`` and `Method.finalize` resamples its
        outputs back onto the input's grid, given here). None: ``grid``.
    output_roi : ndarray of bool, or None
        ``roi`` on ``output_grid`` (only with ``output_grid``).
    """

    image: np.ndarray
    grid: Volume
    channels: list[str]
    roi: np.ndarray | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    label: np.ndarray | None = None
    case_id: str | None = None
    output_grid: Volume | None = None
    output_roi: np.ndarray | None = None

    @property
    def target(self) -> Volume:
        """The grid of the outputs (and of ``label``): ``output_grid``, else ``grid``."""
        return self.grid if self.output_grid is None else self.output_grid

    @property
    def target_roi(self) -> np.ndarray | None:
        """The region of interest on `target`."""
        return self.roi if self.output_grid is None else self.output_roi

    def __post_init__(self) -> None:
        if self.image.ndim != 4 or self.image.shape[1:] != self.grid.spatial_shape:
            raise ValueError(
                f"prepared image must be (C, Z, Y, X) on the grid {self.grid.spatial_shape}; "
                f"got {self.image.shape}"
            )
        if len(self.channels) != self.image.shape[0]:
            raise ValueError(
                f"{len(self.channels)} channel names for {self.image.shape[0]} image channels"
            )
        if self.output_grid is None and self.output_roi is not None:
            raise ValueError("prepared output_roi needs an output_grid")
        for name in ("roi", "label", "output_roi"):
            arr = getattr(self, name)
            grid = self.grid if name == "roi" else self.target
            if arr is not None and arr.shape != grid.spatial_shape:
                raise ValueError(f"prepared {name} shape {arr.shape} is not {grid.spatial_shape}")
