"""A small segment result for the report tests: a head-like CT, a lesion on the patient's left,
its probability and uncertainty, and a provenance record that names a patient folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from strokect.io.volume import Volume
from strokect.report.segment_report import write_segment_report

#: an input folder named the way some PACS exports name them: it must not reach the report
PATIENT_FOLDER = "DOE^JANE_19570101"
SHAPE = (14, 64, 64)
SPACING_MM = (4.0, 0.8, 0.8)
LESION_SLICES = [4, 5, 6, 7, 8]
SHA = "3f5a9c0e7b1d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468"
FLIP_X = np.diag([-1.0, 1.0, 1.0])  # index x runs towards the patient's right


def case_outputs(direction: np.ndarray | None = None) -> tuple[Volume, dict[str, Volume]]:
    """Background and outputs; the lesion is on the patient's LEFT (LPS +x) for any direction."""
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    z, y, x = np.indices(SHAPE)
    head = (y - 32) ** 2 + (x - 32) ** 2 < 28**2
    ct = np.where(head, 32.0, -1000.0) + np.random.default_rng(0).normal(0, 3, SHAPE)
    left_x = 45 if direction[0, 0] > 0 else 64 - 1 - 45  # patient left in index space
    lesion = ((y - 30) ** 2 + (x - left_x) ** 2 < 7**2) & (z >= LESION_SLICES[0])
    lesion &= z <= LESION_SLICES[-1]
    core = lesion & ((y - 30) ** 2 + (x - left_x) ** 2 < 3**2) & (z == 6)
    ct[lesion] -= 10.0
    prob = ndimage.gaussian_filter(lesion.astype(float), 1.2)
    prob /= prob.max()
    grid = Volume(ct, spacing_mm=SPACING_MM, origin=(-25.0, -25.0, 0.0), direction=direction)
    outputs = {
        "lesion": grid.with_array(lesion.astype(np.uint8), kind="mask"),
        "core": grid.with_array(core.astype(np.uint8), kind="mask"),
        "probability": grid.with_array(prob.astype(np.float32), kind="probability"),
        "uncertainty": grid.with_array(
            (4 * prob * (1 - prob)).astype(np.float32), kind="uncertainty"
        ),
    }
    return grid, outputs


def provenance() -> dict:
    """A provenance record as `strokect segment` writes it, with paths that name the patient."""
    folder = f"/data/export/{PATIENT_FOLDER}"
    return {
        "strokect_version": "9.8.7",
        "method": "toymethod",
        "case_id": "case_042",
        "primary_output": "lesion",
        "weights": [{"file": "toy_fold0.pt", "path": f"{folder}/../toy_fold0.pt", "sha256": SHA}],
        "config": {"threshold": 0.45, "min_size_vox": 7},
        "calibration": None,
        "options": ["threshold=0.45"],
        "domain_check": {"checked": True, "out_of_domain": False, "scope": "phantom NCCT"},
        "output_checks": {"implausible": []},
        "input_checks": [{"role": "ct", "message": f"read {PATIENT_FOLDER}/ct.nii.gz: 14 slices"}],
        "inputs": {
            "ct": {
                "path": f"{folder}/ct.nii.gz",
                "series": PATIENT_FOLDER,
                "shape": list(SHAPE),
                "spacing_mm": list(SPACING_MM),
            }
        },
        "command": f"strokect segment {folder} -o out",
        "timings_s": {"predict": 1.25, "total_s": 3.5},
        "device": "cpu",
        "threads": 2,
        "seed": 1234,
        "note": "research software, not for clinical use",
    }


def write_case_report(
    folder: Path, *, direction=None, empty: bool = False, cards=(), changes=None
) -> dict:
    """Write the report of the test case into ``folder``; returns its paths and inputs."""
    grid, outputs = case_outputs(direction)
    if empty:
        outputs = {name: v.with_array(np.zeros(SHAPE, np.uint8), kind=v.metadata["kind"])
                   for name, v in outputs.items()}  # fmt: skip
    volumes = {n: float((v.array > 0).sum()) * grid.voxel_volume_ml
               for n, v in outputs.items() if v.metadata["kind"] == "mask"}  # fmt: skip
    paths = write_segment_report(
        folder, outputs=outputs, primary="lesion", background=grid, window=(0.0, 80.0),
        volumes_ml=volumes, provenance={**provenance(), **(changes or {})}, model_cards=cards,
    )  # fmt: skip
    return {"paths": paths, "volumes": volumes, "outputs": outputs, "grid": grid}
