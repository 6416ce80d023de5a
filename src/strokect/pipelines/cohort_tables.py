"""The tables of a cohort run: the cohort table, ``cohort_cases.csv``, ``cohort.json``, and
`merge_cohort` for the parts of an array job (`strokect.pipelines.cohort`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from strokect.data.case import natural_key
from strokect.errors import InputError
from strokect.io.records import write_csv, write_json
from strokect.pipelines.cohort_cases import CohortResult, CohortTask
from strokect.version import __version__

__all__ = ["merge_cohort", "part_suffix", "summary_line", "write_tables"]

CASES_CSV = "cohort_cases.csv"
SUMMARY_JSON = "cohort.json"
CASE_COLUMNS = ["case_id", "status", "seconds", "message"]


def part_suffix(num_parts: int, part_id: int) -> str:
    """``.part-<id>-of-<n>`` for part ``part_id`` of ``num_parts`` (none for a whole run)."""
    return "" if num_parts == 1 else f".part-{part_id}-of-{num_parts}"


def _table(task: CohortTask, out: Path, case_ids: Sequence[str]) -> list[dict]:
    rows = []
    for case_id in case_ids:
        folder = out / case_id
        if folder.is_dir() and task.is_complete(folder):
            rows.extend(task.table_rows(folder))
    return rows


def write_tables(
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
    if any(d["task"] != docs[0]["task"] for d in docs[1:]):
        raise InputError(f"{out}: the parts ran with different settings (method, weights, options)")
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
    paths = write_tables(out, task, records, settings, seconds, "", description=docs[0]["task"])
    return CohortResult(records, paths, seconds)


def summary_line(result: CohortResult) -> str:
    """One line for the terminal: counts and where the tables are."""
    return (
        f"{result.count('ok')} done, {result.count('skipped')} skipped (resume), "
        f"{result.n_failed} failed, of {len(result.records)} cases in {result.seconds:.1f} s; "
        f"{result.paths['table']} and {result.paths['summary']}"
    )
