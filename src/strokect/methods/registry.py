"""Registry of the methods strokect knows, and of the weights shipped for them.

No package scanning: a method exists for the CLI only when it is listed in `METHODS` (name ->
"module:attribute"). Modules are imported lazily, so listing a method costs nothing until it is
used. Shipped weights are files ``weights/<method>_<role>-<role>..._fold<i>.pt`` inside the
package (the roles are the model's inputs; the folds form its ensemble).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from pathlib import Path

from strokect.errors import InputError
from strokect.methods.base import Method

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"

#: method name -> "module:attribute" of its `Method` subclass. Add new methods here.
METHODS: dict[str, str] = {
    "clerigues": "strokect.methods.clerigues:CleriguesMethod",
    "fu2bl": "strokect.methods.fu2bl:Fu2blMethod",
    "pseudodwi": "strokect.methods.pseudodwi:PseudoDwiMethod",
    "threecnn": "strokect.methods.threecnn:ThreeCnnMethod",
}

#: Methods of the project that are not implemented yet (named in the error a user gets).
PLANNED: dict[str, str] = {}


def available_methods() -> list[str]:
    """Sorted names of the registered methods."""
    return sorted(METHODS)


def get_method_class(name: str) -> type[Method]:
    """Return the `Method` subclass registered as ``name``.

    Raises
    ------
    InputError
        If ``name`` is not registered (the message lists the known names).
    """
    if name not in METHODS:
        known = ", ".join(available_methods())
        if name in PLANNED:
            raise InputError(
                f"method {name!r} ({PLANNED[name]}) is planned but not implemented yet; "
                f"available: {known}"
            )
        raise InputError(f"unknown method {name!r}; known methods: {known}")
    module_name, _, attr = METHODS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"registry entry {name!r} -> {METHODS[name]} is not a Method subclass")
    return cls


def shipped_models(method: str) -> dict[str, list[Path]]:
    """Shipped models of ``method``: model name (``clerigues_ct-cbf-cbv``) -> fold files."""
    models: dict[str, list[Path]] = {}
    for path in sorted(WEIGHTS_DIR.glob(f"{method}_*_fold*.pt")):
        models.setdefault(re.sub(r"_fold\d+$", "", path.stem), []).append(path)
    return models


def model_roles(model_name: str) -> list[str]:
    """Input roles of a shipped model name: ``clerigues_ct-cbf-cbv`` -> ``[ct, cbf, cbv]``."""
    return model_name.split("_", 1)[1].split("-")


def default_weights(method: str, available: Iterable[str]) -> list[Path]:
    """Fold files of the shipped ``method`` model with the most inputs that are all ``available``.

    Raises
    ------
    InputError
        When no shipped model fits (the message lists the shipped models and their inputs).
    """
    available = set(available)
    models = shipped_models(method)
    usable = [m for m in models if set(model_roles(m)) <= available]
    if not usable:
        shipped = (
            ", ".join(f"{m} (inputs: {' '.join(model_roles(m))})" for m in sorted(models)) or "none"
        )
        notes = get_method_class(method).role_notes
        needs = sorted({r for m in models for r in model_roles(m) if r not in available})
        described = "".join(f"; {r} is {notes[r]}" for r in needs if r in notes)
        raise InputError(
            f"no shipped {method} model fits the inputs ({', '.join(sorted(available)) or 'none'}); "
            f"shipped: {shipped}; give --weights, or the missing inputs as --input ROLE=PATH"
            f"{described}"
        )
    return models[max(usable, key=lambda m: len(model_roles(m)))]
