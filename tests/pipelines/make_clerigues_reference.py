"""Make ``data/clerigues_reference.npz``: `clerigues` outputs of the pre-pipeline code.

Run once at commit 71a117eda742ad0602142c14dad9b364764b5674 (the last commit before the generic
segment pipeline), from a checkout of that commit::

    git worktree add /tmp/strokect-71a117e 71a117e
    PYTHONPATH=/tmp/strokect-71a117e/src python tests/pipelines/make_clerigues_reference.py \
        PHANTOM_CASE_DIR tests/pipelines/data/clerigues_reference.npz

PHANTOM_CASE_DIR is ``TRAINING/case_1`` of ``strokect synth -o DIR --cases 1 --seed 11 --kind
ischemic`` (4 slices of 256x256, a 1173-voxel core). The CT is rounded to integer HU and the CBF/CBV maps to float16 so that the inputs
themselves can be stored in the file; both runs below read exactly these stored inputs.

Stored: the inputs with their geometry, and for two runs of that commit's ``segment()`` with the
shipped CT+CBF+CBV ensemble: ``off_*`` with the MC-dropout layers set to p = 0 (dropout off; one
pass per model, whole slices, batch 64) and ``mc_*`` with the defaults (3 MC passes per model).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

from strokect.data.isles2018 import read_case
from strokect.io import Volume, read_volume, write_volume


def main(case_dir: str, out: str) -> None:
    from strokect.inference import segment as seg_mod
    from strokect.nn.mc_dropout import MCDropout

    images = read_case(Path(case_dir)).images
    vols = {r: read_volume(images[r]) for r in ("ct", "cbf", "cbv")}
    arrays = {
        "ct": np.round(vols["ct"].array).astype(np.int16),
        "cbf": vols["cbf"].array.astype(np.float16),
        "cbv": vols["cbv"].array.astype(np.float16),
    }
    ref = vols["ct"]
    stored = {f"input_{r}": a for r, a in arrays.items()}
    stored.update(
        spacing_mm=np.array(ref.spacing_mm),
        origin=np.array(ref.origin),
        direction=np.array(ref.direction),
    )
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        for role, arr in arrays.items():
            write_volume(
                Volume(
                    arr.astype(np.float32) if role != "ct" else arr,
                    ref.spacing_mm,
                    origin=ref.origin,
                    direction=ref.direction,
                ),
                case / f"{role}.nii.gz",
            )
        for tag, p in (("mc", None), ("off", 0.0)):
            original = seg_mod.load_ensemble

            def load(paths, *, method, _p=p, _orig=original):
                models = _orig(paths, method=method)
                for _, nets in models:
                    for net in nets.values():
                        for layer in net.modules():
                            if isinstance(layer, MCDropout) and _p is not None:
                                layer.p = _p
                return models

            seg_mod.load_ensemble = load
            try:
                result = seg_mod.segment(
                    case, Path(tmp) / tag, mc_passes=1 if tag == "off" else None
                )
            finally:
                seg_mod.load_ensemble = original
            stored[f"{tag}_probability"] = read_volume(result.paths["probability"]).array
            stored[f"{tag}_mask"] = read_volume(result.paths["mask"]).array.astype(np.uint8)
            print(tag, result.volume_ml, "mL", result.n_voxels, "voxels")
    np.savez_compressed(out, **stored)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
