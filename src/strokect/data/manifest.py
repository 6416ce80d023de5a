"""Plain CSV manifest: one row per file, ``case_id,patient_id,role,path``.

Relative paths are resolved against the CSV's folder. Image roles are `IMAGE_ROLES`; mask roles
are ``mask`` (stored as mask role ``lesion``) and ``mask_<name>`` (stored as ``<name>``, e.g.
``mask_core``, ``mask_infarct``, ``mask_hemorrhage``). A row naming a file that does not exist
makes that role *missing* for the case; any malformed row raises `InputError` naming its line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from strokect.data.case import Case, Dataset, mark_missing
from strokect.errors import InputError

LAYOUT = "manifest"
COLUMNS = ("case_id", "patient_id", "role", "path")
#: Image roles a manifest may use.
IMAGE_ROLES = (
    "ncct",
    "ncct_baseline",
    "ncct_followup",
    "cta",
    "ctp",
    "cbf",
    "cbv",
    "mtt",
    "tmax",
    "ttp",
    "dwi",
    "adc",
    # the phantom's truth maps (the `realistic` preset's maps are vendor-like; these are exact)
    "truth_cbf",
    "truth_cbv",
    "truth_mtt",
    "truth_tmax",
)


def mask_role(role: str) -> str | None:
    """Mask key for a manifest role (``mask`` -> ``lesion``, ``mask_core`` -> ``core``), else None."""
    if role == "mask":
        return "lesion"
    if role.startswith("mask_") and len(role) > 5 and role[5:].replace("_", "").isalnum():
        return role[5:]
    return None


def is_manifest(path: str | Path) -> bool:
    """True for a ``.csv`` file whose header names the manifest columns."""
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return set(COLUMNS) <= {h.strip() for h in header}


def find_manifest(folder: str | Path) -> Path | None:
    """The manifest CSV inside ``folder``: ``manifest.csv`` or the only manifest-shaped CSV."""
    folder = Path(folder)
    if (folder / "manifest.csv").is_file() and is_manifest(folder / "manifest.csv"):
        return folder / "manifest.csv"
    found = [p for p in sorted(folder.glob("*.csv")) if is_manifest(p)]
    return found[0] if len(found) == 1 else None


def _header(reader, path: Path) -> list[str]:
    header = [h.strip() for h in next(reader, [])]
    lacking = [c for c in COLUMNS if c not in header]
    if lacking:
        raise InputError(
            f"{path}:1: manifest header lacks column(s) {', '.join(lacking)} "
            f"(expected {','.join(COLUMNS)}; got {','.join(header) or 'an empty line'})"
        )
    extra = [h for h in header if h not in COLUMNS]
    if extra:
        raise InputError(f"{path}:1: unknown manifest column(s) {', '.join(extra)}")
    return header


def _check_row(values: dict[str, str], where: str) -> None:
    for column in ("case_id", "role", "path"):
        if not values[column]:
            raise InputError(f"{where}: empty {column}")
    role = values["role"]
    if role not in IMAGE_ROLES and mask_role(role) is None:
        raise InputError(
            f"{where}: unknown role {role!r} (image roles: {', '.join(IMAGE_ROLES)}; "
            "masks: mask or mask_<name>)"
        )


def read_manifest(path: str | Path) -> Dataset:
    """Cases from a manifest CSV (or a folder holding one), in order of first appearance.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InputError
        For a bad header, a row with the wrong number of fields, an empty case id / role / path,
        an unknown role, a role given twice for one case, a case with two patient ids, or no rows.
    """
    path = Path(path)
    if path.is_dir():
        found = find_manifest(path)
        if found is None:
            raise InputError(f"{path}: no manifest CSV ({','.join(COLUMNS)}) in this folder")
        path = found
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    cases: dict[str, Case] = {}
    absent: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = _header(reader, path)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(f"{where}: {len(row)} fields, expected {len(header)}")
            values = {h: cell.strip() for h, cell in zip(header, row)}
            _check_row(values, where)
            _add_row(cases, absent, values, where, base=path.parent)
    if not cases:
        raise InputError(f"{path}: the manifest has no rows")
    result = list(cases.values())
    for case in result:
        case.missing = absent.get(case.case_id, [])
        case.folder = path
    mark_missing(result)
    return Dataset(layout=LAYOUT, root=path, cases=result)


def _add_row(cases: dict, absent: dict, values: dict, where: str, *, base: Path) -> None:
    case_id, role = values["case_id"], values["role"]
    patient = values["patient_id"] or case_id
    case = cases.setdefault(case_id, Case(case_id=case_id, patient_id=patient, layout=LAYOUT))
    if case.patient_id != patient:
        raise InputError(
            f"{where}: case {case_id!r} has patient_id {patient!r} here but "
            f"{case.patient_id!r} on an earlier line"
        )
    key = mask_role(role)
    target = case.images if key is None else case.masks
    key = key or role
    if key in target or key in absent.get(case_id, []):
        raise InputError(f"{where}: role {role!r} given twice for case {case_id!r}")
    file = Path(values["path"]).expanduser()
    file = file if file.is_absolute() else base / file
    if file.exists():
        target[key] = file
    else:
        absent.setdefault(case_id, []).append(key)
        case.absent_files[key] = file
