"""Cohort runs: one task (segment a case, analyse a perfusion study) over many cases.

The method-agnostic layer behind ``strokect segment ROOT -o OUT`` and ``strokect perfusion ROOT
-o OUT`` (``docs/cohorts.md``):

* **cases** (`strokect.pipelines.cohort_cases.find_cohort`): every case of a dataset root in any
  layout `strokect.data` reads (ISLES 2018, ISLES 2024, CSV manifest), or every study folder of a
  root of DICOM studies, whose series are mapped to roles by
  `strokect.pipelines.inputs.dicom_study_roles`;
* **one folder per case**, written into a hidden sibling and renamed when complete
  (`strokect.io.atomic.staged_output_dir`): ``OUT/<case_id>`` is complete or absent, even after
  ``kill -9``;
* **resume**: a complete folder whose recorded settings match this run (`CohortTask.matches`)
  is skipped; one that does not match is a per-case error (``--overwrite`` redoes it);
* **one bad case** is a per-case error in ``cohort.json`` / ``cohort_cases.csv``; the others go on;
* **execution**: in this process (no Dask import), on a local Dask cluster (``workers``
  processes), on an existing Dask cluster (``scheduler`` address), and/or as part ``part_id`` of
  ``num_parts`` (plain array jobs; `strokect.pipelines.cohort_tables.merge_cohort` assembles
  the parts). A task keeps what it
  loads (e.g. the models) for the life of its worker process; a worker that dies mid-case costs
  that case a retry on another worker (Dask's rescheduling), not the run.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from strokect.data.case import natural_key
from strokect.errors import InputError
from strokect.pipelines.cohort_cases import CohortCase, CohortResult, CohortTask
from strokect.pipelines.cohort_tables import part_suffix, write_tables

__all__ = ["run_case", "run_cohort"]

log = logging.getLogger(__name__)


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


def _staged_case(task: CohortTask, case: CohortCase, folder: Path) -> None:
    """Write the case into a hidden sibling, then put it in place of ``folder`` (an earlier
    folder of the case, redone with ``--overwrite``, is replaced as a whole: no file of another
    run stays beside the new outputs). ``folder`` is complete or absent at every moment."""
    tmp = folder.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{folder.name}")
    tmp.mkdir(parents=True)
    try:
        task(case, tmp)
        if folder.exists():
            old = folder.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{folder.name}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def run_case(task: CohortTask, case: CohortCase, folder: str) -> dict:
    """Run ``task`` on ``case`` into ``folder`` (atomically); a failure becomes the record.

    Runs in the worker (module-level so that Dask can pickle a reference to it).
    """
    _reuse_freed_memory()
    t0 = time.perf_counter()
    try:
        _staged_case(task, case, Path(folder))
        status, message = "ok", ""
    except Exception as exc:  # one bad case is reported; the others go on
        status, message = "failed", case.scrub(_one_line(exc))
    return {
        "case_id": case.case_id,
        "status": status,
        "seconds": round(time.perf_counter() - t0, 2),
        "message": message,
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


def _execute_local(todo, task, out: Path, bar) -> list[dict]:
    records = []
    for case in todo:
        records.append(run_case(task, case, str(out / case.case_id)))
        bar.update(1)
    return records


def _execute_dask(todo, task, out, bar, *, workers, scheduler) -> list[dict]:
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
                run_case, task, case, str(out / case.case_id),
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
            records += _execute_local(todo, task, out, bar)
        else:
            records += _execute_dask(todo, task, out, bar, workers=workers, scheduler=scheduler)
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
    paths = write_tables(out, task, records, settings, seconds, part_suffix(num_parts, part_id))
    return CohortResult(records, paths, seconds)
