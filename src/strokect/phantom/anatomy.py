"""Procedural head anatomy on the head-frame grid (no data files).

The head is built from an intracranial cavity (a deformed, slightly asymmetric ellipsoid with a
skull-base floor), distance transforms for the skull (varying thickness, diploe between two
cortical tables, a foramen magnum), scalp and subcutaneous fat, a subarachnoid CSF layer, a
cortical grey-matter ribbon folded by random sulci, the interhemispheric and Sylvian fissures,
lateral/third/fourth ventricles, deep grey nuclei (caudate, lentiform, thalamus), cerebellum,
brainstem, the main arteries and the superior sagittal sinus. Arterial territories (ACA, MCA, PCA
per hemisphere) are stored for lesion placement.

Phantom versions (`PHANTOM_VERSIONS`; the version is recorded in every case's metadata):

1. the head above: no face, orbits, sinuses or petrous bone;
2. (default) version 1 plus the face, orbits, paranasal sinuses, petrous ridges, middle ears and
   mastoid air cells of `strokect.phantom.skullbase`. The random draws are those of version 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokect.phantom import skullbase
from strokect.phantom.fields import segment_distance, separable_cubic, smooth_field
from strokect.phantom.geometry import HeadGrid

# internal tissue codes on the head grid
AIR, GM, WM, CSF, DEEP_GM, CEREBELLUM, ARTERY, BONE, SOFT, FAT, BRAINSTEM, VEIN, EYE = range(13)
#: internal code -> public label (0 outside, 1 GM, 2 WM, 3 CSF, 6 vessel, 7 skull/other)
PUBLIC_LABEL = np.array([0, 1, 2, 3, 1, 1, 6, 7, 7, 7, 2, 6, 7], dtype=np.uint8)
PARENCHYMA = (GM, WM, DEEP_GM, CEREBELLUM, BRAINSTEM)
#: territory codes (L = patient left = +x)
TERRITORIES = {"ACA_L": 1, "ACA_R": 2, "MCA_L": 3, "MCA_R": 4, "PCA_L": 5, "PCA_R": 6}
HALF_EXTENT_MM = (88.0, 108.0, 95.0)
COARSE_EDT_MM = 2.0  # head grid covers +- these (x, y, z)
#: phantom versions `synth` can produce; `PHANTOM_VERSION` is the default
PHANTOM_VERSIONS = (1, 2)
PHANTOM_VERSION = 2


def sample_subject(rng: np.random.Generator) -> dict:
    """Draw the per-subject anatomical parameters (mm unless stated)."""
    scale = rng.uniform(0.92, 1.06)
    return {
        "cavity_half_axes_mm": [
            66.0 * scale * rng.uniform(0.96, 1.04),
            84.0 * scale * rng.uniform(0.96, 1.04),
            68.0 * scale * rng.uniform(0.96, 1.04),
        ],
        "ventricle_asymmetry": rng.uniform(-0.15, 0.15),
        "midline_bend_mm": rng.uniform(-0.5, 0.5),
        "skull_thickness_mm": rng.uniform(5.0, 7.5),
        "scalp_thickness_mm": rng.uniform(4.0, 7.0),
        "fat_thickness_mm": rng.uniform(1.0, 2.5),
        "subarachnoid_csf_mm": rng.uniform(0.8, 3.0),
        "ventricle_scale": rng.uniform(0.8, 1.5),
        "cortex_thickness_mm": rng.uniform(2.4, 3.2),
        "foramen_magnum_radius_mm": rng.uniform(14.0, 17.0),
    }


@dataclass
class Anatomy:
    """Head-frame anatomy: internal tissue codes, intensity texture, territories."""

    grid: HeadGrid
    tissue: np.ndarray  # uint8 internal codes
    texture: np.ndarray  # float32, unit-free smooth field in [-~3, ~3]
    territory: np.ndarray  # uint8 territory codes, 0 outside parenchyma
    bone_depth: np.ndarray  # float32 in [0, 1]: 0/1 at the tables, 0.5 mid diploe; 0 elsewhere
    cavity: np.ndarray  # bool, the intracranial cavity (above the foramen magnum)
    params: dict


def build_anatomy(
    rng: np.random.Generator,
    params: dict,
    *,
    spacing_mm: tuple[float, float, float],
    extra_arteries: list[tuple[list[float], list[float], float]] = (),
    version: int = PHANTOM_VERSION,
) -> Anatomy:
    """Build the head of ``params`` (from `sample_subject`) on a head grid of ``spacing_mm``.

    ``extra_arteries`` lists ``(p0_head_mm, p1_head_mm, radius_mm)`` segments to add (the AIF
    vessel is placed this way by the case builder). ``version`` is one of `PHANTOM_VERSIONS`.
    """
    check_version(version)
    grid = HeadGrid.covering(half_extent_mm=HALF_EXTENT_MM, spacing_mm=spacing_mm)
    z, y, x = grid.axes_mm()
    Z, Y, X = z[:, None, None], y[None, :, None], x[None, None, :]
    ax, ay, az = params["cavity_half_axes_mm"]
    # midline: a gentle bend with the head-frame plane x = 0 as its best-fit plane
    mid = params["midline_bend_mm"] * np.cos(np.pi * Y / ay) * np.sin(np.pi * z / az)[:, None, None]

    # ---- cavity: ellipsoid with a wobble and a skull-base floor (left/right differ through the
    # wobble, sulci, ventricles and vessels; the outline has no systematic tilt or shift)
    wobble = _mirror_even(smooth_field(rng, grid, wavelength_mm=70.0))
    r = np.sqrt(((X - mid) / ax) ** 2 + (Y / ay) ** 2 + (Z / az) ** 2) + 0.02 * wobble
    sig = 1.0 / (1.0 + np.exp(-(Y - 5.0) / 10.0))
    temporal = np.exp(-((np.abs(X) - 0.6 * ax) ** 2) / 200.0 - (Y + 5.0) ** 2 / 500.0)
    floor = -az * (0.38 + 0.6 * sig + 0.25 * temporal)
    cavity = (r < 1.0) & (Z > floor)
    if version >= 2:
        cavity &= ~skullbase.petrous_ridges(grid, params)
    d_in, d_out = _distances(cavity, grid.spacing_mm)

    tissue = np.zeros(grid.shape, np.uint8)
    bone_depth = _extracranial(tissue, rng, grid, cavity, d_out, (X, Y, Z), floor, params)
    if version >= 2:
        paint_face(tissue, bone_depth, grid, cavity, d_out, params)
    brain = _cortex(tissue, rng, grid, cavity, d_in, wobble, params)
    _fissures(tissue, brain, X, Y, Z, mid, ax, ay, az)
    _posterior_fossa(tissue, brain, rng, grid, X, Y, Z, mid, ax, ay, az)
    _deep_structures(tissue, X, Y, Z, mid, params["ventricle_scale"], params["ventricle_asymmetry"])
    _vessels(tissue, grid, cavity, d_in, X, Y, Z, mid, az, extra_arteries)

    texture = smooth_field(rng, grid, wavelength_mm=10.0)
    territory = _territories(tissue, rng, grid, X, Y, Z, mid, ax, ay, az)
    return Anatomy(grid, tissue, texture, territory, bone_depth, cavity, params)


def check_version(version: int) -> None:
    if version not in PHANTOM_VERSIONS:
        raise ValueError(f"phantom version must be one of {PHANTOM_VERSIONS}; got {version!r}")


def paint_face(tissue, bone_depth, grid, cavity, d_out, params) -> None:
    """Face, orbits, sinuses, mastoids of phantom version 2 (`strokect.phantom.skullbase`)."""
    codes = {"AIR": AIR, "SOFT": SOFT, "FAT": FAT, "BONE": BONE, "EYE": EYE}
    skullbase.paint_face(tissue, bone_depth, grid, cavity, d_out, params, codes)


def _extracranial(tissue, rng, grid, cavity, d_out, XYZ, floor, params) -> np.ndarray:
    """Skull (tables + diploe, foramen magnum), scalp, fat, neck, vertebral ring, spinal canal.

    Paints ``tissue`` in place and returns the bone depth map (0/1 at the tables, 0.5 mid diploe).
    """
    X, Y, Z = XYZ
    ax, ay, az = params["cavity_half_axes_mm"]
    thick = params["skull_thickness_mm"] * (
        1.0 + 0.22 * _mirror_even(smooth_field(rng, grid, wavelength_mm=60))
    )
    thick = thick + 1.5 * np.clip(Y / ay, 0, 1)  # thicker occiput
    thick = np.clip(thick, 2.5, 12.0)
    fm = params["foramen_magnum_radius_mm"]
    foramen = ((X / fm) ** 2 + ((Y - 12.0) / (1.2 * fm)) ** 2 < 1.0) & (Z < -0.5 * az)
    bone = (~cavity) & (d_out <= thick) & ~foramen
    temporalis = (
        6.0
        * np.exp(-(((Z - 0.05 * az) / (0.35 * az)) ** 2))
        * np.clip((np.abs(X) / ax - 0.6) / 0.4, 0, 1)
    )
    temporalis = temporalis * (Y < 0.3 * ay)
    scalp_outer = thick + params["scalp_thickness_mm"] + temporalis
    head = (~cavity) & (d_out <= scalp_outer)
    neck = ((X / (0.8 * ax)) ** 2 + ((Y - 10.0) / (0.65 * ay)) ** 2 < 1.0) & (Z < floor - 5.0)
    tissue[head | neck] = SOFT
    fat_lo = thick + 1.5 + temporalis
    fat = (
        head
        & (d_out > fat_lo)
        & (d_out <= np.minimum(fat_lo + params["fat_thickness_mm"], scalp_outer - 1.5))
    )
    tissue[fat] = FAT
    tissue[bone] = BONE
    bone_depth = np.where(bone, np.clip(d_out / thick, 0, 1), 0).astype(np.float32)
    # spinal canal below the foramen magnum, enclosed by a vertebral ring (C1/C2)
    canal_r = np.sqrt((X / fm) ** 2 + ((Y - 12.0) / (1.2 * fm)) ** 2)
    vertebra = ~cavity & ~bone & (Z < -0.5 * az) & (canal_r >= 1.0) & (canal_r < 1.0 + 7.0 / fm)
    tissue[vertebra] = BONE
    ring_depth = np.clip((canal_r - 1.0) * fm / 7.0, 0, 1).astype(np.float32)
    bone_depth = np.where(vertebra, ring_depth, bone_depth)
    cord = foramen & ~cavity & ((X / 6.0) ** 2 + ((Y - 12.0) / 7.0) ** 2 < 1.0)
    tissue[foramen & ~cavity] = CSF
    tissue[cord] = BRAINSTEM

    return bone_depth


def _cortex(tissue, rng, grid, cavity, d_in, wobble, params) -> np.ndarray:
    """CSF shell, white matter, cortical ribbon and sulci inside the cavity; returns the brain."""
    csf_th = params["subarachnoid_csf_mm"] * (1.0 + 0.3 * smooth_field(rng, grid, wavelength_mm=50))
    brain = cavity & (d_in > csf_th)
    depth = d_in - csf_th
    tissue[cavity] = CSF
    sulc = smooth_field(rng, grid, wavelength_mm=24.0)
    sulcus = brain & (np.abs(sulc) < 0.09) & (depth < 14.0 + 4.0 * wobble)
    gm_band = 0.09 + 0.13 * params["cortex_thickness_mm"]
    cortex = brain & (
        (depth < params["cortex_thickness_mm"]) | ((np.abs(sulc) < gm_band) & (depth < 17.0))
    )
    tissue[brain] = WM
    tissue[cortex] = GM
    tissue[sulcus] = CSF
    return brain


def _mirror_even(field: np.ndarray) -> np.ndarray:
    """Left-right symmetric part of a head-grid field (the grid is symmetric about x = 0)."""
    even = 0.5 * (field + field[:, :, ::-1])
    return even / (even.std() + 1e-12)


def _distances(cavity: np.ndarray, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """Distance (mm) inside and outside the cavity, by an EDT on a ~2 mm subsampled grid.

    The subsampled distances are interpolated back (cubic); near the surface they are exact to
    about half a coarse voxel, which is all the shell-thickness rules need.
    """
    step = [max(1, round(COARSE_EDT_MM / s)) for s in spacing_mm]
    coarse = cavity[:: step[0], :: step[1], :: step[2]]
    coarse_spacing = [s * k for s, k in zip(spacing_mm, step)]
    axes = [np.arange(n) / k for n, k in zip(cavity.shape, step)]
    inside = ndimage.distance_transform_edt(coarse, sampling=coarse_spacing).astype(np.float32)
    outside = ndimage.distance_transform_edt(~coarse, sampling=coarse_spacing).astype(np.float32)
    # one interpolation serves both signs (round-to-nearest is symmetric under negation)
    signed = separable_cubic(inside - outside, axes)
    d_in = np.maximum(signed, 0.0)
    d_out = np.maximum(-signed, 0.0)
    return np.where(cavity, d_in, 0.0).astype(np.float32), np.where(cavity, 0.0, d_out).astype(
        np.float32
    )


def _fissures(tissue, brain, X, Y, Z, mid, ax, ay, az) -> None:
    dx = np.abs(X - mid)
    deep = (Z > 0.25 * az) | (np.abs(Y + 0.05 * ay) > 0.5 * ay)
    tissue[brain & deep & (dx < 4.0) & (tissue != CSF)] = GM
    tissue[brain & deep & (dx < 0.7)] = CSF
    # Sylvian fissure: a transverse cleft from the lateral surface to the insula (z -18..14 mm)
    band = (Z > -0.27 * az) & (Z < 0.2 * az)
    lateral = (dx > 0.5 * ax) & band
    cleft = np.abs(Y - (-0.06 * ay - 0.4 * (dx - 0.53 * ax)))
    insula = (np.abs(dx - 0.52 * ax) < 2.5) & (Y > -0.3 * ay) & (Y < 0.14 * ay) & band
    tissue[brain & ((lateral & (cleft < 4.5)) | insula) & (tissue != CSF)] = GM
    tissue[brain & lateral & (cleft < 1.0)] = CSF


def _posterior_fossa(tissue, brain, rng, grid, X, Y, Z, mid, ax, ay, az) -> None:
    tent = -0.2 * az - 0.25 * np.abs(X - mid) - 0.15 * np.clip(Y, 0, None)
    fossa = brain & (Z < tent) & (Y > 0.05 * ay)
    folia = smooth_field(rng, grid, wavelength_mm=9.0)
    cb = fossa & (tissue != CSF)
    tissue[cb] = CEREBELLUM
    core = cb & (((X - mid) / (0.35 * ax)) ** 2 + ((Y - 0.55 * ay) / (0.2 * ay)) ** 2 < 1.0)
    tissue[core & (folia > 0.3)] = WM
    tissue[cb & (np.abs(folia) < 0.06)] = CSF
    stem = (
        brain & (((X - mid) / 11.0) ** 2 + ((Y - 0.17 * ay) / 13.0) ** 2 < 1.0) & (Z < -0.05 * az)
    )
    tissue[stem] = BRAINSTEM
    v4 = (((X - mid) / 6.0) ** 2 + ((Y - 0.38 * ay) / 5.0) ** 2 + ((Z + 0.55 * az) / 7.0) ** 2) < 1
    tissue[v4 & brain] = CSF


def _ellipsoid(X, Y, Z, c, a) -> np.ndarray:
    return ((X - c[0]) / a[0]) ** 2 + ((Y - c[1]) / a[1]) ** 2 + ((Z - c[2]) / a[2]) ** 2 < 1.0


def _paint_ellipsoid(tissue, where, value, Xm, Y, Z, c, a) -> None:
    """``tissue[where & ellipsoid(c, a)] = value``, evaluated in the ellipsoid's bounding box.

    ``Xm`` (nz or 1, ny, nx) is x relative to the midline, ``Y`` (1, ny, 1), ``Z`` (nz, 1, 1).
    """
    zs = np.flatnonzero(np.abs(Z[:, 0, 0] - c[2]) < a[2])
    ys = np.flatnonzero(np.abs(Y[0, :, 0] - c[1]) < a[1])
    xs = np.flatnonzero((np.abs(Xm - c[0]) < a[0]).any(axis=(0, 1)))
    if not (zs.size and ys.size and xs.size):
        return
    sl = (slice(zs[0], zs[-1] + 1), slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
    xm = Xm[sl] if Xm.shape[0] > 1 else Xm[:, sl[1], sl[2]]
    inside = _ellipsoid(xm, Y[:, sl[1]], Z[sl[0]], c, a) & where[sl]
    tissue[sl][inside] = value


def _deep_structures(tissue, X, Y, Z, mid, vscale, vasym) -> None:
    brain = np.isin(tissue, PARENCHYMA)
    Xm = X - mid
    for s in (-1.0, 1.0):
        for c, a in (
            ((13.0, -18.0, 12.0), (5.0, 9.0, 7.0)),  # caudate head
            ((22.0, -4.0, 1.0), (5.5, 13.0, 8.0)),  # lentiform nucleus
            ((9.0, 12.0, 4.0), (8.0, 12.0, 8.0)),  # thalamus
        ):
            _paint_ellipsoid(tissue, brain, DEEP_GM, Xm, Y, Z, (s * c[0], c[1], c[2]), a)
        v = vscale * (1.0 + vasym * s)
        for c, a in (
            ((7.0 * v, -8.0, 16.0), (4.5 * v, 26.0, 5.5 * v)),  # body + frontal horn
            ((16.0 * v, 26.0, 9.0), (5.0 * v, 10.0, 7.0 * v)),  # atrium / occipital horn
            ((27.0, 2.0, -14.0), (2.5 * v, 11.0, 3.0 * v)),  # temporal horn
        ):
            _paint_ellipsoid(tissue, brain, CSF, Xm, Y, Z, (s * c[0], c[1], c[2]), a)
    third = (np.abs(Xm) < 1.2 * vscale) & (Y > -12.0) & (Y < 14.0) & (Z > -12.0) & (Z < 9.0)
    tissue[brain & third] = CSF


def _vessels(tissue, grid, cavity, d_in, X, Y, Z, mid, az, extra) -> None:
    segments = []
    for s in (-1.0, 1.0):
        segments += [
            ((s * 14, -8, -0.8 * az), (s * 14, -8, -0.2 * az), 2.2),  # ICA
            ((s * 4, -8, -0.2 * az), (s * 30, -6, -0.12 * az), 1.5),  # MCA M1
            ((s * 31, -5, -0.12 * az), (s * 37, 2, 0.35 * az), 1.1),  # MCA M2 (insula)
            ((s * 2, -10, -0.2 * az), (s * 2, -32, 0.35 * az), 1.1),  # ACA
            ((s * 6, 12, -0.25 * az), (s * 24, 45, -0.1 * az), 1.1),  # PCA
        ]
    segments.append(((0, 12, -0.9 * az), (0, 12, -0.22 * az), 1.6))  # basilar
    segments += [tuple(e) for e in extra]
    z, y, x = grid.axes_mm()
    for p0, p1, radius in segments:
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        lo, hi = np.minimum(p0, p1) - radius - 1, np.maximum(p0, p1) + radius + 1
        ix = np.flatnonzero((x >= lo[0]) & (x <= hi[0]))
        iy = np.flatnonzero((y >= lo[1]) & (y <= hi[1]))
        iz = np.flatnonzero((z >= lo[2]) & (z <= hi[2]))
        if not (ix.size and iy.size and iz.size):
            continue
        pts = np.stack(np.meshgrid(x[ix], y[iy], z[iz], indexing="ij"), -1).transpose(2, 1, 0, 3)
        inside = segment_distance(pts, p0, p1) <= radius
        sub = tissue[iz[0] : iz[-1] + 1, iy[0] : iy[-1] + 1, ix[0] : ix[-1] + 1]
        sub[inside & cavity[iz[0] : iz[-1] + 1, iy[0] : iy[-1] + 1, ix[0] : ix[-1] + 1]] = ARTERY
    sss = cavity & (d_in < 5.0) & (np.abs(X - mid) < 5.0 - d_in) & ((Z > 0.0) | (Y > 0.6 * 84))
    tissue[sss] = VEIN


def _territories(tissue, rng, grid, X, Y, Z, mid, ax, ay, az) -> np.ndarray:
    brain = np.isin(tissue, PARENCHYMA)
    jitter = smooth_field(rng, grid, wavelength_mm=40.0)
    left = (X - mid) >= 0
    dx = np.abs(X - mid)
    pca = ((Y > 0.42 * ay + 8 * jitter) & (Z < 0.5 * az)) | (tissue == CEREBELLUM)
    pca |= (tissue == BRAINSTEM) | (_ellipsoid(dx, Y, Z, (9.0, 12.0, 4.0), (8.0, 12.0, 8.0)))
    aca = ~pca & (dx < 0.3 * ax + 5 * jitter) & (Y < 0.45 * ay) & (Z > -0.05 * az)
    out = np.zeros(grid.shape, np.uint8)
    for name, region in (("ACA", aca), ("PCA", pca), ("MCA", ~aca & ~pca)):
        out[brain & region & left] = TERRITORIES[f"{name}_L"]
        out[brain & region & ~left] = TERRITORIES[f"{name}_R"]
    return out
