"""``strokect segment ROOT -o OUT``: `segment` over a cohort (`strokect.pipelines.cohort`).

Each case gets the folder ``OUT/<case_id>`` that a single ``strokect segment`` writes; ``OUT``
gets the cohort ``volumes.csv`` (every mask of every finished case, the columns of a case's
``volumes.csv``), ``cohort_cases.csv`` and ``cohort.json``. ``strokect evaluate --pred OUT``
reads ``OUT`` as it is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from strokect.io.records import json_safe
from strokect.pipelines.cohort_cases import CohortCase

__all__ = ["SegmentTask", "segment_fingerprint"]

VOLUME_COLUMNS = [
    "case_id", "method", "output", "volume_ml", "n_voxels", "voxel_volume_ml", "out_of_domain",
    "implausible",
]  # fmt: skip

#: Provenance fields that must equal this run's for ``--resume`` to keep a finished case.
FINGERPRINT = ("method", "weights_sha256", "config", "calibration", "options", "seed")


def _plain(value):
    """``value`` as it reads back from JSON (tuples -> lists...), for comparisons."""
    return json.loads(json.dumps(json_safe(value)))


def segment_fingerprint(provenance: dict) -> dict:
    """The fields of a ``provenance.json`` that `FINGERPRINT` compares."""
    return {
        "method": provenance.get("method"),
        "weights_sha256": [w.get("sha256") for w in provenance.get("weights", [])],
        "config": provenance.get("config"),
        "calibration": provenance.get("calibration"),
        "options": provenance.get("options"),
        "seed": provenance.get("seed"),
    }


@dataclass
class SegmentTask:
    """Segment one case of a cohort with fixed settings (the arguments of `segment`)."""

    method: str
    weights: str | None = None
    options: Sequence[str] = ()
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    allow_slice_gaps: bool = False
    output_format: str = "nifti"
    anonymize: bool = False
    command: str | None = None
    kind: str = "segment"
    table_name: str = "volumes.csv"
    _expected: dict = field(default_factory=dict, repr=False)

    def __call__(self, case: CohortCase, folder: Path) -> None:
        from strokect.pipelines.segment import segment

        segment(
            case.inputs,
            folder,
            method=self.method,
            weights=self.weights,
            options=self.options,
            device=self.device,
            threads=self.threads,
            seed=self.seed,
            overwrite=True,  # the cohort runner stages the case folder; this is its inside
            quiet=True,
            allow_slice_gaps=self.allow_slice_gaps,
            command=self.command,
            output_format=self.output_format,
            anonymize=self.anonymize,
            reuse_models=True,
        )

    def is_complete(self, folder: Path) -> bool:
        return (folder / "provenance.json").is_file() and (folder / "volumes.csv").is_file()

    def expected(self, case: CohortCase) -> dict:
        """The fingerprint this run gives ``case`` (weights picked from its roles)."""
        from strokect.config import config_to_dict
        from strokect.io.digest import sha256_file
        from strokect.pipelines.segment import _device, _weight_files, cached_ensemble

        paths = _weight_files(self.method, self.weights, case.inputs.roles)
        key = tuple(str(p) for p in paths)
        if key not in self._expected:
            device = _device(self.device)
            models, calibration = cached_ensemble(
                paths, method=self.method, options=self.options, device=device
            )
            self._expected[key] = _plain(
                {
                    "method": self.method,
                    "weights_sha256": [sha256_file(p) for p in paths],
                    "config": config_to_dict(models[0][0].config),
                    "calibration": None if calibration is None else config_to_dict(calibration),
                    "options": list(self.options),
                    "seed": self.seed,
                }
            )
        return self._expected[key]

    def matches(self, folder: Path, case: CohortCase) -> str | None:
        try:
            prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unreadable provenance.json"
        found, wanted = _plain(segment_fingerprint(prov)), self.expected(case)
        differ = [k for k in FINGERPRINT if found.get(k) != wanted.get(k)]
        return f"different {', '.join(differ)}" if differ else None

    def table_rows(self, folder: Path) -> list[dict]:
        with open(folder / "volumes.csv", newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def table_columns(self) -> list[str]:
        return list(VOLUME_COLUMNS)

    def describe(self) -> dict:
        return {
            "method": self.method,
            "weights": self.weights or "shipped default",
            "options": list(self.options),
            "seed": self.seed,
            "output_format": self.output_format,
            "anonymize": self.anonymize,
        }

    def __getstate__(self):  # the resume cache stays in the process that filled it
        state = dict(self.__dict__)
        state["_expected"] = {}
        return state
