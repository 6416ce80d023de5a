"""The ``clerigues`` method as a plug-in of the engine (Clèrigues et al., CBM 2019)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import TensorDataset

from strokect.data.loader import make_loader
from strokect.data.patches import extract_patches, plan_patches, sample_elastic_params
from strokect.inference.postprocess import postprocess
from strokect.inference.predict import InferencePlan
from strokect.inference.prepared import Prepared
from strokect.inference.sampling import StagedPredictor
from strokect.inference.search import Objective
from strokect.io.volume import Volume
from strokect.losses import GeneralizedDiceCELoss
from strokect.methods.base import InputRoles, Method, TrainContext, output_volume
from strokect.methods.clerigues.config import (
    PAPER_MIN_SIZES_VOXELS,
    PAPER_THRESHOLDS,
    CleriguesCalibration,
    CleriguesConfig,
)
from strokect.methods.clerigues.preprocessing import prepare_case, prepare_volumes
from strokect.nn.resunet import AsymmetricResUNet, PaperResUNet

__all__ = ["CleriguesMethod", "patch_dataset"]

log = logging.getLogger(__name__)


def patch_dataset(
    cases: Sequence[Prepared], config: CleriguesConfig, *, seed: int
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
            case.label, case.roi, n_patches=config.patches_per_case, patch_size=size, rng=rng
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
    Inference: mean lesion probability over the ensemble x MC-dropout passes, threshold T and
    minimum size S_min chosen on the cross-validation predictions (`CleriguesCalibration`).
    ``extra["channels"]`` (saved in checkpoints) lists the input channels.
    """

    name = "clerigues"
    config_cls = CleriguesConfig
    monitor = "val_l1_plus_error"
    monitor_mode = "min"
    preprocessing = ("perfusion_skull_strip", "zscore_brain", "symmetric_modalities")
    primary_output = "mask"
    reference_roles: ClassVar[dict[str, str]] = {"mask": "core"}
    inference_options = ("mc_passes", "tile_size", "overlap", "predict_batch_size")
    calibration_cls = CleriguesCalibration

    def __init__(self, config: CleriguesConfig | None = None) -> None:
        super().__init__(config)
        self.extra["channels"] = list(self.config.channels)
        self._loss: GeneralizedDiceCELoss | None = None
        self._prepared: dict[str, Prepared] = {}

    @property
    def loss(self) -> GeneralizedDiceCELoss:
        """Generalized Dice + CE (built on first use: inference never needs it)."""
        if self._loss is None:
            self._loss = GeneralizedDiceCELoss()
        return self._loss

    @property
    def channels(self) -> list[str]:
        return list(self.extra.get("channels") or self.config.channels)

    def build_networks(self) -> dict[str, torch.nn.Module]:
        cfg = self.config
        net_cls = PaperResUNet if cfg.architecture == "paper" else AsymmetricResUNet
        net = net_cls(
            len(self.channels),
            2,
            spatial_dims=2,
            base_filters=cfg.base_filters,
            n_levels=cfg.n_levels,
            dropout=cfg.dropout,
            n_dropout_levels=cfg.n_dropout_levels,
            train_dropout=cfg.train_dropout,
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
    def _training_case(self, case: Any, ctx: TrainContext) -> Prepared:
        """A prepared case for patch sampling, cached in memory and in ``ctx.cache_dir``."""
        if case.case_id not in self._prepared:
            self._prepared[case.case_id] = self.prepare_case(case, cache_dir=ctx.cache_dir)
        return self._prepared[case.case_id]

    def train_data(self, cases, ctx: TrainContext):
        prepared = [self._training_case(c, ctx) for c in cases]
        data = patch_dataset(prepared, self.config, seed=ctx.seed)
        log.info("clerigues: %d training patches from %d cases", len(data), len(cases))
        return make_loader(data, ctx, batch_size=self.config.batch_size, shuffle=True)

    def val_data(self, cases, ctx: TrainContext):
        prepared = [self._training_case(c, ctx) for c in cases]
        data = patch_dataset(prepared, self.config, seed=ctx.seed + 10_000)
        return make_loader(data, ctx, batch_size=max(self.config.batch_size, 256), shuffle=False)

    # -- inference -----------------------------------------------------------------------------
    def input_roles(self) -> InputRoles:
        return InputRoles(required=tuple(self.config.modalities))

    def prepare(self, volumes: Mapping[str, Volume]) -> Prepared:
        """Skull strip, z-score and symmetric modalities (`prepare_volumes`); checks channels."""
        cfg = self.config
        prepared = prepare_volumes(volumes, modalities=cfg.modalities, symmetric=cfg.symmetric)
        self._check_channels(prepared)
        return prepared

    def prepare_case(self, case: Any, *, cache_dir=None) -> Prepared:
        cfg = self.config
        prepared = prepare_case(
            case, modalities=cfg.modalities, symmetric=cfg.symmetric, cache_dir=cache_dir
        )
        self._check_channels(prepared)
        return prepared

    def _check_channels(self, prepared: Prepared) -> None:
        if prepared.channels != self.channels:
            raise ValueError(
                f"prepared channels {prepared.channels} differ from the model's {self.channels}"
            )

    def inference_plan(self) -> InferencePlan:
        cfg = self.config
        return InferencePlan(
            pad_multiple=2 ** (cfg.n_levels - 1),
            tile_size=cfg.tile_size,
            overlap=cfg.overlap,
            mc_passes=cfg.mc_passes,
            batch_size=cfg.predict_batch_size,
        )

    def predictor(self, networks: Mapping[str, torch.nn.Module]) -> StagedPredictor:
        """``x (B, C, H, W) -> lesion probability (B, 1, H, W)`` (softmax of the 2-class logits),
        split before the first MC-dropout layer (`AsymmetricResUNet.forward_prefix`)."""
        net = networks["net"]
        return StagedPredictor(
            net.forward_prefix, lambda state: torch.softmax(net.forward_suffix(state), 1)[:, 1:2]
        )

    def finalize(
        self, prepared: Prepared, combined: np.ndarray, calibration: CleriguesCalibration
    ) -> dict[str, Volume]:
        """``mask`` (T, then S_min), ``probability`` (mean) and ``uncertainty`` (variance over
        models x passes), all zero outside the brain."""
        brain = prepared.roi
        prob = combined[0] * brain
        mask = postprocess(
            prob, threshold=calibration.threshold, min_size_voxels=calibration.min_size_vox
        )
        grid = prepared.grid
        return {
            "mask": output_volume(grid, mask, "mask", label="core"),
            "probability": output_volume(grid, prob, "probability"),
            "uncertainty": output_volume(
                grid, np.clip(combined[1], 0, None) * brain, "uncertainty"
            ),
        }

    def calibration_grid(self) -> dict[str, tuple]:
        """The paper's grid: T = 0.1..0.9, S_min in {10, 50, 100, 200, 300, 500} voxels."""
        return {"threshold": PAPER_THRESHOLDS, "min_size_vox": PAPER_MIN_SIZES_VOXELS}

    def calibration_objective(self) -> Objective:
        """Dice and HD "jointly" (paper sec. 4): rank sum of mean Dice and mean HD."""
        return Objective((("dice", "max"), ("hd_mm", "min")))
