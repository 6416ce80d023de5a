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


def _head_index(points_world: np.ndarray, head_grid: HeadGrid, inv_pose: np.ndarray) -> np.ndarray:
    """Fractional head-grid indices ``(..., 3)`` in (z, y, x) order of world points ``(..., 3)``."""
    head = points_world @ inv_pose[:3, :3].T + inv_pose[:3, 3]
    idx = (head - np.asarray(head_grid.origin_head)) / np.asarray(head_grid.spacing_mm[::-1])
    return idx[..., ::-1]


def target_block(grid: Grid, head_grid: HeadGrid, pose: np.ndarray, head_box: tuple) -> tuple:
    """Index box ``(z0, z1, y0, y1, x0, x1)`` of ``grid`` covering the head-grid index box
    ``head_box = (z0, z1, y0, y1, x0, x1)`` (half-open), padded by one voxel."""
    corners_head = np.array(
        [[z, y, x] for z in head_box[0:2] for y in head_box[2:4] for x in head_box[4:6]], float
    )
    spacing_xyz = np.asarray(head_grid.spacing_mm[::-1])
    head_xyz = corners_head[:, ::-1] * spacing_xyz + np.asarray(head_grid.origin_head)
    world = head_xyz @ pose[:3, :3].T + pose[:3, 3]
    idx = (world - np.asarray(grid.origin_lps)) / np.asarray(grid.spacing_mm[::-1])
    lo = np.floor(idx.min(axis=0))[::-1].astype(int) - 1
    hi = np.ceil(idx.max(axis=0))[::-1].astype(int) + 2
    box = []
    for a in range(3):
        box += [int(np.clip(lo[a], 0, grid.shape[a])), int(np.clip(hi[a], 0, grid.shape[a]))]
    return tuple(box)


def resample_to_grid(
    field: np.ndarray,
    head_grid: HeadGrid,
    pose: np.ndarray,
    grid: Grid,
    *,
    order: int,
    slice_thickness_mm: float | None = None,
    cval: float = 0.0,
    block: tuple | None = None,
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
    cval
        Value outside the head grid.
    block
        Only fill this index box ``(z0, z1, y0, y1, x0, x1)`` of ``grid``; the rest is ``cval``.

    Returns
    -------
    ndarray, shape ``grid.shape``, float64 for ``order=1``, the field's dtype for ``order=0``.
    """
    out = np.full(grid.shape, cval, dtype=field.dtype if order == 0 else np.float64)
    z0, z1, y0, y1, x0, x1 = (
        block if block is not None else (0, grid.shape[0], 0, grid.shape[1], 0, grid.shape[2])
    )
    if z0 >= z1 or y0 >= y1 or x0 >= x1:
        return out
    inv = np.linalg.inv(pose)
    size = 1
    if slice_thickness_mm is not None:
        size = max(1, round(slice_thickness_mm / head_grid.spacing_mm[0]))
    # crop the head grid to what the block can reach (+ the thick-slice filter support)
    corners = np.array(
        [
            grid.world_of_slice(k)[[y0, y0, y1 - 1, y1 - 1], [x0, x1 - 1, x0, x1 - 1]]
            for k in (z0, z1 - 1)
        ]
    ).reshape(-1, 3)
    cidx = _head_index(corners, head_grid, inv)
    pad = np.array([size // 2 + 2, 2, 2])
    lo = np.clip(np.floor(cidx.min(axis=0)).astype(int) - pad, 0, head_grid.shape)
    hi = np.clip(np.ceil(cidx.max(axis=0)).astype(int) + pad + 1, 0, head_grid.shape)
    if np.any(hi <= lo):
        return out
    sub = field[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    if order == 1 and sub.dtype != np.float32:
        sub = sub.astype(np.float32)
    if size > 1:
        sub = ndimage.uniform_filter1d(sub, size, axis=0)
    # affine: target index (x, y, z, 1) -> head-grid index (x, y, z)
    to_world = np.eye(4)
    to_world[:3, :3] = np.diag(grid.spacing_mm[::-1])
    to_world[:3, 3] = grid.origin_lps
    to_head = np.eye(4)
    to_head[:3, :3] = np.diag(1.0 / np.asarray(head_grid.spacing_mm[::-1]))
    to_head[:3, 3] = -np.asarray(head_grid.origin_head) / np.asarray(head_grid.spacing_mm[::-1])
    aff = (to_head @ inv @ to_world)[:3]
    ii, jj = np.arange(x0, x1, dtype=float), np.arange(y0, y1, dtype=float)
    coords = np.empty((3, y1 - y0, x1 - x0))
    for k in range(z0, z1):
        for a, axis in enumerate((2, 1, 0)):  # coords in (z, y, x) order of the head grid
            row = aff[axis]
            coords[a] = row[0] * ii[None, :] + row[1] * jj[:, None] + (row[2] * k + row[3] - lo[a])
        out[k, y0:y1, x0:x1] = ndimage.map_coordinates(
            sub, coords, order=order, mode="constant", cval=cval, prefilter=False
        )
    return out
