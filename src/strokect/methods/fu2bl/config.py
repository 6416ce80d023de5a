"""Configuration of ``fu2bl``: the paper's settings and ours where it gives none.

van Voorst H, Konduri PR, van Poppel LM, et al. Unsupervised deep learning for stroke lesion
segmentation on follow-up CT based on generative adversarial networks. AJNR Am J Neuroradiol
2022;43:1107-14. The paper's supplement (architecture, augmentations) is not available; the
values read from the authors' public code are listed in ``../shared/specs/METHODS.md``. Every
value marked "ours" is our choice, listed in ``docs/methods/fu2bl.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from strokect.config import bounded, check_bounds
from strokect.errors import InputError
from strokect.methods.base import MethodConfig

__all__ = [
    "HEMORRHAGE_GRID",
    "INFARCT_GRID",
    "SMOOTH_GRID",
    "THRESHOLD_GRID",
    "Fu2blCalibration",
    "Fu2blConfig",
]

#: The paper's threshold grid of the difference map: -0.2 to +0.3 in steps of 0.01 (0.5 HU).
THRESHOLD_GRID: tuple[float, ...] = tuple(round(-0.2 + 0.01 * i, 2) for i in range(51))
#: Its negative side (infarct: difference <= t) and positive side (hemorrhage: difference >= t).
INFARCT_GRID: tuple[float, ...] = tuple(t for t in THRESHOLD_GRID if t < 0)
HEMORRHAGE_GRID: tuple[float, ...] = tuple(t for t in THRESHOLD_GRID if t > 0)
#: Gaussian smoothing (sigma, mm) of the difference map tried by the calibration (ours; 0: none,
#: the paper).
SMOOTH_GRID: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)

GENERATORS = ("resnet", "unet")
LOSSES = ("l1+adv", "l1")


@dataclass
class Fu2blCalibration:
    """Difference-map thresholds chosen on validation cases by Dice (paper: grid -0.2 to +0.3,
    steps of 0.01), one for each side.

    Attributes
    ----------
    threshold_infarct : float
        A voxel is hypodense lesion where the difference map (scaled units, 0.01 = 0.5 HU) is
        ``<=`` this (negative).
    threshold_hemorrhage : float
        A voxel is hemorrhage where the difference map is ``>=`` this (positive).
    smooth_mm : float
        Gaussian sigma (mm) applied to the difference map on the input grid before the
        thresholds (ours; 0 = none, the paper), chosen with the infarct threshold.
    """

    threshold_infarct: float = bounded(-0.1, ge=-1.0, le=0.0)
    threshold_hemorrhage: float = bounded(0.2, ge=0.0, le=1.0)
    smooth_mm: float = bounded(0.0, ge=0.0)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class Fu2blConfig(MethodConfig):
    """Settings of ``fu2bl`` (paper values unless marked "ours").

    Training (paper)
    ----------------
    max_epochs, decay_start_epoch : int
        1000 epochs: the learning rate is constant for 500, then decays linearly to 0 at epoch
        1000.
    val_every_epochs : int
        10: "the validation set difference maps were computed every 10th training epoch"; the
        epoch kept is the one with the best validation Dice (``monitor``).
    lr : float
        2e-5 (Adam, betas ``(beta1, 0.999)``, beta1 = 0.5 in the authors' code).
    batch_size : int
        2 (one follow-up slice and its baseline slice per sample).
    slices_per_pair : int
        Random slices drawn from each pair per epoch (ours: the paper does not define its
        epoch; 1 = one slice per pair and epoch, the reduced CPU recipe's epoch).
    slice_range : (float, float)
        Slices are drawn between these percentiles of the slice range (paper: 10th and 95th).
    loss : str
        ``"l1+adv"`` (paper): ``l1_weight`` x L1(generated, real baseline) + binary
        cross-entropy of the discriminator; ``"l1"``: the paper's L1-only ablation.
    l1_weight : float
        100 (authors' code). Both losses are restricted to the head (follow-up 0-100 HU channel
        > -0.95, authors' code).
    generator : str
        ``"resnet"`` (authors' default: 2 strided convolutions, ``n_residual`` residual blocks,
        2 transposed convolutions, instance norm, dropout, tanh) or ``"unet"`` (their option;
        MONAI's UNet here).
    gen_filters, n_residual, gen_dropout : int, int, float
        64 base filters, 6 residual blocks (authors' code); dropout 0.5 in the residual blocks
        (ours: the code has dropout, its rate is not in the paper).
    disc_filters, disc_layers : int
        PatchGAN discriminator: 64 base filters, 3 strided layers (authors' code; MONAI's
        `PatchDiscriminator`). It sees the real or generated baseline only.

    Images
    ------
    pixel_mm, image_size : float, int
        In-plane pixel size and square slice size the networks see. Paper: the native 512x512
        slices (about 0.45 mm); the shipped CPU recipe uses 2 mm and 128 (stated in its card).
    slice_mm : float
        Slice thickness the networks see (ours: thinner scans are averaged to it, thicker ones
        interpolated, so one model serves any reconstruction; the paper used native slices).
    grid_tolerance : float
        An axis within this relative difference of its target spacing is not resampled (ours).
    normalize : str
        ``"median"`` (ours): each scan shifted so that the median HU of its brain lands on
        ``center_hu`` before clipping (removes scanner HU offsets that the difference map would
        otherwise show as lesion); ``"fixed"``: raw HU (paper).
    center_hu : float
        Ours.
    augment : bool
        Flips, rotation +-``rotate_deg``, zoom ``zoom`` (same for both scans); on the follow-up
        only: HU gain/offset, gamma, Gaussian noise, smoothing and beam-hardening-like streaks
        with probability ``streak_p`` (authors' code lists these; the ranges are ours except
        rotation 20 degrees, zoom 0.8-1.2, streaks p = 0.2).
    min_registration_ncc : float
        Training pairs whose registered baseline correlates less than this with the follow-up
        (`strokect.methods.fu2bl.preprocessing.registration_ncc`: -100..300 HU over the head)
        are left out, with a warning (ours; the paper inspected overlays by eye).
    registration_backend : str
        ``"sitk"`` (default) or ``"elastix"`` (paper; needs ``strokect[elastix]``).

    Inference
    ---------
    brain_filter : bool
        Detections outside the automatic brain mask are removed (paper).
    smooth_mm : float
        Fallback of `Fu2blCalibration.smooth_mm` for checkpoints without a calibration.
    precision : str
        ``"fp32"`` or ``"bf16"`` (autocast).
    threshold_* : float
        Fallback thresholds for checkpoints without a calibration.
    """

    max_epochs: int = bounded(1000, ge=1)
    decay_start_epoch: int = bounded(500, ge=0)
    val_every_epochs: int = bounded(10, ge=1)
    lr: float = bounded(2e-5, gt=0.0)
    beta1: float = bounded(0.5, ge=0.0, lt=1.0)
    batch_size: int = bounded(2, ge=1)
    slices_per_pair: int = bounded(1, ge=1)
    slice_range: tuple[float, float] = (0.10, 0.95)
    loss: str = "l1+adv"
    l1_weight: float = bounded(100.0, ge=0.0)
    generator: str = "resnet"
    gen_filters: int = bounded(64, ge=1)
    n_residual: int = bounded(6, ge=0)
    gen_dropout: float = bounded(0.5, ge=0.0, lt=1.0)
    disc_filters: int = bounded(64, ge=1)
    disc_layers: int = bounded(3, ge=1)
    pixel_mm: float = bounded(0.45, gt=0.0)
    image_size: int = bounded(512, ge=16)
    slice_mm: float = bounded(5.0, gt=0.0)
    grid_tolerance: float = bounded(0.05, ge=0.0, lt=1.0)
    normalize: str = "median"
    center_hu: float = 35.0
    augment: bool = True
    rotate_deg: float = bounded(20.0, ge=0.0)
    zoom: tuple[float, float] = (0.8, 1.2)
    gain: tuple[float, float] = (0.9, 1.1)
    offset_hu: tuple[float, float] = (-3.0, 3.0)
    gamma: tuple[float, float] = (0.8, 1.25)
    noise_sd_hu: tuple[float, float] = (0.0, 6.0)
    smooth_p: float = bounded(0.2, ge=0.0, le=1.0)
    streak_p: float = bounded(0.2, ge=0.0, le=1.0)
    min_registration_ncc: float = bounded(0.9, ge=-1.0, le=1.0)
    registration_backend: str = "sitk"
    brain_filter: bool = True
    smooth_mm: float = bounded(0.0, ge=0.0)
    precision: str = "fp32"
    predict_batch_size: int = bounded(4, ge=1)
    threshold_infarct: float = bounded(-0.1, ge=-1.0, le=0.0)
    threshold_hemorrhage: float = bounded(0.2, ge=0.0, le=1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in LOSSES:
            raise InputError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.generator not in GENERATORS:
            raise InputError(
                f"generator must be one of {', '.join(GENERATORS)}; got {self.generator!r}"
            )
        if self.normalize not in ("median", "fixed"):
            raise InputError(f"normalize must be 'median' or 'fixed'; got {self.normalize!r}")
        if self.precision not in ("fp32", "bf16"):
            raise InputError(f"precision must be 'fp32' or 'bf16'; got {self.precision!r}")
        if self.registration_backend not in ("sitk", "elastix"):
            raise InputError(
                f"registration_backend must be 'sitk' or 'elastix'; got {self.registration_backend!r}"
            )
        for name in ("slice_range", "zoom", "gain", "offset_hu", "gamma", "noise_sd_hu"):
            pair = tuple(float(v) for v in getattr(self, name))
            if len(pair) != 2 or pair[0] > pair[1]:
                raise InputError(f"{name} must be (low, high) with low <= high; got {pair}")
            setattr(self, name, pair)
        if not 0.0 <= self.slice_range[0] < self.slice_range[1] <= 1.0:
            raise InputError(f"slice_range must be within [0, 1]; got {self.slice_range}")
        if self.image_size % 4:
            raise InputError(f"image_size must be a multiple of 4; got {self.image_size}")
