"""Configuration of ``threecnn``: the paper's settings and ours where it gives none.

Barros RS, Tolhuisen ML, Boers AM, et al. J Neurointerv Surg 2020;12:848-52. Every value the
paper does not state is marked "ours" and listed in ``docs/methods/threecnn.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from strokect.config import bounded, check_bounds
from strokect.errors import InputError
from strokect.methods.base import MethodConfig

__all__ = [
    "CLASSES",
    "CLASS_BOUNDS_HU",
    "CUTOFF_GRID",
    "MIN_SIZE_GRID_ML",
    "NETWORKS",
    "ThreeCnnCalibration",
    "ThreeCnnConfig",
    "lesion_class_of",
]

#: Hypodensity classes of the follow-up infarct, by mean HU (hemorrhage excluded), paper Table 1.
CLASSES: tuple[str, ...] = ("severe", "intermediate", "subtle")
CLASS_BOUNDS_HU: dict[str, tuple[float, float]] = {
    "severe": (14.0, 22.0),
    "intermediate": (22.0, 32.0),
    "subtle": (32.0, 44.0),
}
#: The patch CNNs of each variant (the hemorrhage CNN in both).
NETWORKS: dict[str, tuple[str, ...]] = {
    "three": (*CLASSES, "hemorrhage"),
    "single": ("single", "hemorrhage"),
}
#: Candidate probability cut-offs (ours: the paper optimizes them without giving a grid): 0.05
#: to 0.95 in steps of 0.05, then 0.97, 0.98 and 0.99, since the search on the final infarct
#: (``cutoff_search="all"``) put every cut-off at 0.95 when that was the grid's top.
CUTOFF_GRID: tuple[float, ...] = (*(round(0.05 * i, 2) for i in range(1, 20)), 0.97, 0.98, 0.99)
#: Candidate smallest infarct components in mL (ours; 0 keeps every component, as the paper).
MIN_SIZE_GRID_ML: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


def lesion_class_of(mean_hu: float | None) -> str | None:
    """The hypodensity class of an infarct's mean HU (None outside [14, 44) or without one)."""
    if mean_hu is None:
        return None
    for name, (lo, hi) in CLASS_BOUNDS_HU.items():
        if lo <= mean_hu < hi:
            return name
    return None


@dataclass
class ThreeCnnCalibration:
    """Probability cut-offs, each chosen on the validation cases of its own network (paper:
    "optimized with the data in the validation set", 20 scans per CNN), by Dice.

    Attributes
    ----------
    cutoff_severe, cutoff_intermediate, cutoff_subtle : float
        Cut-offs of the three class CNNs (``variant="three"``).
    cutoff_single : float
        Cut-off of the one CNN of ``variant="single"``.
    cutoff_hemorrhage : float
        Cut-off of the hemorrhage CNN.
    min_size_ml : float
        Ours (0, the default, is the paper: no such step): connected components (6-connected, on
        the input grid) of the infarct networks' union smaller than this are removed before the
        hemorrhage is added back; chosen after the cut-offs by the Dice of the final infarct.
    """

    cutoff_severe: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_intermediate: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_subtle: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_single: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_hemorrhage: float = bounded(0.5, ge=0.0, le=1.0)
    min_size_ml: float = bounded(0.0, ge=0.0)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class ThreeCnnConfig(MethodConfig):
    """Settings of ``threecnn`` (paper values unless marked "ours").

    Attributes
    ----------
    variant : str
        ``"three"`` (paper): one CNN per hypodensity class, each trained on the patients of its
        class, union of their masks; ``"single"``: one CNN on all patients (the paper's
        comparison).
    hemorrhage_detector : str
        What is added back to the infarct and written as ``hemorrhage``: ``"hu"`` (default,
        ours: the training-free HU threshold + region growing detector,
        `strokect.methods.threecnn.hemorrhage`; on the 48 training phantoms mean Dice 0.91,
        against 0.10 for the CNN's cross-validation predictions, docs/methods/threecnn.md) or
        ``"cnn"`` (the same patch CNN trained on hemorrhage masks, as the paper's earlier ICH
        CNN of the same architecture; always trained and predicted, so it can be switched on).
    slice_mm : float
        Slice thickness the networks see (paper: 5 mm reconstructions).
    inplane_mm : float
        In-plane pixel size the networks see (ours; the paper does not state it: finer inputs
        are averaged down to it, which makes a 512x512 scan 4-5x cheaper).
    grid_tolerance : float
        An axis within this relative difference of its target spacing is not resampled (ours).
    window_hu : (float, float)
        HU clip before scaling (ours), then ``(HU - center_hu) / scale_hu``.
    center_hu, scale_hu : float
        Ours.
    normalize : str
        ``"median"`` (ours): every scan is shifted so that the median HU of its region of
        interest lands on ``center_hu`` before the clip, which removes scanner HU offsets (a
        subtle infarct is 1-3 HU below its tissue, less than the offsets between scanners);
        ``"fixed"``: raw HU.
    cutoff_search : str
        ``"class"`` (paper): each class CNN's cut-off maximizes the Dice of its own mask on the
        validation cases of its class; ``"all"`` (ours): each maximizes the Dice of the final
        infarct (the union) on every validation case, in two rounds over the three networks
        (a CNN that fires on the tissue of other classes' patients is held back by them).
    patches_per_case : int
        Training patches per case and network, half centred on the network's foreground (ours).
    near_fraction, near_mm : float
        Share of the background patches centred within ``near_mm`` of the foreground, the rest
        anywhere in the region of interest (ours: the paper does not say how it sampled).
    batch_size : int
        Ours.
    lr : float
        Adam learning rate (ours; the paper names no optimizer).
    augment : bool
        Foreground patches flipped across the sagittal plane and rotated by multiples of 90
        degrees (paper: "flipping along the sagittal plane and by rotation"; the angles are
        ours); background patches never (paper).
    precision : str
        ``"fp32"`` or ``"bf16"`` (autocast) for whole-slice inference (ours, measured in
        ``benchmarks/RESULTS.md``).
    hu_* : float
        Parameters of the HU hemorrhage detector (ours).
    cutoff_* : float
        Fallback cut-offs for checkpoints without a calibration.
    """

    max_epochs: int = bounded(30, ge=1)
    patience: int | None = bounded(5, ge=1)
    variant: str = "three"
    hemorrhage_detector: str = "hu"
    slice_mm: float = bounded(5.0, gt=0.0)
    inplane_mm: float = bounded(1.0, gt=0.0)
    grid_tolerance: float = bounded(0.05, ge=0.0, lt=1.0)
    window_hu: tuple[float, float] = (-100.0, 200.0)
    center_hu: float = 30.0
    scale_hu: float = bounded(50.0, gt=0.0)
    normalize: str = "median"
    cutoff_search: str = "class"
    patches_per_case: int = bounded(2000, ge=2)
    near_fraction: float = bounded(0.5, ge=0.0, le=1.0)
    near_mm: float = bounded(10.0, gt=0.0)
    batch_size: int = bounded(128, ge=1)
    lr: float = bounded(1e-3, gt=0.0)
    augment: bool = True
    precision: str = "fp32"
    predict_batch_size: int = bounded(1, ge=1)
    hu_window_hemorrhage: tuple[float, float] = (50.0, 95.0)
    hu_seed_hemorrhage: float = 60.0
    hu_skull_margin_mm: float = bounded(5.0, ge=0.0)
    hu_min_volume_ml: float = bounded(0.3, ge=0.0)
    cutoff_severe: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_intermediate: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_subtle: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_single: float = bounded(0.5, ge=0.0, le=1.0)
    cutoff_hemorrhage: float = bounded(0.5, ge=0.0, le=1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in NETWORKS:
            raise InputError(f"variant must be 'three' or 'single'; got {self.variant!r}")
        if self.hemorrhage_detector not in ("cnn", "hu"):
            raise InputError(
                f"hemorrhage_detector must be 'cnn' or 'hu'; got {self.hemorrhage_detector!r}"
            )
        if self.normalize not in ("median", "fixed"):
            raise InputError(f"normalize must be 'median' or 'fixed'; got {self.normalize!r}")
        if self.cutoff_search not in ("class", "all"):
            raise InputError(f"cutoff_search must be 'class' or 'all'; got {self.cutoff_search!r}")
        if self.precision not in ("fp32", "bf16"):
            raise InputError(f"precision must be 'fp32' or 'bf16'; got {self.precision!r}")
        self.window_hu = tuple(float(v) for v in self.window_hu)
        self.hu_window_hemorrhage = tuple(float(v) for v in self.hu_window_hemorrhage)
        for name in ("window_hu", "hu_window_hemorrhage"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or lo_hi[0] >= lo_hi[1]:
                raise InputError(f"{name} must be (low, high) with low < high; got {lo_hi}")

    @property
    def networks(self) -> tuple[str, ...]:
        """Names of the patch CNNs of this variant."""
        return NETWORKS[self.variant]
