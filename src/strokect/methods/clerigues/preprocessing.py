"""Input pipeline of ``clerigues``: skull strip, per-image z-score, symmetric modalities, caching.

Clèrigues et al., CBM 2019, sec. 2.1.1: the brain mask is where the sum of the perfusion maps is
non-zero (`strokect.preprocess.perfusion_brain_mask`), the CT is multiplied by it, every modality is
z-scored over the brain (`strokect.preprocess.zscore_in_mask`), and every modality gets a mirrored
copy across the mid-sagittal plane found by registering the flipped CT to the CT with a rigid
in-plane transform (`strokect.preprocess.symmetry.symmetric_modalities`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from strokect.errors import InputError
from strokect.inference.prepared import Prepared
from strokect.io.atomic import atomic_output
from strokect.io.checks import check_same_geometry
from strokect.io.digest import sha256_file
from strokect.io.volume import Volume
from strokect.methods.clerigues.config import PERFUSION_MAPS
from strokect.preprocess.brain import perfusion_brain_mask
from strokect.preprocess.intensity import zscore_in_mask
from strokect.preprocess.symmetry import mirror, register_flipped

__all__ = ["prepare_case", "prepare_volumes"]

log = logging.getLogger(__name__)
_CACHE_VERSION = 2


def prepare_volumes(
    volumes: Mapping[str, Volume], *, modalities: Sequence[str], symmetric: bool = True
) -> Prepared:
    """Preprocess one case's images into network channels.

    Parameters
    ----------
    volumes : mapping role -> Volume
        At least the roles in ``modalities`` (3D, one grid). CT in HU.
    modalities : sequence of str
        Channel order, e.g. ``("ct", "cbf", "cbv")``.
    symmetric : bool
        Append the mirrored copy of every modality.

    Returns
    -------
    Prepared
        ``image`` (C, Z, Y, X) float32, zero outside the brain; ``roi`` the brain mask; ``grid``
        the first modality's volume; ``history`` the three steps with their parameters.
    """
    missing = [m for m in modalities if m not in volumes]
    if missing:
        raise InputError(
            f"missing input image(s) {', '.join(missing)}; the model needs {', '.join(modalities)}"
        )
    used = {m: volumes[m] for m in modalities}
    check_same_geometry(used)
    maps = {m: v for m, v in used.items() if m in PERFUSION_MAPS}
    brain = perfusion_brain_mask(maps).array.astype(bool)
    if not brain.any():
        raise InputError("the perfusion maps are zero everywhere: empty brain mask")
    history = [
        {"step": "perfusion_skull_strip", "maps": list(maps), "brain_voxels": int(brain.sum())},
        {"step": "zscore_brain", "modalities": list(modalities)},
    ]
    arrays = [zscore_in_mask(np.nan_to_num(used[m].array), brain) for m in modalities]
    channels = list(modalities)
    if symmetric:
        if "ct" in used:
            ref = reg_input = used["ct"]
        else:  # no CT: register on the first perfusion map (NaN set to 0)
            ref = next(iter(maps.values()))
            reg_input = ref.with_array(np.nan_to_num(ref.array).astype(np.float32))
        symmetry = _register_in_plane(reg_input)
        for m, arr in zip(list(modalities), list(arrays)):
            sym = mirror(ref.with_array(arr), symmetry).array * brain
            arrays.append(sym.astype(np.float32))
            channels.append(f"{m}_sym")
        history.append(
            {
                "step": "symmetric_modalities",
                "registered_on": "ct" if "ct" in used else next(iter(maps)),
                "plane_angle_deg": round(float(symmetry.plane.angle_deg), 3),
                "plane_offset_mm": round(float(symmetry.plane.offset_mm), 3),
                "cost": round(float(symmetry.cost), 3),
            }
        )
    return Prepared(
        image=np.stack(arrays).astype(np.float32),
        grid=used[modalities[0]],
        channels=channels,
        roi=brain,
        history=history,
    )


def _register_in_plane(ref: Volume):
    """`register_flipped`, padding slabs of < 4 slices by repeating the last slice.

    The transform is in-plane (z shift and tilts frozen), so slices repeated after the last one
    leave it unchanged in practice; the origin is kept, so world coordinates are unchanged.
    TODO: `register_flipped` now accepts 2-3 slices (a single slice is still refused as 2D), so
    the padding could be limited to 1-slice inputs; that changes the axial projection of 2-3
    slice slabs, hence the registration of such cases, so it needs re-validation first.
    """
    n_z = ref.spatial_shape[0]
    if n_z >= 4:
        return register_flipped(ref)
    padded = np.concatenate([ref.array, np.repeat(ref.array[-1:], 4 - n_z, axis=0)])
    return register_flipped(
        Volume(padded, ref.spacing_mm, origin=ref.origin, direction=ref.direction)
    )


def _cache_key(case, modalities: Sequence[str], symmetric: bool, label_role: str) -> str:
    files = {m: sha256_file(Path(p)) for m, p in case.resolve_roles(modalities).items()}
    if label_role in case.masks:
        files[label_role] = sha256_file(Path(case.path(label_role)))
    payload = {
        "v": _CACHE_VERSION,
        "files": files,
        "modalities": list(modalities),
        "symmetric": bool(symmetric),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def prepare_case(
    case,
    *,
    modalities: Sequence[str],
    symmetric: bool = True,
    label_role: str = "core",
    cache_dir: str | Path | None = None,
) -> Prepared:
    """Load and preprocess a `strokect.data.Case`, reusing an npz cache when given.

    The cache file name is a hash of the input files' contents, the modalities, the symmetric
    flag and the pipeline version, so a changed image or setting never reuses a stale entry. A
    cached case's ``grid`` carries the geometry (not the source NIfTI header).
    """
    key = None
    if cache_dir is not None:
        key = _cache_key(case, modalities, symmetric, label_role)
        path = Path(cache_dir) / f"clerigues-{key}.npz"
        if path.is_file():
            return _read_cache(path, case.case_id)
    volumes = case.load_roles(modalities)
    prepared = prepare_volumes(volumes, modalities=modalities, symmetric=symmetric)
    prepared.case_id = case.case_id
    if label_role in case.masks:
        lab = case.load(label_role)
        check_same_geometry({"image": volumes[modalities[0]], label_role: lab})
        prepared.label = (lab.array > 0).astype(np.uint8)
    if key is not None:
        _write_cache(Path(cache_dir) / f"clerigues-{key}.npz", prepared)
    return prepared


def _write_cache(path: Path, prepared: Prepared) -> None:
    grid = prepared.grid
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                image=prepared.image,
                brain=prepared.roi.astype(np.uint8),
                label=prepared.label if prepared.label is not None else np.zeros(0, np.uint8),
                has_label=prepared.label is not None,
                channels=np.array(prepared.channels),
                spacing_mm=np.array(grid.spacing_mm),
                origin=np.array(grid.origin),
                direction=grid.direction,
                history=np.array(json.dumps(prepared.history)),
            )


def _read_cache(path: Path, case_id: str) -> Prepared:
    with np.load(path) as data:
        brain = data["brain"]
        grid = Volume(brain, tuple(data["spacing_mm"]), tuple(data["origin"]), data["direction"])
        return Prepared(
            image=data["image"],
            grid=grid,
            channels=[str(c) for c in data["channels"]],
            roi=brain.astype(bool),
            history=json.loads(str(data["history"])),
            label=data["label"] if data["has_label"] else None,
            case_id=case_id,
        )
