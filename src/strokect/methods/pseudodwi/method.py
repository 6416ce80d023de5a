"""The ``pseudodwi`` method as a plug-in of the engine (Wang, Song et al., MedIA 2020).

Three networks trained end to end (Sec. 3): the feature extractor Phi_e turns the C_e frames of
the perfusion stage into F_h; the generator Phi_g turns [CBF, CBV, MTT, Tmax, F_l, F_h] into a
pseudo-DWI I_g; SLNet (switchable normalization + squeeze-and-excitation) segments the lesion
from I_g. Loss L = L_s(P, Y) + alpha L_g(I_g, I_d) + beta L_g(F_h, I_d) (Eq. 15), with the
contextual encoder Phi_c pre-trained as a DWI autoencoder and frozen (ours, see
`PseudoDwiConfig.context_pretrain_epochs`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from strokect.data.loader import make_loader
from strokect.errors import InputError
from strokect.inference.postprocess import postprocess
from strokect.inference.predict import InferencePlan
from strokect.inference.prepared import Prepared
from strokect.io.volume import Volume
from strokect.methods.base import (
    InputRoles,
    Method,
    OverlayPanel,
    TrainContext,
    output_volume,
)
from strokect.methods.pseudodwi.config import (
    MAP_ROLES,
    THRESHOLD_GRID,
    PseudoDwiCalibration,
    PseudoDwiConfig,
)
from strokect.methods.pseudodwi.losses import segmentation_loss, synthesis_loss
from strokect.methods.pseudodwi.network import (
    PAD_MULTIPLE,
    ContextDecoder,
    ContextEncoder,
    SLNet,
    feature_unet,
    xavier_init,
)
from strokect.methods.pseudodwi.preprocessing import prepare_case, prepare_volumes, to_output_grid

__all__ = ["PseudoDwiMethod", "SliceSamples"]

log = logging.getLogger(__name__)

#: Side of the average-pooled DWI the context autoencoder rebuilds.
CONTEXT_SIZE = 32
N_MAPS = len(MAP_ROLES)


def _brain_centre(roi: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(roi)
    return round(float(ys.mean())), round(float(xs.mean()))


def _crop(array: np.ndarray, y0: int, x0: int, size: int) -> np.ndarray:
    """``array[..., y0:y0+size, x0:x0+size]`` with zeros where it leaves the slice."""
    out = np.zeros((*array.shape[:-2], size, size), array.dtype)
    ny, nx = array.shape[-2:]
    sy, sx = slice(max(y0, 0), min(y0 + size, ny)), slice(max(x0, 0), min(x0 + size, nx))
    if sy.start < sy.stop and sx.start < sx.stop:
        out[..., sy.start - y0 : sy.stop - y0, sx.start - x0 : sx.stop - x0] = array[..., sy, sx]
    return out


class SliceSamples(Dataset):
    """Training slices (every slice with brain) of prepared cases, as square crops.

    A sample is a dict: ``x`` (C, S, S) network input, ``dwi`` (1, S, S) scaled DWI, ``label``
    (S, S) long, ``attention`` (S, S) Eq. 9. The crop of side ``train_size`` is centred on the
    slice's brain, shifted by up to ``train_shift`` pixels, and flipped left-right with p = 0.5
    when ``augment`` (draws from the global torch RNG: a resumed run replays them).
    """

    def __init__(self, cases: Sequence[Prepared], cfg: PseudoDwiConfig, *, augment: bool):
        self.cases, self.cfg, self.augment = list(cases), cfg, augment
        self.index = [
            (i, z)
            for i, p in enumerate(self.cases)
            for z in np.flatnonzero(p.roi.reshape(p.roi.shape[0], -1).any(1))
        ]
        if not self.index:
            raise InputError("pseudodwi: no training slice holds brain")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        i, z = self.index[item]
        p, cfg, size = self.cases[i], self.cfg, self.cfg.train_size
        cy, cx = _brain_centre(p.roi[z])
        shift = (0, 0)
        if self.augment and cfg.train_shift > 0:
            shift = tuple(
                int(v) for v in torch.randint(-cfg.train_shift, cfg.train_shift + 1, (2,))
            )
        y0, x0 = cy - size // 2 + shift[0], cx - size // 2 + shift[1]
        arrays = {
            "x": _crop(p.image[:, z], y0, x0, size),
            "dwi": _crop(p.data["dwi"][z][None], y0, x0, size),
            "label": _crop(p.data["label"][z], y0, x0, size).astype(np.int64),
            "attention": _crop(p.data["attention"][z], y0, x0, size),
        }
        if self.augment and bool(torch.rand(()) < 0.5):
            arrays = {k: np.ascontiguousarray(v[..., ::-1]) for k, v in arrays.items()}
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


class _QuietMultiStepLR(torch.optim.lr_scheduler.MultiStepLR):
    """`MultiStepLR` without torch's "step() before optimizer.step()" warning: the joint
    optimizer rests on purpose during the context pre-training epochs."""

    def step(self, epoch=None):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            return super().step(epoch)


def _pad_to(array: np.ndarray, multiple: int) -> np.ndarray:
    ny, nx = array.shape[-2:]
    py, px = (-ny) % multiple, (-nx) % multiple
    return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, py), (0, px)])


class PseudoDwiMethod(Method):
    """Acute core from raw 4D CTP + perfusion maps through a synthesized pseudo-DWI.

    Wang G, Song T, Dong Q, et al. Medical Image Analysis 65 (2020) 101787. Inputs: ``ctp``
    (required, 4D) and ``cbf, cbv, mtt, tmax`` (optional: computed from the CTP when absent).
    Outputs: ``mask`` (core), ``probability``, ``uncertainty`` (variance over the ensemble),
    ``pseudo_dwi`` (the synthesized DWI, 0-1 scale of the training DWIs).
    """

    name = "pseudodwi"
    config_cls = PseudoDwiConfig
    monitor = "val_dice"
    monitor_mode = "max"
    preprocessing = ("perfusion_maps", "temporal_features", "zscore_brain")
    primary_output = "mask"
    reference_roles: ClassVar[dict[str, str]] = {"mask": "core"}
    inference_options = ("predict_batch_size",)
    calibration_cls = PseudoDwiCalibration
    role_notes: ClassVar[dict[str, str]] = {
        "ctp": "the raw 4D CT perfusion series this method needs (the perfusion maps alone are "
        "not enough; ISLES 2018's CT_4DPWI)"
    }

    def __init__(self, config: PseudoDwiConfig | None = None) -> None:
        super().__init__(config)
        self._prepared: dict[str, Prepared] = {}

    @property
    def synthesis(self) -> bool:
        """True when SLNet segments a pseudo-DWI (the paper); False: the maps directly."""
        return self.config.segment_from == "pseudo_dwi"

    # -- networks ------------------------------------------------------------------------------
    def build_networks(self) -> dict[str, torch.nn.Module]:
        cfg = self.config
        f = cfg.base_filters
        nets: dict[str, torch.nn.Module] = {}
        if self.synthesis:
            if cfg.use_extractor:
                nets["extractor"] = feature_unet(cfg.c_e, 1, f, cfg.upsample)
            nets["generator"] = feature_unet(
                N_MAPS + 1 + int(cfg.use_extractor), 1, f, cfg.upsample
            )
            nets["context"] = ContextEncoder(1, cfg.context_width, 16)
            nets["context_decoder"] = ContextDecoder(16, CONTEXT_SIZE)
        nets["segmenter"] = SLNet(
            1 if self.synthesis else N_MAPS, 2, base_filters=f, norm=cfg.slnet_norm, se=cfg.slnet_se
        )
        return {k: xavier_init(v) for k, v in nets.items()}

    def build_optimizers(self, networks):
        lesion = [n for n in ("extractor", "generator", "segmenter") if n in networks]
        params = [p for n in lesion for p in networks[n].parameters()]
        opts = {"joint": torch.optim.RMSprop(params, lr=self.config.lr)}
        if "context" in networks:
            ae = [*networks["context"].parameters(), *networks["context_decoder"].parameters()]
            opts["context"] = torch.optim.Adam(ae, lr=self.config.context_lr)
        return opts

    def build_schedulers(self, optimizers):
        """The joint learning rate x ``lr_decay`` after ``lr_decay_epoch`` epochs of joint
        training (paper: x 0.2 after 180), counted after the context pre-training."""
        start = self._pretrain_epochs() + self.config.lr_decay_epoch
        return {
            "joint": _QuietMultiStepLR(
                optimizers["joint"], milestones=[start], gamma=self.config.lr_decay
            )
        }

    def _pretrain_epochs(self) -> int:
        return self.config.context_pretrain_epochs if self.synthesis else 0

    def stage(self, epoch: int) -> str:
        """What an epoch trains: ``context`` (autoencoder pre-training), ``joint`` (end to
        end), or, with the sequential schedule, ``extractor``, ``generator``, ``segmenter``."""
        pre = self._pretrain_epochs()
        if epoch < pre:
            return "context"
        if self.config.schedule == "end_to_end":
            return "joint"
        stages = ["extractor", "generator", "segmenter"]
        if not self.config.use_extractor:
            stages = stages[1:]
        span = max(1, (self.config.max_epochs - pre) // len(stages))
        return stages[min((epoch - pre) // span, len(stages) - 1)]

    def _forward(self, x: torch.Tensor, networks, *, stage: str = "joint"):
        """``(F_h or None, I_g or None, logits)``; earlier stages run without gradient in the
        sequential schedule."""
        if not self.synthesis:
            return None, None, networks["segmenter"](x[:, :N_MAPS])
        maps_l = x[:, : N_MAPS + 1]
        f_h = None
        if "extractor" in networks:
            with torch.set_grad_enabled(
                torch.is_grad_enabled() and stage in ("joint", "extractor")
            ):
                f_h = networks["extractor"](x[:, N_MAPS + 1 :])
            maps_l = torch.cat([maps_l, f_h], dim=1)
        with torch.set_grad_enabled(torch.is_grad_enabled() and stage in ("joint", "generator")):
            pseudo = networks["generator"](maps_l)
        logits = networks["segmenter"](pseudo)
        return f_h, pseudo, logits

    # -- training ------------------------------------------------------------------------------
    def training_step(self, batch, networks, optimizers, ctx: TrainContext) -> dict[str, float]:
        cfg = self.config
        stage = self.stage(ctx.epoch)
        dwi = batch["dwi"].float()
        if stage == "context":
            rec = networks["context_decoder"](networks["context"](dwi))
            loss = F.mse_loss(rec, F.adaptive_avg_pool2d(dwi, CONTEXT_SIZE))
            ctx.backward_step(loss, optimizers["context"])
            return {"loss": float(loss.detach()), "loss_context_ae": float(loss.detach())}
        if "context" in networks:
            networks["context"].requires_grad_(False)  # frozen after its pre-training
        x, label, att = batch["x"].float(), batch["label"].long(), batch["attention"].float()
        f_h, pseudo, logits = self._forward(x, networks, stage=stage)
        loss_s, parts = segmentation_loss(logits, label, att)
        log_values = {"loss_s": float(loss_s.detach()), **parts}
        terms = {"segmenter": loss_s}
        if pseudo is not None:
            loss_g, g_parts = synthesis_loss(pseudo, dwi, att[:, None], networks["context"],
                                             gamma=cfg.gamma)  # fmt: skip
            terms["generator"] = cfg.alpha * loss_g
            log_values.update(
                loss_g=float(loss_g.detach()), **{f"g_{k}": v for k, v in g_parts.items()}
            )
        if f_h is not None:
            loss_e, _ = synthesis_loss(f_h, dwi, att[:, None], networks["context"], gamma=cfg.gamma)
            terms["extractor"] = cfg.beta * loss_e
            log_values["loss_e"] = float(loss_e.detach())
        loss = sum(terms.values()) if stage == "joint" else terms[stage]
        ctx.backward_step(loss, optimizers["joint"])
        return {"loss": float(loss.detach()), **log_values}

    def validation_step(self, batch, networks, ctx: TrainContext) -> dict[str, float]:
        """One validation case (all its brain slices): Dice of P >= 0.5 inside the brain, the
        segmentation loss and the pseudo-DWI's mean squared error."""
        x, label, att = batch["x"].float(), batch["label"].long(), batch["attention"].float()
        _, pseudo, logits = self._forward(x, networks)
        prob = torch.softmax(logits, 1)[:, 1] * batch["roi"].float()
        pred, ref = prob >= 0.5, label > 0
        total = int(pred.sum() + ref.sum())
        dice = 2.0 * float((pred & ref).sum()) / total if total else 1.0
        out = {"val_dice": dice, "val_loss_s": float(segmentation_loss(logits, label, att)[0])}
        if pseudo is not None:
            out["val_mse_dwi"] = float(F.mse_loss(pseudo, batch["dwi"].float()))
        return out

    def training_roles(self) -> tuple[str, ...]:
        """The raw CTP, the DWI (the synthesis target) and the core mask (maps optional)."""
        return ("ctp", "dwi", "core") if self.synthesis else ("ctp", "core")

    def _training_case(self, case, ctx: TrainContext) -> Prepared:
        if case.case_id not in self._prepared:
            self._prepared[case.case_id] = prepare_case(case, self.config, cache_dir=ctx.cache_dir)
        return self._prepared[case.case_id]

    def train_data(self, cases, ctx: TrainContext):
        prepared = [self._training_case(c, ctx) for c in cases]
        data = SliceSamples(prepared, self.config, augment=self.config.augment)
        log.info("pseudodwi: %d training slices from %d cases", len(data), len(cases))
        return make_loader(data, ctx, batch_size=self.config.batch_size, shuffle=True)

    def val_data(self, cases, ctx: TrainContext):
        batches = []
        for case in list(cases)[ctx.rank :: ctx.world_size]:
            p = self._training_case(case, ctx)
            keep = np.flatnonzero(p.roi.reshape(p.roi.shape[0], -1).any(1))
            arrays = {
                "x": np.moveaxis(p.image[:, keep], 0, 1),
                "dwi": p.data["dwi"][keep][:, None],
                "label": p.data["label"][keep].astype(np.int64),
                "attention": p.data["attention"][keep],
                "roi": p.roi[keep].astype(np.uint8),
            }
            batches.append(
                {k: torch.from_numpy(_pad_to(v, PAD_MULTIPLE)) for k, v in arrays.items()}
            )
        return batches

    # -- inference -----------------------------------------------------------------------------
    def input_roles(self) -> InputRoles:
        return InputRoles(required=("ctp",), optional=MAP_ROLES)

    def prepare(self, volumes: Mapping[str, Volume]) -> Prepared:
        return prepare_volumes(volumes, self.config)

    def prepare_case(self, case: Any, *, cache_dir=None) -> Prepared:
        return prepare_case(case, self.config, cache_dir=cache_dir)

    def inference_plan(self) -> InferencePlan:
        return InferencePlan(pad_multiple=PAD_MULTIPLE, batch_size=self.config.predict_batch_size)

    def predictor(self, networks: Mapping[str, torch.nn.Module]):
        """``x (B, C, H, W) -> (B, 2, H, W)``: lesion probability and pseudo-DWI (0 when SLNet
        segments the maps directly)."""

        def predict(x: torch.Tensor) -> torch.Tensor:
            _, pseudo, logits = self._forward(x, networks)
            prob = torch.softmax(logits, 1)[:, 1:2]
            return torch.cat([prob, pseudo if pseudo is not None else torch.zeros_like(prob)], 1)

        return predict

    def finalize(
        self, prepared: Prepared, combined: np.ndarray, calibration: PseudoDwiCalibration
    ) -> dict[str, Volume]:
        """``mask`` (mean probability >= threshold inside the brain, components under
        ``min_size_ml`` removed), ``probability``, ``uncertainty`` (ensemble variance) and
        ``pseudo_dwi``, on the input grid."""
        memo = prepared.data.setdefault("_output_memo", {})
        if memo.get("id") != id(combined):
            memo.clear()
            memo["id"] = id(combined)
            for i, name in enumerate(("prob", "pseudo", "prob_var")):
                memo[name] = to_output_grid(prepared, combined[i])
        roi = prepared.target_roi
        prob = np.clip(memo["prob"], 0.0, 1.0) * roi
        grid = prepared.target
        mask = postprocess(prob, threshold=calibration.threshold, min_size_ml=calibration.min_size_ml,
                           spacing_mm=grid.spacing_mm)  # fmt: skip
        outputs = {
            "mask": output_volume(grid, mask, "mask", label="core"),
            "probability": output_volume(grid, prob, "probability"),
            "uncertainty": output_volume(
                grid, np.clip(memo["prob_var"], 0, None) * roi, "uncertainty"
            ),
        }
        if self.synthesis:  # SLNet on the maps directly (an ablation) synthesizes nothing
            outputs["pseudo_dwi"] = output_volume(
                grid, memo["pseudo"] * roi, "image", unit="0-1 DWI scale"
            )
        return outputs

    def calibration_grid(self) -> dict[str, tuple]:
        """Threshold 0.1..0.9 and minimum component size 0 (paper), 0.1, 0.5 or 1 mL (ours)."""
        return {"threshold": THRESHOLD_GRID, "min_size_ml": (0.0, 0.1, 0.5, 1.0)}

    def overlay_panels(self, prepared: Prepared, outputs: Mapping[str, Volume]):
        """Tmax map, pseudo-DWI and the mask on the pseudo-DWI, side by side (without a
        pseudo-DWI: Tmax, and the mask on Tmax)."""
        tmax = prepared.data["tmax"]
        panels = [OverlayPanel("Tmax (s)", tmax, (0.0, 10.0), cmap="jet", show_mask=False)]
        if "pseudo_dwi" not in outputs:
            return [*panels, OverlayPanel("core on Tmax", tmax, (0.0, 10.0), cmap="jet")]
        pseudo = outputs["pseudo_dwi"].array
        return [
            *panels,
            OverlayPanel("pseudo-DWI", pseudo, (0.0, 1.0), show_mask=False),
            OverlayPanel("core on pseudo-DWI", pseudo, (0.0, 1.0)),
        ]
