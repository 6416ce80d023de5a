"""ISLES 2018 challenge layout (CT perfusion slabs with a DWI-drawn core mask).

::

    <root>/TRAINING/case_<N>/SMIR.Brain.XX.O.<MOD>.<id>/SMIR.Brain.XX.O.<MOD>.<id>.nii (+ .json)
    <root>/TESTING/case_<N>/...

``<root>`` may also be the ``TRAINING`` / ``TESTING`` folder itself or one ``case_<N>`` folder.
Several cases are slabs of one patient: the JSON sidecar's ``description``
(``"ISLES 2018 - TRAIN - Train_01_A - OT"``) gives patient ``Train_01`` and slab ``A``; without a
readable sidecar the case id is the patient id.

Modality folders: ``CT``, ``CT_CBF``, ``CT_CBV``, ``CT_MTT``, ``CT_Tmax``, ``CT_4DPWI`` (images
``ct, cbf, cbv, mtt, tmax, ctp``), ``MR_DWI`` (image ``dwi``: the DWI the core was drawn on,
given with training cases; on the slab's grid like every role of a case; optional, see
`OPTIONAL_IMAGE_ROLES`) and ``OT`` (mask ``core``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from strokect.data.case import Case, Dataset, mark_missing, natural_key
from strokect.errors import InputError, warn

LAYOUT = "isles2018"

#: ISLES 2018 modality folder name -> strokect image role.
IMAGE_ROLES: dict[str, str] = {
    "CT": "ct",
    "CT_CBF": "cbf",
    "CT_CBV": "cbv",
    "CT_MTT": "mtt",
    "CT_Tmax": "tmax",
    "CT_4DPWI": "ctp",
    "MR_DWI": "dwi",
}
#: Image roles a case may lack without being reported missing: the DWI (``MR_DWI``) is missing
#: only when its folder holds no image, or when another case of the same split has it.
OPTIONAL_IMAGE_ROLES: tuple[str, ...] = ("dwi",)
#: ISLES 2018 mask folder name -> strokect mask role (the core lesion drawn on DWI).
MASK_ROLES: dict[str, str] = {"OT": "core"}

_FOLDER = re.compile(r"^SMIR\.Brain\.XX\.O\.(?P<mod>[A-Za-z0-9_]+)\.(?P<id>\d+)$")
_BY_UPPER = {k.upper(): k for k in (*IMAGE_ROLES, *MASK_ROLES)}
_SPLITS = {"TRAINING": "train", "TESTING": "test"}


def is_isles2018(root: str | Path) -> bool:
    """True when ``root`` (a dataset, split or case folder) holds ISLES 2018 modality folders."""
    return bool(_case_dirs(Path(root)))


def _case_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = set()
    for pattern in ("SMIR.Brain.*", "*/SMIR.Brain.*", "*/*/SMIR.Brain.*"):
        for folder in root.glob(pattern):
            if folder.is_dir() and _FOLDER.match(folder.name):
                found.add(folder.parent)
    return sorted(found, key=lambda p: natural_key(str(p.relative_to(root))))


def parse_description(description: str) -> tuple[str, str | None] | None:
    """``"ISLES 2018 - TRAIN - Train_01_A - OT"`` -> ``("Train_01", "A")``; None if no match."""
    parts = [p.strip() for p in description.split(" - ")]
    if len(parts) < 3 or not parts[0].upper().startswith("ISLES"):
        return None
    match = re.fullmatch(r"(?P<patient>.+?)(?:_(?P<slab>[A-Za-z]))?", parts[2])
    if not match or not match.group("patient"):
        return None
    return match.group("patient"), match.group("slab")


def _sidecar_identity(folders: list[Path]) -> tuple[str, str | None] | None:
    """Patient id and slab from the case's sidecars (the first that parses; warns on conflict)."""
    found: list[tuple[str, str | None]] = []
    for folder in folders:
        for side in sorted(folder.glob("*.json")):
            try:
                meta = json.loads(side.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            desc = meta.get("description") if isinstance(meta, dict) else None
            parsed = parse_description(desc) if isinstance(desc, str) else None
            if parsed:
                found.append(parsed)
    if not found:
        return None
    if len(set(found)) > 1:
        warn(f"{folders[0].parent}: sidecars disagree on patient/slab {sorted(set(found))}")
    return found[0]


def _image_file(folder: Path) -> Path | None:
    for suffix in (".nii", ".nii.gz"):
        candidate = folder / (folder.name + suffix)
        if candidate.is_file():
            return candidate
    others = sorted([*folder.glob("*.nii"), *folder.glob("*.nii.gz")])
    return others[0] if len(others) == 1 else None


def read_case(
    case_dir: str | Path, *, split: str | None = None, case_id: str | None = None
) -> Case:
    """Read one ``case_<N>`` folder into a `Case` (``missing`` is filled by `read_isles2018`)."""
    case_dir = Path(case_dir)
    case = Case(
        case_id=case_id or case_dir.name,
        patient_id=case_id or case_dir.name,
        layout=LAYOUT,
        split=split,
        folder=case_dir,
    )
    folders = sorted(f for f in case_dir.iterdir() if f.is_dir() and _FOLDER.match(f.name))
    for folder in folders:
        mod = _BY_UPPER.get(_FOLDER.match(folder.name).group("mod").upper())
        if mod is None:
            warn(f"{folder}: unknown ISLES 2018 modality folder; ignored")
            continue
        role = IMAGE_ROLES.get(mod) or MASK_ROLES[mod]
        case.native_names[role] = mod
        image = _image_file(folder)
        if image is None:
            continue
        (case.images if mod in IMAGE_ROLES else case.masks)[role] = image
    identity = _sidecar_identity(folders)
    if identity:
        case.patient_id, case.slab = identity
    return case


def read_isles2018(root: str | Path) -> Dataset:
    """All cases below an ISLES 2018 root, in natural order.

    Every case expects the six image roles (``ct, cbf, cbv, mtt, tmax, ctp``); cases under
    ``TRAINING`` also expect the ``core`` mask. Absent files (e.g. a modality folder holding only
    its JSON sidecar) are listed in ``Case.missing``. The ``dwi`` role (`OPTIONAL_IMAGE_ROLES`) is
    missing only when its folder has no image or another case of the same split has it. Case ids
    are the folder names (``case_1``); cases under ``TESTING`` get a ``test_`` prefix so ids stay
    unique.
    """
    root = Path(root)
    case_dirs = _case_dirs(root)
    if not case_dirs:
        raise InputError(f"{root}: no ISLES 2018 case folders (SMIR.Brain.XX.O.<MOD>.<id>) found")
    cases: list[Case] = []
    for case_dir in case_dirs:
        split = next((_SPLITS[p.upper()] for p in case_dir.parts if p.upper() in _SPLITS), None)
        case_id = f"test_{case_dir.name}" if split == "test" else case_dir.name
        cases.append(read_case(case_dir, split=split, case_id=case_id))
    for split in dict.fromkeys(c.split for c in cases):
        members = [c for c in cases if c.split == split]
        images = [r for r in IMAGE_ROLES.values() if r not in OPTIONAL_IMAGE_ROLES]
        expected = [*images, *(MASK_ROLES.values() if split == "train" else ())]
        mark_missing(members, expected)
    for case in cases:
        # an optional role's folder without its image (only the sidecar) is missing too
        for role in OPTIONAL_IMAGE_ROLES:
            if role in case.native_names and role not in (*case.roles, *case.missing):
                case.missing.append(role)
        for role in case.missing:
            case.native_names.setdefault(role, _native(role))
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise InputError(f"{root}: duplicate ISLES 2018 case folder names {sorted(ids)}")
    return Dataset(layout=LAYOUT, root=root, cases=cases)


def _native(role: str) -> str:
    for mod, r in (*IMAGE_ROLES.items(), *MASK_ROLES.items()):
        if r == role:
            return mod
    return role
