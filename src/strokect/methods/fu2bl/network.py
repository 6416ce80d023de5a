"""Networks of ``fu2bl``: the difference-map generator and the PatchGAN discriminator.

van Voorst et al., AJNR 2022: the generator maps a follow-up slice (2 HU-window channels) to a
difference map D (tanh); the generated baseline is the follow-up's 0-100 HU channel minus D. The
architecture (ResNet-style encoder / residual blocks / decoder, 64 base filters, 6 residual
blocks, instance norm, dropout; PatchGAN discriminator with 3 strided layers) is read from the
authors' public code; the layers are MONAI's `Convolution` blocks and `PatchDiscriminator`.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from monai.networks.nets import PatchDiscriminator, UNet
from torch import nn

__all__ = ["ResnetGenerator", "build_discriminator", "build_generator"]


def _conv(cin: int, cout: int, k: int, stride: int = 1, **kw) -> Convolution:
    return Convolution(
        2, cin, cout, strides=stride, kernel_size=k, norm="INSTANCE", act="RELU", **kw
    )


class _Residual(nn.Module):
    """conv 3x3 -> IN -> ReLU -> dropout -> conv 3x3 -> IN, plus identity (reflection padding)."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            _conv(channels, channels, 3, padding=0, dropout=dropout or None),
            nn.ReflectionPad2d(1),
            Convolution(2, channels, channels, kernel_size=3, padding=0, norm="INSTANCE", act=None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Follow-up slice ``(B, in_channels, H, W)`` -> difference map ``(B, 1, H, W)`` in [-1, 1].

    7x7 convolution to ``filters`` maps, two stride-2 convolutions (x2 channels each),
    ``n_residual`` residual blocks at 1/4 resolution, two stride-2 transposed convolutions, 7x7
    convolution to one map, tanh. H and W must be multiples of 4.
    """

    def __init__(
        self, in_channels: int = 2, filters: int = 64, n_residual: int = 6, dropout: float = 0.5
    ) -> None:
        super().__init__()
        f = filters
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), _conv(in_channels, f, 7, padding=0)]
        layers += [_conv(f, 2 * f, 3, 2), _conv(2 * f, 4 * f, 3, 2)]
        layers += [_Residual(4 * f, dropout) for _ in range(n_residual)]
        for cin, cout in ((4 * f, 2 * f), (2 * f, f)):
            layers.append(_conv(cin, cout, 3, 2, is_transposed=True, padding=1, output_padding=1))
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, 1, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _TanhUNet(nn.Module):
    def __init__(self, in_channels: int, filters: int, dropout: float) -> None:
        super().__init__()
        f = filters
        self.unet = UNet(
            spatial_dims=2,
            in_channels=in_channels,
            out_channels=1,
            channels=(f, 2 * f, 4 * f, 8 * f),
            strides=(2, 2, 2),
            num_res_units=1,
            norm="INSTANCE",
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.unet(x))


def build_generator(cfg) -> nn.Module:
    """The generator of ``cfg.generator`` (``"resnet"`` or ``"unet"``)."""
    if cfg.generator == "unet":
        return _TanhUNet(2, cfg.gen_filters, cfg.gen_dropout)
    return ResnetGenerator(2, cfg.gen_filters, cfg.n_residual, cfg.gen_dropout)


def build_discriminator(cfg) -> nn.Module:
    """PatchGAN on one baseline slice (real or generated): logits per patch."""
    return PatchDiscriminator(
        spatial_dims=2,
        channels=cfg.disc_filters,
        in_channels=1,
        out_channels=1,
        num_layers_d=cfg.disc_layers,
        norm="INSTANCE",
    )
