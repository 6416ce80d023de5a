"""The patch classifier of ``threecnn`` and its exact dense (whole-slice) evaluation.

Barros et al., JNIS 2020, "CNN-based infarct segmentation": a 19x19x3 patch (three adjacent
5 mm slices as channels) -> conv 5x5 (64) -> max-pool 2x2 stride 2 -> conv 5x5 (128) -> max-pool
2x2 stride 2 -> dense 256 -> dense 256 -> 2 classes, the probability that the centre voxel is
foreground. Convolutions are valid (unpadded); the paper does not name the activation: ReLU.

Dense evaluation (what makes the method usable on a CPU): with valid convolutions the class of a
voxel depends only on its patch, so the classifier can be run over a whole slice at once. The
stride-2 pools are replaced by stride-1 pools and every later layer is dilated by the product of
the strides before it (2 after the first pool, 4 after the second; the dense layers become 1x1
convolutions on the dilated grid). Output ``(y, x)`` of the dense network is then exactly the
patch network applied to the patch whose top-left corner is ``(y, x)``; `dense_logits` pads the
slice so that output ``(y, x)`` is the patch *centred* on ``(y, x)``.

The pools floor their input (15 -> 7 -> 1 after the second convolution's 3x3 output), so the
patch network reads rows and columns 0-15 of its 19x19 patch and never the last three: the
dense network has a 16x16 receptive field, placed as the patch network's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["PATCH_SIZE", "PatchCNN"]

#: In-plane side of the patch (paper: 19).
PATCH_SIZE = 19
#: Rows/columns of the patch the network reads (0..15, see the module docstring).
RECEPTIVE_FIELD = 16
#: Index of the centre voxel inside the patch.
CENTRE = PATCH_SIZE // 2


class PatchCNN(nn.Module):
    """The paper's two-convolution, two-dense-layer patch classifier (2 output logits).

    ``forward`` classifies patches ``(B, in_channels, 19, 19)`` -> logits ``(B, 2)``;
    `dense_logits` evaluates the same weights on whole slices ``(B, in_channels, H, W)`` ->
    ``(B, 2, H, W)``, output ``(y, x)`` being the logits of the patch centred on ``(y, x)`` (the
    slice is padded with ``pad_value``).
    """

    def __init__(self, in_channels: int = 3, *, filters=(64, 128), dense=(256, 256)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, filters[0], 5)
        self.conv2 = nn.Conv2d(filters[0], filters[1], 5)
        self.fc1 = nn.Linear(filters[1], dense[0])
        self.fc2 = nn.Linear(dense[0], dense[1])
        self.out = nn.Linear(dense[1], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (PATCH_SIZE, PATCH_SIZE):
            raise ValueError(f"patches must be {PATCH_SIZE}x{PATCH_SIZE}; got {tuple(x.shape)}")
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 15 -> 7
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 3 -> 1
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.out(x)

    def dense_logits(self, x: torch.Tensor, *, pad_value: float = 0.0) -> torch.Tensor:
        """Logits ``(B, 2, H, W)`` of every pixel's patch of the slices ``x`` ``(B, C, H, W)``.

        Exactly `forward` of each pixel's 19x19 patch (padded with ``pad_value`` where it leaves
        the slice), up to float rounding.
        """
        lo = CENTRE  # the patch starts CENTRE pixels before its centre ...
        hi = RECEPTIVE_FIELD - 1 - CENTRE  # ... and the network reads this many after it
        x = F.pad(x, (lo, hi, lo, hi), value=pad_value)
        # channels-last: 1.6x faster over a whole slice on the 2-core CPU (benchmarks/RESULTS.md)
        x = F.relu(self.conv1(x.contiguous(memory_format=torch.channels_last)))
        x = F.max_pool2d(x, 2, stride=1)
        x = F.relu(F.conv2d(x, self.conv2.weight, self.conv2.bias, dilation=2))
        x = F.max_pool2d(x, 2, stride=1, dilation=2)
        x = F.relu(_pointwise(x, self.fc1))
        x = F.relu(_pointwise(x, self.fc2))
        return _pointwise(x, self.out).contiguous()


def _pointwise(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """A dense layer applied at every pixel (a 1x1 convolution with its weights)."""
    return F.conv2d(x, layer.weight[:, :, None, None], layer.bias)
