"""The cases of a cohort and the types of a cohort run (`strokect.pipelines.cohort`).

`find_cohort` lists the cases under a root: every case of a dataset in any layout
`strokect.data` reads, or every study folder of a root of DICOM studies (series mapped to roles
by `strokect.pipelines.inputs.dicom_study_roles`, pseudonymous case ids), or, for
``strokect perfusion``, every 4D image file of a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from strokect.data.case import Case, natural_key
from strokect.errors import InputError
from strokect.pipelines.inputs import CaseInputs, dicom_study_roles, has_dicom, several_studies

__all__ = [
    "CohortCase",
    "CohortResult",
    "CohortTask",
    "find_cohort",
    "is_cohort_root",
    "is_perfusion_cohort",
]


@dataclass
class CohortCase:
    """One case of a cohort.

    Attributes
    ----------
    case_id : str
        Its output folder name and its id in every table. For DICOM studies a pseudonym
        (``study-001``...) in the natural order of the study folder names: a folder name may be
        a patient identifier and never reaches an output.
    inputs : CaseInputs
        The images by role.
    private : tuple of str
        Strings removed from error messages (a DICOM study's folder path and name).
    """

    case_id: str
    inputs: CaseInputs
    private: tuple[str, ...] = ()

    def scrub(self, text: str) -> str:
        """``text`` with every `private` string (as a whole word or path) replaced by
        ``<case_id>``."""
        import re

        for item in sorted(self.private, key=len, reverse=True):
            pattern = rf"(?<![\w.\-]){re.escape(item)}(?![\w.\-])"
            text = re.sub(pattern, f"<{self.case_id}>", text)
        return text


class CohortTask(Protocol):
    """What a cohort run does per case (`strokect.pipelines.segment_cohort.SegmentTask`...).

    A task is pickled to the workers: keep it small and keep loaded state (models) in a
    per-process cache, not on the object.
    """

    kind: str  # "segment" or "perfusion": names the cohort tables
    table_name: str  # the cohort table, e.g. "volumes.csv"

    def __call__(self, case: CohortCase, folder: Path) -> None:
        """Write every output of ``case`` into the empty folder ``folder``."""

    def is_complete(self, folder: Path) -> bool:
        """``folder`` holds a finished case (its record file exists)."""

    def matches(self, folder: Path, case: CohortCase) -> str | None:
        """None when the case in ``folder`` was made with this run's settings, else why not."""

    def table_rows(self, folder: Path) -> list[dict]:
        """The rows of the cohort table for the finished case in ``folder``."""

    def table_columns(self) -> list[str]:
        """Columns of the cohort table."""

    def describe(self) -> dict:
        """Settings recorded in ``cohort.json`` (method, weights...; no input path)."""


@dataclass
class CohortResult:
    """What `run_cohort` did.

    Attributes
    ----------
    records : list of dict
        One per case of this part: ``case_id``, ``status`` (``ok``, ``skipped``, ``failed``),
        ``seconds``, ``message``.
    paths : dict of str to Path
        The cohort files written.
    seconds : float
        Wall time of the run.
    """

    records: list[dict]
    paths: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)

    @property
    def n_failed(self) -> int:
        return self.count("failed")


def find_cohort(
    root: str | Path,
    *,
    files_are_cases: bool = False,
    ct_role: str = "ct",
    exclude: str | Path | None = None,
) -> tuple[list[CohortCase], list[dict]]:
    """The cases under ``root``, and the studies that could not be made into cases.

    Parameters
    ----------
    root : path
        A dataset root in a layout `strokect.data.load_dataset` reads, or a folder of DICOM
        study folders (`dicom_study_roles`), or, with ``files_are_cases``, a folder of image
        files (one case each, id = the file name without its suffix; ``strokect perfusion``).
    ct_role : str
        The role of a 3D CT series of a DICOM study (`dicom_study_roles`).
    exclude : path, optional
        A folder under ``root`` that is not a study (the output folder of the run: its
        DICOM-SEG files would make it look like one).

    Returns
    -------
    cases : list of CohortCase
    problems : list of dict
        ``{"case_id", "message"}`` for each study whose roles could not be decided.
    """
    from strokect.data import detect_layout, load_dataset
    from strokect.io.readwrite import image_suffix

    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"input not found: {root}")
    if detect_layout(root) is not None:
        cases = [CohortCase(c.case_id, CaseInputs(c.case_id, c)) for c in load_dataset(root)]
        return _unique(cases, root), []
    if not root.is_dir():
        raise InputError(f"{root}: not a dataset manifest nor a folder")
    skip = None if exclude is None else Path(exclude).resolve()
    entries = sorted(
        (p for p in root.iterdir() if not p.name.startswith(".") and p.resolve() != skip),
        key=_nat,
    )
    if files_are_cases:
        files = [p for p in entries if p.is_file() and image_suffix(p)]
        if files:
            return _unique([_file_case(f, image_suffix(f)) for f in files], root), []
    studies = [p for p in entries if p.is_dir() and has_dicom(p)]
    if not studies:
        raise InputError(
            f"{root}: not a cohort (a dataset root of ISLES 2018, ISLES 2024 or a CSV manifest, "
            "or a folder of DICOM study folders)"
        )
    width = max(3, len(str(len(studies))))
    cases, problems = [], []
    for i, folder in enumerate(studies, 1):
        case_id = f"study-{i:0{width}d}"
        private = (str(folder), str(folder.resolve()), folder.name)
        try:
            images, series = dicom_study_roles(folder, ct_role=ct_role)
        except InputError as exc:
            case = CohortCase(case_id, CaseInputs(case_id, Case(case_id, case_id)), private)
            problems.append({"case_id": case_id, "message": case.scrub(str(exc))})
            continue
        record = Case(case_id=case_id, patient_id=case_id, images=images, layout="dicom")
        cases.append(CohortCase(case_id, CaseInputs(case_id, record, series=series), private))
    return cases, problems


def is_cohort_root(path: str | Path) -> bool:
    """Whether ``path`` is a cohort (several cases) rather than one case.

    A cohort: a dataset root (or manifest) whose cases are not ``path`` itself (an ISLES 2018
    case folder or an ISLES 2024 subject folder is one case), or a folder of DICOM study
    folders without image files of its own.
    """
    from strokect.data import detect_layout, load_dataset
    from strokect.io.readwrite import image_suffix

    path = Path(path)
    if not path.exists():
        return False
    if path.is_dir() and path.name.startswith("sub-"):
        if path.parent.name in ("rawdata", "derivatives"):
            return False
    if detect_layout(path) is not None:
        dataset = load_dataset(path)
        one = len(dataset) == 1 and dataset.cases[0].folder is not None
        return not (one and Path(dataset.cases[0].folder).resolve() == path.resolve())
    if not path.is_dir():
        return False
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if any(p.is_file() and image_suffix(p) for p in entries):
        return False
    return _several_studies(entries)


def _several_studies(entries: list[Path]) -> bool:
    """Sub-folders holding DICOM of more than one study (series folders of one study: False)."""
    from strokect.io.dicom_scan import is_dicom_file

    if any(p.is_file() and is_dicom_file(p) for p in entries):
        return False  # a series or study folder with its own images
    return several_studies(entries)


def is_perfusion_cohort(path: str | Path) -> bool:
    """Whether ``path`` is a cohort of 4D studies for ``strokect perfusion``: a dataset root, a
    folder of image files, or a folder of DICOM study folders with no DICOM file of its own."""
    from strokect.data import detect_layout
    from strokect.io.readwrite import image_suffix

    path = Path(path)
    if not path.is_dir():
        return False
    if detect_layout(path) is not None:
        return True
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if any(p.is_file() and image_suffix(p) for p in entries):
        return True
    return _several_studies(entries)


def _nat(path: Path) -> list:
    return natural_key(path.name)


def _file_case(path: Path, suffix: str) -> CohortCase:
    case_id = path.name[: -len(suffix)]
    record = Case(case_id=case_id, patient_id=case_id, images={"ctp": path}, layout="files")
    return CohortCase(case_id, CaseInputs(case_id, record))


def _unique(cases: list[CohortCase], root: Path) -> list[CohortCase]:
    seen: dict[str, str] = {}
    for case in cases:
        key = case.case_id.lower()
        if key in seen:
            raise InputError(f"{root}: two cases named {case.case_id!r} (case ids must be unique)")
        if case.case_id in (".", "..") or "/" in case.case_id or "\\" in case.case_id:
            raise InputError(f"{root}: case id {case.case_id!r} cannot be a folder name")
        seen[key] = case.case_id
    return cases
