"""HU distribution of the parenchyma that ``threecnn`` sees, real NCCT scans against phantoms.

Run: ``.venv/bin/python benchmarks/parenchyma_hu.py [--phantoms DIR]``

The region is the paper's intracranial mask minus its CSF mask (``strokect.preprocess.masks``),
eroded by 3 voxels in 3D so that the skull edge and the CSF border do not count. Printed per scan:
voxel count, HU percentiles 5/25/50/75/95, the modes of the smoothed 1-HU histogram and the
fractions below 20 and 25 HU (inside the 14-32 HU of the severe and intermediate infarct classes). Real scans: the GE gantry-tilt series (a normal head) and the
AISD acute NCCT from ``../shared/data``. Phantoms: the ``ncct_baseline`` images (no infarct) of the
first four cases of a ``strokect synth --layout csv`` cohort given with ``--phantoms`` (the model
card used the ``HELDOUT`` cohort of its recipe).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def parenchyma_stats(path: Path) -> dict:
    """Statistics of one NCCT's intracranial-minus-CSF region (see the module docstring)."""
    from scipy import ndimage as ndi

    from strokect.io import read_volume
    from strokect.preprocess.masks import csf_mask, intracranial_mask

    ct = read_volume(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inside = intracranial_mask(ct)
        csf = csf_mask(ct, inside)
    region = ndi.binary_erosion((inside.array > 0) & ~(csf.array > 0), iterations=3)
    hu = ct.array[region].astype(float)
    hu = hu[(hu > -10) & (hu < 80)]
    counts, edges = np.histogram(hu, bins=np.arange(-10, 81, 1))
    smooth = ndi.gaussian_filter1d(counts.astype(float), 1.5)
    modes = [
        int(edges[i])
        for i in range(1, len(smooth) - 1)
        if smooth[i] > smooth[i - 1]
        and smooth[i] >= smooth[i + 1]
        and smooth[i] > 0.05 * smooth.max()
    ]
    return {
        "voxels": int(hu.size),
        "percentiles_5_25_50_75_95": np.percentile(hu, [5, 25, 50, 75, 95]).round(1).tolist(),
        "modes_hu": modes,
        "below_20_hu": round(float(np.mean(hu < 20)), 3),
        "below_25_hu": round(float(np.mean(hu < 25)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", type=Path, default=None, help="csv-layout phantom cohort")
    args = parser.parse_args()
    scans = {
        "real GE gantry tilt (normal)": DATA / "dicom" / "ge_gantry_tilt",
        "real AISD 0019983 (acute)": DATA / "aisd" / "0019983" / "CT",
    }
    if args.phantoms is not None:
        baselines = sorted(args.phantoms.glob("cases/*/*_followup_ncct_baseline.nii.gz"))[:4]
        scans.update({f"phantom {p.name.split('_followup')[0]}": p for p in baselines})
    for name, path in scans.items():
        if not path.exists():
            print(f"{name}: {path} absent, skipped")
            continue
        print(name, parenchyma_stats(path))


if __name__ == "__main__":
    main()
