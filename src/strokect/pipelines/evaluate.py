"""``strokect evaluate``: score what ``strokect segment`` wrote against a dataset, or mask folders.

``--pred`` may be

* one ``segment`` output folder (it holds ``provenance.json``): that case alone is scored;
* a folder of them (one sub-folder per case, e.g. ``OUT/case_1``, ``OUT/case_2``): every case,
  and every reference case without a prediction is reported as a problem;

  the mask scored is the method's primary output (``provenance.json``) unless ``mask`` names
  another; the case id is the one ``segment`` recorded (the folder name when it recorded none);
* a folder of mask files, matched by file name (`strokect.report.cases`).

``--ref`` may be

* a dataset root in any layout `strokect.data.load_dataset` reads: the reference of a case is
  its mask role that the scored output is compared with (``reference_role`` in the
  provenance, e.g. ``core``); its NCCT (``ct``/``ncct``), when present, is the overlay background;
* a folder of mask files.

Case ids are matched case-insensitively.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from strokect.data import detect_layout, load_dataset
from strokect.data.case import ROLE_SYNONYMS
from strokect.errors import InputError
from strokect.report.cases import CaseFiles, index_folder, match_cases
from strokect.report.evaluation import EvaluationOutputs
from strokect.report.pipeline import evaluate_cases

__all__ = ["evaluate", "read_segment_outputs"]

PROVENANCE = "provenance.json"


@dataclass(frozen=True)
class SegmentOutput:
    """The scored mask of one ``segment`` output folder and what it is compared with."""

    case_id: str
    mask: Path
    reference_role: str | None
    folder: Path
    scope: str = ""
    out_of_domain: bool | None = None
    implausible: bool | None = None  # the scored mask flagged by segment's output checks
    method: str | None = None
    weights: tuple[tuple[str, str], ...] = ()  # (file name, SHA-256) per weights file


def _read_one(folder: Path, mask: str | None) -> SegmentOutput:
    try:
        prov = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
        outputs, primary = prov["outputs"], prov["primary_output"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{folder / PROVENANCE}: not a strokect segment provenance ({exc})"
        ) from None
    name = mask or primary
    if name not in outputs:
        raise InputError(
            f"--mask {name}: {folder} has no such output; outputs: {', '.join(outputs)}"
        )
    if outputs[name].get("kind") != "mask":
        raise InputError(
            f"--mask {name}: output {name!r} of {folder} is a {outputs[name].get('kind')}, not a mask"
        )
    if not outputs[name].get("file"):
        raise InputError(
            f"{folder}: the {name!r} mask was written only as a DICOM-SEG "
            f"({outputs[name].get('dicom_seg')}); segment with --output-format both to evaluate"
        )
    domain = prov.get("domain_check") or {}
    checks = prov.get("output_checks") or {}
    weights = tuple(
        (Path(str(w.get("file") or w.get("path") or "?")).name, str(w.get("sha256") or ""))
        for w in prov.get("weights") or []
        if isinstance(w, dict)
    )
    return SegmentOutput(
        case_id=prov.get("case_id") or folder.name,
        mask=folder / outputs[name]["file"],
        reference_role=outputs[name].get("reference_role"),
        folder=folder,
        scope=domain.get("scope", ""),
        out_of_domain=domain.get("out_of_domain"),
        implausible=(name in (checks.get("implausible") or [])) if checks.get("checked") else None,
        method=prov.get("method"),
        weights=weights,
    )


def read_segment_outputs(pred: Path, mask: str | None = None) -> list[SegmentOutput] | None:
    """Segment outputs under ``pred`` (itself or its sub-folders), or None if it holds none."""
    if (pred / PROVENANCE).is_file():
        return [_read_one(pred, mask)]
    folders = sorted(p for p in pred.iterdir() if p.is_dir() and (p / PROVENANCE).is_file())
    if not folders:
        return None
    outputs = [_read_one(f, mask) for f in folders]
    seen: dict[str, Path] = {}
    for out in outputs:
        key = out.case_id.lower()
        if key in seen:
            raise InputError(
                f"--pred: case {out.case_id} appears twice ({seen[key]}, {out.folder})"
            )
        seen[key] = out.folder
    return outputs


def models_of(outputs: Sequence[SegmentOutput]) -> list[dict]:
    """The distinct (method, weights) of ``outputs``, each with its number of cases, for the
    report: ``[{"method", "weights": [{"file", "sha256"}], "n_cases"}]``."""
    counts: dict[tuple, int] = {}
    for out in outputs:
        key = (out.method or "not recorded", out.weights)
        counts[key] = counts.get(key, 0) + 1
    return [
        {"method": method, "weights": [{"file": f, "sha256": h} for f, h in weights], "n_cases": n}
        for (method, weights), n in counts.items()
    ]


def _dataset_refs(ref: Path, roles: set[str | None]) -> tuple[dict, dict]:
    """Reference mask and overlay image per lower-cased case id of the dataset at ``ref``."""
    roles.discard(None)
    if len(roles) != 1:
        raise InputError(
            "--ref is a dataset: the scored outputs must name one reference mask role; "
            f"got {sorted(r for r in roles if r) or 'none'} (score mask folders instead)"
        )
    role = roles.pop()
    refs, images = {}, {}
    for case in load_dataset(ref).cases:
        key = case.case_id.lower()
        refs[key] = (case.case_id, case.masks.get(role))
        image = next(
            (case.images[r] for r in ("ct", *ROLE_SYNONYMS["ct"]) if r in case.images), None
        )
        images[key] = image
    return refs, images


def _match(
    outputs: list[SegmentOutput], refs: dict, images: dict, role: str, *, all_refs: bool
) -> list[CaseFiles]:
    """Cases of ``outputs`` with their references; with ``all_refs``, reference cases without a
    prediction are listed too (as problems)."""
    cases = []
    for out in outputs:
        key = out.case_id.lower()
        cid, ref_path = refs.get(key, (out.case_id, None))
        problem = None
        if key not in refs:
            problem = "no matching case in --ref"
        elif ref_path is None:
            problem = f"the reference case has no {role!r} mask"
        elif not out.mask.is_file():
            problem = f"segment output file missing: {out.mask.name}"
        cases.append(CaseFiles(cid, out.mask, ref_path, images.get(key), problem))
    predicted = {o.case_id.lower() for o in outputs}
    for key, (cid, ref_path) in sorted(refs.items()):
        if all_refs and key not in predicted and ref_path is not None:
            cases.append(CaseFiles(cid, None, ref_path, images.get(key), "no matching prediction"))
    return cases


def evaluate(
    pred: str | Path,
    ref: str | Path,
    *,
    out_dir: str | Path,
    mask: str | None = None,
    image_dir: str | Path | None = None,
    groups_ml: Sequence[float] = (10.0, 50.0),
    overwrite: bool = False,
) -> EvaluationOutputs:
    """Score predictions against references (see the module docstring for what is accepted).

    Writes ``per_case.csv``, ``summary.json`` and ``report.html`` into ``out_dir``.
    """
    pred, ref = Path(pred), Path(ref)
    for name, path in (("--pred", pred), ("--ref", ref)):
        if not path.exists():
            raise FileNotFoundError(f"{name}: not found: {path}")
    if not pred.is_dir():
        raise InputError(f"--pred: not a folder: {pred}")
    outputs = read_segment_outputs(pred, mask)
    single = (pred / PROVENANCE).is_file()  # one case: the others of --ref are not expected
    if outputs is None and mask is not None:
        raise InputError(f"--mask {mask}: --pred {pred} holds no strokect segment output")
    is_dataset = detect_layout(ref) is not None
    settings = {"pred": str(pred), "ref": str(ref), "image": str(image_dir or "none")}
    if outputs is None and not is_dataset:
        cases = match_cases(pred, ref, image_dir=image_dir)
    elif outputs is not None and is_dataset:
        roles = {o.reference_role for o in outputs}
        refs, images = _dataset_refs(ref, set(roles))
        if image_dir is not None:
            index = index_folder(image_dir, name="image")
            images = {k: index.files.get(k) for k in refs}
        role = next(iter(r for r in roles if r))
        cases = _match(outputs, refs, images, role, all_refs=not single)
        settings["reference_role"] = role
        settings["mask"] = mask or "primary output"
    elif outputs is not None:
        index = index_folder(ref, name="ref")
        refs = {k: (k, p) for k, p in index.files.items()}
        images = index_folder(image_dir, name="image").files if image_dir else {}
        cases = _match(outputs, refs, images, "mask", all_refs=not single)
    else:
        raise InputError(
            f"--pred {pred} is a folder of mask files but --ref {ref} is a dataset; give "
            "strokect segment output folders as --pred, or a folder of reference masks as --ref"
        )
    if not cases:
        raise InputError(f"nothing to evaluate in --pred {pred} and --ref {ref}")
    if outputs is not None:  # the model card's scope and the out-of-domain inputs, in the report
        scopes = sorted({o.scope for o in outputs if o.scope})
        settings["model_scope"] = " | ".join(scopes) or "not recorded in the weights"
        flagged = sorted(o.case_id for o in outputs if o.out_of_domain)
        settings["out_of_domain_cases"] = ", ".join(flagged) or "none"
        implausible = sorted(o.case_id for o in outputs if o.implausible)
        settings["implausible_cases"] = ", ".join(implausible) or "none"
    return evaluate_cases(
        cases,
        out_dir=out_dir,
        settings=settings,
        groups_ml=groups_ml,
        overwrite=overwrite,
        models=None if outputs is None else models_of(outputs),
    )
