"""`write_cohort`: generate and write N phantom cases, optionally in parallel processes."""

from __future__ import annotations

import logging
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from strokect.io.records import write_json
from strokect.phantom.anatomy import PHANTOM_VERSION, check_version
from strokect.phantom.case import ANATOMIES, _followup_options, synth_case
from strokect.phantom.lesions import LESION_CLASSES
from strokect.phantom.presets import get_preset
from strokect.phantom.writers import (
    LAYOUTS,
    PAIRS_LAYOUTS,
    case_info_rows,
    write_case,
    write_case_info,
    write_manifests,
)

log = logging.getLogger(__name__)
MARKER = "phantom_cohort.json"
_OWNED = (
    "TRAINING",
    "rawdata",
    "derivatives",
    "cases",
    "extras",
    "metadata",
    "preview",
    "manifest.csv",
    "manifest_ncct_pairs.csv",
    "case_info.csv",
)


def case_seed(cohort_seed: int, index: int) -> int:
    """Seed of case ``index`` of a cohort: a 32-bit draw of ``SeedSequence([cohort_seed, index])``."""
    return int(np.random.SeedSequence([int(cohort_seed), int(index)]).generate_state(1)[0])


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output must be a folder; got the file {out_dir}")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"output folder {out_dir} is not empty; choose a new one or pass --overwrite"
            )
        if not (out_dir / MARKER).is_file():
            raise FileExistsError(
                f"refusing to overwrite {out_dir}: it was not written by 'strokect synth' (no {MARKER})"
            )
        for name in (*_OWNED, MARKER):
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def case_lesion_class(lesion_class: str | None, index: int) -> str | None:
    """The class case ``index`` of a cohort is asked for: ``"mixed"`` cycles through
    severe, intermediate, subtle (equal shares); any other value is passed on."""
    if lesion_class == "mixed":
        return list(LESION_CLASSES)[index % len(LESION_CLASSES)]
    return lesion_class


def _one(job: tuple) -> tuple[list, dict]:
    index, seed, preset, layout, out_dir, preview, kind, anatomy, version, followup = job
    case = synth_case(
        seed,
        preset,
        kind=kind,
        case_id=f"phantom_{index:04d}",
        anatomy=anatomy,
        version=version,
        **followup,
    )
    rows = write_case(case, out_dir, layout=layout, index=index)
    if preview:
        from strokect.phantom.preview import write_preview

        write_preview(case, Path(out_dir) / "preview" / f"{case.case_id}.png")
    log.info("wrote %s (seed %d)", case.case_id, seed)
    return rows, case_info_rows(case, layout=layout, index=index)


def write_cohort(
    out_dir: str | Path,
    *,
    n_cases: int = 10,
    seed: int = 0,
    preset: str = "isles",
    layout: str = "isles2018",
    preview: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    kind: str | None = None,
    anatomy: str = "procedural",
    version: int = PHANTOM_VERSION,
    lesion_class: str | None = None,
    infarct_volumes: str = "default",
    hemorrhage_share: float | None = None,
    followup_slices: str | float = "thick",
    scanner_variation: bool = False,
    pairs: str = "default",
    none_share: float | None = None,
    primary_hemorrhage_share: float | None = None,
) -> Path:
    """Generate ``n_cases`` phantom cases and write them under ``out_dir``.

    Case ``i`` is ``synth_case(case_seed(seed, i), preset)`` with id ``phantom_<i:04d>``; the files
    are identical whatever ``workers`` is. Returns the path of the acute manifest
    (``manifest.csv`` for ``layout="csv"``, else ``extras/manifest.csv``); the NCCT-pair manifest
    ``manifest_ncct_pairs.csv`` lies beside it (see `strokect.phantom.writers`). ``anatomy`` is
    passed to `synth_case` (``"procedural"`` or ``"mni"``), and so is ``version`` (the phantom
    version, recorded in the cohort marker and in every case's metadata). The follow-up options
    ``lesion_class``, ``infarct_volumes``, ``hemorrhage_share``, ``followup_slices`` and
    ``scanner_variation`` are those of `synth_case` (recorded in the marker when set), except that
    ``lesion_class="mixed"`` gives case ``i`` the class ``i % 3`` of severe, intermediate,
    subtle (`case_lesion_class`), so the classes have equal shares. ``pairs``, ``none_share`` and
    ``primary_hemorrhage_share`` are those of `synth_case` too; ``pairs="realistic"`` writes two
    pair-manifest cases per phantom case (``<case_id>_fu24h``, ``<case_id>_fu1w``; layouts
    ``csv`` and ``isles2018``, see `strokect.phantom.writers`). ``case_info.csv`` (kind,
    measured lesion class, volumes per case; `strokect.data.case_info`) is written beside the
    manifests and, for the ISLES layouts, at the root.

    Raises
    ------
    FileExistsError
        When ``out_dir`` is not empty and ``overwrite`` is False, or holds something that is not a
        phantom cohort.
    ValueError
        For an unknown preset, layout or anatomy, ``n_cases < 1`` or ``workers < 1``.
    strokect.errors.InputError
        For ``anatomy="mni"`` without the optional nilearn package.
    """
    get_preset(preset)
    check_version(version)
    if anatomy not in ANATOMIES:
        raise ValueError(f"anatomy must be one of {ANATOMIES}; got {anatomy!r}")
    if anatomy == "mni":
        from strokect.phantom.mni import load_templates

        load_templates()  # fail before any file is written when nilearn is missing
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    if n_cases < 1 or workers < 1:
        raise ValueError(f"n_cases and workers must be >= 1; got {n_cases} and {workers}")
    options = _followup_options(
        kind,
        lesion_class,
        infarct_volumes,
        hemorrhage_share,
        followup_slices,
        scanner_variation,
        pairs=pairs,
        none_share=none_share,
        primary_hemorrhage_share=primary_hemorrhage_share,
    )
    if pairs == "realistic" and layout not in PAIRS_LAYOUTS:
        raise ValueError(f"pairs='realistic' writes the layouts {PAIRS_LAYOUTS}; got {layout!r}")
    out_dir = Path(out_dir)
    _prepare(out_dir, overwrite)
    jobs = []
    for i in range(n_cases):
        followup = dict(options)  # {} when every follow-up option is off
        if options:
            followup["lesion_class"] = case_lesion_class(lesion_class, i)
        jobs.append(
            (
                i,
                case_seed(seed, i),
                preset,
                layout,
                out_dir,
                preview,
                kind,
                anatomy,
                version,
                followup,
            )
        )
    info = {
        "generator": "strokect.phantom",
        "n_cases": n_cases,
        "seed": seed,
        "preset": str(preset),
        "layout": layout,
        "phantom_version": int(version),
        "case_seeds": [job[1] for job in jobs],
        "complete": False,
    }
    if anatomy != "procedural":  # the default cohorts' marker stays as it was
        info["anatomy"] = anatomy
    if options:
        info["followup_options"] = options
    _write_marker(out_dir, info)
    if workers == 1:
        results = [_one(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_one, jobs))
    rows = [row for result, _ in results for row in result]
    manifests = write_manifests(rows, out_dir if layout == "csv" else out_dir / "extras")
    write_case_info([r for _, info_rows in results for r in info_rows], out_dir, layout=layout)
    manifest = manifests["acute"]
    _write_marker(out_dir, {**info, "complete": True})
    return manifest


def _write_marker(out_dir: Path, info: dict) -> None:
    write_json(info, out_dir / MARKER, indent=1)
