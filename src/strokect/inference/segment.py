"""``strokect segment``: lesion mask, probability, uncertainty, volumes and overlay for one case.

Inputs are the images a model needs, by role (``ct``, ``cbf``, ``cbv``, ``mtt``, ``tmax``): a
case folder (ISLES 2018 ``SMIR.Brain.XX.O.*`` layout, or a folder of ``<role>.nii[.gz]`` /
``.nrrd`` / ``.mha`` files), or an explicit ``{role: path}`` mapping whose paths may be image
files or DICOM series folders. Every output volume has the geometry of the model's first input
(e.g. the CT), written with its exact NIfTI header.

Outputs in ``out_dir``: ``mask.nii.gz`` (uint8), ``probability.nii.gz`` (mean lesion probability
over models and Monte-Carlo passes), ``uncertainty.nii.gz`` (variance across those samples),
``volumes.json`` and ``volumes.csv`` (lesion volume in mL and the settings used), ``overlay.png``.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from strokect.data.case import ROLE_SYNONYMS
from strokect.errors import InputError
from strokect.io import Volume, read_volume, write_volume
from strokect.io.atomic import atomic_output, prepare_output_dir

__all__ = [
    "SegmentResult",
    "default_weights",
    "load_ensemble",
    "predict_probability",
    "resolve_inputs",
    "segment",
]

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


@dataclass
class SegmentResult:
    """What `segment` wrote: output paths by name, lesion volume and the settings used."""

    out_dir: Path
    paths: dict[str, Path]
    volume_ml: float
    n_voxels: int
    summary: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ inputs
def resolve_inputs(inputs: str | Path | Mapping[str, str | Path]) -> dict[str, Path]:
    """Role -> path of the images of one case (see the module docstring for what is accepted)."""
    if isinstance(inputs, Mapping):
        out = {str(r).lower(): Path(p) for r, p in inputs.items() if p is not None}
        for role, path in out.items():
            if not path.exists():
                raise FileNotFoundError(f"--{role}: input not found: {path}")
        if not out:
            raise InputError("no input images given")
        return out
    path = Path(inputs)
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    if not path.is_dir():
        raise InputError(
            f"INPUT {path} is a file: give a case folder, or the images by role (--ct, --cbf, ...)"
        )
    from strokect.data.isles2018 import is_isles2018, read_case

    if is_isles2018(path):
        return dict(read_case(path).images)
    out = {}
    for file in sorted(path.iterdir()):
        for suffix in _IMAGE_SUFFIXES:
            if file.name.lower().endswith(suffix):
                out[file.name[: -len(suffix)].lower()] = file
                break
    if not out:
        raise InputError(
            f"{path}: no images found (expected ISLES 2018 SMIR.Brain folders or <role>.nii.gz files)"
        )
    return out


# ------------------------------------------------------------------------------------ models
def _model_roles(name: str) -> list[str]:
    return name.split("_", 1)[1].split("-")


def default_weights(method: str, available: Sequence[str]) -> list[Path]:
    """Shipped checkpoints of the richest ``method`` model whose inputs are all ``available``.

    Shipped files are ``weights/<method>_<role>-<role>..._fold<i>.pt``.
    """
    models: dict[str, list[Path]] = {}
    for path in sorted(WEIGHTS_DIR.glob(f"{method}_*_fold*.pt")):
        models.setdefault(re.sub(r"_fold\d+$", "", path.stem), []).append(path)
    usable = [m for m in models if set(_model_roles(m)) <= set(available)]
    if not usable:
        shipped = ", ".join(sorted(models)) or "none"
        raise InputError(
            f"no shipped {method} model fits the inputs ({', '.join(sorted(available))}); "
            f"shipped: {shipped}"
        )
    best = max(usable, key=lambda m: len(_model_roles(m)))
    return models[best]


def load_ensemble(paths: Sequence[Path], *, method: str) -> list[tuple[Any, dict]]:
    """Load checkpoints (``weights_only``) as ``[(method, networks)]``; all must share channels."""
    from strokect.engine.checkpoint import load_model

    models = [load_model(p, method=method) for p in paths]
    channels = {tuple(m.extra.get("channels", ())) for m, _ in models}
    if len(channels) != 1:
        raise InputError(f"the checkpoints disagree on their input channels: {sorted(channels)}")
    return models


# ------------------------------------------------------------------------------------ prediction
def predict_probability(
    image: np.ndarray,
    models: Sequence[tuple[Any, dict]],
    *,
    mc_passes: int = 3,
    tile_size: int | None = 64,
    overlap: float = 0.5,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean lesion probability and its variance over models x Monte-Carlo dropout passes.

    Built from `strokect.inference`: one `mc_dropout` sampler per model, their `ensemble`,
    `mean_variance`, and `predict_slices` (2D, slice by slice, optional sliding window).

    Parameters
    ----------
    image : ndarray, shape (C, Z, Y, X)
        Preprocessed channels; every axial slice is predicted in 2D.
    models : sequence of (Method, networks)
        The ensemble (e.g. the 5 cross-validation models).
    mc_passes : int
        Forward passes per model with the networks' MC dropout active (1: dropout off).
    tile_size : int or None
        Side of the square tiles of the sliding window (the training patch size, 64); None
        predicts whole slices at once (padded to a multiple of 16).
    overlap : float
        Tile overlap fraction; overlapping outputs are averaged.
    seed : int
        Seeds the dropout masks, so repeated runs give identical outputs (the global torch RNG
        state is restored afterwards).

    Returns
    -------
    mean, variance : ndarray, shape (Z, Y, X), float32
        Variance is the population variance across the samples, averaged over overlapping tiles.
    """
    from strokect.inference import ensemble, mc_dropout, mean_variance, predict_slices

    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    ny, nx = x.shape[-2:]
    x = torch.nn.functional.pad(x, (0, (-nx) % 16, 0, (-ny) % 16))
    members = []
    for method, nets in models:
        for net in nets.values():
            net.eval()
        members.append(
            mc_dropout(method.predictor(nets), list(nets.values()), n_passes=max(1, mc_passes))
        )
    predictor = mean_variance(ensemble(members))
    roi = None if tile_size is None else (tile_size, tile_size)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.inference_mode():
            out = predict_slices(predictor, x, batch_size=batch_size, roi_size=roi, overlap=overlap)
    finally:
        torch.random.set_rng_state(state)
    mean = out[0, :, :ny, :nx].numpy().astype(np.float32)
    var = out[1, :, :ny, :nx].clamp_min(0).numpy().astype(np.float32)
    return mean, var


# ------------------------------------------------------------------------------------ outputs
def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """`prepare_output_dir`, its refusal raised as an `InputError` naming ``-o``."""
    try:
        prepare_output_dir(out_dir, overwrite=overwrite)
    except FileExistsError as exc:
        raise InputError(f"-o: {exc}") from None


def _write_overlay(path: Path, background: Volume, mask: np.ndarray, role: str) -> None:
    """PNG of the axial slice with the largest lesion area (middle slice if none), mask in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    area = mask.reshape(mask.shape[0], -1).sum(1)
    z = int(np.argmax(area)) if area.any() else mask.shape[0] // 2
    img = background.array[z].astype(np.float32)
    lo, hi = (0.0, 80.0) if role == "ct" else tuple(np.percentile(img, [1, 99]))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
    if mask[z].any():
        ax.imshow(np.ma.masked_where(mask[z] == 0, mask[z]), cmap="autumn", alpha=0.45)
        ax.contour(mask[z], levels=[0.5], colors="red", linewidths=0.8)
    ax.set_title(f"slice {z}: lesion {int(area[z])} voxels (not for clinical use)", fontsize=8)
    ax.axis("off")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def _write_tables(out_dir: Path, summary: dict[str, Any]) -> dict[str, Path]:
    paths = {"json": out_dir / "volumes.json", "csv": out_dir / "volumes.csv"}
    with atomic_output(paths["json"]) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    columns = [
        "lesion_volume_ml",
        "n_voxels",
        "voxel_volume_ml",
        "threshold",
        "min_size_vox",
        "n_models",
        "mc_passes",
        "method",
    ]
    with atomic_output(paths["csv"]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerow([summary[c] for c in columns])
    return paths


def segment(
    inputs: str | Path | Mapping[str, str | Path],
    out_dir: str | Path,
    *,
    method: str = "clerigues",
    weights: str | Path | None = None,
    overwrite: bool = False,
    threshold: float | None = None,
    min_size_vox: int | None = None,
    mc_passes: int | None = None,
    tile_size: int | None = None,
    seed: int = 0,
) -> SegmentResult:
    """Segment the lesion of one case and write the outputs listed in the module docstring.

    Parameters
    ----------
    inputs : path or mapping role -> path
        A case folder or ``{role: image file or DICOM folder}``.
    out_dir : path
        Output folder; an existing non-empty folder is refused unless ``overwrite``.
    method : str
        Method name (``clerigues``).
    weights : path, optional
        A checkpoint file or a run folder (``fold_*/model.pt``: the ensemble). Default: the
        shipped model with the most inputs that are all present.
    threshold, min_size_vox, mc_passes : optional
        Post-processing T and S_min, and MC passes; default: the values stored in the checkpoint
        (cross-validated T and S_min of the shipped models).
    tile_size : int or None
        Sliding-window tile side, e.g. 64 (the training patch size, as the paper); default None:
        whole slices (same fully convolutional network, faster on CPU: 10.0 s vs 14.6 s for a
        256x256x16 case, ``benchmarks/RESULTS.md``).
    seed : int
        Seed of the MC dropout masks.

    Returns
    -------
    SegmentResult
    """
    from strokect.engine.checkpoint import find_model_checkpoints
    from strokect.inference.postprocess import postprocess

    out_dir = Path(out_dir)
    roles = resolve_inputs(inputs)
    for role, synonyms in ROLE_SYNONYMS.items():  # e.g. the acute NCCT: "ct" or "ncct"
        found = next((name for name in synonyms if name in roles), None)
        if role not in roles and found is not None:
            roles[role] = roles[found]
    _check_out_dir(out_dir, overwrite)
    paths = (
        default_weights(method, list(roles)) if weights is None else find_model_checkpoints(weights)
    )
    models = load_ensemble(paths, method=method)
    first = models[0][0]
    cfg = first.config
    modalities = list(cfg.modalities)
    missing = [m for m in modalities if m not in roles]
    if missing:
        raise InputError(
            f"the model needs {', '.join(modalities)}; missing input(s): {', '.join(missing)}"
        )
    volumes = {m: read_volume(roles[m]) for m in modalities}
    from strokect.methods.clerigues.preprocessing import prepare_volumes

    image, brain, channels = prepare_volumes(
        volumes, modalities=modalities, symmetric=cfg.symmetric
    )
    if channels != list(first.extra.get("channels", channels)):
        raise InputError(f"preprocessed channels {channels} differ from the model's")
    post = first.extra.get("postprocess", {})
    t = float(threshold if threshold is not None else post.get("threshold", cfg.threshold))
    s_min = int(
        min_size_vox if min_size_vox is not None else post.get("min_size_vox", cfg.min_size_vox)
    )
    passes = int(mc_passes if mc_passes is not None else cfg.mc_passes)
    prob, var = predict_probability(
        image, models, mc_passes=passes, tile_size=tile_size, overlap=cfg.overlap, seed=seed
    )
    prob = prob * brain
    mask = postprocess(prob, threshold=t, min_size_voxels=s_min).astype(np.uint8)
    ref = volumes[modalities[0]]
    out = {
        "mask": write_volume(ref.with_array(mask, mask="lesion"), out_dir / "mask.nii.gz"),
        "probability": write_volume(ref.with_array(prob), out_dir / "probability.nii.gz"),
        "uncertainty": write_volume(ref.with_array(var), out_dir / "uncertainty.nii.gz"),
    }
    n_vox = int(mask.sum())
    summary = {
        "method": method,
        "lesion_volume_ml": round(n_vox * ref.voxel_volume_ml, 4),
        "n_voxels": n_vox,
        "voxel_volume_ml": ref.voxel_volume_ml,
        "threshold": t,
        "min_size_vox": s_min,
        "n_models": len(models),
        "mc_passes": passes,
        "channels": channels,
        "weights": [p.name for p in paths],
        "inputs": {m: str(roles[m]) for m in modalities},
        "note": "research software, not for clinical use",
    }
    tables = _write_tables(out_dir, summary)
    out.update({"volumes_json": tables["json"], "volumes_csv": tables["csv"]})
    out["overlay"] = out_dir / "overlay.png"
    _write_overlay(out["overlay"], ref, mask, modalities[0])
    log.info("lesion volume %.2f mL (%d voxels)", summary["lesion_volume_ml"], n_vox)
    return SegmentResult(out_dir, out, summary["lesion_volume_ml"], n_vox, summary)
