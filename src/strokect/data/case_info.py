"""Per-case information beside a dataset (``case_info.csv``): lesion class, kind, volumes.

A ``case_info.csv`` table (column ``case_id`` plus any others) in the dataset root (or the folder
of a manifest file, or the root's parent) is read by `strokect.data.load_dataset` into each
matching case's `Case.metadata` (numbers as floats, empty cells as None). `strokect synth` writes
one beside every layout it writes (for the ISLES layouts with their case ids at the root and with
the phantom ids beside the ``extras/`` manifests): ``phantom_case_id``, ``seed``, ``kind``,
``lesion_class`` (the measured follow-up hypodensity class), ``lesion_class_requested``,
``infarct_mean_hu``, ``infarct_ml``, ``hemorrhage_ml`` and ``followup_slice_mm``. Training picks
the cases of one class with `filter_cases_by_class`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from strokect.data.case import Case, Dataset
from strokect.errors import InputError, warn

CASE_INFO_FILE = "case_info.csv"
#: follow-up hypodensity classes of Barros et al., JNIS 2020 (mean infarct HU [14, 22), [22, 32),
#: [32, 44), hemorrhage excluded), the values of ``lesion_class``
HYPODENSITY_CLASSES = ("severe", "intermediate", "subtle")


def find_case_info(root: str | Path) -> Path | None:
    """The ``case_info.csv`` of a dataset root (folder or manifest file), or None."""
    root = Path(root)
    base = root if root.is_dir() else root.parent
    for folder in (base, base.parent):
        if (folder / CASE_INFO_FILE).is_file():
            return folder / CASE_INFO_FILE
    return None


def _value(text: str):
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def read_case_info(path: str | Path) -> dict[str, dict]:
    """``case_id`` -> the other columns of a case-info table (floats where they parse).

    Raises
    ------
    InputError
        When the table has no ``case_id`` column or gives a case twice.
    """
    path = Path(path)
    out: dict[str, dict] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if "case_id" not in (reader.fieldnames or []):
            raise InputError(f"{path}:1: a case-info table needs a case_id column")
        for row in reader:
            case_id = (row.pop("case_id") or "").strip()
            if not case_id:
                continue
            if case_id in out:
                raise InputError(f"{path}:{reader.line_num}: case {case_id!r} given twice")
            out[case_id] = {k: _value(v or "") for k, v in row.items() if k is not None}
    return out


def attach_case_info(dataset: Dataset) -> Dataset:
    """Fill `Case.metadata` from the dataset's ``case_info.csv`` when there is one (in place).

    A table that cannot be read is reported with a warning and left out.
    """
    path = find_case_info(dataset.root)
    if path is None:
        return dataset
    try:
        info = read_case_info(path)
    except (InputError, OSError, UnicodeDecodeError, csv.Error) as exc:
        warn(f"{path}: case-info table ignored: {exc}")
        return dataset
    for case in dataset.cases:
        if case.case_id in info:
            case.metadata.update(info[case.case_id])
    return dataset


def filter_cases_by_class(cases: Iterable[Case], lesion_class: str | Iterable[str]) -> list[Case]:
    """The cases whose ``lesion_class`` (from ``case_info.csv``) is ``lesion_class`` (or one of them).

    Raises
    ------
    ValueError
        For a class not in `HYPODENSITY_CLASSES`.
    InputError
        When no case has a lesion class at all (no ``case_info.csv`` beside the dataset).
    """
    wanted = {lesion_class} if isinstance(lesion_class, str) else set(lesion_class)
    unknown = wanted - set(HYPODENSITY_CLASSES)
    if unknown:
        raise ValueError(
            f"lesion classes must be among {HYPODENSITY_CLASSES}; got {sorted(unknown)}"
        )
    cases = list(cases)
    if cases and not any("lesion_class" in c.metadata for c in cases):
        raise InputError(
            f"no lesion class known for these cases: the dataset has no {CASE_INFO_FILE} with a "
            "lesion_class column (strokect synth writes one)"
        )
    return [c for c in cases if c.lesion_class in wanted]


__all__ = [
    "CASE_INFO_FILE",
    "HYPODENSITY_CLASSES",
    "attach_case_info",
    "filter_cases_by_class",
    "find_case_info",
    "read_case_info",
]
