"""Time three ways to read the real DICOM series: strokect (pydicom), SimpleITK, dcm2niix.

Run: ``.venv/bin/python benchmarks/bench_dicom.py [--repeats 3]``. Prints a Markdown table of the
median wall time per read (seconds) and the shape each reader returns. Needs ../shared/data.
dcm2niix is timed as "convert to a temporary NIfTI, then load it with nibabel".
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SERIES = {
    "GE tilt 18.5 deg, 28 x 512^2": DATA / "dicom" / "ge_gantry_tilt",
    "AISD NCCT, 17 x 512^2": DATA / "aisd" / "0019983" / "CT",
}


def read_strokect(folder: Path):
    from strokect.io.dicom import read_dicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dicom(folder).array.shape


def read_sitk(folder: Path):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    array = sitk.GetArrayFromImage(reader.Execute())
    return array.shape


def read_dcm2niix(folder: Path):
    import nibabel as nib

    exe = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [exe, "-z", "n", "-b", "n", "-f", "out", "-o", tmp, str(folder)]
        subprocess.run(cmd, check=True, capture_output=True)
        files = sorted(Path(tmp).glob("*.nii"))
        best = next((f for f in files if "Tilt" in f.name or "Eq" in f.name), files[0])
        return np.asarray(nib.load(best).dataobj).shape[::-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    readers = {
        "strokect (pydicom)": read_strokect,
        "SimpleITK": read_sitk,
        "dcm2niix": read_dcm2niix,
    }
    print("| series | reader | median s | shape (z, y, x) |")
    print("|---|---|---|---|")
    for label, folder in SERIES.items():
        if not folder.exists():
            print(f"| {label} | (missing: {folder}) | | |")
            continue
        for name, reader in readers.items():
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                shape = reader(folder)
                times.append(time.perf_counter() - start)
            print(f"| {label} | {name} | {statistics.median(times):.3f} | {shape} |")


if __name__ == "__main__":
    main()
