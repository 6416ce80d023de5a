"""Atomic file output: a result is either completely written or not there at all."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes); rename it over ``path`` on success.

    On any exception the temporary file is removed and an existing ``path`` is left untouched,
    so an interrupted or failed write never leaves a half-written output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def prepare_output_dir(path: str | Path, *, overwrite: bool = False) -> Path:
    """Create the output folder ``path``; refuse one that exists and is not empty.

    Every strokect command that writes a folder of results calls this first, so earlier results
    (or unrelated user files) are never replaced unless ``overwrite`` is set.

    Raises
    ------
    FileExistsError
        When ``path`` is a file, or a non-empty folder and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"output folder {path} exists and is a file")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"output folder {path} exists and is not empty (use --overwrite)")
    path.mkdir(parents=True, exist_ok=True)
    return path
