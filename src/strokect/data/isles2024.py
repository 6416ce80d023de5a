"""ISLES 2024 (BIDS-like) layout: acute NCCT/CTA/CTP with perfusion maps, follow-up infarct mask.

::

    <root>/rawdata/sub-<id>/ses-<acute>/sub-<id>_ses-<acute>_{ncct,cta,ctp}.nii.gz
    <root>/rawdata/sub-<id>/ses-<acute>/perfusion-maps/sub-<id>_ses-<acute>_{cbf,cbv,mtt,tmax}.nii.gz
    <root>/rawdata/sub-<id>/ses-<followup>/sub-<id>_ses-<followup>_{dwi,adc}.nii.gz
    <root>/derivatives/sub-<id>/ses-<acute>/perfusion-maps/..._space-ncct_{cbf,cbv,mtt,tmax}.nii.gz
    <root>/derivatives/sub-<id>/ses-<acute>/..._space-ncct_{cta,ctp}.nii.gz
    <root>/derivatives/sub-<id>/ses-<followup>/..._lesion-msk.nii.gz

Roles: files from ``rawdata`` keep their suffix as role (``ncct``, ``cta``, ``ctp``, ``cbf``,
``cbv``, ``mtt``, ``tmax``, ``dwi``, ``adc``); ``space-ncct`` derivatives get ``_ncct`` appended
(``cbf_ncct``...: registered to the NCCT grid, the grid of the mask). The lesion mask (final infarct
on follow-up DWI) is the mask role ``infarct``. Files are found anywhere below
``rawdata/sub-<id>`` and ``derivatives/sub-<id>`` by their name's last ``_<suffix>``, so session
labels (``ses-0001``, ``ses-01``) are not interpreted; two files giving one role are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from strokect.data.case import Case, Dataset, mark_missing, natural_key
from strokect.errors import InputError, warn

LAYOUT = "isles2024"

#: Image roles every ISLES 2024 case is expected to have.
EXPECTED_IMAGES = ("ncct", "cta", "ctp", "cbf", "cbv", "mtt", "tmax")
_RAW_ROLES = ("ncct", "cta", "ctp", "cbf", "cbv", "mtt", "tmax", "dwi", "adc")
_MASK_SUFFIXES = {"lesion-msk": "infarct", "msk": "infarct"}  # BIDS suffix -> mask role
_NIFTI = re.compile(r"^(?P<stem>.+)\.nii(\.gz)?$")


def is_isles2024(root: str | Path) -> bool:
    """True when ``root`` has ``rawdata/sub-*`` or ``derivatives/sub-*`` folders."""
    root = Path(root)
    return any(p.is_dir() for top in ("rawdata", "derivatives") for p in (root / top).glob("sub-*"))


def _role_of(stem: str) -> tuple[str, str] | None:
    """(kind, role) for a file stem; kind is "image" or "mask"; None for unknown files."""
    suffix = stem.rsplit("_", 1)[-1].lower()
    if suffix in _MASK_SUFFIXES:
        return "mask", _MASK_SUFFIXES[suffix]
    if suffix not in _RAW_ROLES:
        return None
    space = re.search(r"_space-([A-Za-z0-9]+)_", stem)
    if space and space.group(1).lower() != suffix:
        return "image", f"{suffix}_{space.group(1).lower()}"
    return "image", suffix


def _add_files(case: Case, subject_dir: Path) -> None:
    for path in sorted(subject_dir.rglob("*.nii*"), key=lambda p: natural_key(str(p))):
        match = _NIFTI.match(path.name)
        if not match or not path.is_file():
            continue
        found = _role_of(match.group("stem"))
        if found is None:
            warn(f"{path}: not a known ISLES 2024 file name; ignored")
            continue
        kind, role = found
        target = case.masks if kind == "mask" else case.images
        if role in target and target[role] != path:
            raise InputError(
                f"{subject_dir}: two files for role {role!r}: {target[role].name} and {path.name}"
            )
        target[role] = path


def read_isles2024(root: str | Path) -> Dataset:
    """All ``sub-*`` subjects below an ISLES 2024 root (rawdata and derivatives merged).

    ``missing`` lists the `EXPECTED_IMAGES` absent for a case, and any other role (mask,
    ``*_ncct`` derivative, DWI) that some cases of the dataset have and this one lacks.
    """
    root = Path(root)
    if not is_isles2024(root):
        raise InputError(f"{root}: no ISLES 2024 rawdata/sub-* or derivatives/sub-* folders found")
    subjects: dict[str, Case] = {}
    for top in ("rawdata", "derivatives"):
        for subject_dir in sorted((root / top).glob("sub-*"), key=lambda p: natural_key(p.name)):
            if not subject_dir.is_dir():
                continue
            case = subjects.setdefault(
                subject_dir.name,
                Case(
                    case_id=subject_dir.name,
                    patient_id=subject_dir.name,
                    layout=LAYOUT,
                    folder=subject_dir,
                ),
            )
            _add_files(case, subject_dir)
    cases = sorted(subjects.values(), key=lambda c: natural_key(c.case_id))
    mark_missing(cases, EXPECTED_IMAGES)
    for case in cases:
        case.grid_groups = _grid_groups(case)
    return Dataset(layout=LAYOUT, root=root, cases=cases)


def _grid_groups(case: Case) -> list[list[str]]:
    """NCCT grid (ncct, ``*_ncct`` derivatives, mask), CTP grid (ctp and raw maps), the rest alone."""
    ncct = ["ncct", *(r for r in case.images if r.endswith("_ncct")), *case.masks]
    ctp = [r for r in ("ctp", "cbf", "cbv", "mtt", "tmax") if r in case.images]
    return [ncct, ctp]
