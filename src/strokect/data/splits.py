"""Patient-level k-fold cross-validation splits, persisted to JSON.

All cases of one patient (e.g. the slabs of an ISLES 2018 patient) always fall in the same fold, so
no patient is seen in training and validation of one fold (Clèrigues et al., CBM 2019, sec. 4.1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
    cases: Sequence[Any],
    k: int = 5,
    *,
    seed: int = 0,
    stop_fraction: float = 0.2,
    strata: Mapping[str, str | None] | None = None,
) -> list[dict[str, list[str]]]:
    """Split cases into ``k`` folds by patient.

    Patients are shuffled with ``seed`` then assigned, largest first, to the fold holding the fewest
    cases so far (ties: lowest fold index), which balances fold sizes when patients have several
    cases. Within each fold's training patients, ``stop_fraction`` of them (at least one when
    the fraction is > 0 and two or more remain for training) form the ``stop`` set that early
    stopping watches, so the ``val`` fold stays unseen until the post-processing is calibrated
    and the model scored on it (choosing both on one fold is optimistic).

    Parameters
    ----------
    cases : sequence
        `strokect.data.Case` objects (``case_id`` and ``patient_id`` used), mappings with those
        keys, or case-id strings (each its own patient).
    k : int
        Number of folds, 2 <= k <= number of patients.
    seed : int
        Seed of the patient shuffle.
    strata : mapping case_id -> stratum, optional
        Stratified folds (e.g. a method whose networks each train on one lesion class): the
        patients of each stratum (that of their first case; None is a stratum too) are dealt
        to the folds in turn, each to the fold holding the fewest patients of that stratum
        (ties: fewest cases, then lowest index), and the ``stop`` patients are drawn per
        stratum, leaving at least one of every stratum to train on. Without it, the
        assignment is the unstratified one above.

    Returns
    -------
    list of dict
        One ``{"train": [case_ids], "stop": [case_ids], "val": [case_ids]}`` per fold; ids sorted
        in input order; ``train``, ``stop`` and ``val`` are disjoint. Every case is in exactly
        one ``val`` list.

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
    if not 0.0 <= stop_fraction < 1.0:
        raise InputError(f"stop_fraction must be in [0, 1); got {stop_fraction}")
    names = sorted(patients)
    rng = np.random.default_rng(seed)
    names = [names[i] for i in rng.permutation(len(names))]
    names.sort(key=lambda p: -len(patients[p]))  # stable: shuffled order within equal sizes
    stratum = {p: None if strata is None else strata.get(patients[p][0]) for p in names}
    if strata is not None:  # stratum by stratum (sorted by name), shuffled order within
        names.sort(key=lambda p: str(stratum[p]))
    folds: list[list[str]] = [[] for _ in range(int(k))]
    fold_patients: list[list[str]] = [[] for _ in range(int(k))]
    for pid in names:
        same = [sum(stratum[q] == stratum[pid] for q in fold_patients[f]) for f in range(int(k))]
        target = min(range(int(k)), key=lambda f: (same[f], len(folds[f]), f))
        folds[target].extend(patients[pid])
        fold_patients[target].append(pid)
    out = []
    for f in range(int(k)):
        val = sorted(folds[f], key=order.__getitem__)
        train_patients = sorted(p for g in range(int(k)) if g != f for p in fold_patients[g])
        stop_patients = _stop_patients(train_patients, stratum, stop_fraction, strata, [seed, f])
        stop = sorted((c for p in stop_patients for c in patients[p]), key=order.__getitem__)
        train = sorted(
            (c for p in train_patients if p not in stop_patients for c in patients[p]),
            key=order.__getitem__,
        )
        out.append({"train": train, "stop": stop, "val": val})
    return out


def _stop_patients(train_patients, stratum, fraction, strata, seed) -> set[str]:
    if strata is None:
        n_stop = _n_stop(len(train_patients), fraction)
        pick = np.random.default_rng(seed).permutation(len(train_patients))[:n_stop]
        return {train_patients[i] for i in pick}
    out: set[str] = set()
    n_total = _n_stop(len(train_patients), fraction)
    rng = np.random.default_rng(seed)
    for value in sorted({stratum[p] for p in train_patients}, key=str):
        group = [p for p in train_patients if stratum[p] == value]
        n = min(round(fraction * len(group)), len(group) - 1, n_total - len(out))
        out.update(group[i] for i in rng.permutation(len(group))[: max(n, 0)])
    return out


def _n_stop(n_train_patients: int, fraction: float) -> int:
    if fraction <= 0 or n_train_patients < 3:
        return 0
    return min(max(1, round(fraction * n_train_patients)), n_train_patients - 2)


def save_splits(splits: Sequence[dict[str, list[str]]], path: str | Path) -> Path:
    """Write splits to a JSON file (atomically); returns the path."""
    path = Path(path)
    payload = {
        "format": _FORMAT,
        "folds": [
            dict(
                train=list(s["train"]),
                stop=None if s.get("stop") is None else list(s["stop"]),
                val=list(s["val"]),
            )
            for s in splits
        ],
    }
    return write_json(payload, path, indent=1)


def load_splits(path: str | Path) -> list[dict[str, list[str]]]:
    """Read splits written by `save_splits` (files from before the ``stop`` sets have
    ``stop=None``: early stopping watched the ``val`` fold in those runs).

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
    folds = [
        {
            "train": list(f["train"]),
            "stop": None if f.get("stop") is None else list(f["stop"]),
            "val": list(f["val"]),
        }
        for f in payload["folds"]
    ]
    seen = [c for f in folds for c in f["val"]]
    if len(seen) != len(set(seen)):
        raise InputError(f"splits file {path}: a case appears in more than one validation fold")
    return folds
