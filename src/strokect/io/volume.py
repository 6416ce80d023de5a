"""The `Volume`: an image array that carries its physical geometry.

Conventions (used everywhere in strokect)
-----------------------------------------
- ``array`` axes are ``(z, y, x)`` for 3D and ``(t, z, y, x)`` for 4D; ``x`` is the fastest
  varying index (a DICOM row), ``z`` the slice index.
- ``spacing_mm`` is the spatial voxel size in the same axis order ``(z, y, x)`` (3 numbers, also
  for 4D volumes; frame times live in ``time_s``).
- ``origin`` is the world position, in millimetres, of voxel ``(0, 0, 0)`` in the ITK/DICOM
  patient frame LPS, given as ``(x_world, y_world, z_world)``.
- ``direction`` is the ITK direction matrix: column ``j`` is the LPS unit vector along index
  axis ``j``, where index axes are ordered ``(x, y, z)`` = array axes ``(-1, -2, -3)``.
- ``time_s`` (4D only) holds one acquisition time per frame, in seconds.
- ``metadata`` is a small dict (modality, source, series description...). It never holds
  patient identifiers.

``source_header`` keeps the NIfTI header a volume was read from, so that a mask written for that
input reproduces its affine, qform/sform codes and pixdim exactly.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(eq=False)
class Volume:
    """A 3D or 4D image with its geometry. See the module docstring for conventions."""

    array: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    time_s: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source_header: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim not in (3, 4):
            raise ValueError(
                f"Volume array must be 3D (z, y, x) or 4D (t, z, y, x); got shape {self.array.shape}"
            )
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise ValueError(
                f"spacing_mm must be 3 positive numbers (z, y, x); got {self.spacing_mm}"
            )
        self.spacing_mm = spacing
        self.origin = tuple(float(o) for o in self.origin)
        if len(self.origin) != 3:
            raise ValueError(f"origin must have 3 coordinates; got {self.origin}")
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if self.array.ndim == 4:
            n = self.array.shape[0]
            if self.time_s is None:
                raise ValueError("a 4D volume needs time_s (one time per frame)")
            self.time_s = np.asarray(self.time_s, dtype=float).reshape(-1)
            if self.time_s.size != n:
                raise ValueError(f"time_s has {self.time_s.size} entries for {n} frames")
        elif self.time_s is not None:
            raise ValueError("time_s is only valid for 4D volumes")

    # ------------------------------------------------------------------ shape helpers
    @property
    def is_4d(self) -> bool:
        return self.array.ndim == 4

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.array.shape[-3:])  # type: ignore[return-value]

    @property
    def n_frames(self) -> int:
        return int(self.array.shape[0]) if self.is_4d else 1

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (1 mL = 1000 mm^3)."""
        return float(np.prod(self.spacing_mm)) / 1000.0

    # ------------------------------------------------------------------ geometry
    def affine_lps(self) -> np.ndarray:
        """4x4 matrix from index ``(x, y, z, 1)`` to LPS world millimetres."""
        aff = np.eye(4)
        aff[:3, :3] = self.direction * np.asarray(self.spacing_mm[::-1])[None, :]
        aff[:3, 3] = self.origin
        return aff

    def affine_ras(self) -> np.ndarray:
        """4x4 matrix from index ``(x, y, z, 1)`` to RAS world millimetres (NIfTI convention)."""
        return _LPS_TO_RAS @ self.affine_lps()

    def index_to_world(self, zyx: np.ndarray) -> np.ndarray:
        """Map array indices ``(..., 3)`` in ``(z, y, x)`` order to LPS world mm ``(..., 3)``."""
        zyx = np.asarray(zyx, dtype=float)
        xyz = zyx[..., ::-1]
        aff = self.affine_lps()
        return xyz @ aff[:3, :3].T + aff[:3, 3]

    def world_to_index(self, xyz_lps: np.ndarray) -> np.ndarray:
        """Map LPS world mm ``(..., 3)`` to fractional array indices ``(..., 3)`` in ``(z, y, x)``."""
        inv = np.linalg.inv(self.affine_lps())
        idx = np.asarray(xyz_lps, dtype=float) @ inv[:3, :3].T + inv[:3, 3]
        return idx[..., ::-1]

    def same_geometry(self, other: Volume, *, atol_mm: float = 1e-3) -> bool:
        """True when both volumes share spatial shape, spacing, origin and direction."""
        return (
            self.spatial_shape == other.spatial_shape
            and np.allclose(self.spacing_mm, other.spacing_mm, atol=atol_mm)
            and np.allclose(self.origin, other.origin, atol=atol_mm)
            and np.allclose(self.direction, other.direction, atol=1e-4)
        )

    def geometry_summary(self) -> str:
        sp = " x ".join(f"{s:.4g}" for s in self.spacing_mm)
        shape = " x ".join(str(s) for s in self.array.shape)
        return (
            f"shape {shape} (axes {'t,z,y,x' if self.is_4d else 'z,y,x'}), spacing {sp} mm (z,y,x)"
        )

    # ------------------------------------------------------------------ derivation
    def with_array(self, array: np.ndarray, **metadata: Any) -> Volume:
        """A new volume on the same grid (and same source header) holding ``array``.

        ``array`` may be 3D (spatial) or 4D; its spatial shape must equal this volume's. A 4D array
        keeps ``time_s`` when the frame count matches; a 3D array drops it.
        """
        array = np.asarray(array)
        if array.shape[-3:] != self.spatial_shape or array.ndim not in (3, 4):
            raise ValueError(
                f"array of shape {array.shape} does not fit the grid {self.spatial_shape}"
            )
        time_s = None
        if array.ndim == 4:
            if not self.is_4d or array.shape[0] != self.n_frames:
                raise ValueError("a 4D array needs a 4D source volume with the same frame count")
            time_s = self.time_s.copy()
        meta = {k: v for k, v in self.metadata.items() if k in ("source", "series_description")}
        meta.update(metadata)
        return Volume(
            array=array,
            spacing_mm=self.spacing_mm,
            origin=self.origin,
            direction=self.direction.copy(),
            time_s=time_s,
            metadata=meta,
            source_header=copy.deepcopy(self.source_header),
        )

    def frame(self, index: int) -> Volume:
        """One frame of a 4D volume as a 3D volume on the same grid."""
        if not self.is_4d:
            raise ValueError("frame() needs a 4D volume")
        return self.with_array(self.array[index], frame_time_s=float(self.time_s[index]))
