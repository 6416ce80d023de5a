"""Dataset layouts: ISLES 2018, ISLES 2024 (BIDS-like) and a CSV manifest, each giving `Case`s.

`load_dataset` detects the layout of a root and returns a `Dataset` (layout name + cases); the
per-layout readers are `read_isles2018`, `read_isles2024` and `read_manifest`. A ``case_info.csv``
beside the dataset fills `Case.metadata` (`strokect.data.case_info`; the phantom's lesion class,
which `filter_cases_by_class` selects on).
"""

from __future__ import annotations

from pathlib import Path

from strokect.data.case import Case, Dataset
from strokect.data.case_info import attach_case_info, filter_cases_by_class
from strokect.data.isles2018 import is_isles2018, read_isles2018
from strokect.data.isles2024 import is_isles2024, read_isles2024
from strokect.data.manifest import find_manifest, is_manifest, read_manifest
from strokect.errors import InputError

LAYOUTS = ("isles2018", "isles2024", "manifest")


def detect_layout(root: str | Path) -> str | None:
    """Name of the layout of ``root`` (one of `LAYOUTS`), or None when it is none of them.

    Order: a manifest CSV file (or a folder holding ``manifest.csv`` / exactly one manifest-shaped
    CSV), then ISLES 2024 (``rawdata/sub-*`` or ``derivatives/sub-*``), then ISLES 2018
    (``SMIR.Brain.XX.O.*`` folders up to three levels down).
    """
    root = Path(root)
    if root.is_file():
        return "manifest" if is_manifest(root) else None
    if not root.is_dir():
        return None
    if find_manifest(root) is not None:
        return "manifest"
    if is_isles2024(root):
        return "isles2024"
    if is_isles2018(root):
        return "isles2018"
    return None


def load_dataset(root: str | Path, *, layout: str | None = None) -> Dataset:
    """Read a dataset root with its detected layout (or the ``layout`` given).

    A ``case_info.csv`` beside the root fills the cases' `Case.metadata` (`attach_case_info`).

    Raises
    ------
    FileNotFoundError
        When ``root`` does not exist.
    InputError
        When no layout is recognised, or the layout's reader refuses the content.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset root not found: {root}")
    if layout is None:
        layout = detect_layout(root)
        if layout is None:
            raise InputError(
                f"{root}: not a known dataset layout (ISLES 2018 SMIR.Brain folders, ISLES 2024 "
                "rawdata/derivatives, or a case_id,patient_id,role,path CSV manifest)"
            )
    readers = {"isles2018": read_isles2018, "isles2024": read_isles2024, "manifest": read_manifest}
    if layout not in readers:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    return attach_case_info(readers[layout](root))


__all__ = [
    "LAYOUTS",
    "Case",
    "Dataset",
    "detect_layout",
    "filter_cases_by_class",
    "load_dataset",
    "read_isles2018",
    "read_isles2024",
    "read_manifest",
]
