"""Rigid NCCT-to-NCCT registration (``fu2bl`` baseline / follow-up pairs).

van Voorst et al. (AJNR 2022) co-register each follow-up NCCT with its baseline NCCT using
elastix, the thinner-slice scan as moving image. strokect registers with SimpleITK by default
(6-parameter Euler transform, Mattes mutual information, multi-resolution) and with elastix through
itk-elastix (``pip install strokect[elastix]``) when ``backend="elastix"`` is asked for.

Convention (ITK's): the transform maps a point of the *fixed* image's world to the corresponding
point of the *moving* image's world (LPS mm); resampling the moving image through it puts it on the
fixed grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from strokect.errors import InputError
from strokect.io.checks import require_3d
from strokect.io.convert import volume_to_sitk
from strokect.io.volume import Volume
from strokect.preprocess.resample import resample_onto

log = logging.getLogger(__name__)

BACKENDS = ("sitk", "elastix")
METRICS = ("meansquares", "mattes")


@dataclass(frozen=True)
class RigidTransform:
    """A rigid map ``p_moving = matrix_lps @ [p_fixed, 1]`` (4x4, LPS mm) and how it was found."""

    matrix_lps: np.ndarray
    backend: str
    metric_value: float = float("nan")
    details: dict = field(default_factory=dict)

    def apply(self, points_lps: np.ndarray) -> np.ndarray:
        """Map fixed-world points ``(..., 3)`` to moving-world points."""
        pts = np.asarray(points_lps, dtype=float)
        return pts @ self.matrix_lps[:3, :3].T + self.matrix_lps[:3, 3]

    def to_sitk(self) -> sitk.AffineTransform:
        tx = sitk.AffineTransform(3)
        tx.SetMatrix(tuple(self.matrix_lps[:3, :3].ravel()))
        tx.SetTranslation(tuple(self.matrix_lps[:3, 3]))
        return tx


def _matrix_of(tx: sitk.Transform) -> np.ndarray:
    """4x4 matrix of a SimpleITK matrix-offset transform (Euler, affine...)."""
    tx = sitk.Euler3DTransform(tx) if tx.GetName() == "Euler3DTransform" else tx
    r = np.asarray(tx.GetMatrix()).reshape(3, 3)
    c = np.asarray(tx.GetCenter())
    t = np.asarray(tx.GetTranslation())
    out = np.eye(4)
    out[:3, :3] = r
    out[:3, 3] = c + t - r @ c
    return out


def _clipped(volume: Volume, window_hu, pixel_mm: float = 0.0) -> sitk.Image:
    """HU clipped to ``window_hu`` as float32, binned in-plane to about ``pixel_mm`` pixels."""
    image = volume_to_sitk(volume.with_array(np.clip(volume.array, *window_hu).astype(np.float32)))
    k = max(1, round(pixel_mm / max(volume.spacing_mm[1:]))) if pixel_mm > 0 else 1
    return sitk.BinShrink(image, [k, k, 1]) if k > 1 else image


def register_rigid(
    fixed: Volume,
    moving: Volume,
    *,
    backend: str = "sitk",
    metric: str = "meansquares",
    window_hu: tuple[float, float] = (-100.0, 300.0),
    pixel_mm: float = 1.5,
    shrink_factors: tuple[int, ...] = (4, 2, 1),
    sampling_fraction: float = 0.1,
    iterations: int = 200,
    seed: int = 1,
) -> RigidTransform:
    """Rigid (6 degrees of freedom) registration of two head CTs in HU.

    Both images are clipped to ``window_hu`` first (air, soft tissue and bone edges all count)
    and binned in-plane to pixels of about ``pixel_mm`` (the finest level; 0 keeps the native
    pixels).
    SimpleITK backend: centred by intensity moments; ``metric`` mean squares (default: both scans
    are NCCT in HU) or Mattes mutual information (50 bins), on a regular grid of
    ``sampling_fraction`` of the voxels jittered with the fixed ``seed`` (deterministic); regular-step
    gradient descent (steps in mm from physical-shift scales, 4 mm down to 0.01 mm) over a
    ``shrink_factors`` pyramid. ``backend="elastix"`` runs elastix's
    default rigid parameter map through itk-elastix.

    Returns
    -------
    RigidTransform
        Fixed-world -> moving-world map.
    """
    require_3d(fixed, name="fixed")
    require_3d(moving, name="moving")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    if seed < 1:
        raise ValueError(f"seed must be >= 1 (0 would mean a wall-clock seed); got {seed}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if backend == "elastix":
        return _register_elastix(fixed, moving, window_hu)
    f_img, m_img = _clipped(fixed, window_hu, pixel_mm), _clipped(moving, window_hu, pixel_mm)
    init = sitk.CenteredTransformInitializer(
        f_img, m_img, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    reg = sitk.ImageRegistrationMethod()
    if metric == "mattes":
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    else:
        reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.REGULAR)
    reg.SetMetricSamplingPercentage(sampling_fraction, seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=4.0, minStep=0.01, numberOfIterations=iterations, relaxationFactor=0.7
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    min_inplane = min(f_img.GetSize()[:2])
    levels = [f for f in shrink_factors if min_inplane // f >= 16] or [1]
    reg.SetShrinkFactorsPerLevel(levels)
    reg.SetSmoothingSigmasPerLevel([f / 2.0 if f > 1 else 0.0 for f in levels])
    reg.SetInitialTransform(init, inPlace=False)
    iters: list[int] = []
    reg.AddCommand(sitk.sitkMultiResolutionIterationEvent, lambda: iters.append(0))
    reg.AddCommand(sitk.sitkIterationEvent, lambda: iters.__setitem__(-1, iters[-1] + 1))
    result = reg.Execute(f_img, m_img)
    log.debug("rigid registration: %s", reg.GetOptimizerStopConditionDescription())
    tx = result.GetNthTransform(0) if result.GetName() == "CompositeTransform" else result
    return RigidTransform(
        matrix_lps=_matrix_of(tx),
        backend="sitk",
        metric_value=float(reg.GetMetricValue()),
        details={"iterations_per_level": iters, "levels": levels},
    )


def _register_elastix(fixed: Volume, moving: Volume, window_hu) -> RigidTransform:
    try:
        import itk
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise InputError(
            "backend 'elastix' needs itk-elastix: pip install 'strokect[elastix]'"
        ) from exc

    def to_itk(vol: Volume):
        image = itk.image_view_from_array(np.clip(vol.array, *window_hu).astype(np.float32))
        image.SetSpacing(tuple(float(s) for s in vol.spacing_mm[::-1]))
        image.SetOrigin(tuple(vol.origin))
        image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(vol.direction)))
        return image

    params = itk.ParameterObject.New()
    params.AddParameterMap(params.GetDefaultParameterMap("rigid"))
    _, result = itk.elastix_registration_method(
        to_itk(fixed), to_itk(moving), parameter_object=params, log_to_console=False
    )
    pmap = result.GetParameterMap(0)
    p = [float(v) for v in pmap["TransformParameters"]]
    centre = [float(v) for v in pmap["CenterOfRotationPoint"]]
    tx = sitk.Euler3DTransform()
    tx.SetCenter(centre)
    tx.SetComputeZYX(pmap.get("ComputeZYX", ("false",))[0] == "true")
    tx.SetRotation(p[0], p[1], p[2])
    tx.SetTranslation(p[3:6])
    return RigidTransform(matrix_lps=_matrix_of(tx), backend="elastix")


@dataclass
class RegisteredPair:
    """A baseline / follow-up pair on one grid (the thicker-slice scan's)."""

    baseline: Volume
    followup: Volume
    transform: RigidTransform
    moving: str
    masks: dict[str, Volume] = field(default_factory=dict)


def register_followup_to_baseline(
    baseline: Volume,
    followup: Volume,
    *,
    masks: dict[str, Volume] | None = None,
    backend: str = "sitk",
    **options,
) -> RegisteredPair:
    """Co-register a ``fu2bl`` pair; the thinner-slice scan moves (van Voorst et al., AJNR 2022).

    On equal slice thickness the follow-up moves. ``masks`` live on the moving scan's grid and are
    carried with nearest-neighbour interpolation.
    """
    moving_name = "baseline" if baseline.spacing_mm[0] < followup.spacing_mm[0] else "followup"
    fixed, moving = (followup, baseline) if moving_name == "baseline" else (baseline, followup)
    for name, mask in (masks or {}).items():
        if not mask.same_geometry(moving, atol_mm=1e-2):
            raise InputError(f"masks: '{name}' is not on the {moving_name} scan's grid")
    transform = register_rigid(fixed, moving, backend=backend, **options)
    moved = resample_onto(moving, fixed, transform, fill_value=-1024.0)
    carried = {
        name: resample_onto(mask, fixed, transform, interpolation="nearest", fill_value=0)
        for name, mask in (masks or {}).items()
    }
    pair = (moved, fixed) if moving_name == "baseline" else (fixed, moved)
    return RegisteredPair(pair[0], pair[1], transform, moving_name, carried)
