"""Configuration dataclasses: dict <-> dataclass, YAML/JSON files and ``--set key=value``.

Bottom layer (only `strokect.errors` below it): method configs, calibrations and the perfusion
options all go through these functions, so every value is type-checked the same way and a bad
key or value is one clear `InputError`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from strokect.errors import InputError

__all__ = ["bounded", "check_bounds", "config_from_dict", "config_to_dict", "resolve_config"]

T = TypeVar("T")


def config_to_dict(config: Any) -> dict[str, Any]:
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


def config_from_dict(cls: type[T], values: Mapping[str, Any], *, source: str = "config") -> T:
    """Build ``cls`` from a dict, refusing unknown keys and values of the wrong type.

    Every caller passes a complete dict (`resolve_config` starts from the defaults), so a field
    missing from ``values`` was stored before the field existed: it takes the value of the class
    attribute ``LEGACY_DEFAULTS`` (a mapping, when the class has one) rather than today's default,
    which keeps old checkpoints and runs meaning what they meant.

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
    legacy = {k: v for k, v in getattr(cls, "LEGACY_DEFAULTS", {}).items() if k not in values}
    kwargs = {key: _coerce(value, types_[key], key) for key, value in {**values, **legacy}.items()}
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
    cls: type[T],
    file: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    base: T | None = None,
) -> T:
    """Defaults of ``cls`` (or ``base``), then the keys of ``file`` (YAML/JSON), then ``key=value``.

    Parameters
    ----------
    cls : dataclass type
        The config dataclass (a method's `MethodConfig` subclass, a calibration, ...).
    file : path, optional
        A ``.json``, ``.yaml`` or ``.yml`` file holding a mapping of field names to values.
    overrides : sequence of str
        ``"key=value"`` strings (``--set``), applied last. Values are parsed as JSON where
        possible (``3``, ``0.5``, ``[64, 64]``), ``true/false``, ``none``, or comma lists.

    base : instance of ``cls``, optional
        Start from these values instead of the dataclass defaults (e.g. the config stored in a
        checkpoint, overridden by ``strokect segment --set``).

    Returns
    -------
    instance of ``cls``
        Every value type-checked against the dataclass fields.

    Raises
    ------
    InputError
        An unknown key, a malformed override or a value of the wrong type (one-line message).
    """
    values: dict[str, Any] = config_to_dict(cls() if base is None else base)
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


def bounded(default: Any, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A dataclass field with a valid range, checked by `check_bounds` (None values pass).

    Example: ``threshold: float = bounded(0.2, ge=0.0, le=1.0)``.
    """
    return dataclasses.field(default=default, metadata={"bounds": (ge, gt, le, lt)})


def _describe(name: str, bounds) -> str:
    ge, gt, le, lt = bounds
    low = f"{ge} <= " if ge is not None else f"{gt} < " if gt is not None else ""
    high = f" <= {le}" if le is not None else f" < {lt}" if lt is not None else ""
    return f"{low}{name}{high}"


def check_bounds(obj: Any) -> None:
    """Refuse a field value outside the range `bounded` gave it (one line naming the key).

    Called by the ``__post_init__`` of method configs and calibrations, so a bad value is
    refused when the config is built, before any work, whether it came from defaults, a file,
    ``--set`` or Python.
    """
    for f in dataclasses.fields(obj):
        bounds = f.metadata.get("bounds")
        value = getattr(obj, f.name)
        if bounds is None or value is None:
            continue
        ge, gt, le, lt = bounds
        ok = (
            (ge is None or value >= ge)
            and (gt is None or value > gt)
            and (le is None or value <= le)
            and (lt is None or value < lt)
        )
        if not ok:
            raise InputError(
                f"{f.name} = {value!r} is out of range: must be {_describe(f.name, bounds)}"
            )
