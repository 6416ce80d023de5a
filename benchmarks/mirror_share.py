"""How much of each reference lesion lies on its own mirror image (the symmetry rule's measure).

Run: ``.venv/bin/python benchmarks/mirror_share.py COHORT [--role ncct_followup] [--mask infarct]``

``COHORT`` is a ``strokect synth --layout csv`` cohort (the held-out set of a model card). For
every case with a non-empty reference mask, `strokect.pipelines.output_checks.lesion_plausibility`
measures the share (and mL) of the mask whose mirror point across the mid-sagittal plane of the
case's CT is also in the mask, as `segment` does for predicted masks; printed per case, then the
median and the range, and the cases the rule would flag (a ``hemorrhage`` mask is measured, never
flagged, as in `segment`). True stroke lesions should stay far
below the rule's 25 %.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    from strokect.data import load_dataset
    from strokect.methods.base import output_volume
    from strokect.pipelines.output_checks import lesion_plausibility

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cohort", type=Path)
    parser.add_argument("--role", default="ncct_followup", help="the CT role")
    parser.add_argument("--mask", default="infarct", help="the reference mask")
    args = parser.parse_args()
    manifest = args.cohort / "manifest_ncct_pairs.csv"
    shares = []
    for case in load_dataset(manifest if manifest.exists() else args.cohort).cases:
        if args.mask not in case.masks:
            continue
        ct = case.load(args.role)
        ref = case.load(args.mask)
        if not ref.array.any():
            continue
        # labelled like segment's outputs, so a hemorrhage mask is measured but not flagged
        mask = output_volume(ct, ref.array > 0, "mask", label=args.mask)
        checks = lesion_plausibility({args.mask: mask}, None, ct)
        finding = checks["findings"][0]
        shares.append((case.case_id, finding["mirrored_fraction"], finding["mirrored_ml"]))
        print(f"{case.case_id}: {finding['mirrored_fraction']:.3f} ({finding['mirrored_ml']:.2f} mL)"
              f"{' FLAGGED' if finding['flags'] else ''}", flush=True)  # fmt: skip
    values = np.array([s[1] for s in shares])
    if values.size:
        print(f"{values.size} masks: mirrored share median {np.median(values):.3f}, "
              f"range {values.min():.3f}-{values.max():.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
