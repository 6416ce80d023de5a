"""The JSON and CSV writers of strokect: strict, UTF-8 and atomic (see `atomic_output`)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from strokect.io.atomic import atomic_output

__all__ = ["csv_value", "json_safe", "write_csv", "write_json"]


def json_safe(obj: Any) -> Any:
    """``obj`` with only JSON types: NaN/inf -> None, numpy -> Python, tuples -> lists.

    Mappings get ``str`` keys and paths become ``str``; other unknown objects are left as they
    are (``json.dumps`` then raises ``TypeError`` naming their type).
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, PurePath):
        return str(obj)
    return obj


def write_json(data: Any, path: str | Path, *, indent: int = 2, sort_keys: bool = False) -> Path:
    """Write ``data`` as strict JSON (UTF-8, trailing newline), atomically.

    Parameters
    ----------
    data
        JSON-like data; converted with `json_safe` (NaN and inf are written as ``null``).
    path
        Destination file; an existing file is replaced only once the new one is complete.
    indent, sort_keys
        As for `json.dumps`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        When ``data`` holds an object JSON cannot represent (``path`` is then left untouched).
    """
    path = Path(path)
    text = json.dumps(json_safe(data), indent=indent, sort_keys=sort_keys, allow_nan=False)
    with atomic_output(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path


def csv_value(value: Any) -> str:
    """One CSV cell: ``true``/``false``, ``nan``, ``repr`` of other floats, ``""`` for None."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(float(value))
    if value is None:
        return ""
    return str(value)


def write_csv(
    rows: Sequence[Mapping[str, Any]], path: str | Path, *, columns: Sequence[str]
) -> Path:
    """Write ``rows`` as a CSV table with header ``columns`` (UTF-8, ``\\n`` line ends), atomically.

    Parameters
    ----------
    rows
        One mapping per row; a column missing from a row gives an empty cell, keys that are not
        in ``columns`` are ignored. Cells are formatted with `csv_value`.
    path
        Destination file; an existing file is replaced only once the new one is complete.
    columns
        Column names, in order.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    columns = [str(c) for c in columns]
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([csv_value(row.get(c)) for c in columns] for row in rows)
    return path
