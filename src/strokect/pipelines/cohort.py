"""Cohort runs: one task (segment a case, analyse a perfusion study) over many cases.

The method-agnostic layer behind ``strokect segment ROOT -o OUT`` and ``strokect perfusion ROOT
-o OUT`` (``docs/cohorts.md``):

* **cases** (`find_cohort`): every case of a dataset root in any layout `strokect.data` reads
  (ISLES 2018, ISLES 2024, CSV manifest), or every study folder of a root of DICOM studies, whose
  series are mapped to roles by `dicom_study_roles`;
* **one folder per case**, written into a hidden sibling and renamed when complete
  (`strokect.io.atomic.staged_output_dir`): ``OUT/<case_id>`` is complete or absent, even after
  ``kill -9``;
* **resume**: a complete folder whose recorded settings match this run (`CohortTask.matches`)
  is skipped; one that does not match is a per-case error (``--overwrite`` redoes it);
* **one bad case** is a per-case error in ``cohort.json`` / ``cohort_cases.csv``; the others go on;
* **execution**: in this process (no Dask import), on a local Dask cluster (``workers``
  processes), on an existing Dask cluster (``scheduler`` address), and/or as part ``part_id`` of
  ``num_parts`` (plain array jobs; `merge_cohort` assembles the parts). A task keeps what it
  loads (e.g. the models) for the life of its worker process; a worker that dies mid-case costs
  that case a retry on another worker (Dask's rescheduling), not the run.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from strokect.data.case import Case, natural_key
from strokect.errors import InputError
from strokect.io.records import write_csv, write_json
from strokect.pipelines.inputs import CaseInputs, dicom_study_roles, has_dicom
from strokect.version import __version__

__all__ = [
    "CohortCase",
    "CohortResult",
    "CohortTask",
    "find_cohort",
    "is_cohort_root",
    "is_perfusion_cohort",
    "merge_cohort",
    "run_cohort",
]

log = logging.getLogger(__name__)

CASES_CSV = "cohort_cases.csv"
SUMMARY_JSON = "cohort.json"
CASE_COLUMNS = ["case_id", "status", "seconds", "message"]


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


# ------------------------------------------------------------------------------------ cases
def find_cohort(
    root: str | Path, *, files_are_cases: bool = False, ct_role: str = "ct"
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
    entries = sorted((p for p in root.iterdir() if not p.name.startswith(".")), key=_nat)
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
    from strokect.io.dicom_scan import first_study_uid, is_dicom_file

    if any(p.is_file() and is_dicom_file(p) for p in entries):
        return False  # a series or study folder with its own images
    studies = [first_study_uid(p) for p in entries if p.is_dir() and has_dicom(p)]
    return len(set(studies)) > 1 or (None in studies and len(studies) > 1)


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


# ------------------------------------------------------------------------------------ running
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, InputError | FileNotFoundError | FileExistsError | ValueError):
        return text
    return f"{type(exc).__name__}: {text}"


#: glibc `mallopt` parameters (malloc.h) and the values `_reuse_freed_memory` sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's maximum on 64-bit systems
_TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
_MALLOC_TUNED = False


def _reuse_freed_memory() -> None:
    """Let this worker process reuse freed memory for large arrays (once per process).

    Dask starts its worker processes with ``MALLOC_TRIM_THRESHOLD_`` set, which turns off glibc's
    adaptive mmap threshold: every numpy temporary above 128 kB is then mapped and unmapped, and
    cases ran 2-3x slower, most of the time in the kernel (``benchmarks/RESULTS.md``). Memory is
    still returned to the system above `_TRIM_THRESHOLD_BYTES` of free heap.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def run_case(task: CohortTask, case: CohortCase, folder: str, overwrite: bool) -> dict:
    """Run ``task`` on ``case`` into ``folder`` (atomically); a failure becomes the record.

    Runs in the worker (module-level so that Dask can pickle a reference to it).
    """
    from strokect.io.atomic import staged_output_dir

    _reuse_freed_memory()
    t0 = time.perf_counter()
    try:
        with staged_output_dir(folder, overwrite=overwrite) as tmp:
            task(case, tmp)
        status, message = "ok", ""
    except Exception as exc:  # one bad case is reported; the others go on
        status, message = "failed", case.scrub(_one_line(exc))
    return {
        "case_id": case.case_id,
        "status": status,
        "seconds": round(time.perf_counter() - t0, 2),
        "message": message,
        "pid": os.getpid(),
    }


def _check_options(workers, scheduler, num_parts, part_id) -> None:
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1; got {workers}")
    if workers is not None and scheduler is not None:
        raise InputError("give --workers (a local cluster) or --scheduler (an existing one)")
    if num_parts < 1 or not 0 <= part_id < num_parts:
        raise InputError(
            f"--part-id must be in 0..{num_parts - 1} for --num-parts {num_parts}; got {part_id}"
        )


def _part_suffix(num_parts: int, part_id: int) -> str:
    return "" if num_parts == 1 else f".part-{part_id}-of-{num_parts}"


def _remove_stale(out: Path, case_ids: Sequence[str]) -> None:
    """Remove the hidden staging folders a killed run left for these cases."""
    wanted = set(case_ids)
    for entry in out.glob(".tmp-*"):
        name = entry.name
        while name.startswith(".tmp-"):  # ".tmp-<id>-" once per staging level
            name = name.split("-", 2)[-1]
        if name in wanted and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def _plan(cases, task, out: Path, *, resume: bool, overwrite: bool) -> tuple[list, list]:
    """(cases to run, records of cases skipped or refused) for this run."""
    existing = [c for c in cases if (out / c.case_id).exists()]
    if existing and not (resume or overwrite):
        shown = ", ".join(c.case_id for c in existing[:5])
        raise FileExistsError(
            f"{out} already holds {len(existing)} of these cases ({shown}"
            f"{' ...' if len(existing) > 5 else ''}): use --resume to keep finished cases, "
            "or --overwrite to redo them"
        )
    todo, done = [], []
    for case in cases:
        folder = out / case.case_id
        if not folder.exists() or not resume:
            todo.append(case)
            continue
        why = "incomplete" if not task.is_complete(folder) else task.matches(folder, case)
        if why is None:
            done.append(_record(case, "skipped", "finished by an earlier run with these settings"))
        elif overwrite:
            todo.append(case)
        else:
            done.append(
                _record(case, "failed", f"exists from another run ({why}); --overwrite redoes it")
            )
    return todo, done


def _record(case: CohortCase, status: str, message: str) -> dict:
    return {"case_id": case.case_id, "status": status, "seconds": 0.0, "message": message}


def _execute_local(todo, task, out: Path, overwrite: bool, bar) -> list[dict]:
    records = []
    for case in todo:
        records.append(run_case(task, case, str(out / case.case_id), overwrite))
        bar.update(1)
    return records


def _execute_dask(todo, task, out, overwrite, bar, *, workers, scheduler) -> list[dict]:
    """Run the cases on a Dask cluster: a local one of ``workers`` processes, or ``scheduler``."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError(
            "--workers/--scheduler need the cohort extra: pip install 'strokect[cohort]'"
        ) from None
    if not log.isEnabledFor(logging.DEBUG):  # Dask's own INFO lines are noise for a user
        for name in list(logging.root.manager.loggerDict):
            if name.split(".")[0] in ("distributed", "bokeh", "tornado"):
                logging.getLogger(name).setLevel(logging.ERROR)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,  # one case at a time per process; torch threads set per task
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.ERROR,
        )
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout="30s")
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    by_key, records = {}, []
    try:
        futures = []
        for case in todo:
            fut = client.submit(
                run_case, task, case, str(out / case.case_id), overwrite,
                key=f"strokect-{task.kind}-{case.case_id}-{os.getpid()}-{time.time_ns()}",
                pure=False,
            )  # fmt: skip
            by_key[fut.key] = case
            futures.append(fut)
        for fut in as_completed(futures):
            case = by_key[fut.key]
            try:
                records.append(fut.result())
            except Exception as exc:  # e.g. KilledWorker: the case killed every worker it ran on
                records.append(_record(case, "failed", f"worker lost: {_one_line(exc)}"))
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return records


def run_cohort(
    cases: Sequence[CohortCase],
    task: CohortTask,
    *,
    out_dir: str | Path,
    problems: Sequence[dict] = (),
    workers: int | None = None,
    scheduler: str | None = None,
    num_parts: int = 1,
    part_id: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
) -> CohortResult:
    """Run ``task`` on every case of this part; write the cohort tables (see module docstring).

    Parameters
    ----------
    cases : sequence of CohortCase
        The whole cohort (`find_cohort`); case ``i`` (0-based, in this order) belongs to part
        ``i % num_parts``.
    problems : sequence of dict
        Cases `find_cohort` could not make (reported as failed when they are in this part).
    workers : int, optional
        Local Dask cluster of this many worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    num_parts, part_id : int
        Run only part ``part_id`` of ``num_parts`` (array jobs); its tables carry the suffix
        ``.part-<id>-of-<n>``; `merge_cohort` assembles them.
    resume : bool
        Skip finished cases made with the same settings.
    overwrite : bool
        Redo cases whose folder exists.
    """
    _check_options(workers, scheduler, num_parts, part_id)
    t0 = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output folder {out} exists and is a file")
    everything = sorted(
        [*((c.case_id, c) for c in cases), *((p["case_id"], p) for p in problems)],
        key=lambda item: natural_key(item[0]),
    )
    mine = everything[part_id::num_parts]
    part_cases = [c for _, c in mine if isinstance(c, CohortCase)]
    out.mkdir(parents=True, exist_ok=True)
    todo, records = _plan(part_cases, task, out, resume=resume, overwrite=overwrite)
    records += [
        {"case_id": p["case_id"], "status": "failed", "seconds": 0.0, "message": p["message"]}
        for _, p in mine
        if not isinstance(p, CohortCase)
    ]
    _remove_stale(out, [c.case_id for c in todo])
    from strokect.pipelines.segment import _progress

    with _progress(len(todo), f"{task.kind} cases", quiet) as bar:
        if workers is None and scheduler is None:
            records += _execute_local(todo, task, out, overwrite, bar)
        else:
            records += _execute_dask(
                todo, task, out, overwrite, bar, workers=workers, scheduler=scheduler
            )
    _remove_stale(out, [c.case_id for c in todo])
    records.sort(key=lambda r: natural_key(r["case_id"]))
    seconds = time.perf_counter() - t0
    settings = {
        "workers": workers,
        "scheduler": "given" if scheduler else None,  # an address may name a host: not recorded
        "num_parts": num_parts,
        "part_id": part_id,
        "resume": resume,
    }
    paths = _write_tables(out, task, records, settings, seconds, _part_suffix(num_parts, part_id))
    return CohortResult(records, paths, seconds)


def _table(task: CohortTask, out: Path, case_ids: Sequence[str]) -> list[dict]:
    rows = []
    for case_id in case_ids:
        folder = out / case_id
        if folder.is_dir() and task.is_complete(folder):
            rows.extend(task.table_rows(folder))
    return rows


def _write_tables(
    out, task, records, settings, seconds, suffix, *, description: dict | None = None
) -> dict[str, Path]:
    done = [r["case_id"] for r in records]  # the table shows every finished folder on disk
    ran = [r for r in records if r["status"] == "ok"]
    stem, ext = task.table_name.rsplit(".", 1)
    paths = {
        "table": write_csv(
            _table(task, out, done), out / f"{stem}{suffix}.{ext}", columns=task.table_columns()
        ),
        "cases_csv": write_csv(
            [{k: r[k] for k in CASE_COLUMNS} for r in records],
            out / f"{CASES_CSV.rsplit('.', 1)[0]}{suffix}.csv",
            columns=CASE_COLUMNS,
        ),
    }
    summary = {
        "strokect_version": __version__,
        "kind": task.kind,
        "task": description if description is not None else task.describe(),
        "run": settings,
        "n_cases": len(records),
        "n_ok": len(ran),
        "n_skipped": sum(r["status"] == "skipped" for r in records),
        "n_failed": sum(r["status"] == "failed" for r in records),
        "failures": [
            {"case_id": r["case_id"], "message": r["message"]}
            for r in records
            if r["status"] == "failed"
        ],
        "seconds": round(seconds, 2),
        "cases_per_min": round(60.0 * len(ran) / seconds, 3) if ran and seconds > 0 else None,
        "table": paths["table"].name,
        "note": "research software, not for clinical use",
    }
    paths["summary"] = write_json(summary, out / f"{SUMMARY_JSON.rsplit('.', 1)[0]}{suffix}.json")
    return paths


def _task_of_kind(kind: str, description: dict) -> CohortTask:
    """A task able to read the finished case folders of a ``kind`` cohort (for `merge_cohort`)."""
    if kind == "segment":
        from strokect.pipelines.segment_cohort import SegmentTask

        return SegmentTask(method=description.get("method", ""))
    if kind == "perfusion":
        from strokect.perfusion.maps import PerfusionConfig
        from strokect.pipelines.perfusion_cohort import PerfusionTask

        return PerfusionTask(PerfusionConfig())
    raise InputError(f"unknown cohort kind {kind!r}")


def merge_cohort(out_dir: str | Path) -> CohortResult:
    """Assemble the part tables of an array job into the cohort tables of ``out_dir``.

    Reads every ``cohort_cases.part-*.csv`` and ``cohort.part-*.json``; the cohort table is
    rebuilt from the finished case folders. Refuses a set of parts with a part missing.
    """
    import csv
    import json

    out = Path(out_dir)
    parts = sorted(out.glob(f"{SUMMARY_JSON.rsplit('.', 1)[0]}.part-*-of-*.json"))
    if not parts:
        raise InputError(f"{out}: no cohort part (cohort.part-<i>-of-<n>.json) to merge")
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in parts]
    totals = {d["run"]["num_parts"] for d in docs}
    kinds = {d["kind"] for d in docs}
    if len(totals) != 1 or len(kinds) != 1:
        raise InputError(f"{out}: parts of different runs ({sorted(kinds)}, parts {totals})")
    n = totals.pop()
    have = {d["run"]["part_id"] for d in docs}
    if have != set(range(n)):
        missing = sorted(set(range(n)) - have)
        raise InputError(f"{out}: parts {missing} of {n} have not finished; run them first")
    records = []
    for d in docs:
        name = f"{CASES_CSV.rsplit('.', 1)[0]}.part-{d['run']['part_id']}-of-{n}.csv"
        with open(out / name, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                row["seconds"] = float(row["seconds"] or 0)
                records.append(row)
    records.sort(key=lambda r: natural_key(r["case_id"]))
    settings = {**docs[0]["run"], "part_id": None, "merged_parts": n}
    seconds = max(d["seconds"] for d in docs)
    task = _task_of_kind(kinds.pop(), docs[0]["task"])
    paths = _write_tables(out, task, records, settings, seconds, "", description=docs[0]["task"])
    return CohortResult(records, paths, seconds)


def summary_line(result: CohortResult, out: Path) -> str:
    """One line for the terminal: counts and where the tables are."""
    return (
        f"{result.count('ok')} done, {result.count('skipped')} skipped (resume), "
        f"{result.n_failed} failed, of {len(result.records)} cases in {result.seconds:.1f} s; "
        f"{result.paths['table']} and {result.paths['summary']}"
    )
