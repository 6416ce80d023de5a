"""Which image is which role: the inputs of one case for `strokect segment`.

Accepted, for one case (rules in order):

1. an ISLES 2024 subject folder (``<root>/rawdata/sub-<id>`` or ``derivatives/sub-<id>``): that
   subject of the dataset at ``<root>``, rawdata and derivatives merged;
2. a dataset root in any layout `strokect.data.load_dataset` reads (ISLES 2018 root or case
   folder, ISLES 2024 root, CSV manifest file or folder holding one): its only case, or the one
   named by ``case_id``;
3. a plain folder of ``<role>.<ext>`` image files (``ct.nii.gz``, ``cbf.nrrd``, ``tmax.mhd``...;
   every suffix of `strokect.io.readwrite.IMAGE_SUFFIXES`); the case id is the folder name;
4. a DICOM study folder (all its series of one study, in sub-folders or not): its series
   mapped to roles by `dicom_study_roles` (a 4D CT series is ``ctp``, another CT series
   ``ct``); the case id is ``study`` (a folder name may identify the patient);
5. explicit ``ROLE=PATH`` inputs (``--input``; a path may be an image file or a DICOM folder,
   ``PATH::SERIES`` picks one series of a folder holding several: its SeriesInstanceUID, its
   SeriesNumber or the index shown by ``strokect info``). They add to, or replace, the roles of a
   case given as above.

A method's roles are then looked up with `strokect.data.Case.resolve_roles` (synonyms such as
``ct``/``ncct``; maps registered to the NCCT preferred when the NCCT is an input).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from strokect.data import detect_layout, load_dataset
from strokect.data.case import ROLE_SYNONYMS, Case
from strokect.errors import InputError
from strokect.io.readwrite import IMAGE_SUFFIXES, image_suffix
from strokect.io.volume import Volume

__all__ = ["CaseInputs", "parse_input_option", "resolve_case_inputs"]

SERIES_SEPARATOR = "::"


@dataclass
class CaseInputs:
    """The images of one case by role.

    Attributes
    ----------
    case_id : str or None
        The dataset's name for the case (a folder name or manifest id; never read from DICOM
        patient tags), used to match outputs to references in `strokect evaluate`.
    case : Case
        Role -> path of every image found (`Case.resolve_roles` picks a method's roles).
    series : dict
        Role -> DICOM series selector for folders holding several series.
    volumes : dict
        Role -> an in-memory `Volume` (Python API), used instead of a file.
    """

    case_id: str | None
    case: Case
    series: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)

    @property
    def roles(self) -> list[str]:
        """Every role available, synonyms included."""
        present = [*self.case.images, *self.volumes]
        return list(
            dict.fromkeys([*present, *(s for r in present for s in ROLE_SYNONYMS.get(r, ()))])
        )

    def select(self, roles: Iterable[str]) -> dict[str, Path | Volume]:
        """Role -> path (or `Volume`) for each of ``roles``; one clear error for a missing one."""
        roles = list(roles)
        out: dict[str, Path | Volume] = {}
        from_files = [r for r in roles if not self._in_memory(r)]
        for role in roles:
            if self._in_memory(role):
                out[role] = self._in_memory(role)
        if from_files:
            out.update(self.case.resolve_roles(from_files))
        return {role: out[role] for role in roles}

    def _in_memory(self, role: str) -> Volume | None:
        for name in (role, *ROLE_SYNONYMS.get(role, ())):
            if name in self.volumes:
                return self.volumes[name]
        return None

    def series_of(self, role: str, path: Path) -> str | None:
        for name in (role, *ROLE_SYNONYMS.get(role, ())):
            if name in self.series and self.case.images.get(name) == path:
                return self.series[name]
        return None


def parse_input_option(text: str) -> tuple[str, str, str | None]:
    """``"ROLE=PATH"`` or ``"ROLE=PATH::SERIES"`` -> (role, path, series or None)."""
    role, sep, rest = text.partition("=")
    role = role.strip().lower()
    if not sep or not role or not rest.strip():
        raise InputError(f"--input expects ROLE=PATH (e.g. ct=scan.nii.gz), got {text!r}")
    path, _, series = rest.partition(SERIES_SEPARATOR)
    return role, path, (series.strip() or None)


def _folder_case(folder: Path) -> Case:
    """A plain folder of ``<role>.<ext>`` files (rule 3)."""
    images: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        suffix = image_suffix(file) if file.is_file() else None
        if suffix is None or file.name.startswith("."):
            continue
        role = file.name[: -len(suffix)].lower()
        if role in images:
            raise InputError(
                f"{folder}: two images for role {role!r}: {images[role].name}, {file.name}"
            )
        images[role] = file
    if not images:
        raise InputError(
            f"{folder}: no images found (expected a dataset or case folder of ISLES 2018, ISLES "
            f"2024 or a CSV manifest, or <role> image files ending {', '.join(IMAGE_SUFFIXES)}; "
            "a DICOM folder is given by role: --input ct=DIR)"
        )
    return Case(
        case_id=folder.name, patient_id=folder.name, images=images, layout="folder", folder=folder
    )


def _dataset_case(root: Path, case_id: str | None) -> Case:
    """The case ``case_id`` (or the only case) of the dataset at ``root`` (rules 1-2)."""
    dataset = load_dataset(root)
    if case_id is not None:
        return dataset[case_id]
    if len(dataset) != 1:
        ids = ", ".join(dataset.case_ids[:5]) + (" ..." if len(dataset) > 5 else "")
        raise InputError(
            f"{root} is a {dataset.layout} dataset of {len(dataset)} cases ({ids}); "
            "name one with --case"
        )
    return dataset.cases[0]


def find_case(path: Path, case_id: str | None = None) -> Case:
    """The `Case` at ``path`` (a subject, case or dataset folder, a manifest, or role files)."""
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    if (
        path.is_dir()
        and path.name.startswith("sub-")
        and path.parent.name in ("rawdata", "derivatives")
    ):
        return _dataset_case(path.parent.parent, case_id or path.name)
    if detect_layout(path) is not None:
        return _dataset_case(path, case_id)
    if not path.is_dir():
        raise InputError(
            f"INPUT {path} is a file but not a dataset manifest: give a case folder, or the images "
            "by role with --input ROLE=PATH"
        )
    if case_id is not None:
        raise InputError(f"--case {case_id}: {path} is not a dataset (a folder of role images)")
    return _folder_case(path)


def dicom_study_roles(
    folder: Path, *, ct_role: str = "ct"
) -> tuple[dict[str, Path], dict[str, str]]:
    """Roles of the DICOM series of one study folder (searched recursively).

    The rule (``docs/cohorts.md``): a CT series whose slice positions repeat (4D) is ``ctp``;
    any other CT series is ``ct_role`` (``ct``, the acute NCCT, by default; ``ncct_followup``
    for a cohort of follow-up scans); series of other modalities (MR, SEG, SR...) are ignored. Two
    series for one role make the study ambiguous: an `InputError` names them (give the study in
    a CSV manifest with ``PATH::SERIES`` instead). Series are selected by their listing index
    (``#k``), never by UID (UIDs may embed dates).

    Returns
    -------
    images : dict
        role -> ``folder``.
    series : dict
        role -> series selector.
    """
    from strokect.io.dicom import list_dicom_series

    found: dict[str, list] = {}
    for info in list_dicom_series(folder):
        if info.modality.upper() != "CT":
            continue
        role = "ctp" if info.n_frames_guess > 1 else ct_role
        found.setdefault(role, []).append(info)
    if not found:
        raise InputError("no CT series in the study (the rule maps CT series only)")
    ambiguous = {role: infos for role, infos in found.items() if len(infos) > 1}
    if ambiguous:
        role, infos = next(iter(ambiguous.items()))
        raise InputError(
            f"ambiguous study: {len(infos)} series could be {role!r} "
            f"({'; '.join(i.label() for i in infos)}); list the study in a CSV manifest with "
            "ROLE=PATH::SERIES"
        )
    return {r: folder for r in found}, {r: f"#{infos[0].index}" for r, infos in found.items()}


def has_dicom(folder: Path) -> bool:
    """``folder`` holds a DICOM image somewhere below it."""
    from strokect.io.dicom_scan import contains_dicom

    return contains_dicom(folder)


def several_studies(folders: Iterable[Path]) -> bool:
    """The DICOM below ``folders`` belongs to more than one study (StudyInstanceUID; a folder
    whose images carry none counts as a study of its own)."""
    from strokect.io.dicom_scan import first_study_uid

    uids = [first_study_uid(p) for p in folders if p.is_dir() and has_dicom(p)]
    return len(set(uids)) > 1 or (None in uids and len(uids) > 1)


def is_study_folder(path: str | Path) -> bool:
    """``path`` is one DICOM study: DICOM images below it, all sub-folders of one study."""
    path = Path(path)
    if not path.is_dir() or not has_dicom(path):
        return False
    return not several_studies(p for p in path.iterdir() if not p.name.startswith("."))


def _plain_study(path: Path) -> bool:
    """A DICOM study folder (rule 5): no dataset layout, no role files, one study below it."""
    if not path.is_dir() or detect_layout(path) is not None:
        return False
    if any(p.is_file() and image_suffix(p) for p in path.iterdir()):
        return False
    return is_study_folder(path)


def resolve_case_inputs(
    inputs: str | Path | Mapping[str, str | Path | Volume] | CaseInputs | None = None,
    *,
    explicit: Iterable[str] = (),
    case_id: str | None = None,
    ct_role: str = "ct",
) -> CaseInputs:
    """The images of one case from any accepted input (see the module docstring).

    Parameters
    ----------
    inputs : path, mapping role -> path or Volume, CaseInputs, or None
        A case/dataset folder or manifest; or the images by role (paths may end in
        ``::SERIES``).
    explicit : iterable of str
        ``ROLE=PATH[::SERIES]`` strings (``--input``), added to or replacing the roles above.
    case_id : str, optional
        Which case of a dataset root (``--case``).
    ct_role : str
        A DICOM study folder given as ``inputs``: the role of its 3D CT series
        (`dicom_study_roles`).
    """
    if isinstance(inputs, CaseInputs):
        result = inputs
    elif inputs is None or isinstance(inputs, Mapping):
        name = case_id or "case"
        result = CaseInputs(case_id, Case(case_id=name, patient_id=name, layout="inputs"))
        for role, value in (inputs or {}).items():
            _add(result, str(role).lower(), value)
    elif case_id is None and _plain_study(Path(inputs)):
        images, series = dicom_study_roles(Path(inputs), ct_role=ct_role)
        study = Case(case_id="study", patient_id="study", images=images, layout="dicom")
        result = CaseInputs("study", study, series=series)
    else:
        case = find_case(Path(inputs), case_id)
        result = CaseInputs(case.case_id, case)
    for text in explicit:
        role, path, series = parse_input_option(text)
        _add(result, role, f"{path}{SERIES_SEPARATOR}{series}" if series else path)
    if not result.case.images and not result.volumes:
        listed = result.case.absent_files
        if listed:
            missing = ", ".join(f"{role}: {path}" for role, path in listed.items())
            raise InputError(
                f"case {result.case.case_id}: the files listed for it do not exist ({missing})"
            )
        raise InputError("no input images given (a case folder, or --input ROLE=PATH)")
    return result


def _add(result: CaseInputs, role: str, value: str | Path | Volume) -> None:
    for name in (role, *ROLE_SYNONYMS.get(role, ())):  # an explicit role replaces its synonyms
        result.case.images.pop(name, None)
        result.volumes.pop(name, None)
        result.series.pop(name, None)
    if isinstance(value, Volume):
        result.volumes[role] = value
        return
    text = str(value)
    path_text, _, series = text.partition(SERIES_SEPARATOR)
    path = Path(path_text)
    if not path.exists():
        raise FileNotFoundError(f"--input {role}: not found: {path}")
    result.case.images[role] = path
    if series:
        result.series[role] = series
