"""The `Method` protocol every published method implements: a training half and an inference half.

A method is a small plug-in folder under ``methods/`` plus one line in
`strokect.methods.registry.METHODS`. It contributes a config dataclass (the paper's defaults),
its networks and, for training, optimizers, one training step, one validation step and its data;
for inference, the input roles it needs, ``prepare`` (images -> network input), a predictor, how
ensemble samples ``combine``, ``finalize`` (prediction -> named output volumes), the panels of its
``overlay.png`` (``overlay_panels``: default one, the input under the mask; e.g. a CTP map, a
synthesized image and the mask side by side) and a typed calibration of its post-processing. It
never owns a training loop (`strokect.engine.fit`), a segment pipeline
(`strokect.pipelines.segment`), a file reader, a CLI or a metric.

Writing a method
----------------
::

    @dataclass
    class MyConfig(MethodConfig):
        lr: float = 1e-3           # paper default, overridable with --set lr=...
        threshold: float = 0.5     # fallback of the calibration below

    @dataclass
    class MyCalibration:
        threshold: float = 0.5     # chosen on cross-validation predictions

    class MyMethod(Method):
        name = "mine"
        config_cls = MyConfig
        calibration_cls = MyCalibration
        inference_options = ("threshold",)   # what `strokect segment --set` may change
        reference_roles = {"mask": "core"}   # output -> dataset mask role it is scored against

        # training half
        def build_networks(self): return {"net": MyNet()}
        def build_optimizers(self, networks): ...
        def training_step(self, batch, networks, optimizers, ctx): ...
        def validation_step(self, batch, networks, ctx): ...
        def train_data(self, cases, ctx): ...   # see strokect.data.make_loader
        def val_data(self, cases, ctx): ...

        # inference half
        def input_roles(self): return InputRoles(required=("ncct",))
        def prepare(self, volumes): return Prepared(image=..., grid=volumes["ncct"], ...)
        def predictor(self, networks): return lambda x: torch.sigmoid(networks["net"](x))
        def finalize(self, prepared, combined, calibration):
            prob = combined[0]
            return {"mask": output_volume(prepared.grid, prob >= calibration.threshold, "mask"),
                    "probability": output_volume(prepared.grid, prob, "probability")}
        def calibration_grid(self): return {"threshold": [0.1, 0.2, ..., 0.9]}
        def overlay_panels(self, prepared, outputs):   # optional: several panels side by side
            return [*super().overlay_panels(prepared, outputs),
                    OverlayPanel("synthesized", outputs["synthesized"], cmap="magma")]

Training patterns covered (see ``docs/engine.md``): a GAN steps its discriminator and generator
optimizers alternately inside one ``training_step`` (fu2bl); patch CNN ensembles are one network per
fold (clerigues, threecnn); two networks trained end to end share one combined loss and one
optimizer, or one optimizer each stepped together (pseudodwi).

Batches are anything made of tensors (a tensor, or dicts/lists/tuples of them): the engine moves
every tensor to ``ctx.device`` before calling the step. ``validation_step`` returns per-batch
values; the engine averages them over the validation set, weighted by the optional key ``"n"``
(number of samples in the batch, default 1), and over all processes in distributed runs.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from strokect.config import bounded, check_bounds, config_from_dict, config_to_dict
from strokect.inference.predict import InferencePlan, mean_and_variance
from strokect.inference.prepared import Prepared
from strokect.inference.search import Objective
from strokect.io.volume import Volume

__all__ = [
    "OUTPUT_KINDS",
    "SHARED_INFERENCE_OPTIONS",
    "CalibrationSearch",
    "InputRoles",
    "Method",
    "MethodConfig",
    "OverlayPanel",
    "TrainContext",
    "output_volume",
]

#: `MethodConfig` keys every method's ``strokect segment --set`` may change, besides the
#: method's own ``inference_options``.
SHARED_INFERENCE_OPTIONS = ("test_time_mirror",)

#: What a named output of `Method.finalize` is (``Volume.metadata["kind"]``).
OUTPUT_KINDS = ("mask", "probability", "uncertainty", "map", "image")


@dataclass(frozen=True)
class InputRoles:
    """Image roles a method reads: ``required`` must all be given, ``optional`` are used if given."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


@dataclass(frozen=True)
class CalibrationSearch:
    """One grid search of a method's calibration (`Method.calibration_searches`).

    Attributes
    ----------
    grid : mapping field -> candidate values
        Calibration fields searched together; the other fields keep the values chosen by the
        earlier searches (else the method's default calibration).
    output : str or None
        The output scored (default: the method's primary output).
    reference : str
        What it is scored against: ``"label"`` (`Prepared.label`) or a key of `Prepared.data`
        holding a mask on the output grid.
    select : callable or None
        ``prepared -> bool``: the cross-validation cases this search uses (None: all with a
        reference).
    objective : Objective or None
        How candidates are ranked (default: `Method.calibration_objective`).
    name : str
        Shown in ``calibration.json``.
    """

    grid: Mapping[str, Sequence[Any]]
    output: str | None = None
    reference: str = "label"
    select: Callable[[Prepared], bool] | None = None
    objective: Objective | None = None
    name: str = ""


@dataclass(frozen=True, eq=False)
class OverlayPanel:
    """One panel of the ``overlay.png`` that ``strokect segment`` writes (`Method.overlay_panels`).

    Attributes
    ----------
    title : str
        Shown above the panel (when there are several).
    image : Volume or ndarray (Z, Y, X)
        The image drawn, on the output grid (`Prepared.target`); its axial slice through the
        largest cross-section of the primary mask is shown.
    window : (lo, hi) or None
        Display range; None: the 1st and 99th percentile of the slice.
    cmap : str
        Matplotlib colormap name.
    show_mask : bool
        Draw the primary mask (fill and contour) on this panel.
    """

    title: str
    image: Volume | np.ndarray
    window: tuple[float, float] | None = None
    cmap: str = "gray"
    show_mask: bool = True


def output_volume(grid: Volume, array: np.ndarray, kind: str, **metadata: Any) -> Volume:
    """A named output of `Method.finalize` on ``grid`` (masks become uint8).

    Parameters
    ----------
    grid : Volume
        `Prepared.grid` (its geometry and source header are kept).
    array : ndarray (Z, Y, X)
    kind : one of `OUTPUT_KINDS`
        ``"mask"`` outputs get a row in the volumes table (mL).
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"output kind must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}")
    array = np.asarray(array)
    array = (array > 0).astype(np.uint8) if kind == "mask" else array.astype(np.float32)
    return grid.with_array(array, kind=kind, **metadata)


@dataclass
class MethodConfig:
    """Base of every method's config dataclass: the loop settings the engine reads.

    Subclasses add the paper's hyperparameters as fields with defaults and may change these
    defaults to the paper's values (all fields need defaults).

    Attributes
    ----------
    max_epochs : int
        Upper bound on training epochs.
    patience : int or None
        Early stopping: stop after this many validations without improvement of the method's
        ``monitor`` value; None disables early stopping.
    val_every_epochs : int
        Validate every this many epochs (and after the last one).
    test_time_mirror : bool
        Prediction also runs on the slices flipped left-right and averages the flipped-back
        output in (`strokect.inference.InferencePlan.mirror`; ours, off by default). Stored
        with the weights, so a calibration chosen with it is applied with it; ``--set
        test_time_mirror=true|false`` changes it at `segment`.
    """

    max_epochs: int = bounded(100, ge=1)
    patience: int | None = bounded(None, ge=1)
    val_every_epochs: int = bounded(1, ge=1)
    test_time_mirror: bool = False

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class TrainContext:
    """What the engine tells a method during a run (the ``ctx`` argument of every hook).

    Attributes
    ----------
    device : torch.device
        Where networks and batches live.
    rank, world_size : int
        This process's rank and the number of processes (1 outside ``torchrun``). Data hooks shard
        their samples with these (`strokect.engine.make_loader` does it).
    seed : int
        The run's seed; data hooks derive their own generators from it.
    epoch : int
        Current epoch, 0-based.
    step : int
        Number of training steps completed before the current one (global, 0-based).
    cache_dir : Path or None
        Folder where a method may cache preprocessed cases (None: no caching).
    scaler : torch.amp.GradScaler or None
        Gradient scaler when mixed precision is on (CUDA only); used by `backward_step`.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world_size: int = 1
    seed: int = 0
    epoch: int = 0
    step: int = 0
    cache_dir: Path | None = None
    scaler: Any = None

    @property
    def is_main(self) -> bool:
        """True on the process that writes files (rank 0)."""
        return self.rank == 0

    def backward_step(
        self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, *, retain_graph: bool = False
    ) -> None:
        """Zero ``optimizer``'s gradients, back-propagate ``loss`` and step, scaling under AMP."""
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward(retain_graph=retain_graph)
            optimizer.step()
        else:
            self.scaler.scale(loss).backward(retain_graph=retain_graph)
            self.scaler.step(optimizer)
            self.scaler.update()


Batch = Any
Networks = dict[str, nn.Module]


class Method(abc.ABC):
    """One published method as the engine sees it (subclass it; see the module docstring).

    Class attributes
    ----------------
    name : str
        Registry key (``strokect train --method NAME``) and the name stored in checkpoints.
    config_cls : type[MethodConfig]
        The config dataclass holding the paper's defaults.
    monitor : str
        Key of the validation metric used for early stopping and best-weight selection.
    monitor_mode : {"min", "max"}
        Whether lower or higher ``monitor`` is better.
    preprocessing : tuple of str
        Names of the preprocessing steps the method's inputs need, in order (documentation and
        reports; ``prepare`` applies them and records them in `Prepared.history`).
    scheduler_interval : {"epoch", "step"}
        When the engine steps the schedulers of `build_schedulers`.
    primary_output : str
        The output `strokect evaluate` scores unless told otherwise.
    reference_roles : dict
        Output name -> the dataset mask role it is compared with (e.g. ``{"mask": "core"}``).
    inference_options : tuple of str
        Config keys ``strokect segment --set`` may change (others must match the weights);
        those of `SHARED_INFERENCE_OPTIONS` are allowed for every method.
    calibration_cls : dataclass type or None
        The typed calibration: post-processing parameters chosen on cross-validation
        predictions, saved in checkpoints and read back by ``segment``.
    role_notes : dict
        Input role -> what it is, named in the error a user gets when it is missing (e.g.
        ``{"ctp": "the raw 4D CT perfusion series"}``).

    Instance attributes
    -------------------
    config : MethodConfig
        The resolved configuration.
    calibration : calibration_cls instance or None
        The calibration restored from a checkpoint (None: `default_calibration` applies).
    calibration_info : dict
        How the calibration was chosen (search, objective, cross-validated scores).
    training_domain : dict or None
        Statistics of the training inputs (`strokect.data.domain.training_domain`), used by
        ``segment`` to flag out-of-domain inputs; saved in checkpoints.
    extra : dict
        JSON-like values saved in every checkpoint and restored on load (e.g. the channels
        used). Tensors are allowed.

    Inference hooks
    ---------------
    `input_roles`, `prepare` (`prepare_case`), `inference_plan`, `predictor`, `combine`,
    `finalize`, and `overlay_panels` (what ``overlay.png`` shows: default the input under the
    primary mask; a method may show several images side by side).
    """

    name: ClassVar[str] = ""
    config_cls: ClassVar[type[MethodConfig]] = MethodConfig
    monitor: ClassVar[str] = "val_loss"
    monitor_mode: ClassVar[str] = "min"
    preprocessing: ClassVar[tuple[str, ...]] = ()
    scheduler_interval: ClassVar[str] = "epoch"
    primary_output: ClassVar[str] = "mask"
    reference_roles: ClassVar[dict[str, str]] = {}
    inference_options: ClassVar[tuple[str, ...]] = ()
    calibration_cls: ClassVar[type | None] = None
    role_notes: ClassVar[dict[str, str]] = {}

    def __init__(self, config: MethodConfig | None = None) -> None:
        if config is None:
            config = self.config_cls()
        if not isinstance(config, self.config_cls):
            raise TypeError(
                f"config for method {self.name!r} must be a {self.config_cls.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self.extra: dict[str, Any] = {}
        self.calibration: Any = None
        self.calibration_info: dict[str, Any] = {}
        self.training_domain: dict[str, Any] | None = None

    # -- networks and optimization -------------------------------------------------------------
    @abc.abstractmethod
    def build_networks(self) -> Networks:
        """Return freshly initialized networks by name, e.g. ``{"generator": G, "discriminator": D}``."""

    @abc.abstractmethod
    def build_optimizers(self, networks: Networks) -> dict[str, torch.optim.Optimizer]:
        """Return optimizers by name over the parameters of ``networks`` (already on the device)."""

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        """Return LR schedulers by name (default none). ``ReduceLROnPlateau`` gets the monitor value."""
        return {}

    @abc.abstractmethod
    def training_step(
        self,
        batch: Batch,
        networks: Networks,
        optimizers: Mapping[str, torch.optim.Optimizer],
        ctx: TrainContext,
    ) -> dict[str, float]:
        """Train on one batch; step any optimizers (several for a GAN); return scalars to log."""

    @abc.abstractmethod
    def validation_step(
        self, batch: Batch, networks: Networks, ctx: TrainContext
    ) -> dict[str, float]:
        """Evaluate one validation batch (networks in eval mode, no grad); must include `monitor`."""

    def summarize_validation(self, means: dict[str, float]) -> dict[str, float]:
        """Derive the logged and monitored values from the validation means (default: as is).

        Called once per validation with the means of `validation_step`'s values over all
        batches and processes, so a method can monitor a value that is not a mean of per-batch
        values (e.g. the best Dice over a threshold grid: each case returns its Dice at every
        threshold, this returns the maximum of their means) and drop helper keys from the log.
        """
        return means

    # -- data ----------------------------------------------------------------------------------
    def train_data(self, cases: Sequence[Any], ctx: TrainContext) -> Iterable[Batch]:
        """Return a re-iterable of training batches built from ``cases`` (one pass = one epoch).

        Randomness must come from torch/numpy/random global RNGs or generators seeded from
        ``ctx.seed`` so that a resumed run replays the same batches. Shard by ``ctx.rank``.
        """
        raise NotImplementedError(f"method {self.name!r} does not build training data")

    def val_data(self, cases: Sequence[Any], ctx: TrainContext) -> Iterable[Batch]:
        """Return a re-iterable of validation batches (deterministic), sharded by ``ctx.rank``."""
        raise NotImplementedError(f"method {self.name!r} does not build validation data")

    def split_stratum(self, case: Any) -> str | None:
        """The stratum of a case for stratified cross-validation folds (default None: folds are
        not stratified). A method whose networks each train on one kind of case (e.g. a
        lesion class) returns that kind, so every fold trains every network."""
        return None

    def training_roles(self) -> tuple[str, ...]:
        """Roles every training case must have (checked before training starts).

        Default: the required inputs and the reference mask of the primary output. A method
        trained without masks (e.g. an unsupervised GAN) or on generated data overrides it.
        """
        label = self.reference_roles.get(self.primary_output)
        return (*self.input_roles().required, *((label,) if label else ()))

    # -- inference -----------------------------------------------------------------------------
    def input_roles(self) -> InputRoles:
        """Image roles the configured method reads (e.g. from ``config.modalities``)."""
        raise NotImplementedError(f"method {self.name!r} does not define its input roles")

    def prepare(self, volumes: Mapping[str, Volume]) -> Prepared:
        """Turn one case's images (role -> 3D `Volume`, CT in HU) into network input.

        Must raise `InputError` (one line naming the role) for inputs it cannot use.
        """
        raise NotImplementedError(f"method {self.name!r} does not prepare inputs")

    def prepare_case(self, case: Any, *, cache_dir: Path | None = None) -> Prepared:
        """`prepare` for a `strokect.data.Case`, with its reference mask as ``label`` when present.

        The reference mask is the dataset role of `reference_roles` for the primary output. A
        method may override this to cache prepared cases in ``cache_dir``.
        """
        from strokect.data.case import ROLE_SYNONYMS

        roles = self.input_roles()
        present = [r for r in roles.optional if {r, *ROLE_SYNONYMS.get(r, ())} & set(case.images)]
        prepared = self.prepare(case.load_roles([*roles.required, *present]))
        prepared.case_id = case.case_id
        label_role = self.reference_roles.get(self.primary_output)
        if label_role is not None and label_role in case.masks:
            from strokect.io.checks import check_same_geometry

            label = case.load(label_role)
            check_same_geometry({"image": prepared.target, label_role: label})
            prepared.label = (label.array > 0).astype(np.uint8)
        return prepared

    def inference_plan(self) -> InferencePlan:
        """How the pipeline runs the predictor (padding, tiles, MC passes, batch size)."""
        return InferencePlan()

    def prediction_plan(self) -> InferencePlan:
        """`inference_plan` with the settings every method shares applied (``test_time_mirror``
        of `MethodConfig`): the plan the pipelines run. Not overridden by methods."""
        plan = self.inference_plan()
        if self.config.test_time_mirror:
            plan = dataclasses.replace(plan, mirror=True)
        return plan

    @abc.abstractmethod
    def predictor(self, networks: Networks) -> Callable[[torch.Tensor], torch.Tensor]:
        """Return ``f(x) -> y`` mapping a batch of slices ``(B, C, H, W)`` to maps ``(B, K, H, W)``.

        May return a `strokect.inference.StagedPredictor` so that Monte-Carlo passes reuse the
        deterministic part of the network.
        """

    def combine(self, samples: torch.Tensor, n_members: int) -> torch.Tensor:
        """Reduce ensemble samples ``(S, B, K, H, W)`` (member-major) to ``(B, K', H, W)``.

        Default: mean then variance over all samples (`strokect.inference.mean_and_variance`).
        A method may combine differently (e.g. keep one channel per member, to apply a cut-off
        per member in `finalize`).
        """
        return mean_and_variance(samples, n_members)

    def finalize(
        self, prepared: Prepared, combined: np.ndarray, calibration: Any
    ) -> dict[str, Volume]:
        """Named output volumes (see `output_volume`) from the combined prediction ``(K', Z, Y, X)``."""
        raise NotImplementedError(f"method {self.name!r} does not finalize predictions")

    def overlay_panels(
        self, prepared: Prepared, outputs: Mapping[str, Volume]
    ) -> list[OverlayPanel]:
        """The panels of ``overlay.png``, drawn left to right (the primary mask on each panel
        with ``show_mask``).

        Default: one panel, `Prepared.target` (the input the outputs lie on) in the brain window
        (0, 80) HU when its role is ``ct`` / ``ncct``, else the slice's percentile window. A
        method overrides it to show e.g. an input map, a synthesized image and the mask side by
        side; ``outputs`` are the volumes `finalize` returned. Every image must be on the output
        grid. One panel is drawn alone under the figure title (its own title is not shown).
        """
        target = prepared.target
        role = target.metadata.get("role", "")
        window = (0.0, 80.0) if role in ("ct", "ncct") else None
        return [OverlayPanel(title=role or "input", image=target, window=window)]

    # -- calibration ---------------------------------------------------------------------------
    def default_calibration(self) -> Any:
        """The calibration used when a checkpoint holds none (paper values from the config)."""
        if self.calibration_cls is None:
            return None
        names = {f.name for f in dataclasses.fields(self.calibration_cls)}
        values = {k: v for k, v in config_to_dict(self.config).items() if k in names}
        return config_from_dict(self.calibration_cls, values, source=f"{self.name} config")

    def calibration_grid(self) -> dict[str, Sequence[Any]] | None:
        """Candidate values per calibration field for the search after cross-validation, or None."""
        return None

    def calibration_objective(self) -> Objective:
        """How the search ranks the grid (default: mean Dice of the primary output)."""
        return Objective((("dice", "max"),))

    def calibration_searches(self) -> list[CalibrationSearch]:
        """The searches that choose the calibration, run in order (default: one search of
        `calibration_grid` on the primary output against `Prepared.label`, all cases).

        A method whose post-processing has independent parts overrides this, e.g. one cut-off
        per network, each chosen on the cases and the output of its own network.
        """
        grid = self.calibration_grid()
        return [] if grid is None else [CalibrationSearch(grid, name="calibration")]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config!r})"
