"""Atomic file output: a result is either completely written or not there at all."""

from __future__ import annotations

import contextlib
import os
import shutil
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


@contextlib.contextmanager
def staged_output_dir(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; it becomes ``path`` only on success.

    The rules of `prepare_output_dir` are checked first, and the parent folder must be writable
    (the sibling is created before any work, so a read-only destination fails at once).

    * ``path`` new or empty: the finished sibling is renamed to ``path``, so the folder is
      complete or absent, even if the process is killed.
    * ``path`` not empty and ``overwrite``: every entry of the finished sibling replaces the entry
      of the same name in ``path`` (files atomically); entries this run did not write are kept.
    * On any exception the sibling is removed and ``path`` is left as it was (not created).

    Raises
    ------
    FileExistsError
        ``path`` is a file, or a non-empty folder without ``overwrite``.
    PermissionError
        The destination cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"output folder {path} exists and is a file")
    non_empty = path.is_dir() and any(path.iterdir())
    if non_empty and not overwrite:
        raise FileExistsError(f"output folder {path} exists and is not empty (use --overwrite)")
    if non_empty and not os.access(path, os.W_OK):
        raise PermissionError(f"output folder {path} is not writable")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        tmp.mkdir()
    except PermissionError:
        raise PermissionError(f"cannot write into {path.parent} (permission denied)") from None
    try:
        yield tmp
        if non_empty:
            for entry in tmp.iterdir():
                target = path / entry.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(entry, target)
            tmp.rmdir()
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
