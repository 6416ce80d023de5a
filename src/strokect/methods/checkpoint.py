"""strokect checkpoints: ``state_dict``s + resolved config + method name + version, never pickles.

A checkpoint is a dict saved with ``torch.save``::

    {"format": "strokect-checkpoint", "format_version": 2, "kind": "model" | "training",
     "method": "clerigues", "strokect_version": "0.1.0", "config": {...resolved config...},
     "state_dicts": {"net": {...}}, "extra": {...method.extra...}, "metrics": {...},
     "calibration": {"values": {...calibration fields...}, "info": {...how chosen...}} or None,
     "domain": {...statistics of the training inputs, strokect.data.domain...} or None,
     # kind == "training" (last.pt) only:
     "optimizers": {...}, "schedulers": {...}, "scaler": {...} or None,
     "rng": [per-rank RNG states], "loop": {...loop counters, early-stop state, history...}}

It is always read with ``torch.load(..., weights_only=True)``: a file holding pickled Python
objects (a whole model, a custom class) is refused, as is any torch file without the format tag
or made by another method.

Format 1 (before typed calibrations) kept the calibration in ``extra["postprocess"]``, its
fields under the calibration's own names; such files are read as format 2: the keys that are
fields of the method's calibration become its values, the others its info.

This module sits in the methods layer, below the engine: methods, the engine and the pipelines
all read and write checkpoints through it.
"""

from __future__ import annotations

import dataclasses
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from strokect.config import config_from_dict, config_to_dict
from strokect.errors import InputError
from strokect.io.atomic import atomic_output
from strokect.methods.base import Method
from strokect.version import __version__

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "find_model_checkpoints",
    "load_checkpoint",
    "load_model",
    "model_from_checkpoint",
    "restore_method",
    "save_checkpoint",
    "store_calibration",
    "store_domain",
]

CHECKPOINT_FORMAT = "strokect-checkpoint"
CHECKPOINT_VERSION = 2
_LEGACY_CALIBRATION_KEY = "postprocess"  # format 1: extra["postprocess"]


def save_checkpoint(
    path: str | Path,
    method: Method,
    networks: Mapping[str, nn.Module],
    *,
    kind: str = "model",
    metrics: Mapping[str, float] | None = None,
    training_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (a crash never leaves a half-written file).

    Parameters
    ----------
    path : path
        Output ``.pt`` file.
    method : Method
        Supplies ``name``, ``config`` and ``extra``.
    networks : mapping of str to nn.Module
        Networks whose ``state_dict`` is stored (unwrap DDP first).
    kind : {"model", "training"}
        ``"training"`` checkpoints also hold ``training_state`` (optimizers, RNG, loop).
    metrics : mapping, optional
        Validation metrics of these weights (informative).
    training_state : mapping, optional
        Extra top-level entries for a training checkpoint.
    """
    if kind not in ("model", "training"):
        raise ValueError(f"kind must be 'model' or 'training', got {kind!r}")
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "kind": kind,
        "method": method.name,
        "strokect_version": __version__,
        "config": config_to_dict(method.config),
        "state_dicts": {name: net.state_dict() for name, net in networks.items()},
        "extra": dict(method.extra),
        "metrics": dict(metrics or {}),
        "calibration": _calibration_payload(method),
        "domain": method.training_domain,
    }
    if training_state:
        payload.update(training_state)
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return path


def _calibration_payload(method: Method) -> dict[str, Any] | None:
    if method.calibration is None:
        return None
    return {
        "values": config_to_dict(method.calibration),
        "info": dict(method.calibration_info),
    }


def _rewrite(path: str | Path, **entries: Any) -> Path:
    """Rewrite checkpoint ``path`` atomically with top-level ``entries`` set (format upgraded)."""
    path = Path(path)
    data = load_checkpoint(path)
    data.update(entries, format_version=CHECKPOINT_VERSION)
    if "calibration" in entries:
        (data.get("extra") or {}).pop(_LEGACY_CALIBRATION_KEY, None)
    with atomic_output(path) as tmp:
        torch.save(data, tmp)
    return path


def store_domain(path: str | Path, domain: Mapping[str, Any]) -> Path:
    """Rewrite checkpoint ``path`` atomically with the statistics of its training inputs
    (`strokect.data.domain.training_domain`)."""
    return _rewrite(path, domain=dict(domain))


def _looks_like_torch_file(path: Path) -> bool:
    """A ``torch.save`` file: a zip archive (the default format) or a legacy pickle stream."""
    import zipfile

    if zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as fh:
        head = fh.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5  # pickle PROTO opcode


def store_calibration(path: str | Path, calibration: Any, info: Mapping[str, Any]) -> Path:
    """Rewrite checkpoint ``path`` atomically with ``calibration`` (a calibration dataclass)."""
    return _rewrite(path, calibration={"values": config_to_dict(calibration), "info": dict(info)})


def _method_name(method: str | type[Method] | Method | None) -> str | None:
    if method is None or isinstance(method, str):
        return method
    return method.name


def load_checkpoint(
    path: str | Path, *, method: str | type[Method] | Method | None = None
) -> dict[str, Any]:
    """Read and validate a strokect checkpoint (``weights_only=True``, tensors on the CPU).

    Parameters
    ----------
    path : path
        The ``.pt`` file.
    method : str, Method subclass or instance, optional
        When given, a checkpoint made by another method is refused.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    InputError
        Not a torch file, a file with pickled objects (e.g. a whole model), a torch file that is
        not a strokect checkpoint, a newer format version, or another method's checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        weights_only = "weights only" in str(exc).lower() or "weights_only" in str(exc).lower()
        if weights_only and _looks_like_torch_file(path):
            raise InputError(
                f"refusing checkpoint {path}: it contains pickled Python objects (e.g. a whole "
                "model); strokect loads only state_dict checkpoints"
            ) from None
        raise InputError(f"not a strokect checkpoint: {path} (not a torch file)") from None
    except Exception:  # torch raises KeyError, RuntimeError, EOFError... on non-torch bytes
        raise InputError(f"not a strokect checkpoint: {path} (not a torch file)") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"not a strokect checkpoint: {path} (no {CHECKPOINT_FORMAT!r} tag)")
    version = data.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise InputError(
            f"checkpoint {path} has format version {version!r}; this strokect reads up to "
            f"{CHECKPOINT_VERSION} (upgrade strokect)"
        )
    for key in ("method", "config", "state_dicts"):
        if key not in data:
            raise InputError(f"checkpoint {path} is incomplete: missing {key!r}")
    expected = _method_name(method)
    if expected is not None and data["method"] != expected:
        raise InputError(
            f"checkpoint {path} was made by method {data['method']!r}, not {expected!r}"
        )
    return data


def restore_method(
    data: Mapping[str, Any], method_cls: type[Method], *, config: Any = None
) -> Method:
    """A `Method` instance with the checkpoint's resolved config (or ``config``), ``extra`` and
    calibration (format-1 files: see the module docstring)."""
    if config is None:
        config = config_from_dict(method_cls.config_cls, data["config"], source="checkpoint config")
    method = method_cls(config)
    method.extra = dict(data.get("extra") or {})
    method.training_domain = data.get("domain")
    calibration = data.get("calibration")
    if calibration is None and _LEGACY_CALIBRATION_KEY in method.extra:
        legacy = dict(method.extra.pop(_LEGACY_CALIBRATION_KEY))
        fields = (
            {f.name for f in dataclasses.fields(method_cls.calibration_cls)}
            if method_cls.calibration_cls is not None
            else set()
        )
        calibration = {
            "values": {k: v for k, v in legacy.items() if k in fields},
            "info": {k: v for k, v in legacy.items() if k not in fields},
        }
    if calibration is not None and method_cls.calibration_cls is not None:
        method.calibration = config_from_dict(
            method_cls.calibration_cls, calibration["values"], source="checkpoint calibration"
        )
        method.calibration_info = dict(calibration.get("info") or {})
    return method


def load_model(
    path: str | Path,
    *,
    method: str | type[Method] | None = None,
    device: str | torch.device = "cpu",
    config: Any = None,
) -> tuple[Method, dict[str, nn.Module]]:
    """Rebuild a method and its networks (eval mode, on ``device``) from a checkpoint.

    Parameters
    ----------
    path : path
        A checkpoint written by :func:`strokect.engine.fit` (``model.pt``, ``best.pt``, ``last.pt``).
    method : str or Method subclass, optional
        Expected method; a class is used directly (e.g. a method not in the registry), a name is
        looked up in `strokect.methods.registry`. Default: the name stored in the checkpoint.
    device : str or torch.device
    config : MethodConfig, optional
        Use this config instead of the stored one (e.g. with inference options changed by
        ``strokect segment --set``); it must build the same networks.

    Returns
    -------
    method : Method
        Configured with the checkpoint's resolved config and ``extra``.
    networks : dict of str to nn.Module
        With the stored weights loaded strictly.
    """
    data = load_checkpoint(path, method=method)
    if isinstance(method, type):
        method_cls = method
    else:
        from strokect.methods.registry import get_method_class

        method_cls = get_method_class(data["method"])
    return model_from_checkpoint(data, method_cls, path=path, device=device, config=config)


def model_from_checkpoint(
    data: Mapping[str, Any],
    method_cls: type[Method],
    *,
    path: str | Path = "checkpoint",
    device: str | torch.device = "cpu",
    config: Any = None,
) -> tuple[Method, dict[str, nn.Module]]:
    """`load_model` for checkpoint contents already read with `load_checkpoint`."""
    restored = restore_method(data, method_cls, config=config)
    networks = restored.build_networks()
    missing = sorted(set(networks) ^ set(data["state_dicts"]))
    if missing:
        raise InputError(
            f"checkpoint {path} does not match method {restored.name!r}: networks {missing}"
        )
    for name, net in networks.items():
        try:
            net.load_state_dict(data["state_dicts"][name])
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise InputError(
                f"checkpoint {path}: weights of {name!r} do not fit: {first}"
            ) from None
        net.to(device).eval()
    return restored, networks


def find_model_checkpoints(run: str | Path) -> list[Path]:
    """The final model checkpoints of a run: ``run`` itself if a file, else ``model.pt`` files.

    A run folder of ``strokect train`` holds ``fold_*/model.pt`` (one per fold, the ensemble) or a
    single ``model.pt``.
    """
    run = Path(run)
    if run.is_file():
        return [run]
    if not run.is_dir():
        raise FileNotFoundError(f"no checkpoint or run folder at {run}")
    found = sorted(run.glob("fold_*/model.pt")) or sorted(run.glob("model.pt"))
    if not found:
        raise InputError(f"run folder {run} holds no model.pt (training not finished?)")
    return found


def init_sources(source: str | Path, method: str) -> list[Path]:
    """Checkpoint files to start a training from (``strokect train --init-from``).

    ``source`` is a checkpoint file, a run folder (its fold models), or ``shipped`` / a shipped
    model name such as ``clerigues_ct-cbf-cbv`` (its fold files). Fold ``i`` of the new run
    starts from file ``i`` modulo their number.
    """
    from strokect.methods.registry import shipped_models

    models = shipped_models(method)
    name = str(source)
    if name == "shipped":
        if len(models) != 1:
            listed = ", ".join(sorted(models)) or "none"
            raise InputError(
                f"--init-from shipped: {method} ships {len(models)} models ({listed}); name one"
            )
        return next(iter(models.values()))
    if name in models:
        return models[name]
    path = Path(source)
    if not path.exists():
        raise InputError(
            f"--init-from: {source} is neither a checkpoint, a run folder nor a shipped {method} "
            f"model ({', '.join(sorted(models)) or 'none shipped'})"
        )
    return find_model_checkpoints(path)
