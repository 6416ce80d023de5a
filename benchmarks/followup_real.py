"""Follow-up NCCT methods (``threecnn``, ``fu2bl``) on the real scans of ``../shared/data``:
end to end, volumes as they come.

Run: ``.venv/bin/python benchmarks/followup_real.py [--method threecnn|fu2bl]
[--weights NAME_OR_RUN] [--out DIR]`` (default: ``threecnn``, its shipped weights)

* GE gantry-tilt series (a normal head, 18.5 degree tilt, irregular slice spacing): every voxel
  found is a false positive; reported as such.
* AISD 0019983 NCCT (acute, 17 slices of 8 mm, Siemens): the scan is acute, not follow-up, so
  the volume is not a final infarct volume. The patient's later DWI (18 slices of 6.5 mm) is
  registered to the CT (rigid, Mattes mutual information, `register_rigid`); its lesion is
  estimated without training (DWI > median + 4 MAD inside the DWI head, components >= 0.5 mL:
  ours, no reference mask exists) and both are compared on the CT grid: overlap, volumes, and
  the side and slices each lies in. A picture of both is written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _side(mask: np.ndarray, vol) -> str:
    """Patient side of a mask's centroid (LPS x > midline of the head's bounding box)."""
    if not mask.any():
        return "none"
    idx = np.argwhere(mask).mean(0)
    world = vol.index_to_world(idx)
    head = np.argwhere(vol.array > -300).mean(0)
    return "left" if world[0] > vol.index_to_world(head)[0] else "right"


def _slices(mask: np.ndarray) -> list[int]:
    z = np.flatnonzero(mask.any(axis=(1, 2)))
    return [int(z[0]), int(z[-1])] if z.size else []


def main() -> None:
    from scipy import ndimage as ndi

    from strokect.io import read_volume
    from strokect.pipelines.segment import segment
    from strokect.preprocess.registration import register_rigid
    from strokect.preprocess.resample import resample_onto

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="threecnn", choices=("threecnn", "fu2bl"))
    parser.add_argument("--weights", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp())
    report = {}
    for name, path in (
        ("ge_gantry_tilt", DATA / "dicom" / "ge_gantry_tilt"),
        ("aisd_0019983_ct", DATA / "aisd" / "0019983" / "CT"),
    ):
        res = segment({"ncct_followup": path}, out / name, method=args.method,
                      weights=args.weights, overwrite=True)  # fmt: skip
        prov = res.provenance
        report[name] = {
            "volumes_ml": res.volumes_ml,
            "input_shape": prov["inputs"]["ncct_followup"]["shape"],
            "input_spacing_mm": prov["inputs"]["ncct_followup"]["spacing_mm"],
            "out_of_domain": prov["domain_check"].get("out_of_domain"),
            "seconds": prov["timings_s"]["total_s"],
            "infarct_side": _side(res.outputs["infarct"].array > 0, res.outputs["infarct"]),
            "infarct_slices": _slices(res.outputs["infarct"].array > 0),
            "hemorrhage_side": _side(res.outputs["hemorrhage"].array > 0, res.outputs["infarct"]),
            "output_checks": prov["output_checks"],
        }
        print(name, json.dumps(report[name]))
    # AISD: the later DWI on the CT grid
    ct = read_volume(DATA / "aisd" / "0019983" / "CT")
    dwi = read_volume(DATA / "aisd" / "0019983" / "DWI")
    tx = register_rigid(ct, dwi, metric="mattes", window_hu=(0.0, 400.0))
    on_ct = resample_onto(dwi.with_array(dwi.array.astype(np.float32)), ct, tx, fill_value=0.0)
    head = on_ct.array > 20
    vals = on_ct.array[head]
    med, mad = np.median(vals), np.median(np.abs(vals - np.median(vals)))
    bright = head & (on_ct.array > med + 4 * 1.4826 * mad)
    labels, _ = ndi.label(bright)
    sizes = np.bincount(labels.ravel())[1:] * ct.voxel_volume_ml
    dwi_lesion = np.isin(labels, 1 + np.flatnonzero(sizes >= 0.5))
    found = read_volume(out / "aisd_0019983_ct" / "infarct.nii.gz").array > 0
    inter = (found & dwi_lesion).sum()
    report["aisd_0019983_dwi"] = {
        "registration_metric": round(float(tx.metric_value), 4),
        "dwi_lesion_ml": round(float(dwi_lesion.sum() * ct.voxel_volume_ml), 2),
        "dwi_lesion_side": _side(dwi_lesion, ct),
        "dwi_lesion_slices": _slices(dwi_lesion),
        f"{args.method}_infarct_ml": round(float(found.sum() * ct.voxel_volume_ml), 2),
        "overlap_ml": round(float(inter * ct.voxel_volume_ml), 2),
        "dice": round(float(2 * inter / max(found.sum() + dwi_lesion.sum(), 1)), 3),
    }
    print("aisd_0019983_dwi", json.dumps(report["aisd_0019983_dwi"]))
    _picture(ct, found, dwi_lesion, on_ct, out / f"aisd_{args.method}_vs_dwi.png", args.method)
    (out / f"{args.method}_real.json").write_text(json.dumps(report, indent=1))
    print("written:", out)


def _picture(ct, found, dwi_lesion, dwi, path: Path, method: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    zs = np.flatnonzero((found | dwi_lesion).any(axis=(1, 2)))
    zs = (
        zs[np.linspace(0, len(zs) - 1, min(4, len(zs))).astype(int)]
        if zs.size
        else [ct.array.shape[0] // 2]
    )
    fig, axes = plt.subplots(2, len(zs), figsize=(3 * len(zs), 6), squeeze=False)
    for k, z in enumerate(zs):
        axes[0, k].imshow(np.clip(ct.array[z], 0, 80), cmap="gray")
        axes[0, k].contour(found[z], levels=[0.5], colors="red", linewidths=0.8)
        axes[0, k].set_title(f"CT slice {z}: {method} (red)", fontsize=8)
        axes[1, k].imshow(dwi.array[z], cmap="gray")
        axes[1, k].contour(dwi_lesion[z], levels=[0.5], colors="cyan", linewidths=0.8)
        axes[1, k].contour(found[z], levels=[0.5], colors="red", linewidths=0.8)
        axes[1, k].set_title("later DWI on the CT grid (cyan)", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"AISD 0019983: {method} on the acute NCCT vs the later DWI (research use only)",
                 fontsize=9)  # fmt: skip
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()
