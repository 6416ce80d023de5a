"""Head frame, head pose, rigid misalignment and resampling of head-frame fields into scanner grids.

Conventions
-----------
- World coordinates are LPS millimetres (x = patient Left, y = Posterior, z = Superior), as in
  `strokect.io.Volume`. Every phantom grid has an identity ``direction`` (axial slices).
- The **head frame** is the anatomy's own frame: origin at the centre of the intracranial cavity,
  axes parallel to LPS when the head is straight; the mid-sagittal plane of the template is
  ``x_head = 0`` (the two hemispheres differ slightly, so this plane is the template's plane of
  symmetry, not of the noisy image).
- A **pose** is a 4x4 matrix ``H`` mapping head-frame points to world points:
  ``p_world = H @ [q_head, 1]``.
- The acute pose (CTP slab, acute NCCT and the baseline NCCT) is
  ``H_acute = T(centre_lps) @ Rz(yaw_deg)``; positive ``yaw_deg`` turns the nose (head ``-y``)
  towards the patient's left (world ``+x``), i.e. ``Rz`` is the right-handed rotation about LPS
  ``+z`` (superior), ``[[c, -s, 0], [s, c, 0], [0, 0, 1]]``.
- The rigid misalignment ``M`` maps a baseline world point to the world point where the same
  anatomy lies in the follow-up: ``p_followup = M @ p_baseline`` and ``H_followup = M @ H_acute``.
  ``M = T(centre + t) @ Rz(gamma) @ Ry(beta) @ Rx(alpha) @ T(-centre)`` with ``centre`` the head
  centre in baseline world coordinates, ``(alpha, beta, gamma)`` in degrees about LPS x, y, z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def rot_x(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def rot_z(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def homogeneous(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 matrix ``[R t; 0 1]``."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def head_pose(*, centre_lps: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Head-frame -> world 4x4 matrix for a head centred at ``centre_lps`` turned by ``yaw_deg``."""
    return homogeneous(rot_z(yaw_deg), np.asarray(centre_lps, float))


def rigid_matrix(
    *, angles_deg: tuple[float, float, float], translation_mm: np.ndarray, centre_lps: np.ndarray
) -> np.ndarray:
    """Baseline-world -> follow-up-world 4x4 matrix (see module docstring)."""
    alpha, beta, gamma = angles_deg
    rot = rot_z(gamma) @ rot_y(beta) @ rot_x(alpha)
    centre = np.asarray(centre_lps, float)
    return homogeneous(rot, centre + np.asarray(translation_mm, float) - rot @ centre)


@dataclass(frozen=True)
class Grid:
    """An axial scanner grid with identity direction: shape ``(z, y, x)``, spacing and origin.

    ``origin_lps`` is the world position (x, y, z) of voxel (0, 0, 0).
    """

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_lps: tuple[float, float, float]

    @classmethod
    def centred(
        cls,
        *,
        shape: tuple[int, int, int],
        spacing_mm: tuple[float, float, float],
        centre_lps: tuple[float, float, float],
    ) -> Grid:
        """A grid whose centre voxel position is ``centre_lps``."""
        sz, sy, sx = spacing_mm
        nz, ny, nx = shape
        cx, cy, cz = centre_lps
        origin = (cx - (nx - 1) / 2 * sx, cy - (ny - 1) / 2 * sy, cz - (nz - 1) / 2 * sz)
        return cls(tuple(shape), tuple(float(s) for s in spacing_mm), origin)

    def world_of_slice(self, k: int) -> np.ndarray:
        """World LPS coordinates ``(ny, nx, 3)`` of the voxel centres of slice ``k``."""
        _, ny, nx = self.shape
        sz, sy, sx = self.spacing_mm
        ox, oy, oz = self.origin_lps
        xs = ox + sx * np.arange(nx)
        ys = oy + sy * np.arange(ny)
        out = np.empty((ny, nx, 3))
        out[..., 0] = xs[None, :]
        out[..., 1] = ys[:, None]
        out[..., 2] = oz + sz * k
        return out

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing_mm)) / 1000.0


@dataclass(frozen=True)
class HeadGrid:
    """The head-frame grid holding the anatomy: shape ``(z, y, x)``, spacing, head-frame origin."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_head: tuple[float, float, float]

    @classmethod
    def covering(
        cls, *, half_extent_mm: tuple[float, float, float], spacing_mm: tuple[float, float, float]
    ) -> HeadGrid:
        """Grid centred on the head origin covering ``+-half_extent_mm`` in (x, y, z)."""
        hx, hy, hz = half_extent_mm
        sz, sy, sx = spacing_mm
        shape = tuple(int(np.ceil(2 * h / s)) + 1 for h, s in ((hz, sz), (hy, sy), (hx, sx)))
        origin = (
            -(shape[2] - 1) / 2 * sx,
            -(shape[1] - 1) / 2 * sy,
            -(shape[0] - 1) / 2 * sz,
        )
        return cls(shape, tuple(float(s) for s in spacing_mm), origin)

    def axes_mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Head-frame coordinates of the voxel centres along z, y, x (1D arrays)."""
        (nz, ny, nx), (sz, sy, sx), (ox, oy, oz) = self.shape, self.spacing_mm, self.origin_head
        return oz + sz * np.arange(nz), oy + sy * np.arange(ny), ox + sx * np.arange(nx)


def resample_to_grid(
    field: np.ndarray,
    head_grid: HeadGrid,
    pose: np.ndarray,
    grid: Grid,
    *,
    order: int,
    slice_thickness_mm: float | None = None,
    cval: float = 0.0,
) -> np.ndarray:
    """Sample a head-frame ``field`` at the voxel centres of a scanner ``grid``.

    Parameters
    ----------
    field : ndarray, shape ``head_grid.shape``
        Values on the head-frame grid.
    pose : ndarray (4, 4)
        Head-frame -> world matrix of this acquisition.
    order
        0 (nearest, for labels) or 1 (linear, for intensities and fractions).
    slice_thickness_mm
        When given, ``field`` is first averaged over this length along head z (a box filter), which
        models the partial-volume averaging of a thick axial slice (exact when the slice plane is
        the head's axial plane, a close approximation for the small tilts used here).

    Returns
    -------
    ndarray, shape ``grid.shape``, float64 for ``order=1``, the field's dtype for ``order=0``.
    """
    if slice_thickness_mm is not None:
        size = round(slice_thickness_mm / head_grid.spacing_mm[0])
        if size > 1:
            field = ndimage.uniform_filter1d(np.asarray(field, np.float64), size, axis=0)
    inv = np.linalg.inv(pose)
    scale = 1.0 / np.asarray(head_grid.spacing_mm[::-1])  # x, y, z
    origin = np.asarray(head_grid.origin_head)
    out = np.empty(grid.shape, dtype=field.dtype if order == 0 else np.float64)
    for k in range(grid.shape[0]):
        world = grid.world_of_slice(k)
        head = world @ inv[:3, :3].T + inv[:3, 3]
        idx = (head - origin) * scale  # (ny, nx, 3) in x, y, z order
        coords = np.stack([idx[..., 2], idx[..., 1], idx[..., 0]])
        out[k] = ndimage.map_coordinates(
            field, coords, order=order, mode="constant", cval=cval, prefilter=False
        )
    return out
