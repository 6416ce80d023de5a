"""Matching prediction, reference and image files of a cohort by case id.

File-name rules (case-insensitive)
----------------------------------
1. The image extension is removed: ``.nii.gz``, ``.nii``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``.
   Other files (and sub-folders) are ignored; hidden files (starting with ``.``) too.
2. Known role suffixes are removed from the end, repeatedly, when preceded by ``_``, ``-`` or
   ``.``: ``pred``, ``prediction``, ``seg``, ``segmentation``, ``mask``, ``label``, ``labels``,
   ``lesion``, ``infarct``, ``core``, ``ref``, ``reference``, ``gt``, ``groundtruth``, ``ct``,
   ``ncct``, ``image``, ``img``. A name is never stripped to nothing.
3. What is left, lower-cased, is the case id: ``Case_01_pred.nii.gz``, ``case_01_seg.nii`` and
   ``CASE_01.nii.gz`` all have the id ``case_01``.
4. An image file may carry the nnU-Net channel tag: when no image has the case id itself,
   ``<case id>_0000`` is used. The tag is not stripped in general, so that ids such as
   ``phantom_0000`` stay intact.

Two files of one folder with the same id are a conflict: that case is reported and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from strokect.io.readwrite import IMAGE_SUFFIXES, image_suffix

IMAGE_EXTENSIONS: tuple[str, ...] = IMAGE_SUFFIXES
ROLE_SUFFIXES: tuple[str, ...] = (
    "pred", "prediction", "seg", "segmentation", "mask", "label", "labels", "lesion", "infarct", "core", "ref",
    "reference", "gt", "groundtruth", "ct", "ncct", "image", "img",
)  # fmt: skip
_SUFFIX_RE = re.compile(r"[_.\-](?:" + "|".join(ROLE_SUFFIXES) + r")$")


def image_extension(path: Path) -> str | None:
    """The recognised image extension of ``path`` (lower case), or None."""
    return image_suffix(path)


def case_id_from_path(path: str | Path) -> str:
    """Case id of an image file name (rules in the module docstring)."""
    path = Path(path)
    ext = image_extension(path)
    if ext is None:
        raise ValueError(f"{path.name}: not an image file ({', '.join(IMAGE_EXTENSIONS)})")
    stem = path.name[: -len(ext)].lower()
    while True:
        shorter = _SUFFIX_RE.sub("", stem)
        if shorter == stem or not shorter:
            return stem
        stem = shorter


@dataclass
class FolderIndex:
    """Image files of one folder by case id, and ids claimed by more than one file."""

    files: dict[str, Path] = field(default_factory=dict)
    conflicts: dict[str, list[Path]] = field(default_factory=dict)


def index_folder(folder: str | Path, *, name: str) -> FolderIndex:
    """Map case id -> file for the image files directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"--{name}: not a folder: {folder}")
    index = FolderIndex()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or image_extension(path) is None:
            continue
        cid = case_id_from_path(path)
        if cid in index.conflicts:
            index.conflicts[cid].append(path)
        elif cid in index.files:
            index.conflicts[cid] = [index.files.pop(cid), path]
        else:
            index.files[cid] = path
    return index


@dataclass(frozen=True)
class CaseFiles:
    """Files of one case; ``pred``/``ref``/``image`` may be None when missing."""

    case_id: str
    pred: Path | None
    ref: Path | None
    image: Path | None = None
    problem: str | None = None


def match_cases(
    pred_dir: str | Path, ref_dir: str | Path, *, image_dir: str | Path | None = None
) -> list[CaseFiles]:
    """Every case id seen in any folder, sorted; ``problem`` says why a case cannot be evaluated.

    A missing image is not a problem (the overlay then shows the masks on a blank background).
    """
    preds = index_folder(pred_dir, name="pred")
    refs = index_folder(ref_dir, name="ref")
    images = index_folder(image_dir, name="image") if image_dir is not None else FolderIndex()
    ids = sorted(set(preds.files) | set(refs.files) | set(preds.conflicts) | set(refs.conflicts))
    cases = []
    for cid in ids:
        problem = None
        for label, idx in (("pred", preds), ("ref", refs), ("image", images)):
            if cid in idx.conflicts:
                names = ", ".join(p.name for p in idx.conflicts[cid])
                problem = f"several {label} files map to this case id: {names}"
        if problem is None and cid not in refs.files:
            problem = "no matching reference file"
        elif problem is None and cid not in preds.files:
            problem = "no matching prediction file"
        image = images.files.get(cid) or images.files.get(f"{cid}_0000")
        cases.append(CaseFiles(cid, preds.files.get(cid), refs.files.get(cid), image, problem))
    if not cases:
        raise ValueError(f"no image files found in --pred {pred_dir} or --ref {ref_dir}")
    return cases
