"""Mid-sagittal plane and symmetric ("mirrored") modalities of ``clerigues``.

Clèrigues A, Valverde S, Bernal J, et al. "Acute ischemic stroke lesion core segmentation in CT
perfusion images using fully convolutional neural networks." Comput Biol Med 2019, section 2.2:
flip every modality across the mid-sagittal plane, register the flipped CT to the original with a
rigid transform constrained to the axial plane (rotation about the superior-inferior axis and an
in-plane translation; the paper used FSL FLIRT), apply the same transform to every flipped map.

Geometry. Let ``M`` be the reflection across the plane through the image centre normal to the
index x axis (flipping the array's last axis) and ``T`` the registration result, mapping points of
the original to the flipped image. ``S = M o T`` then maps each point to its mirror point across
the head's own mid-sagittal plane (its fixed plane), and the symmetric modality is
``I_sym(p) = I(S(p))``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from strokect.errors import InputError
from strokect.io.checks import require_3d
from strokect.io.convert import volume_to_sitk
from strokect.io.volume import Volume

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MidsagittalPlane:
    """A mid-sagittal plane in LPS world millimetres.

    ``angle_deg`` is the yaw of the plane's normal from the image's x (left-right) index axis,
    counter-clockwise about LPS +z (superior), in (-90, 90]; ``offset_mm`` the signed distance
    of the plane from the image centre along ``normal_lps``.
    """

    angle_deg: float
    offset_mm: float
    normal_lps: tuple[float, float, float]
    point_lps: tuple[float, float, float]


@dataclass(frozen=True)
class SymmetryTransform:
    """The mirror map ``S(p) = matrix @ p + offset_lps`` (world mm) and its registration.

    ``glide_mm`` is the shift along the plane left after the reflection; ``cost`` the final mean
    squared HU difference of the projection and its mirror.
    """

    matrix: np.ndarray
    offset_lps: np.ndarray
    plane: MidsagittalPlane
    glide_mm: float
    cost: float


def _image_centre(ct: Volume) -> np.ndarray:
    return ct.index_to_world((np.asarray(ct.spatial_shape) - 1) / 2.0)


def _projection(ct: Volume, window_hu: tuple[float, float]) -> np.ndarray:
    """Axial mean of the HU clipped to ``window_hu``, shape (y, x), float32.

    Valid because the transform is constrained to the axial plane: a head symmetric across a
    plane containing the slice axis has an axial projection symmetric across that plane's trace.
    """
    return np.clip(ct.array, *window_hu).mean(axis=0, dtype=np.float32)


def _reflection_q(params, centre_q) -> tuple[np.ndarray, np.ndarray]:
    """In-plane mirror map ``q -> A q + b`` (mm, image axes x, y) from (angle_deg, d_mm, glide_mm).

    Reflection across the line with normal ``n = (cos a, sin a)`` at signed distance ``d`` from the
    image centre, followed by a glide of ``glide_mm`` along the line.
    """
    angle, d, glide = params
    a = np.radians(angle)
    n = np.array([np.cos(a), np.sin(a)])
    t = np.array([-np.sin(a), np.cos(a)])
    lin = np.eye(2) - 2.0 * np.outer(n, n)
    off = 2.0 * (n @ centre_q + d) * n + glide * t
    return lin, off


def _pose_guess(proj: np.ndarray, spacing_xy, centre_q, floor: float) -> np.ndarray:
    """(angle_deg, d_mm, 0) from the head's centroid and long axis in the projection."""
    head = proj > floor + 0.25 * (np.percentile(proj, 99) - floor)
    labels, n = ndi.label(head)
    if n == 0:
        raise InputError("ct: no head found to estimate a mid-sagittal plane")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    jy, ix = np.nonzero(labels == np.argmax(sizes))
    q = np.stack([ix * spacing_xy[0], jy * spacing_xy[1]], axis=1)
    centre = q.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov((q - centre).T))
    yaw = 0.0
    if evals[1] >= 1.05 * evals[0]:  # elongated: the long axis is antero-posterior
        major = evecs[:, 1]
        yaw = (np.arctan2(-major[0], major[1]) + np.pi / 2) % np.pi - np.pi / 2
        yaw = float(np.clip(yaw, -np.pi / 4, np.pi / 4))
    n_vec = np.array([np.cos(yaw), np.sin(yaw)])
    return np.array([np.degrees(yaw), (centre - centre_q) @ n_vec, 0.0])


def _cost(params, image, points_q, values, spacing_xy, centre_q, cval) -> float:
    lin, off = _reflection_q(params, centre_q)
    mirrored = points_q @ lin.T + off
    coords = np.stack([mirrored[:, 1] / spacing_xy[1], mirrored[:, 0] / spacing_xy[0]])
    sampled = ndi.map_coordinates(image, coords, order=1, cval=cval, prefilter=False)
    return float(np.mean((sampled - values) ** 2))


def register_flipped(
    ct: Volume,
    *,
    window_hu: tuple[float, float] = (-100.0, 300.0),
    pixel_mm: tuple[float, ...] = (4.0, 2.0, 1.0),
) -> SymmetryTransform:
    """Register the x-flipped CT to the CT: rotation about the slice axis + in-plane shift only.

    The rigid map ``T`` of Clèrigues et al. composed with the flip is a mirror map ``S`` (a
    reflection followed by a glide along its line), so ``S`` is parametrised directly by the
    plane's angle and offset and the glide (3 degrees of freedom, as ``T``). Because the map is
    constrained to the axial plane, the cost is evaluated on the axial mean projection of the HU
    clipped to ``window_hu``: mean squared difference ``mean (P(q) - P(S(q)))^2``, minimised with
    Powell's method over a pyramid of ``pixel_mm`` sample spacings (Gaussian-smoothed), started
    from the head's principal axes. Deterministic.

    Returns
    -------
    SymmetryTransform
        The mirror map ``S`` (3D, along the slice axis untouched) and the plane it fixes.
    """
    from scipy.optimize import minimize

    require_3d(ct, name="ct")
    proj = _projection(ct, window_hu)
    spacing_xy = (ct.spacing_mm[2], ct.spacing_mm[1])
    ny, nx = proj.shape
    centre_q = np.array([(nx - 1) * spacing_xy[0], (ny - 1) * spacing_xy[1]]) / 2.0
    params = _pose_guess(proj, spacing_xy, centre_q, float(window_hu[0]))
    cost = np.nan
    for level_mm in pixel_mm:
        step = [max(1, round(level_mm / s)) for s in spacing_xy]
        sigma = [(k - 1) / 2.0 for k in step[::-1]]
        image = ndi.gaussian_filter(proj, sigma) if max(sigma) > 0 else proj
        jy, ix = np.mgrid[0 : ny : step[1], 0 : nx : step[0]]
        points = np.stack([ix.ravel() * spacing_xy[0], jy.ravel() * spacing_xy[1]], axis=1)
        values = image[jy.ravel(), ix.ravel()]
        args = (image, points, values, spacing_xy, centre_q, float(window_hu[0]))
        res = minimize(
            _cost,
            params,
            args=args,
            method="Powell",
            options={"xtol": 1e-3, "ftol": 1e-6, "maxfev": 600},
        )
        params, cost = res.x, float(res.fun)
        log.debug("symmetry level %.1f mm: params %s cost %.3f", level_mm, params, cost)
    return _to_symmetry(ct, params, centre_q, cost)


def _to_symmetry(ct: Volume, params, centre_q, cost: float) -> SymmetryTransform:
    """World (LPS) mirror map and plane from the image-frame parameters."""
    lin2, off2 = _reflection_q(params, centre_q)
    q_lin, q_off = np.eye(3), np.zeros(3)
    q_lin[:2, :2], q_off[:2] = lin2, off2
    d = ct.direction / np.linalg.norm(ct.direction, axis=0, keepdims=True)
    d_inv = np.linalg.inv(d)
    o = np.asarray(ct.origin)
    s_lin = d @ q_lin @ d_inv
    s_off = o - s_lin @ o + d @ q_off
    a = np.radians(params[0])
    normal = d @ np.array([np.cos(a), np.sin(a), 0.0])
    normal /= np.linalg.norm(normal)
    centre_w = _image_centre(ct)
    point = centre_w + params[1] * normal
    up = d[:, 2] * (1.0 if d[2, 2] >= 0 else -1.0)
    u = d[:, 0]
    angle = np.degrees(np.arctan2(np.cross(u, normal) @ up, u @ normal))
    plane = MidsagittalPlane(
        angle_deg=float(angle),
        offset_mm=float(params[1]),
        normal_lps=tuple(float(v) for v in normal),
        point_lps=tuple(float(v) for v in point),
    )
    return SymmetryTransform(
        matrix=s_lin, offset_lps=s_off, plane=plane, glide_mm=float(params[2]), cost=cost
    )


def estimate_midsagittal_plane(ct: Volume, **options) -> MidsagittalPlane:
    """Mid-sagittal plane of a head CT (angle and offset), via `register_flipped`."""
    return register_flipped(ct, **options).plane


def mirror(volume: Volume, symmetry: SymmetryTransform, *, interpolation: str = "linear") -> Volume:
    """The symmetric modality ``I(S(p))`` of ``volume`` on its own grid.

    ``interpolation`` is ``"linear"`` for images and ``"nearest"`` for masks; voxels whose mirror
    falls outside the image get the image minimum.
    """
    require_3d(volume, name="volume")
    interp = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor}
    if interpolation not in interp:
        raise ValueError(f"interpolation must be 'linear' or 'nearest'; got {interpolation!r}")
    affine = sitk.AffineTransform(3)
    affine.SetMatrix(tuple(np.asarray(symmetry.matrix, dtype=float).ravel()))
    affine.SetTranslation(tuple(float(v) for v in symmetry.offset_lps))
    image = volume_to_sitk(volume)
    out = sitk.Resample(
        image,
        image,
        affine,
        interp[interpolation],
        float(np.min(volume.array)),
        image.GetPixelID(),
    )
    return volume.with_array(sitk.GetArrayFromImage(out), symmetric=True)


def symmetric_modalities(
    ct: Volume, maps: dict[str, Volume] | None = None, **options
) -> tuple[dict[str, Volume], SymmetryTransform]:
    """Mirrored copies of the CT and of every map with one shared transform (Clèrigues 2019).

    Returns ``({"ct": ct_sym, name: map_sym, ...}, symmetry)``; every output is on its input's
    grid. Maps must share the CT grid.
    """
    symmetry = register_flipped(ct, **options)
    out = {"ct": mirror(ct, symmetry)}
    for name, vol in (maps or {}).items():
        if not vol.same_geometry(ct, atol_mm=1e-2):
            raise InputError(f"maps: '{name}' is not on the CT grid")
        out[name] = mirror(vol, symmetry)
    return out, symmetry
