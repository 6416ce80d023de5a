"""Write phantom cases in the ISLES 2018 layout, the ISLES 2024 BIDS-like layout or a CSV manifest.

Every layout also gets ``metadata/<case_id>.json`` (all generating parameters, see
`PhantomCase.metadata`) and two CSV manifests (``case_id,patient_id,role,path``) of *every* file
written, one per grid so that each manifest case has a single grid:

- ``manifest.csv``: the acute slab (NCCT ``ncct``, ``ctp``, maps, ``dwi``, ``mask_core``...);
- ``manifest_ncct_pairs.csv``: the whole-head pair (``ncct_baseline``, ``ncct_followup``,
  ``mask_infarct``, ``mask_hemorrhage``, ``mask_baseline_*``...).

Both use the phantom case id as case and patient id. For ``layout="csv"`` they are in ``<root>``;
for the ISLES layouts in ``<root>/extras/`` (kept out of the root so that
`strokect.data.load_dataset` detects the ISLES layout), listing the ISLES files and the extra
volumes the ISLES layouts have no slot for, which are written under ``<root>/extras/<case_id>/``
(the follow-up hemorrhage mask among them: role ``mask_hemorrhage`` of ``manifest_ncct_pairs.csv``).

With ``pairs="realistic"`` (`strokect.phantom.synth_case`; layouts ``csv`` and ``isles2018``)
``manifest_ncct_pairs.csv`` holds two cases per phantom case instead of one: ``<case_id>_fu24h``
and ``<case_id>_fu1w``, both with patient id ``<case_id>`` (splits stay per patient), each with
the roles ``ncct_baseline`` (one file, ``<case_id>_followup_ncct_baseline.nii.gz``, on its own
grid, listed in both), ``ncct_followup``, ``mask_infarct``, ``mask_hemorrhage``, ``mask_brain``,
``mask_intracranial``, ``mask_csf``, ``mask_labels`` and ``mask_baseline_*`` on that follow-up's
grid (files ``<case_id>_fu24h_<role>.nii.gz``, ``<case_id>_fu1w_<role>.nii.gz``); ``case_info.csv``
then has a row for each of them too (column ``followup``: ``24h`` / ``1w``).

Every layout also gets a ``case_info.csv`` (`strokect.data.case_info`; `case_info_row`): per case
the kind, the measured follow-up ``lesion_class`` and the infarct and hemorrhage volumes, which
`strokect.data.load_dataset` puts into `Case.metadata`. It lies beside the manifests (phantom case
ids) and, for the ISLES layouts, also at the root with the layout's case ids (``case_1``,
``sub-phantom0000``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from strokect.data.case_info import CASE_INFO_FILE
from strokect.io import Volume, write_volume
from strokect.io.convert import sitk_to_volume, volume_to_sitk
from strokect.io.records import write_csv, write_json
from strokect.phantom.case import PAIR_FOLLOWUPS

LAYOUTS = ("isles2018", "isles2024", "csv")
#: the layouts of ``pairs="realistic"`` cohorts (ISLES 2024 keeps one NCCT grid per subject: its
#: lesion mask is in the baseline NCCT's space)
PAIRS_LAYOUTS = ("csv", "isles2018")
#: ISLES 2018 modality folder name -> acute key; ids are consecutive in this order (``MR_DWI``,
#: the acute DWI, came last so the ids of the others did not change)
ISLES2018_MODS = (
    ("CT_4DPWI", "ctp"),
    ("CT", "ct"),
    ("CT_CBF", "cbf"),
    ("CT_CBV", "cbv"),
    ("CT_MTT", "mtt"),
    ("OT", "core"),
    ("CT_Tmax", "tmax"),
    ("MR_DWI", "dwi"),
)
#: manifest role of every case volume: (group, key) -> role
MANIFEST_ROLES = {
    ("acute", "ct"): "ncct",
    ("acute", "ctp"): "ctp",
    ("acute", "cbf"): "cbf",
    ("acute", "cbv"): "cbv",
    ("acute", "mtt"): "mtt",
    ("acute", "tmax"): "tmax",
    ("acute", "dwi"): "dwi",
    ("followup", "ncct_baseline"): "ncct_baseline",
    ("followup", "ncct_followup"): "ncct_followup",
    **{("acute", f"truth_{k}"): f"truth_{k}" for k in ("cbf", "cbv", "mtt", "tmax")},
}
ISLES2018_ID_BASE = 900000


def manifest_role(group: str, key: str) -> str:
    """Manifest role of ``case.<group>[key]``: an image role or ``mask_<key>``."""
    return MANIFEST_ROLES.get((group, key), f"mask_{key}")


def _row(case, group: str, role: str, path: Path, base: Path) -> tuple[str, str, str, str, str]:
    """``(group, case_id, patient_id, role, path relative to base)``."""
    return (group, case.case_id, case.case_id, role, Path(os.path.relpath(path, base)).as_posix())


MANIFESTS = {"acute": "manifest.csv", "followup": "manifest_ncct_pairs.csv"}


def write_csv_manifest(rows: list[tuple[str, str, str, str]], path: Path) -> None:
    """Write ``case_id,patient_id,role,path`` rows (atomic)."""
    columns = ("case_id", "patient_id", "role", "path")
    write_csv([dict(zip(columns, row, strict=True)) for row in rows], path, columns=columns)


def write_manifests(rows: list[tuple], folder: Path) -> dict[str, Path]:
    """Split ``(group, case_id, patient_id, role, path)`` rows into the `MANIFESTS` files."""
    out = {}
    for group, name in MANIFESTS.items():
        out[group] = folder / name
        write_csv_manifest([r[1:] for r in rows if r[0] == group], out[group])
    return out


CASE_INFO_COLUMNS = (
    "case_id",
    "phantom_case_id",
    "seed",
    "kind",
    "lesion_class",
    "lesion_class_requested",
    "infarct_mean_hu",
    "infarct_ml",
    "hemorrhage_ml",
    "followup_slice_mm",
)
#: the extra ``case_info.csv`` column of ``pairs="realistic"`` cohorts (``24h`` / ``1w``, empty
#: for the acute case)
PAIRS_CASE_INFO_COLUMN = "followup"


def layout_case_id(case_id: str, layout: str, index: int) -> str:
    """The id `strokect.data.load_dataset` gives the case in ``layout`` (``case_1``, ``sub-...``)."""
    if layout == "isles2018":
        return f"case_{index + 1}"
    if layout == "isles2024":
        return "sub-" + case_id.replace("_", "")
    return case_id


def case_info_row(case, *, layout: str, index: int) -> dict:
    """The ``case_info.csv`` row of a `PhantomCase` (``case_id`` is the layout's id)."""
    meta = case.metadata
    kind = meta["lesion"]["kind"]
    fu = meta["volumes_ml"]["followup"]
    return {
        "case_id": layout_case_id(case.case_id, layout, index),
        "phantom_case_id": case.case_id,
        "seed": meta["seed"],
        "kind": kind,
        "lesion_class": meta["lesion_class"],
        "lesion_class_requested": (
            meta["lesion"]["lesion_class_requested"]
            if kind in ("ischemic", "ischemic_ht")
            else None
        ),
        "infarct_mean_hu": meta["infarct_mean_hu"],
        "infarct_ml": fu["infarct"],
        "hemorrhage_ml": fu["hemorrhage"],
        "followup_slice_mm": meta["grids"]["followup"]["spacing_mm_zyx"][0],
    }


def case_info_rows(case, *, layout: str, index: int) -> list[dict]:
    """`case_info_row`, then with ``pairs="realistic"`` one row per follow-up case of the pair
    manifest (``<case_id>_fu24h``, ``<case_id>_fu1w``; their measured class, infarct mean HU,
    volumes and slice thickness; the 24 h row has no requested class)."""
    first = case_info_row(case, layout=layout, index=index)
    if not case.followup_24h:
        return [first]
    pairs = case.metadata["pairs"]
    rows = [{**first, PAIRS_CASE_INFO_COLUMN: None}]
    for when, key, vols in (
        ("24h", "followup_24h", case.followup_24h),
        ("1w", "followup_1w", case.followup),
    ):
        info = pairs[key]
        rows.append(
            {
                **first,
                "case_id": pairs["case_ids"][when],
                "lesion_class": info["lesion_class"],
                "lesion_class_requested": first["lesion_class_requested"] if when == "1w" else None,
                "infarct_mean_hu": info["infarct_mean_hu"],
                "infarct_ml": info["volumes_ml"]["infarct"],
                "hemorrhage_ml": info["volumes_ml"]["hemorrhage"],
                "followup_slice_mm": vols["ncct_followup"].spacing_mm[0],
                PAIRS_CASE_INFO_COLUMN: when,
            }
        )
    return rows


def write_case_info(rows: list[dict], root: Path, *, layout: str) -> list[Path]:
    """Write ``case_info.csv`` beside the manifests and, for the ISLES layouts, at the root.

    Rows of realistic-pairs follow-up cases (a ``followup`` value) keep their case id in both.
    """
    root = Path(root)
    columns = CASE_INFO_COLUMNS
    if any(PAIRS_CASE_INFO_COLUMN in r for r in rows):
        columns = (*columns, PAIRS_CASE_INFO_COLUMN)
    if layout == "csv":
        return [write_csv(rows, root / CASE_INFO_FILE, columns=columns)]
    by_phantom = [
        r if r.get(PAIRS_CASE_INFO_COLUMN) else {**r, "case_id": r["phantom_case_id"]} for r in rows
    ]
    return [
        write_csv(rows, root / CASE_INFO_FILE, columns=columns),
        write_csv(by_phantom, root / "extras" / CASE_INFO_FILE, columns=columns),
    ]


def write_case(
    case, root: str | Path, *, layout: str, index: int
) -> list[tuple[str, str, str, str]]:
    """Write one `PhantomCase` under ``root``; returns its manifest rows
    ``(group, case_id, patient_id, role, path)`` (paths relative to the manifests' folder, see
    `write_manifests`). ``index`` (0-based) numbers ISLES 2018 ``case_<index+1>``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    if case.followup_24h and layout not in PAIRS_LAYOUTS:
        raise ValueError(f"pairs='realistic' writes the layouts {PAIRS_LAYOUTS}; got {layout!r}")
    root = Path(root)
    write_json(case.metadata, root / "metadata" / f"{case.case_id}.json", indent=1, sort_keys=True)
    if layout == "csv":
        return _write_all(case, root / "cases" / case.case_id, root, skip=set())
    base = root / "extras"
    if layout == "isles2018":
        rows, done = _write_isles2018(case, root, index=index, base=base)
    else:
        rows, done = _write_isles2024(case, root, base=base)
    return rows + _write_all(case, base / case.case_id, base, skip=done)


def _write_all(case, folder: Path, base: Path, *, skip: set) -> list:
    rows: list = []
    for group in ("acute", "followup"):
        if group == "followup" and case.followup_24h:
            rows += _write_pairs(case, folder, base)
            continue
        for key, vol in getattr(case, group).items():
            if (group, key) in skip:
                continue
            role = manifest_role(group, key)
            path = folder / f"{case.case_id}_{group}_{role}.nii.gz"
            write_volume(vol, path)
            rows.append(_row(case, group, role, path, base))
    return rows


def _write_pairs(case, folder: Path, base: Path) -> list:
    """``pairs="realistic"``: one pair-manifest case per follow-up sharing the baseline file."""
    rows: list = []
    baseline = folder / f"{case.case_id}_followup_ncct_baseline.nii.gz"
    write_volume(case.followup["ncct_baseline"], baseline)
    for when, vols in (("24h", case.followup_24h), ("1w", case.followup)):
        pair_id = case.case_id + PAIR_FOLLOWUPS[when]
        rel = Path(os.path.relpath(baseline, base)).as_posix()
        rows.append(("followup", pair_id, case.case_id, "ncct_baseline", rel))
        for key, vol in vols.items():
            if key == "ncct_baseline":
                continue
            role = manifest_role("followup", key)
            path = folder / f"{pair_id}_{role}.nii.gz"
            write_volume(vol, path)
            rel = Path(os.path.relpath(path, base)).as_posix()
            rows.append(("followup", pair_id, case.case_id, role, rel))
    return rows


def _write_isles2018(case, root: Path, *, index: int, base: Path) -> tuple[list, set]:
    rows: list = []
    case_dir = root / "TRAINING" / f"case_{index + 1}"
    patient = f"Train_{index + 1:02d}"
    for k, (mod, key) in enumerate(ISLES2018_MODS):
        ident = ISLES2018_ID_BASE + 10 * index + k
        name = f"SMIR.Brain.XX.O.{mod}.{ident}"
        path = case_dir / name / f"{name}.nii"
        role = "mask_core" if key == "core" else MANIFEST_ROLES[("acute", key)]
        write_volume(case.acute[key], path)
        rows.append(_row(case, "acute", role, path, base))
        write_json(
            {
                "id": ident,
                "name": f"{name}.nii",
                "generator": "strokect.phantom",
                "description": f"ISLES 2018 - TRAIN - {patient}_A - {mod}",
                "phantom_case_id": case.case_id,
            },
            case_dir / name / f"{name}.json",
            indent=1,
            sort_keys=True,
        )
    return rows, {("acute", key) for _, key in ISLES2018_MODS}


def resample_like(vol: Volume, reference: Volume, *, order: int) -> Volume:
    """``vol`` resampled onto ``reference``'s grid by world position (0 outside ``vol``)."""
    interp = sitk.sitkNearestNeighbor if order == 0 else sitk.sitkLinear
    moving = volume_to_sitk(vol)
    ref = volume_to_sitk(reference.with_array(np.zeros(reference.spatial_shape, np.float32)))
    out = sitk.Resample(moving, ref, sitk.Transform(), interp, 0.0, moving.GetPixelID())
    return sitk_to_volume(out, metadata=dict(vol.metadata))


def _write_isles2024(case, root: Path, *, base: Path) -> tuple[list, set]:
    rows: list = []
    sub = "sub-" + case.case_id.replace("_", "")
    acute_dir = root / "rawdata" / sub / "ses-0001"
    deriv = root / "derivatives" / sub
    ncct = case.followup["ncct_baseline"]
    files = [
        (acute_dir / f"{sub}_ses-0001_ncct.nii.gz", ncct, "ncct_baseline"),
        (acute_dir / f"{sub}_ses-0001_ctp.nii.gz", case.acute["ctp"], "ctp"),
    ]
    for key in ("cbf", "cbv", "mtt", "tmax"):
        vol = case.acute[key]
        files.append((acute_dir / "perfusion-maps" / f"{sub}_ses-0001_{key}.nii.gz", vol, key))
        files.append(
            (
                deriv / "ses-0001" / "perfusion-maps" / f"{sub}_ses-0001_space-ncct_{key}.nii.gz",
                resample_like(vol, ncct, order=1),
                f"{key}_ncct",
            )
        )
    lesion = case.followup["baseline_infarct"]
    files.append(
        (
            deriv / "ses-0002" / f"{sub}_ses-0002_space-ncct_lesion-msk.nii.gz",
            lesion,
            "mask_baseline_infarct",
        )
    )
    for path, vol, role in files:
        write_volume(vol, path)
        if not role.endswith("_ncct"):
            group = "followup" if role in ("ncct_baseline", "mask_baseline_infarct") else "acute"
            rows.append(_row(case, group, role, path, base))
    done = {("followup", "ncct_baseline"), ("followup", "baseline_infarct")}
    done |= {("acute", k) for k in ("ctp", "cbf", "cbv", "mtt", "tmax")}
    return rows, done
