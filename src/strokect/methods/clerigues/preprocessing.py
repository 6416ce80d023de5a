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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strokect.errors import InputError
from strokect.io.atomic import atomic_output
from strokect.io.checks import check_same_geometry
from strokect.io.volume import Volume
from strokect.methods.clerigues.config import PERFUSION_MAPS
from strokect.preprocess.brain import perfusion_brain_mask
from strokect.preprocess.intensity import zscore_in_mask
from strokect.preprocess.symmetry import mirror, register_flipped

__all__ = ["PreparedCase", "prepare_case", "prepare_volumes"]

log = logging.getLogger(__name__)
_CACHE_VERSION = 1


@dataclass
class PreparedCase:
    """A case ready for patch sampling or prediction.

    Attributes
    ----------
    case_id : str
    image : ndarray, shape (C, Z, Y, X), float32
        Channels in ``channels`` order; zero outside the brain.
    brain : ndarray, shape (Z, Y, X), uint8
    label : ndarray, shape (Z, Y, X), uint8, or None
        Core mask when known.
    channels : list of str
    """

    case_id: str
    image: np.ndarray
    brain: np.ndarray
    label: np.ndarray | None
    channels: list[str]


def prepare_volumes(
    volumes: Mapping[str, Volume], *, modalities: Sequence[str], symmetric: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
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
    image : ndarray (C, Z, Y, X) float32
    brain : ndarray (Z, Y, X) uint8
    channels : list of str
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
    return np.stack(arrays).astype(np.float32), brain.astype(np.uint8), channels


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


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cache_key(case, modalities: Sequence[str], symmetric: bool, label_role: str) -> str:
    files = {m: _file_digest(Path(case.path(m))) for m in modalities}
    if label_role in case.masks:
        files[label_role] = _file_digest(Path(case.path(label_role)))
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
) -> PreparedCase:
    """Load and preprocess a `strokect.data.Case`, reusing an npz cache when given.

    The cache file name is a hash of the input files' contents, the modalities, the symmetric
    flag and the pipeline version, so a changed image or setting never reuses a stale entry.
    """
    key = None
    if cache_dir is not None:
        key = _cache_key(case, modalities, symmetric, label_role)
        path = Path(cache_dir) / f"clerigues-{key}.npz"
        if path.is_file():
            with np.load(path) as data:
                label = data["label"] if data["has_label"] else None
                return PreparedCase(
                    case.case_id, data["image"], data["brain"], label, list(data["channels"])
                )
    volumes = {m: case.load(m) for m in modalities}
    image, brain, channels = prepare_volumes(volumes, modalities=modalities, symmetric=symmetric)
    label = None
    if label_role in case.masks:
        lab = case.load(label_role)
        check_same_geometry({"image": volumes[modalities[0]], label_role: lab})
        label = (lab.array > 0).astype(np.uint8)
    if key is not None:
        with atomic_output(Path(cache_dir) / f"clerigues-{key}.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    image=image,
                    brain=brain,
                    label=label if label is not None else np.zeros(0, np.uint8),
                    has_label=label is not None,
                    channels=np.array(channels),
                )
    return PreparedCase(case.case_id, image, brain, label, channels)
