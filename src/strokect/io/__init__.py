"""Images with geometry: the `Volume` and its readers and writers."""

from strokect.io.checks import check_same_geometry, ensure_hu, require_3d, require_4d
from strokect.io.readwrite import check_finite, read_volume, write_volume
from strokect.io.volume import Volume

__all__ = [
    "Volume",
    "check_finite",
    "check_same_geometry",
    "ensure_hu",
    "read_volume",
    "require_3d",
    "require_4d",
    "write_volume",
]
