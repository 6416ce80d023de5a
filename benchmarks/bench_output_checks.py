"""Cost of `segment`'s output checks (`strokect.pipelines.output_checks.lesion_plausibility`).

Run: ``.venv/bin/python benchmarks/bench_output_checks.py [--repeats 3]``

What `segment` adds after `finalize`: the mid-sagittal plane of the case's CT (4 and 2 mm
registration levels) and the mirror image of every mask output. Timed in-process, one thread,
with two mask outputs (the size of a typical method's set), on a phantom CTP slab
(``synth_case(15, "isles")``, 22 x 256 x 256, the CT ``clerigues`` gets), a phantom
follow-up NCCT (the same case, 256 x 256 x 30-40) and, when ``../shared/data`` is present, the
real AISD (17 x 512 x 512) and GE gantry-tilt (37 x 611 x 512 after tilt correction) scans. The
masks are a 40 mm ball off the centre of the head; the rule's cost does not depend on the mask.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _ball_mask(ct) -> np.ndarray:
    zz, yy, xx = np.indices(ct.spatial_shape)
    mm = np.asarray(ct.spacing_mm)
    centre = np.array(ct.spatial_shape) / 2 + np.array([0, 0, ct.spatial_shape[2] / 4])
    dist = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip((zz, yy, xx), centre, mm)))
    return dist < 40.0


def main() -> None:
    import torch

    from strokect.io import read_volume
    from strokect.methods.base import output_volume
    from strokect.phantom import synth_case
    from strokect.pipelines.output_checks import lesion_plausibility

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    case = synth_case(15, "isles", kind="ischemic")
    scans = {
        "phantom CTP slab (CT)": case.acute["ct"],
        "phantom follow-up NCCT": case.followup["ncct_followup"],
    }
    for name, path in (
        ("AISD 0019983 NCCT", DATA / "aisd" / "0019983" / "CT"),
        ("GE gantry-tilt NCCT", DATA / "dicom" / "ge_gantry_tilt"),
    ):
        if path.exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scans[name] = read_volume(path)
    for name, ct in scans.items():
        mask = _ball_mask(ct)
        outputs = {k: output_volume(ct, mask, "mask") for k in ("lesion", "other")}
        roi = np.ones(ct.spatial_shape, bool)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a ball may still touch its mirror on a slab
                lesion_plausibility(outputs, roi, ct)
            times.append(time.perf_counter() - t0)
        print(f"{name} {ct.spatial_shape}: median {np.median(times):.2f} s, min {min(times):.2f} s")


if __name__ == "__main__":
    main()
