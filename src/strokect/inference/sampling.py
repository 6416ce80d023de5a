"""Predictors that sample: Monte-Carlo dropout and ensembles, reduced to mean and variance.

A *sampled predictor* maps ``x`` of shape ``(B, C, ...)`` to ``S`` samples ``(S, B, K, ...)``.
`mc_dropout` makes ``n_passes`` samples with the network's `strokect.nn.MCDropout` layers active
(only those: plain dropout and normalization stay in eval behaviour); `ensemble` concatenates the
samples of k members (models x passes). `mean_variance` turns a sampled predictor back into an
ordinary predictor ``x -> (B, 2K, ...)`` holding the mean, then the variance, so it can run inside
`strokect.inference.sliding_window`; `split_mean_variance` separates them again.

A `StagedPredictor` is a predictor split at the first stochastic layer of its network,
``f(x) = suffix(prefix(x))``: `mc_dropout` then computes the deterministic prefix once and only the
suffix once per pass. The dropout draws are the same as for the unsplit predictor (the prefix
draws none), so the samples are bit-identical and the passes cheaper.

Variance is the population variance over the S samples (divided by S): 0 for one sample.
Clèrigues et al., Computers in Biology and Medicine 2019: 3 passes with 10% dropout, averaged, and
the average of the 5 cross-validation models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from strokect.errors import warn
from strokect.nn.mc_dropout import MCDropout, disable_mc_dropout, enable_mc_dropout

__all__ = [
    "SampledPredictor",
    "StagedPredictor",
    "ensemble",
    "mc_dropout",
    "mean_variance",
    "split_mean_variance",
]

Predictor = Callable[[torch.Tensor], torch.Tensor]


class StagedPredictor:
    """A predictor ``f(x) = suffix(prefix(x))`` whose ``prefix`` holds no stochastic layer.

    Parameters
    ----------
    prefix : callable
        ``x -> state``: the deterministic part (e.g. the encoder levels before the first
        `MCDropout`); ``state`` may be any object the suffix accepts.
    suffix : callable
        ``state -> y``: the rest, including every `MCDropout` layer.
    """

    def __init__(self, prefix: Callable, suffix: Callable[..., torch.Tensor]) -> None:
        self.prefix, self.suffix = prefix, suffix

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.suffix(self.prefix(x))


class SampledPredictor:
    """``x (B, C, ...) -> samples (S, B, K, ...)``; ``n_samples`` is S."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], n_samples: int) -> None:
        self.fn, self.n_samples = fn, n_samples

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.fn(x)

    def mean_and_variance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and population variance over the samples, each ``(B, K, ...)``."""
        samples = self(x)
        return samples.mean(dim=0), samples.var(dim=0, unbiased=False)


def mc_dropout(
    predictor: Predictor, models: nn.Module | Sequence[nn.Module], *, n_passes: int = 3
) -> SampledPredictor:
    """``n_passes`` forward passes of ``predictor`` with the `MCDropout` layers of ``models`` active.

    Parameters
    ----------
    predictor : callable or StagedPredictor
        Ordinary predictor built on ``models`` (e.g. ``method.predictor(networks)``); a
        `StagedPredictor` has its prefix computed once for all passes.
    models : nn.Module or sequence of them
        Networks whose `MCDropout` layers are switched on during the passes and off afterwards.
        Their train/eval mode is not changed (use eval mode for inference).
    n_passes : int
        Number of stochastic passes.
    """
    if n_passes < 1:
        raise ValueError(f"n_passes must be >= 1, got {n_passes}")
    models = [models] if isinstance(models, nn.Module) else list(models)
    n_marked = sum(isinstance(layer, MCDropout) for m in models for layer in m.modules())
    if n_marked == 0 and n_passes > 1:
        warn("mc_dropout: the networks have no MCDropout layer; all passes will be identical")

    def sample(x: torch.Tensor) -> torch.Tensor:
        for m in models:
            enable_mc_dropout(m)
        try:
            if isinstance(predictor, StagedPredictor):
                state = predictor.prefix(x)
                return torch.stack([predictor.suffix(state) for _ in range(n_passes)])
            return torch.stack([predictor(x) for _ in range(n_passes)])
        finally:
            for m in models:
                disable_mc_dropout(m)

    return SampledPredictor(sample, n_passes)


def ensemble(members: Sequence[Predictor | SampledPredictor]) -> SampledPredictor:
    """Samples of all ``members`` together: a plain predictor gives 1 sample, a sampled one S.

    The mean over the result is the mean over members x passes (all members equally weighted when
    they have the same number of passes).
    """
    members = list(members)
    if not members:
        raise ValueError("ensemble needs at least one member")
    counts = [m.n_samples if isinstance(m, SampledPredictor) else 1 for m in members]

    def sample(x: torch.Tensor) -> torch.Tensor:
        parts = [m(x) if isinstance(m, SampledPredictor) else m(x)[None] for m in members]
        return torch.cat(parts, dim=0)

    return SampledPredictor(sample, sum(counts))


def mean_variance(sampled: SampledPredictor) -> Predictor:
    """Ordinary predictor ``x -> (B, 2K, ...)``: channels ``[:K]`` mean, ``[K:]`` variance."""

    def predict(x: torch.Tensor) -> torch.Tensor:
        mean, var = sampled.mean_and_variance(x)
        return torch.cat([mean, var], dim=1)

    return predict


def split_mean_variance(y: torch.Tensor, *, dim: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of the channel concatenation of `mean_variance` (``dim``: channel axis)."""
    k2 = y.shape[dim]
    if k2 % 2:
        raise ValueError(f"expected an even number of channels (mean + variance), got {k2}")
    return torch.split(y, k2 // 2, dim=dim)  # type: ignore[return-value]
