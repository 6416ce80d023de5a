"""Face, orbits, paranasal sinuses and skull base of the phantom head (phantom version 2).

Real head CT puts air, fat and dense bone right under the brain: the orbits (fat around a
water-like globe) under the anterior cranial fossa behind a 2-3 mm roof, the ethmoid air cells
between them, the sphenoid sinus under the sella, the maxillary sinuses under the orbits, the
frontal sinus in the frontal bone, the petrous ridges between the middle and posterior fossae
with the middle ear and the mastoid air cells beside the temporal lobe, and an optic canal from
each orbit into the cavity. Version 1 of the phantom had none of these, so intracranial and brain
masks were never tested against them.

Shapes are deterministic (no random draws: the random streams of version 1 are untouched) and
scale with the subject's cavity half-axes. Coordinates are head-frame mm (x = patient left,
y = posterior, z = superior) of a standard head with cavity half-axes (66, 84, 68) mm; every air
or fat structure keeps at least `MIN_WALL_MM` of bone between itself and the cavity, except the
optic canal, which opens into it as in life.
"""

from __future__ import annotations

import numpy as np

from strokect.phantom.fields import segment_distance

STANDARD_HALF_AXES_MM = (66.0, 84.0, 68.0)
MIN_WALL_MM = 1.5
#: vitreous humour is water-like: the subject's CSF value plus this (HU)
VITREOUS_ABOVE_CSF_HU = 6.0
SIDES = (-1.0, 1.0)  # patient right, left (x = patient left)


class _Frame:
    """Coordinates of a box of the head grid, in real mm and in standard-head mm."""

    def __init__(self, grid, params, box):
        z, y, x = grid.axes_mm()
        self.box = box
        self.Z, self.Y, self.X = (
            z[box[0]][:, None, None],
            y[box[1]][None, :, None],
            x[box[2]][None, None, :],
        )
        ax, ay, az = params["cavity_half_axes_mm"]
        sx, sy, sz = STANDARD_HALF_AXES_MM
        self.k = np.array([ax / sx, ay / sy, az / sz])
        self.Xs, self.Ys, self.Zs = self.X / self.k[0], self.Y / self.k[1], self.Z / self.k[2]

    def ellipsoid(self, c, a) -> np.ndarray:
        return (
            ((self.Xs - c[0]) / a[0]) ** 2
            + ((self.Ys - c[1]) / a[1]) ** 2
            + ((self.Zs - c[2]) / a[2]) ** 2
        ) < 1.0

    def box_mask(self, lo, hi) -> np.ndarray:
        return (
            (self.Xs >= lo[0])
            & (self.Xs <= hi[0])
            & (self.Ys >= lo[1])
            & (self.Ys <= hi[1])
            & (self.Zs >= lo[2])
            & (self.Zs <= hi[2])
        )

    def rod(self, p0, p1, radius_mm) -> np.ndarray:
        """Voxels within ``radius_mm`` (real mm) of the standard-head segment ``p0``-``p1``
        (evaluated in the segment's bounding box only)."""
        p0, p1 = np.asarray(p0) * self.k, np.asarray(p1) * self.k
        lo, hi = np.minimum(p0, p1) - radius_mm, np.maximum(p0, p1) + radius_mm
        idx = [
            np.flatnonzero((c.ravel() >= lo[i]) & (c.ravel() <= hi[i]))
            for i, c in enumerate((self.X, self.Y, self.Z))
        ]
        out = np.zeros((self.Z.size, self.Y.size, self.X.size), bool)
        if not all(i.size for i in idx):
            return out
        ix, iy, iz = (slice(i[0], i[-1] + 1) for i in idx)
        sub = np.broadcast_arrays(self.X[:, :, ix], self.Y[:, iy, :], self.Z[iz, :, :])
        out[iz, iy, ix] = segment_distance(np.stack(sub, axis=-1), p0, p1) <= radius_mm
        return out


def petrous_ridges(grid, params) -> np.ndarray:
    """Head-grid mask of the petrous ridges (removed from the cavity before the brain is built).

    Each ridge runs from the petrous apex beside the clivus, (+-16, -2, -44), to the lateral end
    over the mastoid, (+-54, 20, -38), and falls away on both sides (a tent ~ 25 mm wide at its
    base) into the middle fossa in front and the posterior fossa behind.
    """
    f = _Frame(grid, params, (slice(None),) * 3)
    ridge = np.zeros(grid.shape, bool)
    for s in SIDES:
        p0, p1 = np.array([s * 16.0, -2.0, -44.0]), np.array([s * 54.0, 20.0, -38.0])
        d = p1[:2] - p0[:2]
        t = np.clip(((f.Xs - p0[0]) * d[0] + (f.Ys - p0[1]) * d[1]) / (d @ d), 0.0, 1.0)
        dxy = np.hypot(f.Xs - (p0[0] + t * d[0]), f.Ys - (p0[1] + t * d[1]))
        top = p0[2] + t * (p1[2] - p0[2]) - dxy**2 / 8.0
        ridge |= (dxy < 14.0) & (f.Zs < top)
    return ridge


def paint_face(tissue, bone_depth, grid, cavity, d_out, params, codes) -> None:
    """Paint the face, orbits, sinuses, mastoids and middle ears into ``tissue`` (in place).

    ``codes`` maps "AIR", "SOFT", "FAT", "BONE" and "EYE" to the internal tissue codes.
    Face bone gets ``bone_depth`` 0 (cortical table HU: thin walls are all cortex).
    """
    z, y, _ = grid.axes_mm()
    box = (
        slice(0, int(np.searchsorted(z, -2.0))),
        slice(0, int(np.searchsorted(y, 45.0))),
        slice(None),
    )
    f = _Frame(grid, params, box)
    t, bd, cav = tissue[box], bone_depth[box], cavity[box]
    free = ~cav & (d_out[box] > MIN_WALL_MM)  # room for air/fat with a bone wall to the cavity
    AIR, SOFT, FAT, BONE, EYE = (codes[k] for k in ("AIR", "SOFT", "FAT", "BONE", "EYE"))

    def paint(where, code):
        t[where] = code
        if code == BONE:
            bd[where] = 0.0

    # soft tissue of the face below the forehead, then the zygomatic arches and hard palate
    paint(f.ellipsoid((0, -48, -62), (58, 55, 42)) & (f.Zs < -18) & (t == AIR), SOFT)
    for s in SIDES:
        paint(f.rod((s * 46, -60, -50), (s * 58, -8, -50), 3.5) & ~cav, BONE)
    paint(f.box_mask((-30, -95, -93), (30, -40, -89)) & ~cav, BONE)

    orbits = [((s * 30, -66, -44), (16, 22, 16)) for s in SIDES]
    maxillary = [((s * 27, -62, -77), (13, 17, 13)) for s in SIDES]
    sphenoid = ((0, -22, -46), (15, 13, 16))
    ethmoid = ((-11, -84, -56), (11, -42, -29))
    nasal = ((-12, -100, -88), (12, -45, -57))
    mastoids = [((s * 46, 24, -52), (8, 12, 11)) for s in SIDES]

    # bone walls first (2 mm; 1.5 mm round the air-cell boxes), then the contents inside them
    walls = np.zeros(t.shape, bool)
    for c, a in [*orbits, *maxillary, sphenoid, *mastoids]:
        walls |= f.ellipsoid(c, np.add(a, 2.0))
    for lo, hi in (ethmoid, nasal):
        walls |= f.box_mask(np.subtract(lo, 1.5), np.add(hi, 1.5))
    walls &= f.Ys > -80  # the orbital and nasal apertures open to the face
    paint(walls & ~cav, BONE)
    for c, a in mastoids:  # soft tissue over the mastoid process
        paint(f.ellipsoid(c, np.add(a, 5.0)) & (t == AIR), SOFT)

    for (c, a), s in zip(orbits, SIDES):
        paint(f.ellipsoid(c, a) & free, FAT)
        paint(f.ellipsoid((s * 30, -80, -44), (11.5, 11.5, 11.5)) & ~cav, EYE)
        for p0, p1 in (
            ((s * 18, -78, -44), (s * 22, -48, -40)),  # medial rectus
            ((s * 42, -78, -44), (s * 36, -48, -42)),  # lateral rectus
            ((s * 30, -78, -32), (s * 26, -48, -33)),  # superior rectus
        ):
            paint(f.rod(p0, p1, 2.5) & f.ellipsoid(c, a) & free, SOFT)
        # optic nerve from the globe through the optic canal into the cavity
        paint(f.rod((s * 28, -70, -43), (s * 14, -40, -33), 2.2) & free, SOFT)
        paint(f.rod((s * 14, -40, -33), (s * 11, -30, -26), 2.2) & ~cav, SOFT)

    ethmoid_air = f.box_mask(*ethmoid) & free
    paint(ethmoid_air, AIR)
    septa = (np.mod(f.Xs + 0.5, 7.0) < 1.0) | (np.mod(f.Ys, 7.0) < 1.0) | (np.mod(f.Zs, 7.0) < 1.0)
    paint(ethmoid_air & septa, BONE)
    paint(f.box_mask(*nasal) & free, AIR)
    paint(f.box_mask((-1, -100, -88), (1, -45, -57)) & ~cav, BONE)  # nasal septum
    for s in SIDES:
        for zc in (-66.0, -79.0):  # turbinates
            paint(f.rod((s * 9, -92, zc), (s * 9, -50, zc), 3.0) & f.box_mask(*nasal), SOFT)
    for c, a in maxillary:
        paint(f.ellipsoid(c, a) & free, AIR)
    paint(f.ellipsoid(*sphenoid) & free, AIR)
    paint(f.ellipsoid(*sphenoid) & (np.abs(f.Xs) < 0.8) & ~cav, BONE)  # intersinus septum

    # frontal sinus: a bulge of the frontal bone with an air space, 2 mm off the cavity
    frontal = ((0, -89, -10), (24, 9, 14))
    paint(f.ellipsoid(frontal[0], (29, 14, 19)) & (t == AIR), SOFT)
    paint(f.ellipsoid(*frontal) & ~cav, BONE)
    paint(f.ellipsoid((0, -90, -10), (18, 4.5, 10)) & ~cav & (d_out[box] > 2.0), AIR)

    # mastoid air cells (a 5 mm honeycomb) and the middle ear in the petrous bone
    for (c, a), s in zip(mastoids, SIDES):
        cells = f.ellipsoid(c, a) & ~cav & (d_out[box] > 2.0)
        honeycomb = (
            (np.mod(f.Xs, 5.0) < 1.0) | (np.mod(f.Ys, 5.0) < 1.0) | (np.mod(f.Zs, 5.0) < 1.0)
        )
        paint(cells & ~honeycomb, AIR)
        paint(f.ellipsoid((s * 40, 6, -50), (4.5, 4.5, 4.5)) & free, AIR)
