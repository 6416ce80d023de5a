"""``strokect perfusion ROOT -o OUT``: perfusion maps and readout over a cohort of 4D studies.

Each study gets the folder ``OUT/<case_id>`` that a single ``strokect perfusion`` writes; ``OUT``
gets ``readout.csv`` (core, hypoperfusion and mismatch in mL and the mismatch ratio per study),
``cohort_cases.csv`` and ``cohort.json`` (`strokect.pipelines.cohort`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from strokect.perfusion.maps import PerfusionConfig
from strokect.pipelines.cohort_cases import CohortCase

__all__ = ["READOUT_COLUMNS", "PerfusionTask"]

READOUT_COLUMNS = [
    "case_id", "core_ml", "hypoperfusion_ml", "mismatch_ml", "mismatch_ratio", "affected_side",
]  # fmt: skip


@dataclass
class PerfusionTask:
    """Analyse the ``ctp`` role of one case with fixed settings (`run_perfusion`)."""

    config: PerfusionConfig
    report: bool = True
    kind: str = "perfusion"
    table_name: str = "readout.csv"

    def __call__(self, case: CohortCase, folder: Path) -> None:
        from strokect.perfusion.run import run_perfusion

        path = case.inputs.case.resolve_roles(["ctp"])["ctp"]
        run_perfusion(
            path,
            folder,
            config=self.config,
            overwrite=True,  # the cohort runner stages the case folder; this is its inside
            report=self.report,
            series=case.inputs.series_of("ctp", path),
        )

    def is_complete(self, folder: Path) -> bool:
        return (folder / "perfusion.json").is_file()

    def matches(self, folder: Path, case: CohortCase) -> str | None:
        try:
            summary = json.loads((folder / "perfusion.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unreadable perfusion.json"
        wanted = json.loads(json.dumps(self.config.to_dict()))
        return None if summary.get("parameters") == wanted else "different parameters"

    def table_rows(self, folder: Path) -> list[dict]:
        summary = json.loads((folder / "perfusion.json").read_text(encoding="utf-8"))
        readout = summary["readout"]
        row = {k: readout.get(k) for k in READOUT_COLUMNS[1:]}
        return [{"case_id": folder.name, **row}]

    def table_columns(self) -> list[str]:
        return list(READOUT_COLUMNS)

    def describe(self) -> dict:
        return {"parameters": self.config.to_dict(), "report": self.report}
