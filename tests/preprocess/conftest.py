"""An analytic head for the preprocessing tests (used until/besides `strokect.phantom`).

Skull = ellipsoid shell (1000 HU) with a foramen magnum, brain 35 HU, two lateral ventricles
5 HU, scalp, and a neck with a bony spinal canal below the skull. The head can be rotated by a
known yaw about the superior-inferior axis and shifted, so its mid-sagittal plane is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from strokect.io import Volume

SKULL_MM = np.array([72.0, 92.0, 72.0])  # outer semi-axes (x, y, z) in the head frame
SKULL_THICK_MM = 7.0


def _ellipsoid_depth(p, centre, semi):
    """Approximate signed depth in mm inside an ellipsoid (> 0 inside)."""
    r = np.sqrt(sum(((p[i] - centre[i]) / semi[i]) ** 2 for i in range(3)))
    return (1.0 - r) * float(np.min(semi))


def _occ(depth, ramp_mm):
    return np.clip(0.5 + depth / ramp_mm, 0.0, 1.0)


#: asymmetric blobs (centre x, y, z mm; radius mm; HU) giving a registration something to lock on
LANDMARKS = (
    ((-30.0, -40.0, 20.0), 10.0, 70.0),
    ((25.0, 30.0, -10.0), 12.0, 10.0),
    ((40.0, -10.0, 35.0), 8.0, 80.0),
    ((-20.0, 45.0, -30.0), 9.0, 60.0),
    ((5.0, -55.0, -20.0), 11.0, 15.0),
)


def head_world(p, ramp_mm, landmarks=False):
    """HU and truth masks at head-frame points ``p = (x, y, z)`` in mm (LPS-like axes)."""
    x, y, z = p
    inner = SKULL_MM - SKULL_THICK_MM
    d_outer = _ellipsoid_depth(p, (0, 0, 0), SKULL_MM)
    d_inner = _ellipsoid_depth(p, (0, 0, 0), inner)
    d_scalp = _ellipsoid_depth(p, (0, 0, 0), SKULL_MM + 5.0)
    rho = np.hypot(x, y - 10.0)
    neck = (z < -40.0) * _occ(45.0 - np.hypot(x, y), ramp_mm)
    canal_bone = (z < -55.0) * _occ(17.0 - rho, ramp_mm) * _occ(rho - 9.0, ramp_mm)
    foramen = (z < -40.0) * _occ(16.0 - rho, ramp_mm)
    skull = _occ(d_outer, ramp_mm) * (1 - _occ(d_inner, ramp_mm)) * (1 - foramen)
    vent = sum(
        _occ(_ellipsoid_depth(p, (sx * 11.0, -5.0, 12.0), np.array([6.0, 24.0, 12.0])), ramp_mm)
        for sx in (-1, 1)
    )
    soft = np.maximum(_occ(d_scalp, ramp_mm), neck)
    brain = _occ(d_inner, ramp_mm)
    hu = -1000.0 + soft * 1040.0  # scalp / neck 40 HU
    hu = hu + brain * (35.0 - 40.0) * (1 - 0) + vent * (5.0 - 35.0)
    if landmarks:
        for centre, radius, value in LANDMARKS:
            blob = _occ(_ellipsoid_depth(p, centre, np.full(3, radius)), ramp_mm)
            hu = hu + blob * (value - hu)
    hu = np.where(skull > 0, hu + skull * (1000.0 - hu), hu)
    hu = hu + canal_bone * (700.0 - hu)
    truth = {"intracranial": d_inner > 0, "csf": vent > 0.5, "brain": d_inner > 0}
    return hu, truth


def make_head(
    shape=(38, 80, 80),
    spacing_mm=(5.0, 2.5, 2.5),
    *,
    yaw_deg=0.0,
    shift_mm=(0.0, 0.0, 0.0),
    top_down=False,
    noise_hu=3.0,
    seed=0,
    rigid=None,
    landmarks=False,
):
    """A head CT `Volume` plus truth masks; the head centre sits at world ``shift_mm``.

    ``rigid`` (4x4, LPS mm) moves the whole head: the anatomy found at world ``p`` without it
    lies at ``rigid @ p`` with it.
    """
    nz, ny, nx = shape
    dz, dy, dx = spacing_mm
    direction = np.diag([1.0, 1.0, -1.0 if top_down else 1.0])
    z_first = (nz - 1) / 2 * dz * (1 if top_down else -1) - 15.0
    origin = (-(nx - 1) / 2 * dx, -(ny - 1) / 2 * dy, z_first)
    vol = Volume(np.zeros(shape, np.float32), spacing_mm, origin=origin, direction=direction)
    zz, yy, xx = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    world = vol.index_to_world(np.stack([zz, yy, xx], -1).astype(float))
    if rigid is not None:
        inv = np.linalg.inv(rigid)
        world = world @ inv[:3, :3].T + inv[:3, 3]
    rel = world - np.asarray(shift_mm)
    t = np.deg2rad(yaw_deg)
    # head frame = world rotated back by the yaw about z
    hx = np.cos(t) * rel[..., 0] + np.sin(t) * rel[..., 1]
    hy = -np.sin(t) * rel[..., 0] + np.cos(t) * rel[..., 1]
    hu, truth = head_world((hx, hy, rel[..., 2]), ramp_mm=min(dx, dy), landmarks=landmarks)
    rng = np.random.default_rng(seed)
    hu = hu + rng.normal(0.0, noise_hu, hu.shape)
    ct = vol.with_array(hu.astype(np.float32))
    masks = {k: vol.with_array(v.astype(np.uint8)) for k, v in truth.items()}
    return ct, masks


def dice(a, b):
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    return 2 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


@pytest.fixture(scope="module")
def head():
    return make_head()
