"""Asymmetric residual encoder-decoder (the ``clerigues`` network).

Clèrigues A, Valverde S, Bernal J, Freixenet J, Oliver A, Lladó X. "Acute ischemic stroke lesion core
segmentation in CT perfusion images using fully convolutional neural networks." Computers in Biology
and Medicine 115 (2019) 103487, section 3.2 and Fig. 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from strokect.nn.blocks import conv_block
from strokect.nn.mc_dropout import MCDropout

__all__ = ["AsymmetricResUNet", "PaperResUNet", "parameter_split"]


class _ResBlock(nn.Module):
    """``n_convs`` conv-norm-PReLU layers with a short residual connection (1x1 conv if needed)."""

    def __init__(self, spatial_dims: int, in_ch: int, out_ch: int, n_convs: int) -> None:
        super().__init__()
        layers = []
        for i in range(n_convs):
            layers.append(conv_block(spatial_dims, in_ch if i == 0 else out_ch, out_ch))
        self.convs = nn.Sequential(*layers)
        self.shortcut: nn.Module = (
            nn.Identity()
            if in_ch == out_ch
            else conv_block(spatial_dims, in_ch, out_ch, kernel_size=1, conv_only=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x) + self.shortcut(x)


class AsymmetricResUNet(nn.Module):
    """2D (or 3D) asymmetric residual encoder-decoder of Clèrigues et al., CBM 2019 (Fig. 2).

    ``n_levels`` resolution levels with ``base_filters`` doubled per level (5 levels, 8 filters:
    a 64x64 patch gives a 128-map latent space of 4x4). Encoder residual blocks have two
    convolutions, decoder blocks one (the asymmetry). Short residual connections inside every
    block; long residual connections add each encoder level to the upsampled decoder features
    (summation, not concatenation). Down-sampling: 2x2 convolutions with stride 2; up-sampling:
    2x2 transposed convolutions with stride 2. :class:`~strokect.nn.mc_dropout.MCDropout` layers
    (rate ``dropout``) follow the blocks of the ``n_dropout_levels`` deepest levels, encoder and
    decoder; they can stay active at prediction for Monte-Carlo uncertainty filtering.

    ``forward(x) == forward_suffix(forward_prefix(x))``: the prefix (stem and encoder levels up to
    the block before the first MC-dropout layer) draws no random numbers, so Monte-Carlo passes
    can compute it once and run only the suffix per pass, with bit-identical samples.

    Parameters
    ----------
    in_channels : int
        Input channels (10 for CT + 4 maps + their symmetric copies).
    out_channels : int
        Classes; the network returns logits of shape ``(B, out_channels, H, W)``.
    spatial_dims : int
        2 (the paper) or 3.
    base_filters, n_levels, dropout, n_dropout_levels
        Architecture options (paper: 8, 5, 0.1, 2); ``dropout`` is the Monte-Carlo rate.
    train_dropout
        Rate of the same layers in training (None: ``dropout``; the authors' code: 0.2).

    Input spatial sizes must be divisible by ``2 ** (n_levels - 1)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 2,
        *,
        spatial_dims: int = 2,
        base_filters: int = 8,
        n_levels: int = 5,
        dropout: float = 0.1,
        n_dropout_levels: int = 2,
        train_dropout: float | None = None,
    ) -> None:
        super().__init__()
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2; got {n_levels}")
        filters = [base_filters * 2**i for i in range(n_levels)]
        self.n_levels = n_levels
        self.stem = conv_block(spatial_dims, in_channels, filters[0], conv_only=True)

        def _drop(level: int) -> nn.Module:
            deep = level >= n_levels - n_dropout_levels
            rates = (dropout, dropout if train_dropout is None else train_dropout)
            if not deep or max(rates) <= 0:
                return nn.Identity()
            return MCDropout(rates[0], train_p=rates[1])

        self.encoders = nn.ModuleList([_ResBlock(spatial_dims, f, f, n_convs=2) for f in filters])
        self.enc_drop = nn.ModuleList([_drop(i) for i in range(n_levels)])
        self.downs = nn.ModuleList(
            [_down(spatial_dims, filters[i], filters[i + 1]) for i in range(n_levels - 1)]
        )
        self.ups = nn.ModuleList(
            [_up(spatial_dims, filters[i + 1], filters[i]) for i in range(n_levels - 1)]
        )
        self.decoders = nn.ModuleList(
            [
                _ResBlock(spatial_dims, filters[i], filters[i], n_convs=1)
                for i in range(n_levels - 1)
            ]
        )
        self.dec_drop = nn.ModuleList([_drop(i) for i in range(n_levels - 1)])
        self.head = conv_block(
            spatial_dims, filters[0], out_channels, kernel_size=1, conv_only=True
        )
        self.divisor = 2 ** (n_levels - 1)
        drops = [i for i, d in enumerate(self.enc_drop) if isinstance(d, MCDropout)]
        self.split_level = drops[0] if drops else n_levels - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, *spatial)`` for input ``(B, in_channels, *spatial)``."""
        return self.forward_suffix(self.forward_prefix(x))

    def forward_prefix(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Deterministic part: stem, encoder levels, and the block of ``split_level`` (before
        its MC dropout). Returns the features and the long-connection skips so far."""
        _check_divisible(x.shape[2:], self.divisor)
        h = self.stem(x)
        skips: list[torch.Tensor] = []
        for level in range(self.split_level):
            h = self.enc_drop[level](self.encoders[level](h))
            skips.append(h)
            h = self.downs[level](h)
        return self.encoders[self.split_level](h), skips

    def forward_suffix(self, state: tuple[torch.Tensor, list[torch.Tensor]]) -> torch.Tensor:
        """The rest of `forward` from the output of `forward_prefix` (every MC-dropout layer)."""
        h, skips = state[0], list(state[1])
        for level in range(self.split_level, self.n_levels):
            if level > self.split_level:
                h = self.encoders[level](h)
            h = self.enc_drop[level](h)
            if level < self.n_levels - 1:
                skips.append(h)
                h = self.downs[level](h)
        for level in reversed(range(self.n_levels - 1)):
            h = self.ups[level](h) + skips[level]  # long residual connection
            h = self.dec_drop[level](self.decoders[level](h))
        return self.head(h)


def _down(spatial_dims: int, in_ch: int, out_ch: int) -> nn.Module:
    return conv_block(spatial_dims, in_ch, out_ch, kernel_size=2, stride=2, padding=0)


def _up(spatial_dims: int, in_ch: int, out_ch: int) -> nn.Module:
    return conv_block(
        spatial_dims, in_ch, out_ch, kernel_size=2, stride=2, padding=0, transposed=True
    )


def _check_divisible(shape: Sequence[int], divisor: int) -> None:
    if any(int(s) % divisor for s in shape):
        raise ValueError(
            f"input spatial shape {tuple(int(s) for s in shape)} must be divisible by {divisor}"
        )


def _bn_prelu(spatial_dims: int, channels: int) -> list[nn.Module]:
    """Batch norm (momentum 0.01, eps 1e-3) and a per-channel PReLU initialised at 0."""
    norm = (nn.BatchNorm2d if spatial_dims == 2 else nn.BatchNorm3d)(
        channels, eps=1e-3, momentum=0.01
    )
    return [norm, nn.PReLU(channels, init=0.0)]


def _conv(spatial_dims: int, in_ch: int, out_ch: int, *, stride: int = 1) -> nn.Module:
    return (nn.Conv2d if spatial_dims == 2 else nn.Conv3d)(in_ch, out_ch, 3, stride, 1)


class _PreActBlock(nn.Module):
    """``n_convs`` x (BN -> PReLU -> 3x3 conv) plus identity; ``inner_dropout`` (training-time
    spatial dropout) between the first and second convolution."""

    def __init__(self, spatial_dims: int, ch: int, n_convs: int, inner_dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_convs):
            if i == 1 and inner_dropout > 0:
                layers.append((nn.Dropout2d if spatial_dims == 2 else nn.Dropout3d)(inner_dropout))
            layers += [*_bn_prelu(spatial_dims, ch), _conv(spatial_dims, ch, ch)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class _ConcatDown(nn.Module):
    """[BN -> PReLU -> 3x3 conv stride 2 (same channels)] concatenated with a 2x2 max-pool of the
    input: the channels double."""

    def __init__(self, spatial_dims: int, ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            *_bn_prelu(spatial_dims, ch), _conv(spatial_dims, ch, ch, stride=2)
        )
        self.pool = (nn.MaxPool2d if spatial_dims == 2 else nn.MaxPool3d)(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


class PaperResUNet(AsymmetricResUNet):
    """The `AsymmetricResUNet` with the blocks of the authors' public code (settings read from it,
    ``../shared/specs/METHODS.md``; code written here): 3x3 input and output convolutions;
    pre-activation residual blocks (BN -> PReLU -> 3x3 conv), two convolutions per encoder block
    with training-time spatial dropout (``train_dropout``) between them in the three deepest
    levels, one per decoder block; down-sampling = [BN -> PReLU -> 3x3 conv stride 2] concatenated
    with a 2x2 max-pool (channels double); up-sampling = 3x3 transposed convolution, stride 2;
    long skips added. Monte-Carlo dropout (``dropout``, active only at prediction) sits at the
    entry of the encoder blocks of the three deepest levels and of the decoder blocks of the two
    levels above the bottom. With 8 base filters and 5 levels, 75.0 % of the parameters are in the
    encoder (stem, encoder blocks, down-sampling) and 25.0 % in the decoder, as the paper states.

    ``forward == forward_suffix(forward_prefix(x))`` with the prefix free of random draws, as in
    the parent class.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 2,
        *,
        spatial_dims: int = 2,
        base_filters: int = 8,
        n_levels: int = 5,
        dropout: float = 0.1,
        n_dropout_levels: int = 3,
        train_dropout: float | None = 0.2,
    ) -> None:
        nn.Module.__init__(self)
        if n_levels < 3:
            raise ValueError(f"n_levels must be >= 3; got {n_levels}")
        filters = [base_filters * 2**i for i in range(n_levels)]
        self.n_levels = n_levels
        deep = set(range(max(n_levels - n_dropout_levels, 0), n_levels))
        inner = 0.0 if train_dropout is None else float(train_dropout)
        self.stem = _conv(spatial_dims, in_channels, filters[0])
        self.encoders = nn.ModuleList(
            [
                _PreActBlock(spatial_dims, f, 2, inner if i in deep else 0.0)
                for i, f in enumerate(filters)
            ]
        )

        def _mc(active: bool) -> nn.Module:
            return MCDropout(dropout, train_p=0.0) if active and dropout > 0 else nn.Identity()

        self.enc_drop = nn.ModuleList([_mc(i in deep) for i in range(n_levels)])
        self.downs = nn.ModuleList([_ConcatDown(spatial_dims, f) for f in filters[:-1]])
        up_cls = nn.ConvTranspose2d if spatial_dims == 2 else nn.ConvTranspose3d
        self.ups = nn.ModuleList(
            [up_cls(2 * f, f, 3, stride=2, padding=1, output_padding=1) for f in filters[:-1]]
        )
        self.decoders = nn.ModuleList([_PreActBlock(spatial_dims, f, 1, 0.0) for f in filters[:-1]])
        # decoder levels n-3 and n-2 (the two above the bottom) get MC dropout at their entry
        dec_deep = {n_levels - 2, n_levels - 3}
        self.dec_drop = nn.ModuleList([_mc(i in dec_deep) for i in range(n_levels - 1)])
        self.head = _conv(spatial_dims, filters[0], out_channels)
        self.divisor = 2 ** (n_levels - 1)
        drops = [i for i, d in enumerate(self.enc_drop) if isinstance(d, MCDropout)]
        self.split_level = drops[0] if drops else n_levels - 1

    def forward_prefix(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Stem and the encoder levels before the first MC-dropout layer (no random draws)."""
        _check_divisible(x.shape[2:], self.divisor)
        h = self.stem(x)
        skips: list[torch.Tensor] = []
        for level in range(self.split_level):
            h = self.encoders[level](self.enc_drop[level](h))
            skips.append(h)
            h = self.downs[level](h)
        return h, skips

    def forward_suffix(self, state: tuple[torch.Tensor, list[torch.Tensor]]) -> torch.Tensor:
        h, skips = state[0], list(state[1])
        for level in range(self.split_level, self.n_levels):
            h = self.encoders[level](self.enc_drop[level](h))
            if level < self.n_levels - 1:
                skips.append(h)
                h = self.downs[level](h)
        for level in reversed(range(self.n_levels - 1)):
            h = self.ups[level](h) + skips[level]  # long residual connection (sum)
            h = self.decoders[level](self.dec_drop[level](h))
        return self.head(h)


def parameter_split(net: nn.Module) -> tuple[int, int]:
    """(encoder, decoder) parameter counts of an `AsymmetricResUNet` (stem, encoder blocks and
    down-sampling count as encoder; up-sampling, decoder blocks and head as decoder)."""
    enc = sum(p.numel() for m in (net.stem, net.encoders, net.downs) for p in m.parameters())
    dec = sum(p.numel() for m in (net.ups, net.decoders, net.head) for p in m.parameters())
    return enc, dec
