"""Predict a prepared ``(C, Z, Y, X)`` image slice by slice with an ensemble of 2D predictors.

The one prediction loop of `strokect segment`, cross-validation calibration and held-out tests:
every member (a predictor and the networks it runs) gives samples for a batch of axial slices
(one sample, or ``mc_passes`` with its `strokect.nn.MCDropout` layers active), the method's
``combine`` reduces the samples of all members to output channels, and the result is written
into one preallocated ``(K, Z, Y, X)`` array, so memory stays at one batch of activations plus
the output.

Dropout draws are reseeded at every batch from ``(seed, index of its first slice)``: with the
same batch size, a slice gets the same draws whatever other slices are predicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from strokect.inference.sampling import SampledPredictor, mc_dropout
from strokect.inference.sliding import sliding_window

__all__ = ["InferencePlan", "mean_and_variance", "predict_volume"]

Predictor = Callable[[torch.Tensor], torch.Tensor]
Combine = Callable[[torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class InferencePlan:
    """How a method's 2D predictor runs over a volume (`strokect.methods.Method.inference_plan`).

    Attributes
    ----------
    pad_multiple : int
        Slices are zero-padded at the bottom/right to a multiple of this (a UNet's divisor) and
        outputs cropped back.
    tile_size : int or None
        None: whole slices per call; an int: square tiles of this side on a grid with
        ``overlap``, averaged where they overlap (`sliding_window`).
    overlap : float
        Tile overlap fraction in [0, 1).
    mc_passes : int
        Passes per member with MC dropout active; 0: dropout off, one deterministic pass.
    batch_size : int
        Slices per network call (1 is fastest and leanest on a CPU: ``benchmarks/RESULTS.md``).
    tile_batch_size : int
        Tiles per network call when ``tile_size`` is set.
    threads : int or None
        Torch CPU threads the prediction runs best with, measured per method (None: the
        segment pipeline's default; ``--threads`` overrides both).
    mirror : bool
        Test-time mirroring: every member also predicts the slices flipped left-right (the
        last array axis), and its flipped-back output joins its samples, so ``combine`` sees
        twice as many samples per member (member-major: a member's own samples, then its
        mirrored ones) and the variance includes the disagreement between the two. Doubles the
        network time.
    """

    pad_multiple: int = 1
    tile_size: int | None = None
    overlap: float = 0.5
    mc_passes: int = 0
    batch_size: int = 1
    tile_batch_size: int = 16
    threads: int | None = None
    mirror: bool = False

    def __post_init__(self) -> None:
        checks = {
            "pad_multiple": self.pad_multiple >= 1,
            "tile_size": self.tile_size is None or self.tile_size >= 1,
            "overlap": 0 <= self.overlap < 1,
            "mc_passes": self.mc_passes >= 0,
            "batch_size": self.batch_size >= 1,
            "tile_batch_size": self.tile_batch_size >= 1,
            "threads": self.threads is None or self.threads >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"inference plan: invalid {bad[0]} = {getattr(self, bad[0])!r}")


def mean_and_variance(samples: torch.Tensor, n_members: int) -> torch.Tensor:
    """Default ``combine``: ``(S, B, K, ...) -> (B, 2K, ...)``, mean then population variance.

    All ``S`` samples (members x passes) weigh the same; the variance is 0 for one sample.
    """
    return torch.cat([samples.mean(dim=0), samples.var(dim=0, unbiased=False)], dim=1)


def _batch_seed(seed: int, first_slice: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(first_slice)]).generate_state(1)[0])


def predict_volume(
    image: np.ndarray,
    members: Sequence[tuple[Predictor, Sequence[nn.Module]]],
    *,
    plan: InferencePlan,
    combine: Combine = mean_and_variance,
    roi: np.ndarray | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Outputs ``(K, Z, Y, X)`` float32 of an ensemble over the axial slices of ``image``.

    Parameters
    ----------
    image : ndarray, shape (C, Z, Y, X)
        Prepared input (`strokect.inference.Prepared.image`).
    members : sequence of (predictor, networks)
        Ensemble members: a 2D predictor ``(B, C, H, W) -> (B, K, H, W)`` (or a
        `StagedPredictor`) and the networks whose MC-dropout layers it uses.
    plan : InferencePlan
    combine : callable
        ``(samples (S, B, K, H, W), n_members) -> (B, K', H, W)``; samples are member-major.
    roi : ndarray (Z, Y, X) of bool, optional
        Slices without any ROI voxel are skipped (output 0).
    seed : int
        Seeds the dropout draws (the global torch RNG state is restored afterwards).
    device : str or torch.device
        Where the networks are; each batch is moved there.
    progress : callable, optional
        Called with the number of slices done after every batch.
    """
    if image.ndim != 4:
        raise ValueError(f"image must be (C, Z, Y, X), got shape {image.shape}")
    if not members:
        raise ValueError("predict_volume needs at least one ensemble member")
    _, n_z, ny, nx = image.shape
    samplers = [
        mc_dropout(pred, list(nets), n_passes=plan.mc_passes) if plan.mc_passes > 0 else pred
        for pred, nets in members
    ]

    def samples(sampler, x: torch.Tensor) -> torch.Tensor:
        return sampler(x) if isinstance(sampler, SampledPredictor) else sampler(x)[None]

    def predict_batch(x: torch.Tensor) -> torch.Tensor:
        parts = []
        for sampler in samplers:
            parts.append(samples(sampler, x))
            if plan.mirror:
                parts.append(samples(sampler, x.flip(-1)).flip(-1))
        return combine(torch.cat(parts, dim=0), len(samplers))

    zs = [z for z in range(n_z) if roi is None or roi[z].any()]
    m = plan.pad_multiple
    pad = (0, (-nx) % m, 0, (-ny) % m)
    volume = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    out: np.ndarray | None = None
    state = torch.random.get_rng_state()
    try:
        with torch.inference_mode():
            for start in range(0, len(zs), plan.batch_size):
                idx = zs[start : start + plan.batch_size]
                torch.manual_seed(_batch_seed(seed, idx[0]))
                x = volume[:, idx].permute(1, 0, 2, 3)  # (B, C, Y, X)
                x = torch.nn.functional.pad(x, pad).to(device)
                if plan.tile_size is None:
                    y = predict_batch(x)
                else:
                    y = sliding_window(
                        predict_batch,
                        x,
                        roi_size=(plan.tile_size, plan.tile_size),
                        overlap=plan.overlap,
                        batch_size=plan.tile_batch_size,
                    )
                y = y[..., :ny, :nx].float().cpu().numpy()
                if out is None:
                    out = np.zeros((y.shape[1], n_z, ny, nx), np.float32)
                out[:, idx] = y.transpose(1, 0, 2, 3)
                if progress is not None:
                    progress(len(idx))
    finally:
        torch.random.set_rng_state(state)
    if out is None:  # no slice in the ROI: run one to learn the channel count, output zeros
        k = predict_volume(image[:, :1], members, plan=plan, combine=combine, device=device)
        out = np.zeros((k.shape[0], n_z, ny, nx), np.float32)
    return out
