"""The ``fu2bl`` method as a plug-in of the engine and the segment pipeline (van Voorst et al. 2022)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import ndimage as ndi
from torch.nn import functional as F

from strokect.errors import InputError, warn
from strokect.inference.predict import InferencePlan
from strokect.inference.prepared import Prepared
from strokect.io.volume import Volume
from strokect.methods.base import (
    CalibrationSearch,
    InputRoles,
    Method,
    TrainContext,
    output_volume,
)
from strokect.methods.fu2bl.augment import augment_pair
from strokect.methods.fu2bl.config import (
    HEMORRHAGE_GRID,
    INFARCT_GRID,
    SMOOTH_GRID,
    Fu2blCalibration,
    Fu2blConfig,
)
from strokect.methods.fu2bl.network import build_discriminator, build_generator
from strokect.methods.fu2bl.preprocessing import (
    BRAIN_WINDOW,
    TrainingPair,
    followup_channels,
    hu_to_unit,
    network_grid,
    prepare_followup,
    prepare_pair,
    to_output_grid,
)

__all__ = ["Fu2blMethod"]

log = logging.getLogger(__name__)

FOLLOWUP = "ncct_followup"
BASELINE = "ncct_baseline"
#: HU per unit of the difference map (the [0, 100] HU window scaled to [-1, 1]).
HU_PER_UNIT = (BRAIN_WINDOW[1] - BRAIN_WINDOW[0]) / 2.0
#: Infarcts at least this far (HU) below the surrounding tissue form the "marked" stratum.
MARKED_CONTRAST_HU = 4.0
#: Validation Dice is computed at these infarct thresholds (every 2nd of the paper's grid).
VAL_THRESHOLDS = INFARCT_GRID[1::2]


class _PairSlices:
    """One epoch of training samples: ``slices_per_pair`` random slices of every pair (between
    the configured percentiles of its slice range), shuffled, in batches; sharded by rank."""

    def __init__(self, pairs: Sequence[TrainingPair], cfg: Fu2blConfig, ctx: TrainContext):
        self.pairs = list(pairs)
        self.cfg = cfg
        self.rank, self.world = ctx.rank, ctx.world_size
        self.fu = [torch.from_numpy(p.followup_hu) for p in self.pairs]
        self.bl = [torch.from_numpy(p.baseline_hu) for p in self.pairs]
        lo, hi = cfg.slice_range
        self.ranges = []
        for p in self.pairs:
            z = np.flatnonzero(p.brain.any(axis=(1, 2)))
            z0, z1 = (int(z[0]), int(z[-1])) if len(z) else (0, len(p.brain) - 1)
            self.ranges.append((z0 + int(lo * (z1 - z0)), z0 + int(np.ceil(hi * (z1 - z0)))))

    def __len__(self) -> int:
        n = len(self.pairs) * self.cfg.slices_per_pair
        return -(-len(range(self.rank, n, self.world)) // self.cfg.batch_size)

    def __iter__(self):
        n = len(self.pairs) * self.cfg.slices_per_pair
        order = torch.randperm(n)[self.rank :: self.world]
        for start in range(0, len(order), self.cfg.batch_size):
            fu, bl = [], []
            for k in order[start : start + self.cfg.batch_size].tolist():
                i = k % len(self.pairs)
                z0, z1 = self.ranges[i]
                z = int(torch.randint(z0, z1 + 1, (1,)))
                fu.append(self.fu[i][z])
                bl.append(self.bl[i][z])
            yield {"followup": torch.stack(fu), "baseline": torch.stack(bl)}


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class Fu2blMethod(Method):
    """Follow-up NCCT -> its pre-stroke baseline by a GAN; the difference map gives the lesions.

    van Voorst H, Konduri PR, van Poppel LM, et al. Unsupervised deep learning for stroke lesion
    segmentation on follow-up CT based on generative adversarial networks. AJNR Am J
    Neuroradiol 2022;43:1107-14. The generator maps a follow-up slice (two HU-window channels) to
    a difference map D in [-1, 1]; the generated baseline is the follow-up's 0-100 HU channel
    minus D; a PatchGAN discriminator tells generated from real baselines. Trained on registered
    baseline / follow-up pairs, no masks: L1 to the real baseline (x100) + adversarial loss, both
    inside the head. Lesions: D <= ``threshold_infarct`` (hypodense: infarct) and D >=
    ``threshold_hemorrhage`` (hyperdense: hemorrhage) inside the automatic brain mask, the
    thresholds chosen on validation cases by Dice over the paper's grid.
    """

    name = "fu2bl"
    config_cls = Fu2blConfig
    monitor = "val_score"
    monitor_mode = "max"
    preprocessing = ("network_grid", "brain_mask", "median_normalization", "hu_windows")
    primary_output = "infarct"
    reference_roles: ClassVar[dict[str, str]] = {"infarct": "infarct", "hemorrhage": "hemorrhage"}
    inference_options = ("precision", "predict_batch_size", "brain_filter")
    calibration_cls = Fu2blCalibration

    def __init__(self, config: Fu2blConfig | None = None) -> None:
        super().__init__(config)
        self._pairs: dict[str, TrainingPair] = {}

    # -- networks and optimization -------------------------------------------------------------
    @property
    def adversarial(self) -> bool:
        return self.config.loss == "l1+adv"

    def build_networks(self) -> dict[str, torch.nn.Module]:
        nets = {"generator": build_generator(self.config)}
        if self.adversarial:
            nets["discriminator"] = build_discriminator(self.config)
        return nets

    def build_optimizers(self, networks):
        cfg = self.config
        betas = (cfg.beta1, 0.999)
        return {
            name: torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=betas)
            for name, net in networks.items()
        }

    def build_schedulers(self, optimizers):
        """Constant learning rate for ``decay_start_epoch`` epochs, then linear decay to 0 at
        ``max_epochs`` (paper: 500 + 500)."""
        start, end = self.config.decay_start_epoch, self.config.max_epochs

        def factor(epoch: int) -> float:
            if epoch < start or end <= start:
                return 1.0
            return max(0.0, 1.0 - (epoch - start) / (end - start))

        return {
            name: torch.optim.lr_scheduler.LambdaLR(opt, factor) for name, opt in optimizers.items()
        }

    def _forward(self, generator, fu_hu: torch.Tensor):
        """Follow-up HU ``(B, H, W)`` -> (input channels, difference map, generated baseline)."""
        x = followup_channels(fu_hu)
        diff = generator(x)
        return x, diff, x[:, :1] - diff

    def training_step(self, batch, networks, optimizers, ctx: TrainContext) -> dict[str, float]:
        """A discriminator step (real vs generated baseline, BCE), then a generator step
        (``l1_weight`` x L1 + adversarial BCE), both inside the head; ``loss="l1"``: only the
        generator's L1 step."""
        cfg = self.config
        fu, bl = batch["followup"].float(), batch["baseline"].float()
        if cfg.augment:
            fu, bl = augment_pair(fu, bl, cfg)
        x, _, fake = self._forward(networks["generator"], fu)
        real = hu_to_unit(bl).unsqueeze(1)
        head = (x[:, :1] > -0.95) & (bl.unsqueeze(1) > -500.0)
        weight = head.float()
        l1 = ((fake - real).abs() * weight).sum() / weight.sum().clamp(min=1.0)
        logs = {"l1": float(l1.detach())}
        loss_g = cfg.l1_weight * l1
        if self.adversarial:
            disc = networks["discriminator"]
            real_in = torch.where(head, real, -1.0)
            fake_in = torch.where(head, fake, -1.0)
            loss_d = 0.5 * (_bce(disc(real_in)[-1], 1.0) + _bce(disc(fake_in.detach())[-1], 0.0))
            ctx.backward_step(loss_d, optimizers["discriminator"])
            for p in disc.parameters():
                p.requires_grad_(False)
            adv = _bce(disc(fake_in)[-1], 1.0)
            for p in disc.parameters():
                p.requires_grad_(True)
            loss_g = loss_g + adv
            logs.update({"adv": float(adv.detach()), "loss_d": float(loss_d.detach())})
        ctx.backward_step(loss_g, optimizers["generator"])
        logs["loss_g"] = float(loss_g.detach())
        return logs

    def validation_step(self, batch, networks, ctx: TrainContext) -> dict[str, float]:
        """One validation case (all its slices): L1 to the real baseline inside the head and,
        when it has an infarct, the Dice of ``D <= t`` inside the brain for every ``t`` of
        `VAL_THRESHOLDS` (paper: the epoch is chosen by the Dice of its 24 h and 1 week infarct
        validation sets)."""
        fu, bl = batch["followup"].float(), batch["baseline"].float()
        x, diff, fake = self._forward(networks["generator"], fu)
        real = hu_to_unit(bl).unsqueeze(1)
        head = ((x[:, :1] > -0.95) & (bl.unsqueeze(1) > -500.0)).float()
        out = {
            "val_l1": float(((fake - real).abs() * head).sum() / head.sum().clamp(min=1.0)),
            "labelled": float(batch["labelled"]),
        }
        label, brain = batch["label"].bool(), batch["brain"].bool()
        d = diff[:, 0]
        for t in VAL_THRESHOLDS:
            pred = (d <= t) & brain
            inter = float((pred & label).sum())
            total = float(pred.sum() + label.sum())
            dice = 1.0 if total == 0 else 2.0 * inter / total
            out[f"dice@{t:.2f}"] = dice * float(batch["labelled"])
        return out

    def summarize_validation(self, means: dict[str, float]) -> dict[str, float]:
        """``val_score``: the best mean Dice over `VAL_THRESHOLDS` of the validation cases with
        an infarct (``val_dice``, at ``val_threshold``); without any, minus the L1
        (unsupervised)."""
        labelled = means.pop("labelled", 0.0)
        dice = {k: means.pop(k) for k in list(means) if k.startswith("dice@")}
        if labelled > 0 and dice:
            best = max(dice, key=dice.get)
            means["val_dice"] = dice[best] / labelled
            means["val_threshold"] = float(best.split("@")[1])
            means["val_score"] = means["val_dice"]
        else:
            means["val_score"] = -means["val_l1"]
        return means

    # -- data ----------------------------------------------------------------------------------
    def training_roles(self) -> tuple[str, ...]:
        """Pairs only: no mask is needed to train (masks serve validation and calibration)."""
        return (FOLLOWUP, BASELINE)

    def split_stratum(self, case: Any) -> str | None:
        """``"lesion-free"``, ``"hemorrhage"`` (a hemorrhage and no infarct voxel outside it),
        ``"marked"`` (infarct mean HU at least `MARKED_CONTRAST_HU` below the median of the
        tissue outside it) or ``"faint"``; None without an infarct mask. Folds and their
        early-stopping patients are drawn per stratum, so the epoch is not chosen on lesions
        nobody can see alone (a fold's 4 early-stopping patients were once 2 lesion-free and
        2 subtle ones)."""
        if "infarct" not in case.masks:
            return None
        infarct = case.load("infarct").array > 0
        hemorrhage = np.zeros_like(infarct)
        if "hemorrhage" in case.masks:
            hemorrhage = case.load("hemorrhage").array > 0
        ct = case.load(FOLLOWUP).array
        tissue = (ct >= 0) & (ct <= 80)
        region = infarct & tissue & ~hemorrhage
        if not region.any():
            return "hemorrhage" if hemorrhage.any() else "lesion-free"
        contrast = float(ct[region].mean() - np.median(ct[tissue & ~infarct]))
        return "marked" if contrast <= -MARKED_CONTRAST_HU else "faint"

    def _pair(self, case: Any, ctx: TrainContext) -> TrainingPair:
        if case.case_id not in self._pairs:
            pair = prepare_pair(case, self.config, cache_dir=ctx.cache_dir)
            log.info(
                "fu2bl: %s registered (%s moved), NCC %.3f", case.case_id, pair.moving, pair.ncc
            )
            self._pairs[case.case_id] = pair
        return self._pairs[case.case_id]

    def _usable(self, cases, ctx: TrainContext) -> list[TrainingPair]:
        pairs, dropped = [], []
        for case in cases:
            pair = self._pair(case, ctx)
            (pairs if pair.ncc >= self.config.min_registration_ncc else dropped).append(pair)
        if dropped:
            warn(
                f"fu2bl: {len(dropped)} pair(s) left out, registration NCC below "
                f"{self.config.min_registration_ncc}: "
                + ", ".join(f"{p.case_id} ({p.ncc:.2f})" for p in dropped)
            )
        return pairs

    def train_data(self, cases, ctx: TrainContext):
        pairs = self._usable(cases, ctx)
        if not pairs:
            raise InputError("fu2bl: no usable training pair (all failed the registration check)")
        return _PairSlices(pairs, self.config, ctx)

    def val_data(self, cases, ctx: TrainContext):
        batches = []
        for case in list(cases)[ctx.rank :: ctx.world_size]:
            pair = self._pair(case, ctx)
            label = np.zeros(pair.brain.shape, bool)
            if "infarct" in case.masks:
                label = self._label_on_grid(case)
            labelled = bool(label.any())  # lesion-free cases inform the L1 only
            batches.append(
                {
                    "followup": torch.from_numpy(pair.followup_hu),
                    "baseline": torch.from_numpy(pair.baseline_hu),
                    "brain": torch.from_numpy(pair.brain),
                    "label": torch.from_numpy(label),
                    "labelled": torch.tensor(float(labelled)),
                }
            )
        return batches

    def _label_on_grid(self, case: Any) -> np.ndarray:
        """The follow-up's infarct mask on the network grid (area fraction >= 0.5)."""
        ct = case.load(FOLLOWUP)
        mask = case.load("infarct")
        if not mask.same_geometry(ct) or mask.spatial_shape != ct.spatial_shape:
            raise InputError(f"case {case.case_id}: infarct mask grid differs from the follow-up")
        _, box = network_grid(ct, self.config)
        grid, _ = network_grid(mask.with_array(mask.array.astype(np.float32) * 2000.0 - 1024.0),
                               self.config, box=box)  # fmt: skip
        return grid.array >= (0.5 * 2000.0 - 1024.0)

    # -- inference -----------------------------------------------------------------------------
    def input_roles(self) -> InputRoles:
        return InputRoles(required=(FOLLOWUP,))

    def prepare(self, volumes: Mapping[str, Volume]) -> Prepared:
        if FOLLOWUP not in volumes:
            raise InputError(f"fu2bl needs a follow-up NCCT (role {FOLLOWUP})")
        return prepare_followup(volumes[FOLLOWUP], self.config)

    def prepare_case(self, case: Any, *, cache_dir=None) -> Prepared:
        """`prepare` plus the reference masks on the follow-up grid (``label``: the infarct;
        ``data["hemorrhage_label"]``)."""
        ct = case.load(FOLLOWUP)
        prepared = prepare_followup(ct, self.config)
        prepared.case_id = case.case_id
        for role in ("infarct", "hemorrhage"):
            if role in case.masks:
                mask = case.load(role)
                if not mask.same_geometry(ct) or mask.spatial_shape != ct.spatial_shape:
                    raise InputError(f"case {case.case_id}: {role} mask grid differs from the CT")
                arr = (mask.array > 0).astype(np.uint8)
                if role == "infarct":
                    prepared.label = arr
                else:
                    prepared.data["hemorrhage_label"] = arr
        if prepared.label is not None and "hemorrhage_label" not in prepared.data:
            prepared.data["hemorrhage_label"] = np.zeros_like(prepared.label)
        return prepared

    def inference_plan(self) -> InferencePlan:
        return InferencePlan(pad_multiple=4, batch_size=self.config.predict_batch_size, threads=2)

    def predictor(self, networks: Mapping[str, torch.nn.Module]):
        """``x (B, 2, H, W) -> D (B, 1, H, W)``: the generator's difference map."""
        gen = networks["generator"]
        bf16 = self.config.precision == "bf16"

        def predict(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                return gen(x).float()

        return predict

    def combine(self, samples: torch.Tensor, n_members: int) -> torch.Tensor:
        """Mean difference map over the ensemble members."""
        return samples.mean(dim=0)

    def _outputs_on_grid(self, prepared: Prepared, combined: np.ndarray, smooth_mm: float):
        """The difference map on the output grid (smoothed by a Gaussian of sigma ``smooth_mm``,
        0 outside the brain when ``brain_filter``) and the generated baseline in HU; memoized
        per prediction (calibration searches call `finalize` many times with the same one)."""
        memo = prepared.data.setdefault("_output_memo", {})
        if memo.get("id") != id(combined):
            memo.clear()
            fu0 = prepared.image[0]
            generated = (fu0 - combined[0] + 1.0) * HU_PER_UNIT + BRAIN_WINDOW[0]
            memo.update(
                id=id(combined),
                combined=combined,  # held, so that its id is not reused while memoized
                raw=to_output_grid(prepared, combined[0]),
                generated=to_output_grid(prepared, generated) - prepared.data["shift_hu"],
            )
        key = ("diff", float(smooth_mm), self.config.brain_filter)
        if key not in memo:
            for old in [k for k in memo if isinstance(k, tuple)]:
                del memo[old]
            diff = memo["raw"]
            if smooth_mm > 0:
                sigma = [smooth_mm / s for s in prepared.target.spacing_mm]
                diff = ndi.gaussian_filter(diff, sigma)
            if self.config.brain_filter:
                diff = diff * prepared.target_roi
            memo[key] = diff
        return memo[key], memo["generated"]

    def finalize(
        self, prepared: Prepared, combined: np.ndarray, calibration: Fu2blCalibration
    ) -> dict[str, Volume]:
        """``infarct`` (hypodense lesion plus hemorrhage, as the reference masks count it),
        ``hemorrhage``, ``hypodense`` (the negative side alone), ``difference_hu`` (follow-up
        minus generated baseline, HU) and ``baseline_generated`` (HU), on the input grid."""
        grid = prepared.target
        diff, generated = self._outputs_on_grid(prepared, combined, calibration.smooth_mm)
        hyper = diff >= calibration.threshold_hemorrhage
        hypo = diff <= calibration.threshold_infarct
        if self.config.brain_filter:
            hyper &= prepared.target_roi
            hypo &= prepared.target_roi
        return {
            "infarct": output_volume(grid, hypo | hyper, "mask", label="infarct"),
            "hemorrhage": output_volume(grid, hyper, "mask", label="hemorrhage"),
            "hypodense": output_volume(grid, hypo, "mask", label="hypodense"),
            "difference_hu": output_volume(grid, diff * HU_PER_UNIT, "map", unit="HU"),
            "baseline_generated": output_volume(grid, generated, "image", unit="HU"),
        }

    # -- calibration ---------------------------------------------------------------------------
    def calibration_grid(self) -> dict[str, Sequence[float]]:
        return {
            "smooth_mm": SMOOTH_GRID,
            "threshold_infarct": INFARCT_GRID,
            "threshold_hemorrhage": HEMORRHAGE_GRID,
        }

    def calibration_searches(self) -> list[CalibrationSearch]:
        """The paper chooses each side's threshold by Dice over -0.2..+0.3 in 0.01 steps; ours
        also the smoothing of the difference map (`SMOOTH_GRID`, 0 = the paper's none), with
        the infarct threshold, against the infarct masks; then the hemorrhage threshold against
        the hemorrhage masks (every case: one without scores 1 only when nothing is found);
        then the infarct threshold again, now with that hemorrhage threshold (the infarct output
        includes the hemorrhage, as the reference masks do)."""
        return [
            CalibrationSearch({"smooth_mm": SMOOTH_GRID, "threshold_infarct": INFARCT_GRID},
                              output="infarct", name="infarct and smoothing"),
            CalibrationSearch({"threshold_hemorrhage": HEMORRHAGE_GRID}, output="hemorrhage",
                              reference="hemorrhage_label", name="hemorrhage"),
            CalibrationSearch({"threshold_infarct": INFARCT_GRID}, output="infarct",
                              name="infarct"),
        ]  # fmt: skip
