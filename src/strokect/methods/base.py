"""The `Method` protocol every published method implements, and its configuration handling.

A method is a small plug-in: it contributes a config dataclass (the paper's defaults), its networks,
its optimizers, one training step, one validation step, its data pipeline and a predictor. It never
owns a training loop: :func:`strokect.engine.fit` does the epochs, device placement, distributed
wrapping, logging, validation cadence, checkpoints, early stopping and resume.

Writing a method
----------------
::

    @dataclass
    class MyConfig(MethodConfig):
        lr: float = 1e-3           # paper default, overridable with --set lr=...
        max_epochs: int = 100      # MethodConfig fields can take the paper's values too
        patience: int | None = 10

    class MyMethod(Method):
        name = "mine"
        config_cls = MyConfig
        monitor, monitor_mode = "val_loss", "min"
        preprocessing = ("skull_strip", "zscore")

        def build_networks(self):
            return {"net": MyNet()}

        def build_optimizers(self, networks):
            return {"opt": torch.optim.Adam(networks["net"].parameters(), lr=self.config.lr)}

        def training_step(self, batch, networks, optimizers, ctx):
            loss = loss_fn(networks["net"](batch["x"]), batch["y"])
            ctx.backward_step(loss, optimizers["opt"])    # zero_grad, backward, step (AMP-aware)
            return {"loss": loss.item()}

        def validation_step(self, batch, networks, ctx):
            loss = loss_fn(networks["net"](batch["x"]), batch["y"])
            return {"val_loss": loss.item(), "n": len(batch["x"])}

        def train_data(self, cases, ctx): ...   # iterable of batches; see strokect.engine.make_loader
        def val_data(self, cases, ctx): ...
        def predictor(self, networks): return lambda x: torch.sigmoid(networks["net"](x))

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
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from strokect.errors import InputError

__all__ = [
    "Method",
    "MethodConfig",
    "TrainContext",
    "config_from_dict",
    "config_to_dict",
    "resolve_config",
]


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
    """

    max_epochs: int = 100
    patience: int | None = None
    val_every_epochs: int = 1


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
        reports; the data hooks apply them).
    scheduler_interval : {"epoch", "step"}
        When the engine steps the schedulers of `build_schedulers`.

    Instance attributes
    -------------------
    config : MethodConfig
        The resolved configuration.
    extra : dict
        JSON-like values saved in every checkpoint and restored on load (e.g. the channels used,
        the post-processing threshold chosen by cross-validation). Tensors are allowed.
    """

    name: ClassVar[str] = ""
    config_cls: ClassVar[type[MethodConfig]] = MethodConfig
    monitor: ClassVar[str] = "val_loss"
    monitor_mode: ClassVar[str] = "min"
    preprocessing: ClassVar[tuple[str, ...]] = ()
    scheduler_interval: ClassVar[str] = "epoch"

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

    # -- inference -----------------------------------------------------------------------------
    @abc.abstractmethod
    def predictor(self, networks: Networks) -> Callable[[torch.Tensor], torch.Tensor]:
        """Return ``f(x) -> y`` mapping an input batch to output maps (e.g. probabilities).

        Shapes are method-defined (e.g. ``(B, C, H, W) -> (B, K, H, W)``) so that
        :mod:`strokect.inference` can slide, MC-sample or ensemble it.
        """

    # -- after k-fold training -----------------------------------------------------------------
    def after_cross_validation(
        self, run_dir: Path, *, splits: list[dict], cases: dict, cache_dir: Path | None = None
    ) -> dict | None:
        """Optional step once every fold of ``strokect train`` has its ``model.pt``.

        ``splits`` are the saved folds, ``cases`` maps case id -> `Case`. A method uses it for
        whatever needs all cross-validation models, e.g. `clerigues` grid-searches its
        post-processing on the validation predictions and stores it in the checkpoints. Returns a
        JSON-able summary, or None (the default: nothing to do).
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config!r})"


# ------------------------------------------------------------------------------------------------
# configuration: dataclass <-> dict, files, --set overrides, strict type checking


def config_to_dict(config: MethodConfig) -> dict[str, Any]:
    """Plain JSON-able dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _is_optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp) and _is_union(tp)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert an already-parsed value (from JSON/YAML or `_parse_text`) against ``tp``."""
    origin = typing.get_origin(tp)
    bad = InputError(f"config key {key!r}: expected {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if _is_union(tp):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except InputError:
                continue
        raise bad
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise bad
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise bad
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise bad
            return tuple(_coerce(v, a, key) for v, a in zip(value, args))
        item = args[0] if args else Any
        items = [_coerce(v, item, key) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise bad


def _wants_sequence(tp: Any) -> bool:
    if _is_union(tp):
        return any(_wants_sequence(a) for a in typing.get_args(tp) if a is not type(None))
    return typing.get_origin(tp) in (tuple, list)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _parse_text(text: str, tp: Any) -> Any:
    """Parse the value of a ``--set key=value`` override for a field of type ``tp``."""
    if tp is str or (_is_optional(tp) and str in typing.get_args(tp)):
        if _is_optional(tp) and text.lower() in ("none", "null"):
            return None
        return text
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if "," in text:  # a,b,c -> list of parsed items
        return [_parse_text(part.strip(), Any) for part in text.split(",") if part.strip()]
    return text


def config_from_dict(cls: type[MethodConfig], values: Mapping[str, Any], *, source: str = "config"):
    """Build ``cls`` from a dict, refusing unknown keys and values of the wrong type.

    Raises
    ------
    InputError
        Naming the unknown key (and the known ones) or the key whose value has the wrong type.
    """
    types_ = _field_types(cls)
    unknown = sorted(set(values) - set(types_))
    if unknown:
        raise InputError(
            f"{source}: unknown key(s) {', '.join(unknown)} for {cls.__name__}; "
            f"known keys: {', '.join(sorted(types_))}"
        )
    kwargs = {key: _coerce(value, types_[key], key) for key, value in values.items()}
    return cls(**kwargs)


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - PyYAML is normally present
            raise InputError(f"reading {path} needs PyYAML; use a .json config instead") from exc
        data = yaml.safe_load(text)
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"config file {path} is not valid JSON: {exc}") from exc
    else:
        raise InputError(f"config file {path} must end in .json, .yaml or .yml")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"config file {path} must hold a mapping of key: value")
    return data


def resolve_config(
    cls: type[MethodConfig],
    file: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> MethodConfig:
    """Paper defaults of ``cls``, then the keys of ``file`` (YAML/JSON), then ``key=value`` overrides.

    Parameters
    ----------
    cls : type[MethodConfig]
        The method's config dataclass.
    file : path, optional
        A ``.json``, ``.yaml`` or ``.yml`` file holding a mapping of field names to values.
    overrides : sequence of str
        ``"key=value"`` strings (``--set``), applied last. Values are parsed as JSON where
        possible (``3``, ``0.5``, ``[64, 64]``), ``true/false``, ``none``, or comma lists.

    Returns
    -------
    MethodConfig
        An instance of ``cls``; every value type-checked against the dataclass fields.

    Raises
    ------
    InputError
        An unknown key, a malformed override or a value of the wrong type (one-line message).
    """
    values: dict[str, Any] = config_to_dict(cls())
    if file is not None:
        values.update(_read_config_file(Path(file)))
    types_ = _field_types(cls)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set expects key=value, got {item!r}")
        if key not in types_:
            raise InputError(
                f"--set {item}: unknown key {key!r} for {cls.__name__}; "
                f"known keys: {', '.join(sorted(types_))}"
            )
        value = _parse_text(text, types_[key])
        if _wants_sequence(types_[key]) and not isinstance(value, (list, type(None))):
            value = [value]  # --set channels=ct -> ("ct",)
        values[key] = value
    return config_from_dict(cls, values, source=str(file) if file else "config")
