"""Published methods as plug-ins of the one engine and the one segment pipeline.

Each method lives in its own sub-package (``clerigues/``, ...) and is listed in
`strokect.methods.registry.METHODS`; `strokect.methods.base.Method` is the protocol (training
half and inference half) and `strokect.methods.checkpoint` reads and writes their weights.
"""

from strokect.methods.base import InputRoles, Method, MethodConfig, TrainContext, output_volume
from strokect.methods.registry import available_methods, get_method_class

__all__ = [
    "InputRoles",
    "Method",
    "MethodConfig",
    "TrainContext",
    "available_methods",
    "get_method_class",
    "output_volume",
]
