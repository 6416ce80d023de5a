"""`describe_path`: what ``strokect info`` reports for an image file, a DICOM folder or a dataset.

Each result is a JSON-serialisable dict with a ``kind``:

- ``"image"``: a file or a single DICOM series, with `strokect.io.describe.volume_summary` keys;
- ``"dicom_series"``: a DICOM folder holding several series (``series``: one dict each), none read;
- ``"dataset"``: a dataset root (``layout``, ``n_cases``, ``n_patients``, ``cases``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strokect.data import detect_layout, load_dataset
from strokect.data.case import Case, Dataset

#: SeriesInfo attributes shown for a multi-series DICOM folder (no patient data; no UID, which
#: may embed acquisition dates).
SERIES_FIELDS = ("index", "number", "description", "modality", "n_files", "rows", "cols")


def describe_path(
    path: str | Path,
    *,
    series: str | None = None,
    check: bool = False,
    allow_slice_gaps: bool = False,
) -> dict[str, Any]:
    """Describe an image file, a DICOM folder or a dataset root.

    Parameters
    ----------
    path
        A NIfTI/NRRD/MHA file, a manifest CSV, a dataset root, or a DICOM folder.
    series
        For a DICOM folder with several series: which one to read (see
        `strokect.io.read_volume`). Without it such a folder is listed, not read.
    check
        For a dataset: read every case and check its grids (`Case.check_geometry`); each case
        summary then has ``geometry`` (``"ok"`` or the mismatch message) and the result has
        ``n_geometry_errors``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InputError
        For unreadable inputs (see `strokect.io.read_volume` and `strokect.data.load_dataset`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    layout = detect_layout(path)
    if layout is not None:
        dataset = load_dataset(path, layout=layout)
        summary = dataset_summary(dataset)
        if check:
            for case, entry in zip(dataset, summary["cases"]):
                entry["geometry"] = _geometry_status(case)
            summary["n_geometry_errors"] = sum(c["geometry"] != "ok" for c in summary["cases"])
        return summary
    if path.is_dir() and series is None:
        from strokect.io.dicom import list_dicom_series

        found = list_dicom_series(path)
        if len(found) > 1:
            return {
                "kind": "dicom_series",
                "path": str(path),
                "series": [{k: _plain(getattr(s, k, None)) for k in SERIES_FIELDS} for s in found],
            }
    from strokect.io.describe import volume_summary
    from strokect.io.readwrite import read_volume

    volume = read_volume(
        path, series=series, allow_nonfinite=True, allow_slice_gaps=allow_slice_gaps
    )
    return {"kind": "image", "path": str(path), **volume_summary(volume)}


def _geometry_status(case: Case) -> str:
    import warnings

    from strokect.errors import InputError, StrokectWarning

    try:
        with warnings.catch_warnings():  # header notes were already shown by `info FILE`
            warnings.simplefilter("ignore", StrokectWarning)
            case.check_geometry()
    except InputError as exc:
        return str(exc)
    return "ok"


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def case_summary(case: Case) -> dict[str, Any]:
    """One case as a dict: ids, slab/split, present image and mask roles, missing roles."""
    return {
        "case_id": case.case_id,
        "patient_id": case.patient_id,
        "slab": case.slab,
        "split": case.split,
        "images": {role: str(p) for role, p in case.images.items()},
        "masks": {role: str(p) for role, p in case.masks.items()},
        "missing": list(case.missing),
        "native_names": dict(case.native_names),
    }


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    """A dataset as a dict: layout, root, counts and `case_summary` of every case."""
    return {
        "kind": "dataset",
        "layout": dataset.layout,
        "path": str(dataset.root),
        "n_cases": len(dataset),
        "n_patients": len(dataset.patients()),
        "cases": [case_summary(c) for c in dataset],
    }
