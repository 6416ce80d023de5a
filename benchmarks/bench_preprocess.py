"""Speed of the preprocessing steps (issue 5 targets), printed as a table.

    .venv/bin/python benchmarks/bench_preprocess.py [--repeats 3]

Cases:
- intracranial + CSF masks of a 512 x 512 x 32 NCCT (target <= 5 s): the real AISD NCCT
  (512 x 512 x 17, 8 mm) resampled to 32 slices when ../shared/data is present, else a phantom
  NCCT resampled to 512 x 512 x 32;
- mid-sagittal plane / symmetric registration of a 256 x 256 x 16 slab (target <= 3 s): 16 slices
  of a phantom "isles" NCCT (whole-skull slab);
- rigid follow-up to baseline NCCT registration (target <= 10 s): the phantom pair on its
  256 x 256 x 30 grid and upsampled to 512 x 512 x 30.
Reported: median wall time over ``--repeats`` runs, process CPU time of that run, and accuracy
where the truth is known.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from strokect.io import read_volume
from strokect.phantom import synth_case
from strokect.preprocess.masks import csf_mask, intracranial_mask
from strokect.preprocess.registration import register_rigid
from strokect.preprocess.resample import resample_to_spacing
from strokect.preprocess.symmetry import SymmetryTransform, mirror, register_flipped

AISD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aisd" / "0019983" / "CT"


def timed(fn, repeats):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    i = int(np.argsort(walls)[len(walls) // 2])
    return walls[i], cpus[i], out


def ncct_512(case):
    if AISD.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ct = read_volume(AISD)
        extent = ct.spatial_shape[0] * ct.spacing_mm[0]
        src = "AISD 0019983 resampled"
        return resample_to_spacing(ct, (extent / 32, *ct.spacing_mm[1:])), src
    ct = case.followup["ncct_baseline"]
    fov = ct.spatial_shape[1] * ct.spacing_mm[1]
    out = resample_to_spacing(
        ct, (ct.spatial_shape[0] * ct.spacing_mm[0] / 32, fov / 512, fov / 512)
    )
    return out, "phantom isles seed 0 resampled"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    case = synth_case(0, "isles")
    rows = []

    ct, src = ncct_512(case)

    def masks():
        ic = intracranial_mask(ct)
        return ic, csf_mask(ct, ic)

    wall, cpu, (ic, csf) = timed(masks, args.repeats)
    rows.append(
        (
            f"intracranial + CSF, {src}, shape {ct.spatial_shape}",
            wall,
            cpu,
            f"IC {ic.array.sum() * ct.voxel_volume_ml:.0f} mL, CSF "
            f"{csf.array.sum() * ct.voxel_volume_ml:.1f} mL",
            5.0,
        )
    )

    bl = case.followup["ncct_baseline"]
    slab = bl.with_array(bl.array.astype(np.float32))
    k0 = bl.spatial_shape[0] // 2 - 8
    from strokect.io import Volume

    slab = Volume(
        slab.array[k0 : k0 + 16].copy(),
        bl.spacing_mm,
        origin=tuple(bl.index_to_world(np.array([k0, 0, 0]))),
        direction=bl.direction,
    )
    plane = case.metadata["head_pose"]["midsagittal_plane"]["baseline"]
    n, p = np.asarray(plane["normal_lps"]), np.asarray(plane["point_lps_mm"])
    true = SymmetryTransform(np.eye(3) - 2 * np.outer(n, n), 2 * (n @ p) * n, None, 0.0, 0.0)
    sym = slab.with_array(0.5 * (slab.array + mirror(slab, true).array))
    wall, cpu, found = timed(lambda: register_flipped(slab), args.repeats)
    _, _, found_sym = timed(lambda: register_flipped(sym), 1)
    yaw = case.metadata["head_pose"]["yaw_deg"]
    rows.append(
        (
            f"symmetric registration, phantom slab {slab.spatial_shape}",
            wall,
            cpu,
            f"yaw {yaw:.2f}; raw {found.plane.angle_deg:.2f}, symmetrised "
            f"{found_sym.plane.angle_deg:.2f} deg",
            3.0,
        )
    )

    fu = case.followup["ncct_followup"]
    truth = np.asarray(case.metadata["rigid"]["matrix_lps"])
    pts = bl.index_to_world(np.argwhere(case.followup["baseline_brain"].array > 0).astype(float))
    for label, (a, b) in {
        "256x256x30": (bl, fu),
        "512x512x30": tuple(
            resample_to_spacing(v, (v.spacing_mm[0], v.spacing_mm[1] / 2, v.spacing_mm[2] / 2))
            for v in (bl, fu)
        ),
    }.items():
        wall, cpu, tx = timed(lambda a=a, b=b: register_rigid(a, b), args.repeats)
        err = np.linalg.norm(tx.apply(pts) - (pts @ truth[:3, :3].T + truth[:3, 3]), axis=1).max()
        rows.append(
            (
                f"rigid NCCT-to-NCCT, phantom pair {label}",
                wall,
                cpu,
                f"max error over brain {err:.2f} mm",
                10.0,
            )
        )

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) at the end: {load:.1f}; median of {args.repeats} runs")
    print("| case | wall_s | cpu_s | result | target_s |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, result, target in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {result} | {target:g} |")


if __name__ == "__main__":
    main()
