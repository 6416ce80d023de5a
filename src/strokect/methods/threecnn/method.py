"""The ``threecnn`` method as a plug-in of the engine and the segment pipeline (Barros et al. 2020)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from strokect.data.loader import make_loader
from strokect.errors import InputError
from strokect.inference.postprocess import postprocess
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
from strokect.methods.threecnn.config import (
    CLASSES,
    CUTOFF_GRID,
    MIN_SIZE_GRID_ML,
    ThreeCnnCalibration,
    ThreeCnnConfig,
    lesion_class_of,
)
from strokect.methods.threecnn.network import PatchCNN
from strokect.methods.threecnn.preprocessing import (
    add_references,
    cases_of,
    extract_patches,
    infarct_mean_hu,
    pad_value,
    prepare_ncct,
    sample_centres,
    to_output_grid,
)
from strokect.preprocess.morphology import distance_mm

__all__ = ["ThreeCnnMethod", "augment_foreground"]

log = logging.getLogger(__name__)

ROLE = "ncct_followup"


def augment_foreground(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Foreground patches (``y == 1``) flipped across the sagittal plane (x axis) with
    probability 1/2 and rotated by a random multiple of 90 degrees about their centre; background
    patches unchanged (paper: "No data augmentation was applied to the non-infarct patches").
    Draws from the global torch RNG (so a resumed run replays them)."""
    fg = torch.nonzero(y == 1).flatten()
    if fg.numel() == 0:
        return x
    x = x.clone()
    flip = torch.rand(fg.numel()) < 0.5
    turns = torch.randint(0, 4, (fg.numel(),))
    patches = x[fg]
    patches[flip] = patches[flip].flip(-1)
    for k in range(1, 4):
        sel = turns == k
        if sel.any():
            patches[sel] = torch.rot90(patches[sel], k, dims=(-2, -1))
    x[fg] = patches
    return x


class ThreeCnnMethod(Method):
    """Follow-up infarct on NCCT by hypodensity-class patch CNNs, hemorrhage added back.

    Barros RS, Tolhuisen ML, Boers AM, et al. Automatic segmentation of cerebral infarcts in
    follow-up computed tomography images with convolutional neural networks. J NeuroIntervent
    Surg 2020;12:848-852. Networks: one `PatchCNN` per hypodensity class (severe, intermediate,
    subtle; ``variant="single"``: one for all) and one for hemorrhage, trained together in one
    run, each on its own patches (the class CNNs on the patients of their class). Inference: each
    network densely over the slices of the 5 mm grid, probabilities taken back to the input grid,
    cut off there per network (`ThreeCnnCalibration`, each chosen on the validation cases of its
    own network), union of the class masks + hemorrhage.
    """

    name = "threecnn"
    config_cls = ThreeCnnConfig
    monitor = "val_error"
    monitor_mode = "min"
    preprocessing = ("network_grid", "intracranial_minus_csf", "hu_scaling", "adjacent_slices")
    primary_output = "infarct"
    reference_roles: ClassVar[dict[str, str]] = {"infarct": "infarct", "hemorrhage": "hemorrhage"}
    inference_options = ("precision", "predict_batch_size", "hemorrhage_detector")
    calibration_cls = ThreeCnnCalibration

    def __init__(self, config: ThreeCnnConfig | None = None) -> None:
        super().__init__(config)
        self._prepared: dict[str, Prepared] = {}

    @property
    def networks(self) -> tuple[str, ...]:
        return self.config.networks

    # -- networks and optimization -------------------------------------------------------------
    def build_networks(self) -> dict[str, torch.nn.Module]:
        return {name: PatchCNN(3) for name in self.networks}

    def build_optimizers(self, networks):
        params = [p for name in self.networks for p in networks[name].parameters()]
        return {"adam": torch.optim.Adam(params, lr=self.config.lr)}

    def training_step(self, batch, networks, optimizers, ctx: TrainContext) -> dict[str, float]:
        """One Adam step on the summed cross-entropy of every network's own patch batch."""
        losses = {}
        for i, name in enumerate(self.networks):
            x, y = batch[2 * i].float(), batch[2 * i + 1].long()
            if self.config.augment:
                x = augment_foreground(x, y)
            losses[name] = F.cross_entropy(networks[name](x), y)
        total = sum(losses.values())
        ctx.backward_step(total, optimizers["adam"])
        return {
            "loss": float(total.detach()),
            **{f"loss_{k}": float(v.detach()) for k, v in losses.items()},
        }

    def validation_step(self, batch, networks, ctx: TrainContext) -> dict[str, float]:
        """Error rate (at probability 0.5) and cross-entropy of one network's validation
        patches (batches hold one network each). The error rate is monitored (ours: the paper
        names no stopping rule; the cross-entropy also punishes confident errors that a
        calibrated cut-off may not make, docs/methods/threecnn.md)."""
        index, x, y = batch
        net = networks[self.networks[int(index)]]
        logits = net(x.float())
        loss = F.cross_entropy(logits, y.long())
        error = (logits.argmax(1) != y.long()).float().mean()
        return {"val_error": float(error), "val_loss": float(loss), "n": len(x)}

    # -- data ----------------------------------------------------------------------------------
    def training_roles(self) -> tuple[str, ...]:
        return (ROLE, "infarct")

    def split_stratum(self, case: Any) -> str | None:
        """The case's hypodensity class (mean infarct HU without hemorrhage, from its images),
        so that every fold has patients of every class; None without an infarct mask."""
        if "infarct" not in case.masks:
            return None
        ct = case.load(ROLE)
        hem = case.load("hemorrhage").array > 0 if "hemorrhage" in case.masks else None
        return lesion_class_of(infarct_mean_hu(ct, case.load("infarct").array > 0, hem))

    def _training_case(self, case: Any) -> Prepared:
        if case.case_id not in self._prepared:
            self._prepared[case.case_id] = self.prepare_case(case)
        return self._prepared[case.case_id]

    def _patches(
        self, cases, seed: int, *, required: bool = True
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Patches per network: half foreground, half background, per case of that network.

        A network without any case raises `InputError` when ``required`` (training), else it is
        left out (validation: a small early-stopping set may lack a class)."""
        prepared = [self._training_case(c) for c in cases]
        out = {}
        for k, name in enumerate(self.networks):
            own = cases_of(name, prepared)
            xs, ys = [], []
            for i, p in enumerate(own):
                masks = p.data["train_masks"]
                fg = masks["hemorrhage"] if name == "hemorrhage" else masks["infarct"]
                # hemorrhage voxels are never infarct or background for the infarct CNNs (paper)
                bg = ~fg if name == "hemorrhage" else ~masks["any"]
                rng = np.random.default_rng([seed, k, i])
                near = None
                if self.config.near_fraction > 0 and fg.any():
                    near = distance_mm(fg, p.grid.spacing_mm) <= self.config.near_mm
                centres, labels = sample_centres(
                    p.roi, fg, bg, self.config.patches_per_case, rng,
                    near=near, near_fraction=self.config.near_fraction,
                )  # fmt: skip
                if len(centres):
                    xs.append(extract_patches(p.image, centres, p.data["pad_value"]))
                    ys.append(labels)
            if not xs and not required:
                continue
            if not xs:
                raise InputError(
                    f"threecnn: no training case for the {name} network "
                    f"(the {name} cases have no usable voxels or none is of that class)"
                )
            x = torch.from_numpy(np.concatenate(xs)).to(torch.float16)
            out[name] = (x, torch.from_numpy(np.concatenate(ys)))
        return out

    def train_data(self, cases, ctx: TrainContext):
        class_nets = [c for c in CLASSES if c in self.networks]
        prepared = [self._training_case(c) for c in cases]
        absent = [c for c in class_nets if not cases_of(c, prepared)]
        if absent:
            raise InputError(
                f"threecnn: no training case of class {', '.join(absent)} (mean infarct HU "
                "without hemorrhage: severe [14, 22), intermediate [22, 32), subtle [32, 44)); "
                "train variant=single or add such cases"
            )
        patches = self._patches(cases, ctx.seed)
        n = max(len(y) for _, y in patches.values())
        gen = torch.Generator().manual_seed(ctx.seed)
        tensors = []
        for name in self.networks:  # every network's set drawn up to the largest (with repeats)
            x, y = patches[name]
            extra = torch.randint(0, len(y), (n - len(y),), generator=gen)
            idx = torch.cat([torch.arange(len(y)), extra])
            tensors += [x[idx], y[idx]]
            log.info("threecnn: %s network: %d patches (%d drawn again)", name, len(y), len(extra))
        data = TensorDataset(*tensors)
        return make_loader(data, ctx, batch_size=self.config.batch_size, shuffle=True)

    def val_data(self, cases, ctx: TrainContext):
        patches = self._patches(cases, ctx.seed + 10_000, required=False) if cases else {}
        size = max(self.config.batch_size, 512)
        batches = [
            (torch.tensor(k), x[i : i + size], y[i : i + size])
            for k, name in enumerate(self.networks)
            if name in patches
            for x, y in [patches[name]]
            for i in range(0, len(y), size)
        ]
        return batches[ctx.rank :: ctx.world_size]

    # -- inference -----------------------------------------------------------------------------
    def input_roles(self) -> InputRoles:
        return InputRoles(required=(ROLE,))

    def prepare(self, volumes: Mapping[str, Volume]) -> Prepared:
        if ROLE not in volumes:
            raise InputError(f"threecnn needs a follow-up NCCT (role {ROLE})")
        return prepare_ncct(volumes[ROLE], self.config)

    def prepare_case(self, case: Any, *, cache_dir=None) -> Prepared:
        """`prepare` plus the reference masks (infarct, hemorrhage) and the case's class."""
        ct = case.load(ROLE)
        prepared = prepare_ncct(ct, self.config)
        prepared.case_id = case.case_id
        masks = {}
        for role in ("infarct", "hemorrhage"):
            if role in case.masks:
                mask = case.load(role)
                if not mask.same_geometry(ct) or mask.spatial_shape != ct.spatial_shape:
                    raise InputError(f"case {case.case_id}: {role} mask grid differs from the CT")
                masks[role] = mask
        return add_references(prepared, ct, masks.get("infarct"), masks.get("hemorrhage"))

    def inference_plan(self) -> InferencePlan:
        """One slice per call, two torch threads: a 512x512x32 scan in 21.7 s instead of 35.5 s
        with one (shipped single-CNN weights; the three-CNN weights: 37.8 s instead of 63.5 s;
        fp32, quiet 2-core machine, ``benchmarks/bench_threecnn.py``)."""
        return InferencePlan(batch_size=self.config.predict_batch_size, threads=2)

    def predictor(self, networks: Mapping[str, torch.nn.Module]):
        """``x (B, 3, H, W) -> (B, K, H, W)``: each network's foreground probability, densely."""
        pad = pad_value(self.config)
        nets = [networks[name] for name in self.networks]
        bf16 = self.config.precision == "bf16"

        def predict(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                probs = [torch.softmax(n.dense_logits(x, pad_value=pad), 1)[:, 1:2] for n in nets]
            return torch.cat(probs, 1).float()

        return predict

    def combine(self, samples: torch.Tensor, n_members: int) -> torch.Tensor:
        """Mean probability over the ensemble members, per network (no variance channels)."""
        return samples.mean(dim=0)

    def finalize(
        self, prepared: Prepared, combined: np.ndarray, calibration: ThreeCnnCalibration
    ) -> dict[str, Volume]:
        """``infarct`` (union of the class masks + hemorrhage), ``hemorrhage``, one mask per
        infarct network (``infarct_<class>``) and one probability map per network, on the input
        grid, zero outside the intracranial region minus CSF. Components of the union smaller
        than ``calibration.min_size_ml`` are removed from it and from every class mask."""
        roi = prepared.target_roi
        grid = prepared.target
        outputs: dict[str, Volume] = {}
        infarct = np.zeros(grid.spatial_shape, bool)
        hemorrhage = None
        class_masks = {}
        for k, name in enumerate(self.networks):
            prob = to_output_grid(prepared, combined[k]) * roi
            outputs[f"probability_{name}"] = output_volume(grid, prob, "probability")
            mask = prob >= getattr(calibration, f"cutoff_{name}")
            if name == "hemorrhage":
                hemorrhage = mask
                continue
            class_masks[name] = mask
            infarct |= mask
        if calibration.min_size_ml > 0:
            infarct = postprocess(infarct, threshold=0.5, min_size_ml=calibration.min_size_ml,
                                  spacing_mm=grid.spacing_mm)  # fmt: skip
        for name, mask in class_masks.items():
            outputs[f"infarct_{name}"] = output_volume(grid, mask & infarct, "mask", label=name)
        # the CNN's own mask, whichever detector is added back: its cut-off is calibrated on it
        outputs["hemorrhage_cnn"] = output_volume(grid, hemorrhage, "mask", label="hemorrhage")
        if self.config.hemorrhage_detector == "hu":
            hemorrhage = prepared.data["hemorrhage_hu"]
        outputs["hemorrhage"] = output_volume(grid, hemorrhage, "mask", label="hemorrhage")
        outputs["infarct"] = output_volume(grid, infarct | hemorrhage, "mask", label="infarct")
        return dict(sorted(outputs.items(), key=lambda kv: kv[0] != "infarct"))

    # -- calibration ---------------------------------------------------------------------------
    def calibration_grid(self) -> dict[str, Sequence[float]]:
        return {
            **{f"cutoff_{name}": CUTOFF_GRID for name in self.networks},
            "min_size_ml": MIN_SIZE_GRID_ML,
        }

    def calibration_searches(self) -> list[CalibrationSearch]:
        """The cut-off searches, by Dice (`ThreeCnnConfig.cutoff_search`).

        ``"class"`` (paper: 20 validation scans per CNN): a class CNN on the cases of its class,
        its own mask against the infarct without hemorrhage; the single CNN on every case with
        an infarct. ``"all"``: each infarct CNN by the Dice of the final infarct on every case,
        two rounds. Both: the hemorrhage CNN's own mask (``hemorrhage_cnn``, whichever detector
        is added back) on every case against the hemorrhage mask (a case without hemorrhage
        scores 1 only with an empty mask); then the smallest infarct component.
        """
        infarct_nets = [n for n in self.networks if n != "hemorrhage"]
        searches = []
        if self.config.cutoff_search == "all":
            for round_ in (1, 2):
                for name in infarct_nets:
                    searches.append(
                        CalibrationSearch({f"cutoff_{name}": CUTOFF_GRID}, output="infarct",
                                          name=f"{name} (final infarct, round {round_})")
                    )  # fmt: skip
        else:
            for name in infarct_nets:
                select = _has_infarct if name == "single" else _ClassIs(name)
                searches.append(
                    CalibrationSearch({f"cutoff_{name}": CUTOFF_GRID}, output=f"infarct_{name}",
                                      reference="infarct_nonhem", select=select, name=name)
                )  # fmt: skip
        # scored on the CNN's own mask: with the HU detector added back as `hemorrhage`, that
        # output does not depend on the cut-off and the search would keep the grid's first value
        searches.append(
            CalibrationSearch({"cutoff_hemorrhage": CUTOFF_GRID}, output="hemorrhage_cnn",
                              reference="hemorrhage_label", name="hemorrhage")
        )  # fmt: skip
        # ours: the smallest infarct component, on the final infarct against the reference
        searches.append(
            CalibrationSearch({"min_size_ml": MIN_SIZE_GRID_ML}, output="infarct",
                              name="smallest infarct component")
        )  # fmt: skip
        return searches


def _has_infarct(prepared: Prepared) -> bool:
    return bool(prepared.data["infarct_nonhem"].any())


class _ClassIs:
    """Picklable ``prepared -> lesion class == name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, prepared: Prepared) -> bool:
        return prepared.data.get("lesion_class") == self.name
