"""Registry of the methods strokect knows: an explicit name -> "module:attribute" table.

No package scanning: a method exists for the CLI only when it is listed here. Modules are
imported lazily, so listing a method costs nothing until it is used.
"""

from __future__ import annotations

import importlib

from strokect.errors import InputError
from strokect.methods.base import Method

#: method name -> "module:attribute" of its `Method` subclass. Add new methods here.
METHODS: dict[str, str] = {
    "clerigues": "strokect.methods.clerigues:CleriguesMethod",
}


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
        raise InputError(
            f"unknown method {name!r}; known methods: {', '.join(available_methods())}"
        )
    module_name, _, attr = METHODS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"registry entry {name!r} -> {METHODS[name]} is not a Method subclass")
    return cls
