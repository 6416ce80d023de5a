"""The ``clerigues`` method as a plug-in of the engine (Clèrigues et al., CBM 2019)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from strokect.data.patches import extract_patches, plan_patches, sample_elastic_params
from strokect.engine.distributed import make_loader
from strokect.losses import GeneralizedDiceCELoss
from strokect.methods.base import Method, TrainContext
from strokect.methods.clerigues.config import CleriguesConfig
from strokect.methods.clerigues.preprocessing import PreparedCase, prepare_case
from strokect.nn.resunet import AsymmetricResUNet

__all__ = ["CleriguesMethod", "patch_dataset"]

log = logging.getLogger(__name__)


def patch_dataset(
    cases: Sequence[PreparedCase], config: CleriguesConfig, *, seed: int
) -> TensorDataset:
    """Balanced training patches of ``cases`` (sec. 3.1 of the paper) as a ``TensorDataset``.

    Images are stored as float16 to halve memory (converted back to float32 per batch);
    labels as uint8. Deterministic for a given ``seed``.
    """
    size = (config.patch_size, config.patch_size)
    xs, ys = [], []
    for i, case in enumerate(cases):
        if case.label is None:
            raise ValueError(f"case {case.case_id} has no core mask: cannot train on it")
        rng = np.random.default_rng([seed, i])
        plan = plan_patches(
            case.label, case.brain, n_patches=config.patches_per_case, patch_size=size, rng=rng
        )
        elastic = [
            sample_elastic_params(rng, size, alpha=config.elastic_alpha, gamma=config.elastic_gamma)
            if d
            else None
            for d in plan.deform
        ]
        x, y = extract_patches(case.image, case.label, plan, patch_size=size, elastic=elastic)
        xs.append(torch.from_numpy(x).to(torch.float16))
        ys.append(torch.from_numpy(y))
    return TensorDataset(torch.cat(xs), torch.cat(ys))


class CleriguesMethod(Method):
    """Acute core from CT + perfusion maps with symmetric modalities and MC dropout.

    Clèrigues A, Valverde S, Bernal J, Freixenet J, Oliver A, Lladó X. Computers in Biology and
    Medicine 115 (2019) 103487. Training: balanced 64x64 patches, generalized Dice + cross-entropy,
    Adadelta, batch 64, early stopping (patience 10) on L1 + error rate of a patch validation set.
    ``extra["channels"]`` (saved in checkpoints) lists the input channels.
    """

    name = "clerigues"
    config_cls = CleriguesConfig
    monitor = "val_l1_plus_error"
    monitor_mode = "min"
    preprocessing = ("perfusion_skull_strip", "zscore_brain", "symmetric_modalities")

    def __init__(self, config: CleriguesConfig | None = None) -> None:
        super().__init__(config)
        self.extra["channels"] = list(self.config.channels)
        self.loss = GeneralizedDiceCELoss()
        self._prepared: dict[str, PreparedCase] = {}

    @property
    def channels(self) -> list[str]:
        return list(self.extra.get("channels") or self.config.channels)

    def build_networks(self) -> dict[str, torch.nn.Module]:
        cfg = self.config
        net = AsymmetricResUNet(
            len(self.channels),
            2,
            spatial_dims=2,
            base_filters=cfg.base_filters,
            n_levels=cfg.n_levels,
            dropout=cfg.dropout,
            n_dropout_levels=cfg.n_dropout_levels,
        )
        return {"net": net}

    def build_optimizers(self, networks):
        params = networks["net"].parameters()
        return {"adadelta": torch.optim.Adadelta(params, lr=self.config.lr, rho=self.config.rho)}

    def training_step(self, batch, networks, optimizers, ctx: TrainContext) -> dict[str, float]:
        x, y = batch
        loss = self.loss(networks["net"](x.float()), y.long())
        ctx.backward_step(loss, optimizers["adadelta"])
        return {"loss": float(loss.detach())}

    def validation_step(self, batch, networks, ctx: TrainContext) -> dict[str, float]:
        """L1 loss + error rate of the lesion probability on a patch batch (sec. 3.3)."""
        x, y = batch
        logits = networks["net"](x.float())
        prob = torch.softmax(logits, 1)[:, 1]
        target = y.float()
        l1 = float((prob - target).abs().mean())
        err = float(((prob > 0.5).float() != target).float().mean())
        loss = float(self.loss(logits, y.long()).detach())
        return {
            "val_l1_plus_error": l1 + err,
            "val_l1": l1,
            "val_error": err,
            "val_loss": loss,
            "n": len(x),
        }

    # -- data ----------------------------------------------------------------------------------
    def prepare(self, case: Any, ctx: TrainContext | None = None) -> PreparedCase:
        """A `PreparedCase` for a `strokect.data.Case` (cached in memory and in ``ctx.cache_dir``)."""
        if isinstance(case, PreparedCase):
            if case.channels != self.channels:
                raise ValueError(
                    f"case {case.case_id} has channels {case.channels}, model wants {self.channels}"
                )
            return case
        if case.case_id not in self._prepared:
            self._prepared[case.case_id] = prepare_case(
                case,
                modalities=self.config.modalities,
                symmetric=self.config.symmetric,
                cache_dir=ctx.cache_dir if ctx is not None else None,
            )
        return self._prepared[case.case_id]

    def train_data(self, cases, ctx: TrainContext):
        data = patch_dataset([self.prepare(c, ctx) for c in cases], self.config, seed=ctx.seed)
        log.info("clerigues: %d training patches from %d cases", len(data), len(cases))
        return make_loader(data, ctx, batch_size=self.config.batch_size, shuffle=True)

    def val_data(self, cases, ctx: TrainContext):
        data = patch_dataset(
            [self.prepare(c, ctx) for c in cases], self.config, seed=ctx.seed + 10_000
        )
        return make_loader(data, ctx, batch_size=max(self.config.batch_size, 256), shuffle=False)

    def after_cross_validation(self, run_dir, *, splits, cases, cache_dir=None) -> dict:
        """Hook of `strokect.engine.train_cross_validation` after k-fold training: choose T and
        S_min on the cross-validation predictions and store them in the run's checkpoints
        (`strokect.methods.clerigues.evaluation.cross_validate_postprocess`)."""
        from strokect.methods.clerigues.evaluation import cross_validate_postprocess

        return cross_validate_postprocess(run_dir, splits=splits, cases=cases, cache_dir=cache_dir)

    # -- inference -----------------------------------------------------------------------------
    def predictor(
        self, networks: Mapping[str, torch.nn.Module]
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """``x (B, C, H, W) -> lesion probability (B, 1, H, W)`` (softmax of the 2-class logits)."""
        net = networks["net"]

        def predict(x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(net(x), 1)[:, 1:2]

        return predict
