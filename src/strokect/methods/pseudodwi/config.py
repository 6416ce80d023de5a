"""Configuration of ``pseudodwi``: the paper's settings and ours where it gives none.

Wang G, Song T, Dong Q, Cui M, Huang N, Zhang S. Automatic ischemic stroke lesion segmentation
from computed tomography perfusion images by image synthesis and attention-based deep neural
networks. Medical Image Analysis 65 (2020) 101787. No code was published; every value marked
"ours" is our choice, listed in ``docs/methods/pseudodwi.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from strokect.config import bounded, check_bounds
from strokect.errors import InputError
from strokect.methods.base import MethodConfig

__all__ = [
    "MAP_ROLES",
    "SCHEDULES",
    "SEGMENT_FROM",
    "THRESHOLD_GRID",
    "PseudoDwiCalibration",
    "PseudoDwiConfig",
]

#: The perfusion maps F_o, in channel order.
MAP_ROLES = ("cbf", "cbv", "mtt", "tmax")
#: ``end_to_end`` (paper, Sec. 3.4) or ``sequential`` (the paper's DWI^{o,l,h}(s) variant: Phi_e,
#: then Phi_g, then SLNet, each trained with the earlier ones frozen).
SCHEDULES = ("end_to_end", "sequential")
#: What SLNet segments: the pseudo-DWI (paper) or the perfusion maps directly (the paper's
#: baseline "segmentation from F_o", an ablation; no synthesis network then).
SEGMENT_FROM = ("pseudo_dwi", "maps")
UPSAMPLE = ("deconv", "nontrainable")
#: Probability thresholds tried by the calibration (ours; the paper thresholds at 0.5).
THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))


@dataclass
class PseudoDwiCalibration:
    """Post-processing chosen on the cross-validation predictions.

    Attributes
    ----------
    threshold : float
        A voxel is lesion where the mean lesion probability of the ensemble is ``>=`` this
        (paper: the arg-max of the two classes, i.e. 0.5).
    min_size_ml : float
        Face-connected lesion components smaller than this are removed (ours; 0 =
        none, the paper).
    """

    threshold: float = bounded(0.5, gt=0.0, lt=1.0)
    min_size_ml: float = bounded(0.0, ge=0.0)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class PseudoDwiConfig(MethodConfig):
    """Settings of ``pseudodwi`` (paper values unless marked "ours").

    Training (paper, Sec. 4.1)
    --------------------------
    max_epochs : int
        300.
    lr, lr_decay_epoch, lr_decay : float, int, float
        RMSprop, learning rate 2e-3, multiplied by 0.2 after epoch 180.
    batch_size : int
        5 slices.
    alpha, beta, gamma : float
        L = L_s + alpha L_g(I_g, I_d) + beta L_g(F_h, I_d) (Eq. 15), L_g = pixel + gamma context
        (Eq. 6): 1, 1, 1.2.
    w, d_mm : float
        Attention map A (Eq. 9): weight 1.5 inside the lesion, 0.5 + sigmoid(-d / D) outside
        with D = 50; the paper does not give the unit of the distance d: mm here.
    schedule : str
        ``"end_to_end"`` (paper) or ``"sequential"`` (the paper's stage-wise variant); the
        stages of the latter split the epochs after the context pre-training in three equal
        parts (ours).
    context_pretrain_epochs : int
        Ours: the contextual encoder Phi_c is first trained for this many epochs as the encoder
        of a DWI autoencoder (its decoder rebuilds a 32x32 average-pooled DWI from the 16
        features), then frozen. Trained jointly, as the paper says, Phi_c can map every image
        to one constant and zero the contextual term. The lesion networks are not trained
        during these epochs.
    context_lr : float
        Adam learning rate of the autoencoder pre-training (ours).
    base_filters : int
        Width of every UNet (Phi_e, Phi_g: MONAI ``BasicUNet`` with features (f, f, 2f, 4f,
        8f, f); SLNet: f * 2^level on 5 levels). Paper: 64 (about 31-34 M parameters for
        SLNet); the shipped CPU recipe is narrower (stated in its card).
    upsample : str
        Upsampling in the decoders of Phi_e and Phi_g (MONAI ``BasicUNet``): ``"deconv"``
        (2x2 stride-2 transposed convolution, the UNet of the paper) or ``"nontrainable"``
        (ours: bilinear interpolation after a 1x1 convolution, which avoids the period-2
        checkerboard that transposed convolutions draw into the pseudo-DWI).
    context_width : int
        Filters of the first layer of Phi_c (ours; the paper's Fig. 4 is not legible here).
    slnet_norm, slnet_se : str, bool
        SLNet's normalization (``"switch"``, paper; ``"batch"``, ``"instance"`` for the
        ablations) and the squeeze-and-excitation blocks after each encoder block (paper).
    use_extractor : bool
        The feature extractor Phi_e and its F_h (paper); False: the generator sees the maps
        and F_l only (the paper's DWI^{o,l} ablation).
    segment_from : str
        ``"pseudo_dwi"`` (paper) or ``"maps"`` (ablation: SLNet on the perfusion maps F_o).
    augment : bool
        Ours (the paper gives none): left-right flip (p = 0.5) and a random in-plane shift of
        the training crop.
    train_size : int
        Side of the square training crop in network pixels (ours), centred on the brain with a
        random shift of up to ``train_shift`` pixels; a multiple of 16.

    Inputs
    ------
    k, c_e : int
        Perfusion window rule K = 5 and C_e = 6 frames (Sec. 3.1, `strokect.perfusion.temporal`).
    pixel_mm : float or None
        In-plane pixel size the networks see (None: the input's own, the paper); the shipped
        CPU recipe uses 2 mm (stated in its card).
    smoothing_sigma_mm : float
        In-plane smoothing of the deconvolution when ``segment`` computes missing maps from the
        4D CTP (`strokect.perfusion.PerfusionConfig`; CSF and vessels are kept in the maps as
        vendor software shows them). Ours: the middle of the phantom's 1-3 mm range.

    Inference
    ---------
    predict_batch_size : int
        Slices per network call.
    threshold, min_size_ml : float
        Fallback of `PseudoDwiCalibration` for checkpoints without a calibration.
    """

    max_epochs: int = bounded(300, ge=1)
    lr: float = bounded(2e-3, gt=0.0)
    lr_decay_epoch: int = bounded(180, ge=0)
    lr_decay: float = bounded(0.2, gt=0.0, le=1.0)
    batch_size: int = bounded(5, ge=1)
    alpha: float = bounded(1.0, ge=0.0)
    beta: float = bounded(1.0, ge=0.0)
    gamma: float = bounded(1.2, ge=0.0)
    w: float = bounded(1.5, ge=1.0)
    d_mm: float = bounded(50.0, gt=0.0)
    schedule: str = "end_to_end"
    context_pretrain_epochs: int = bounded(5, ge=1)
    context_lr: float = bounded(1e-3, gt=0.0)
    base_filters: int = bounded(64, ge=1)
    upsample: str = "deconv"
    context_width: int = bounded(8, ge=1)
    slnet_norm: str = "switch"
    slnet_se: bool = True
    use_extractor: bool = True
    segment_from: str = "pseudo_dwi"
    augment: bool = True
    train_size: int = bounded(128, ge=32)
    train_shift: int = bounded(8, ge=0)
    k: int = bounded(5, ge=1)
    c_e: int = bounded(6, ge=2)
    pixel_mm: float | None = bounded(None, gt=0.0)
    smoothing_sigma_mm: float = bounded(2.0, ge=0.0)
    predict_batch_size: int = bounded(4, ge=1)
    threshold: float = bounded(0.5, gt=0.0, lt=1.0)
    min_size_ml: float = bounded(0.0, ge=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule not in SCHEDULES:
            raise InputError(
                f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}"
            )
        if self.segment_from not in SEGMENT_FROM:
            raise InputError(
                f"segment_from must be one of {', '.join(SEGMENT_FROM)}; got {self.segment_from!r}"
            )
        if self.upsample not in UPSAMPLE:
            raise InputError(
                f"upsample must be one of {', '.join(UPSAMPLE)}; got {self.upsample!r}"
            )
        if self.slnet_norm not in ("switch", "batch", "instance"):
            raise InputError(
                f"slnet_norm must be switch, batch or instance; got {self.slnet_norm!r}"
            )
        if self.train_size % 16:
            raise InputError(f"train_size must be a multiple of 16; got {self.train_size}")
        if self.schedule == "sequential" and self.segment_from == "maps":
            raise InputError("schedule=sequential needs segment_from=pseudo_dwi (nothing to stage)")
        if self.max_epochs <= self.context_pretrain_epochs and self.segment_from == "pseudo_dwi":
            raise InputError(
                f"max_epochs ({self.max_epochs}) must exceed context_pretrain_epochs "
                f"({self.context_pretrain_epochs})"
            )
