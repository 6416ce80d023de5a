"""Patient-level k-fold cross-validation splits, persisted to JSON.

All cases of one patient (e.g. the slabs of an ISLES 2018 patient) always fall in the same fold, so
no patient is seen in training and validation of one fold (Clèrigues et al., CBM 2019, sec. 4.1).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from strokect.errors import InputError
from strokect.io.records import write_json

__all__ = ["load_splits", "make_kfold_splits", "save_splits"]

_FORMAT = "strokect-splits-v1"


def _ids(case: Any) -> tuple[str, str]:
    """``(case_id, patient_id)`` of a `Case`, a mapping with those keys, or a plain case id."""
    if isinstance(case, str):
        return case, case
    if isinstance(case, dict):
        cid = str(case["case_id"])
        return cid, str(case.get("patient_id") or cid)
    cid = str(case.case_id)
    return cid, str(getattr(case, "patient_id", None) or cid)


def make_kfold_splits(
    cases: Sequence[Any], k: int = 5, *, seed: int = 0
) -> list[dict[str, list[str]]]:
    """Split cases into ``k`` folds by patient.

    Patients are shuffled with ``seed`` then assigned, largest first, to the fold holding the fewest
    cases so far (ties: lowest fold index), which balances fold sizes when patients have several
    cases.

    Parameters
    ----------
    cases : sequence
        `strokect.data.Case` objects (``case_id`` and ``patient_id`` used), mappings with those
        keys, or case-id strings (each its own patient).
    k : int
        Number of folds, 2 <= k <= number of patients.
    seed : int
        Seed of the patient shuffle.

    Returns
    -------
    list of dict
        One ``{"train": [case_ids], "val": [case_ids]}`` per fold; ids sorted in input order.
        Every case is in exactly one ``val`` list.

    Raises
    ------
    InputError
        Duplicate case ids, or ``k`` outside ``[2, n_patients]``.
    """
    pairs = [_ids(c) for c in cases]
    order = {cid: i for i, (cid, _) in enumerate(pairs)}
    if len(order) != len(pairs):
        raise InputError("make_kfold_splits: duplicate case ids in cases")
    patients: dict[str, list[str]] = {}
    for cid, pid in pairs:
        patients.setdefault(pid, []).append(cid)
    if not 2 <= int(k) <= len(patients):
        raise InputError(f"k={k} folds needs 2 <= k <= number of patients ({len(patients)})")
    names = sorted(patients)
    rng = np.random.default_rng(seed)
    names = [names[i] for i in rng.permutation(len(names))]
    names.sort(key=lambda p: -len(patients[p]))  # stable: shuffled order within equal sizes
    folds: list[list[str]] = [[] for _ in range(int(k))]
    for pid in names:
        target = min(range(int(k)), key=lambda f: (len(folds[f]), f))
        folds[target].extend(patients[pid])
    out = []
    for f in range(int(k)):
        val = sorted(folds[f], key=order.__getitem__)
        train = sorted(
            (c for g in range(int(k)) if g != f for c in folds[g]), key=order.__getitem__
        )
        out.append({"train": train, "val": val})
    return out


def save_splits(splits: Sequence[dict[str, list[str]]], path: str | Path) -> Path:
    """Write splits to a JSON file (atomically); returns the path."""
    path = Path(path)
    payload = {
        "format": _FORMAT,
        "folds": [dict(train=list(s["train"]), val=list(s["val"])) for s in splits],
    }
    return write_json(payload, path, indent=1)


def load_splits(path: str | Path) -> list[dict[str, list[str]]]:
    """Read splits written by `save_splits`.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InputError
        When the file is not a strokect splits file or a case is in two validation folds.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"splits file not found: {path}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"splits file {path} is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise InputError(f"{path} is not a strokect splits file (format {_FORMAT})")
    folds = [{"train": list(f["train"]), "val": list(f["val"])} for f in payload["folds"]]
    seen = [c for f in folds for c in f["val"]]
    if len(seen) != len(set(seen)):
        raise InputError(f"splits file {path}: a case appears in more than one validation fold")
    return folds
