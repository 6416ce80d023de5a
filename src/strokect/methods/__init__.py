"""Published methods as plug-ins of the one engine: see `strokect.methods.base.Method`.

Each method lives in its own sub-package (``clerigues/``, ...) and is listed in
`strokect.methods.registry.METHODS`.
"""

from strokect.methods.base import (
    Method,
    MethodConfig,
    TrainContext,
    config_from_dict,
    config_to_dict,
    resolve_config,
)
from strokect.methods.registry import available_methods, get_method_class

__all__ = [
    "Method",
    "MethodConfig",
    "TrainContext",
    "available_methods",
    "config_from_dict",
    "config_to_dict",
    "get_method_class",
    "resolve_config",
]
