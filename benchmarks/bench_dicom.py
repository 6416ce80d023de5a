"""Time three ways to read the real DICOM series: strokect (pydicom), SimpleITK, dcm2niix.

Run: ``.venv/bin/python benchmarks/bench_dicom.py [--repeats 5]``. Prints a Markdown table of the
minimum and median wall time per read (seconds) and the shape each reader returns, then how far
strokect's tilt-corrected GE series is from dcm2niix's (head-mask landmarks in LPS mm). Needs
../shared/data. dcm2niix is timed as "convert to a temporary NIfTI, then load it with nibabel".
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


def head_landmarks(volume):
    """Centroid, min and max corner (LPS mm) of the largest region above -300 HU."""
    from scipy import ndimage

    labels, _ = ndimage.label(np.asarray(volume.array) > -300)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    mask = labels == sizes.argmax()
    centroid = volume.index_to_world(np.array(ndimage.center_of_mass(mask)))
    edge = volume.index_to_world(np.argwhere(mask & ~ndimage.binary_erosion(mask)))
    return {"centroid": centroid, "min corner": edge.min(0), "max corner": edge.max(0)}


def tilt_agreement(folder: Path) -> None:
    from strokect.io import read_volume

    exe = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        ours = head_landmarks(read_volume(folder))
        cmd = [exe, "-z", "n", "-b", "n", "-f", "out", "-o", tmp, str(folder)]
        subprocess.run(cmd, check=True, capture_output=True)
        reference = head_landmarks(read_volume(next(Path(tmp).glob("*Tilt*.nii"))))
    print("\n| GE tilt landmark (LPS mm) | strokect | dcm2niix | max abs diff mm |")
    print("|---|---|---|---|")
    for key, value in ours.items():
        diff = float(np.max(np.abs(value - reference[key])))
        print(f"| {key} | {np.round(value, 2)} | {np.round(reference[key], 2)} | {diff:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    readers = {
        "strokect (pydicom)": read_strokect,
        "SimpleITK": read_sitk,
        "dcm2niix": read_dcm2niix,
    }
    print("| series | reader | min s | median s | shape (z, y, x) |")
    print("|---|---|---|---|---|")
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
            print(
                f"| {label} | {name} | {min(times):.3f} | {statistics.median(times):.3f} "
                f"| {shape} |"
            )
    if SERIES["GE tilt 18.5 deg, 28 x 512^2"].exists():
        tilt_agreement(SERIES["GE tilt 18.5 deg, 28 x 512^2"])


if __name__ == "__main__":
    main()
