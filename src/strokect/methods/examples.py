"""Two tiny example methods that show the `Method` protocol fits every paper's training pattern.

They are not registered for users (not in `strokect.methods.registry.METHODS`); tests register
them to show that a method is a plug-in of both the engine (``strokect train``) and the segment
pipeline (``strokect segment``) with no change to any shared file, and they are the shortest
templates for a new method. Both read one NCCT (``--input ncct=...``).

* `ToyAdversarial` — the fu2bl pattern (van Voorst et al., AJNR 2022): a generator predicts a
  difference map D, the generated baseline is ``follow_up - D``; a discriminator tells real from
  generated baselines; one ``training_step`` steps the discriminator optimizer, then the
  generator optimizer (L1 + adversarial; ``adv_weight=0`` is the paper's "L1 only" ablation),
  with a constant-then-linear-decay learning rate.
* `ToyEndToEnd` — the pseudodwi pattern (Wang, Song et al., MedIA 2020): a synthesis network
  produces a pseudo image from the inputs, a segmentation network reads inputs + pseudo image;
  one combined loss ``L_s + alpha * L_g`` trains both through one optimizer.

Both build synthetic training data (one sample set per case, seeded by the case's position), so
they train in seconds on a CPU: squares brighter (follow-up minus baseline) or marked in a target
image. At inference they read a real NCCT (brain window [0, 100] HU scaled to [0, 1]) and return
several named outputs: a signed difference map, a synthesized baseline and a mask (adversarial);
a mask, its probability and uncertainty and the synthesized image (end to end), whose threshold
is calibrated on the cross-validation predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from strokect.config import bounded, check_bounds
from strokect.data.loader import make_loader
from strokect.inference.predict import InferencePlan
from strokect.inference.prepared import Prepared
from strokect.io.volume import Volume
from strokect.methods.base import InputRoles, Method, MethodConfig, TrainContext, output_volume
from strokect.nn.mc_dropout import MCDropout

__all__ = [
    "ToyAdversarial",
    "ToyAdversarialConfig",
    "ToyEndToEnd",
    "ToyEndToEndConfig",
    "ToyThreshold",
]


@dataclass
class ToyThreshold:
    """The examples' calibration: one threshold."""

    threshold: float = bounded(0.5, ge=0.0, le=1.0)

    def __post_init__(self) -> None:
        check_bounds(self)


class _NcctInput:
    """The examples' inputs: one NCCT, windowed to [0, 100] HU and scaled to [0, 1]; they train on
    generated squares, so training cases need no role."""

    def input_roles(self) -> InputRoles:
        return InputRoles(required=("ncct",))

    def training_roles(self) -> tuple[str, ...]:
        return ()

    def prepare(self, volumes: Mapping[str, Volume]) -> Prepared:
        ncct = volumes["ncct"]
        image = np.clip(ncct.array.astype(np.float32), 0.0, 100.0)[None] / 100.0
        step = {"step": "hu_window", "window_hu": [0.0, 100.0], "scaled_to": [0.0, 1.0]}
        return Prepared(image=image, grid=ncct, channels=["ncct"], history=[step])


def _squares(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` noisy images (n, 1, size, size) and masks with one random square each."""
    gen = torch.Generator().manual_seed(seed)
    images = 0.1 * torch.randn(n, 1, size, size, generator=gen)
    masks = torch.zeros(n, 1, size, size)
    for i in range(n):
        side = int(torch.randint(size // 4, size // 2, (1,), generator=gen))
        y, x = (int(v) for v in torch.randint(0, size - side, (2,), generator=gen))
        masks[i, :, y : y + side, x : x + side] = 1.0
    return images, masks


def _small_cnn(in_ch: int, out_ch: int, width: int, *, mc_p: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 3, padding=1), nn.ReLU()]
    if mc_p > 0:
        layers.append(MCDropout(mc_p))
    layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, out_ch, 1)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------
@dataclass
class ToyAdversarialConfig(MethodConfig):
    """Settings of `ToyAdversarial` (fu2bl-like; values scaled down for seconds-long tests)."""

    max_epochs: int = 4
    lr: float = 2e-3
    adv_weight: float = 0.1
    decay_start_epoch: int = 2
    batch_size: int = 2
    size_px: int = 16
    samples_per_case: int = 4
    width: int = 8
    threshold: float = 0.25


class ToyAdversarial(_NcctInput, Method):
    """Generator + discriminator with two optimizers stepped alternately in one training step.

    Inference (the fu2bl pattern): the generator's difference map D of a follow-up NCCT, the
    synthesized baseline ``follow-up - D`` and the lesion mask ``D >= threshold``.
    """

    name = "toy-adversarial"
    config_cls = ToyAdversarialConfig
    monitor, monitor_mode = "val_l1", "min"
    preprocessing = ("hu_window",)
    primary_output = "lesion"
    calibration_cls = ToyThreshold

    def build_networks(self) -> dict[str, nn.Module]:
        c = self.config
        discriminator = nn.Sequential(
            nn.Conv2d(1, c.width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c.width, 1, 4, stride=2, padding=1),
        )
        return {"generator": _small_cnn(1, 1, c.width), "discriminator": discriminator}

    def build_optimizers(self, networks):
        lr = self.config.lr
        return {
            "discriminator": torch.optim.Adam(networks["discriminator"].parameters(), lr=lr),
            "generator": torch.optim.Adam(networks["generator"].parameters(), lr=lr),
        }

    def build_schedulers(self, optimizers):
        start, total = self.config.decay_start_epoch, self.config.max_epochs

        def factor(epoch: int) -> float:  # constant, then linear decay to 0 (fu2bl schedule)
            return 1.0 if epoch < start else max(0.0, 1.0 - (epoch - start) / max(total - start, 1))

        return {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in optimizers.items()}

    def training_step(self, batch, networks, optimizers, ctx: TrainContext) -> dict[str, float]:
        follow_up, baseline = batch
        gen, disc = networks["generator"], networks["discriminator"]
        noisy = follow_up + 0.01 * torch.randn_like(follow_up)  # intensity/noise augmentation
        fake = noisy - gen(noisy)
        real_logits, fake_logits = disc(baseline), disc(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(
            real_logits, torch.ones_like(real_logits)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        ctx.backward_step(loss_d, optimizers["discriminator"])
        adv_logits = disc(fake)
        loss_adv = F.binary_cross_entropy_with_logits(adv_logits, torch.ones_like(adv_logits))
        loss_l1 = F.l1_loss(fake, baseline)
        ctx.backward_step(loss_l1 + self.config.adv_weight * loss_adv, optimizers["generator"])
        return {"loss_d": loss_d.item(), "loss_l1": loss_l1.item(), "loss_adv": loss_adv.item()}

    def validation_step(self, batch, networks, ctx) -> dict[str, float]:
        follow_up, baseline = batch
        fake = follow_up - networks["generator"](follow_up)
        return {"val_l1": F.l1_loss(fake, baseline).item(), "n": len(follow_up)}

    def _dataset(self, cases: Sequence[Any], offset: int) -> TensorDataset:
        c = self.config
        baseline, masks = _squares(len(cases) * c.samples_per_case, c.size_px, offset)
        return TensorDataset(baseline + 0.5 * masks, baseline)  # lesion brighter on follow-up

    def train_data(self, cases, ctx):
        ds = self._dataset(cases, ctx.seed)
        return make_loader(ds, ctx, batch_size=self.config.batch_size, shuffle=True)

    def val_data(self, cases, ctx):
        ds = self._dataset(cases, ctx.seed + 10_000)
        return make_loader(ds, ctx, batch_size=self.config.batch_size, shuffle=False)

    def predictor(self, networks):
        gen = networks["generator"]
        return lambda x: gen(x)  # the difference map D

    def finalize(self, prepared, combined, calibration):
        diff = combined[0]  # mean D over the ensemble (channel 1 is its variance)
        grid = prepared.grid
        return {
            "lesion": output_volume(grid, diff >= calibration.threshold, "mask"),
            "difference": output_volume(grid, diff, "map", unit="window fraction"),
            "baseline": output_volume(grid, prepared.image[0] - diff, "image"),
        }


# ---------------------------------------------------------------------------------------------
@dataclass
class ToyEndToEndConfig(MethodConfig):
    """Settings of `ToyEndToEnd` (pseudodwi-like; alpha weights the synthesis loss)."""

    max_epochs: int = 4
    patience: int | None = 3
    lr: float = 2e-3
    alpha: float = 1.0
    mc_dropout_p: float = 0.1
    batch_size: int = 4
    size_px: int = 16
    samples_per_case: int = 4
    width: int = 8
    mc_passes: int = 2
    threshold: float = 0.5


class ToyEndToEnd(_NcctInput, Method):
    """Synthesis network + segmentation network trained end to end with one combined loss.

    Inference (the pseudodwi pattern): lesion probability (mean over members x MC passes), its
    variance, the synthesized image, and the mask at a threshold calibrated on the
    cross-validation predictions against the dataset's ``core`` masks.
    """

    name = "toy-end-to-end"
    config_cls = ToyEndToEndConfig
    monitor, monitor_mode = "val_dice", "max"
    preprocessing = ("hu_window",)
    primary_output = "mask"
    reference_roles: ClassVar[dict[str, str]] = {"mask": "core"}
    calibration_cls = ToyThreshold
    inference_options = ("mc_passes",)

    def build_networks(self) -> dict[str, nn.Module]:
        c = self.config
        return {
            "synthesis": _small_cnn(1, 1, c.width),
            "segmenter": _small_cnn(2, 1, c.width, mc_p=c.mc_dropout_p),
        }

    def build_optimizers(self, networks):
        params = [p for net in networks.values() for p in net.parameters()]
        return {"joint": torch.optim.RMSprop(params, lr=self.config.lr)}

    def _forward(self, x, networks):
        pseudo = networks["synthesis"](x)
        return pseudo, networks["segmenter"](torch.cat([x, pseudo], dim=1))

    def training_step(self, batch, networks, optimizers, ctx) -> dict[str, float]:
        x, target_image, mask = batch
        pseudo, logits = self._forward(x + 0.01 * torch.randn_like(x), networks)
        loss_s = F.binary_cross_entropy_with_logits(logits, mask)
        loss_g = F.mse_loss(pseudo, target_image)
        loss = loss_s + self.config.alpha * loss_g  # L = L_s + alpha L_g (Wang et al. 2020)
        ctx.backward_step(loss, optimizers["joint"])
        return {"loss": loss.item(), "loss_s": loss_s.item(), "loss_g": loss_g.item()}

    def validation_step(self, batch, networks, ctx) -> dict[str, float]:
        x, _, mask = batch
        pred = (self._forward(x, networks)[1] > 0).float()
        inter, total = (pred * mask).sum(), pred.sum() + mask.sum()
        dice = (2 * inter / total).item() if total > 0 else 1.0
        return {"val_dice": dice, "n": len(x)}

    def _dataset(self, cases: Sequence[Any], offset: int) -> TensorDataset:
        c = self.config
        noise, masks = _squares(len(cases) * c.samples_per_case, c.size_px, offset)
        return TensorDataset(noise + 0.3 * masks, masks.clone(), masks)

    def train_data(self, cases, ctx):
        ds = self._dataset(cases, ctx.seed)
        return make_loader(ds, ctx, batch_size=self.config.batch_size, shuffle=True)

    def val_data(self, cases, ctx):
        ds = self._dataset(cases, ctx.seed + 10_000)
        return make_loader(ds, ctx, batch_size=self.config.batch_size, shuffle=False)

    def predictor(self, networks):
        def predict(x: torch.Tensor) -> torch.Tensor:  # (B, 2, H, W): probability, pseudo image
            pseudo, logits = self._forward(x, networks)
            return torch.cat([torch.sigmoid(logits), pseudo], dim=1)

        return predict

    def inference_plan(self) -> InferencePlan:
        return InferencePlan(mc_passes=self.config.mc_passes)

    def finalize(self, prepared, combined, calibration):
        prob, pseudo, prob_var = combined[0], combined[1], combined[2]  # means, then variances
        grid = prepared.grid
        return {
            "mask": output_volume(grid, prob >= calibration.threshold, "mask"),
            "probability": output_volume(grid, prob, "probability"),
            "uncertainty": output_volume(grid, prob_var, "uncertainty"),
            "synthesized": output_volume(grid, pseudo, "image"),
        }

    def calibration_grid(self):
        return {"threshold": (0.3, 0.5, 0.7)}
