"""Networks of ``pseudodwi``: feature extractor, generator, SLNet and the context encoder.

Wang, Song et al., "Automatic ischemic stroke lesion segmentation from computed tomography
perfusion images by image synthesis and attention-based deep neural networks", Medical Image
Analysis 2020. Phi_e (high-level feature F_h from the C_e = 6 CTA frames, Eq. 4) and Phi_g
(pseudo DWI from F_o, F_l and F_h, Eq. 5) are UNets (`feature_unet`); Phi_s is SLNet (Sec. 3.3,
Fig. 5); Phi_c is the image context encoder of the contextual loss (Eq. 8, Fig. 4). All are 2D
networks applied slice by slice; H and W must be multiples of `PAD_MULTIPLE`.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import ChannelSELayer
from monai.networks.nets import BasicUNet
from torch import nn

from strokect.methods.pseudodwi.switchnorm import SwitchNorm2d

__all__ = [
    "NORMS",
    "PAD_MULTIPLE",
    "ContextDecoder",
    "ContextEncoder",
    "SLNet",
    "feature_unet",
    "xavier_init",
]

#: Input H and W of every network here must be multiples of this (four 2x down-samplings).
PAD_MULTIPLE = 16

#: Normalization layers SLNet can use (``"switch"`` is the paper's; the others are ablations).
NORMS = ("switch", "batch", "instance")

_INIT_TYPES = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)


def xavier_init(module: nn.Module) -> nn.Module:
    """Xavier (Glorot) uniform weights and zero biases for every Conv, ConvTranspose and Linear.

    "The weights of all networks were initialized by Xavier method" (Wang, Song et al. 2020,
    Sec. 4.1; Glorot and Bengio 2010): ``U(-b, b)`` with ``b = sqrt(6 / (fan_in + fan_out))``.
    Normalization layers keep their own initialization. Modifies ``module`` in place and
    returns it.
    """
    for m in module.modules():
        if isinstance(m, _INIT_TYPES):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def feature_unet(
    in_channels: int, out_channels: int, base_filters: int, upsample: str = "deconv"
) -> nn.Module:
    """UNet backbone of Phi_e and Phi_g: MONAI ``BasicUNet`` (2D, four down-samplings).

    Features ``(f, f, 2f, 4f, 8f, f)`` with ``f = base_filters``, no dropout, MONAI's default
    normalization (affine instance norm) and LeakyReLU; linear output (no final activation).
    Phi_e maps the C_e = 6 cropped CTA frames to 1 channel F_h; Phi_g maps the concatenated
    maps and features (6 channels in the paper) to 1 channel pseudo DWI. ``upsample``:
    ``"deconv"`` (transposed convolutions, the paper's UNet) or ``"nontrainable"`` (bilinear).
    """
    f = int(base_filters)
    return BasicUNet(
        spatial_dims=2,
        in_channels=in_channels,
        out_channels=out_channels,
        features=(f, f, 2 * f, 4 * f, 8 * f, f),
        dropout=0.0,
        upsample=upsample,
    )


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "switch":
        return SwitchNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"norm must be one of {NORMS}; got {kind!r}")


def _double_conv(cin: int, cout: int, norm: str) -> nn.Sequential:
    # The conv bias is dropped: every norm here subtracts a mean and has its own affine bias.
    layers: list[nn.Module] = []
    for c in (cin, cout):
        layers += [nn.Conv2d(c, cout, 3, padding=1, bias=False), _norm(norm, cout), nn.ReLU()]
    return nn.Sequential(*layers)


class SLNet(nn.Module):
    """SLNet, the lesion segmentation network Phi_s (Wang, Song et al. 2020, Sec. 3.3, Fig. 5).

    A 2D UNet (Ronneberger et al. 2015) with ``n_levels`` resolution levels. Encoder level l
    (0-based) is [conv 3x3 -> norm -> ReLU] x 2 with ``base_filters * 2**l`` maps, followed,
    when ``se``, by a squeeze-and-excitation block (MONAI ``ChannelSELayer``, reduction
    ``se_reduction``); levels are joined by 2x2 max pooling. "An SE block after each
    convolution block in the encoding path" is read as one SE block per encoder block including
    the bottleneck, i.e. ``n_levels`` SE blocks. The decoder upsamples with 2x2 stride-2
    transposed convolutions (halving the maps), concatenates the skip connection and applies
    the same double convolution (no SE); a final 1x1 convolution gives ``out_channels`` logits
    (apply softmax for P, Eq. 10). H and W must be multiples of ``2**(n_levels - 1)``
    (`PAD_MULTIPLE` for the default 5 levels).

    ``norm`` selects switchable normalization (``"switch"``, the paper's), batch norm
    (``"batch"``, the "w/o SN" ablation) or affine instance norm (``"instance"``); ``se=False`` is
    the "w/o SE" ablation. Convolutions before a norm have no bias.

    Parameter counts (in_channels=1, out_channels=2, 5 levels): base 64 -> 31.04 M without SE
    (the paper's UNet: 31.04 M, Table 3), 32.44 M with SE at reduction 2, 33.83 M at reduction 1;
    base 8 -> 0.49 M without SE, 0.51 M with SE at reduction 2. The paper's SLNet (33.84 M) is
    2.80 M above its UNet: what SE at reduction 1 on the five encoder blocks adds (2.797 M; with
    Table 3's 4-channel F_o input this gives 33.84 M), so the paper probably used
    ``se_reduction=1`` (two SE blocks per encoder block at reduction 2 would add 2.799 M; the
    paper does not say). SwitchNorm adds 6 logits per norm layer, 108 in
    all for 5 levels (the paper's "w/o SN" count is the same to two decimals).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 2,
        base_filters: int = 16,
        n_levels: int = 5,
        norm: str = "switch",
        se: bool = True,
        se_reduction: int = 2,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2; got {n_levels}")
        widths = [int(base_filters) * 2**level for level in range(n_levels)]
        self.n_levels = int(n_levels)
        self.encoder = nn.ModuleList()
        cin = in_channels
        for c in widths:
            block = _double_conv(cin, c, norm)
            if se:
                block.append(ChannelSELayer(spatial_dims=2, in_channels=c, r=se_reduction))
            self.encoder.append(block)
            cin = c
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for c in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            self.decoder.append(_double_conv(2 * c, c, norm))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.encoder):
            if level:
                x = self.pool(x)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, block in zip(self.up, self.decoder):
            x = block(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


class ContextEncoder(nn.Module):
    """Image context encoder Phi_c of the contextual loss (Wang, Song et al. 2020, Eq. 8, Fig. 4).

    Five 3x3 convolutions with stride 2 (padding 1), LeakyReLU(0.2) between them, and two
    adaptive average pools: to 32x32 after the second convolution (so the rest does not depend
    on the input size) and to 1x1 after the last, giving a vector of ``out_features`` (16 in the
    paper). Channels: ``width, 2*width, 4*width, 8*width, out_features``; the output is linear.
    Input ``(B, in_channels, H, W)`` with H, W >= 32 (any size) -> ``(B, out_features)``.

    The paper's figure does not give the widths; ``width`` is this implementation's choice.
    """

    def __init__(self, in_channels: int = 1, width: int = 8, out_features: int = 16) -> None:
        super().__init__()
        w = int(width)
        chans = [in_channels, w, 2 * w, 4 * w, 8 * w, out_features]
        layers: list[nn.Module] = []
        for i in range(5):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1))
            if i < 4:
                layers.append(nn.LeakyReLU(0.2))
            if i == 1:
                layers.append(nn.AdaptiveAvgPool2d(32))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
        self.net = nn.Sequential(*layers)
        self.out_features = int(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ContextDecoder(nn.Module):
    """MLP decoder used only to pre-train `ContextEncoder` as a DWI autoencoder.

    ``in_features -> hidden -> size * size`` (ReLU between), reshaped to ``(B, 1, size, size)``.
    The autoencoder target is ``F.adaptive_avg_pool2d(dwi, size)``; once pre-trained the
    encoder is frozen, so the contextual loss term (Eq. 8) cannot collapse to zero by the
    encoder mapping every image to the same vector.
    """

    def __init__(self, in_features: int = 16, size: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.size = int(size)
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, self.size**2)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, self.size, self.size)
