"""Configuration of the ``clerigues`` method: the paper's defaults (Clèrigues et al., CBM 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from strokect.config import bounded, check_bounds
from strokect.errors import InputError
from strokect.methods.base import MethodConfig

__all__ = [
    "ALL_MODALITIES",
    "PAPER_MIN_SIZES_VOXELS",
    "PAPER_THRESHOLDS",
    "PERFUSION_MAPS",
    "CleriguesCalibration",
    "CleriguesConfig",
]

#: The five inputs of the paper, in channel order.
ALL_MODALITIES: tuple[str, ...] = ("ct", "cbf", "cbv", "mtt", "tmax")
#: Perfusion maps whose sum defines the brain mask.
PERFUSION_MAPS: tuple[str, ...] = ("cbf", "cbv", "mtt", "tmax")
#: The paper's grid for T (sec. 4: 0.1 to 0.9 in steps of 0.1) ...
PAPER_THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))
#: ... and for S_min in voxels.
PAPER_MIN_SIZES_VOXELS: tuple[int, ...] = (10, 50, 100, 200, 300, 500)


@dataclass
class CleriguesCalibration:
    """Post-processing chosen on the cross-validation predictions (paper sec. 4).

    Attributes
    ----------
    threshold : float
        T: voxels with mean lesion probability >= T are lesion (paper result 0.2).
    min_size_vox : int
        S_min: connected components (face connectivity) smaller than this are removed (paper 200).
    """

    threshold: float = bounded(0.2, ge=0.0, le=1.0)
    min_size_vox: int = bounded(200, ge=0)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class CleriguesConfig(MethodConfig):
    """Hyperparameters of ``clerigues`` (paper values unless noted).

    Attributes
    ----------
    modalities : tuple of str
        Input images in channel order, a subset of ``ct, cbf, cbv, mtt, tmax`` holding at least
        one perfusion map (paper: all five). Stored in every checkpoint.
    symmetric : bool
        Add the mirrored copy of every modality (paper: True, 10 channels).
    patch_size : int
        Side of the square 2D patches in pixels (paper: 64).
    patches_per_case : int
        Training patches per case, half lesion / half healthy (paper: 4000).
    architecture : str
        ``"paper"`` (default): `strokect.nn.resunet.PaperResUNet`, the blocks of the authors'
        code (75 / 25 % encoder / decoder parameters, as the paper states); ``"v1"``: the
        earlier `AsymmetricResUNet` (82.5 / 17.5 %), which checkpoints saved before this field
        existed use (the shipped weights).
    base_filters, n_levels : int
        Network width and depth (paper: 8 and 5).
    dropout : float
        Rate of the Monte-Carlo dropout layers at prediction (paper: 0.1).
    train_dropout : float
        Training-time dropout (the authors' code: 0.2, between the two convolutions of the
        encoder blocks of the three deepest levels; ``"v1"``: the rate of its MC layers in
        training).
    n_dropout_levels : int
        How many of the deepest levels carry dropout (the authors' code: 3).
    batch_size : int
        Paper: 64.
    lr, rho : float
        Adadelta learning rate and decay (paper: Adadelta with no tuning; torch defaults 1.0, 0.9).
    elastic_alpha, elastic_gamma : float
        Elastic deformation of repeated lesion patches (paper: 2.5 and 0.12; see
        `strokect.data.patches` for our reading of them).
    mc_passes : int
        Forward passes per model with dropout active at prediction (paper: 3); 0 turns dropout
        off (one deterministic pass per model).
    tile_size : int or None
        None: predict whole slices (padded to a multiple of 2**(n_levels-1)); an int: square
        tiles of that side on a grid with ``overlap`` (the paper's 64x64 patches).
    overlap : float
        Overlap of the prediction tiles (paper: "a degree of overlap"; ours 0.5).
    predict_batch_size : int
        Slices per network call at prediction (1: fastest and leanest on a CPU, measured in
        ``benchmarks/RESULTS.md``; larger batches can pay on a GPU).
    threshold, min_size_vox : float, int
        Fallback T and S_min for checkpoints without a cross-validated `CleriguesCalibration`
        (paper result: 0.2 and 200).
    """

    #: values of fields added later, for configs stored before they existed
    LEGACY_DEFAULTS: ClassVar[dict] = {"architecture": "v1", "train_dropout": 0.1}

    max_epochs: int = bounded(100, ge=1)
    patience: int | None = bounded(10, ge=1)
    modalities: tuple[str, ...] = ALL_MODALITIES
    symmetric: bool = True
    patch_size: int = bounded(64, ge=2)
    patches_per_case: int = bounded(4000, ge=2)
    architecture: str = "paper"
    base_filters: int = bounded(8, ge=1)
    n_levels: int = bounded(5, ge=2, le=8)
    dropout: float = bounded(0.1, ge=0.0, lt=1.0)
    train_dropout: float = bounded(0.2, ge=0.0, lt=1.0)
    n_dropout_levels: int = bounded(3, ge=0)
    batch_size: int = bounded(64, ge=1)
    lr: float = bounded(1.0, gt=0.0)
    rho: float = bounded(0.9, ge=0.0, lt=1.0)
    elastic_alpha: float = bounded(2.5, ge=0.0)
    elastic_gamma: float = bounded(0.12, gt=0.0)
    mc_passes: int = bounded(3, ge=0)
    tile_size: int | None = bounded(None, ge=2)
    overlap: float = bounded(0.5, ge=0.0, lt=1.0)
    predict_batch_size: int = bounded(1, ge=1)
    threshold: float = bounded(0.2, ge=0.0, le=1.0)
    min_size_vox: int = bounded(200, ge=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.modalities = tuple(str(m).lower() for m in self.modalities)
        unknown = [m for m in self.modalities if m not in ALL_MODALITIES]
        if unknown or not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise InputError(
                f"modalities must be distinct names among {', '.join(ALL_MODALITIES)}; "
                f"got {', '.join(self.modalities) or 'none'}"
            )
        if not any(m in PERFUSION_MAPS for m in self.modalities):
            raise InputError(
                "modalities need at least one perfusion map (cbf, cbv, mtt, tmax) for the brain mask"
            )
        if self.architecture not in ("paper", "v1"):
            raise InputError(f"architecture must be 'paper' or 'v1'; got {self.architecture!r}")
        if self.architecture == "paper" and self.n_levels < 3:
            raise InputError(f"architecture 'paper' needs n_levels >= 3; got {self.n_levels}")
        if self.patch_size % 2 ** (self.n_levels - 1):
            raise InputError(f"patch_size {self.patch_size} must be divisible by 2**(n_levels-1)")
        if self.tile_size is not None and self.tile_size % 2 ** (self.n_levels - 1):
            raise InputError(f"tile_size {self.tile_size} must be divisible by 2**(n_levels-1)")
        if self.n_dropout_levels > self.n_levels:
            raise InputError(f"n_dropout_levels {self.n_dropout_levels} > n_levels {self.n_levels}")

    @property
    def channels(self) -> list[str]:
        """Channel names in network input order (modalities, then their ``_sym`` copies)."""
        sym = [f"{m}_sym" for m in self.modalities] if self.symmetric else []
        return [*self.modalities, *sym]
