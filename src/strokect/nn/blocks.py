"""Convolution -> batch norm -> PReLU blocks of the strokect networks, without importing MONAI.

`conv_block` builds the same layers, with the same parameter names (``conv``, ``adn.N``,
``adn.A``), as ``monai.networks.blocks.Convolution`` with ``norm="BATCH"``, ``act="PRELU"`` (or
``conv_only=True``), so checkpoints made with either load into the other. It exists because
importing MONAI costs about 1.2 s of start-up (its package import loads every sub-package,
matplotlib included), measured in ``benchmarks/RESULTS.md``, and ``strokect segment`` needs
nothing else from MONAI.
"""

from __future__ import annotations

from torch import nn

__all__ = ["conv_block"]

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


def conv_block(
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    *,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int | None = None,
    transposed: bool = False,
    conv_only: bool = False,
) -> nn.Sequential:
    """``conv`` (bias on) followed, unless ``conv_only``, by ``adn`` = batch norm ``N`` + PReLU ``A``.

    Parameters
    ----------
    spatial_dims : {2, 3}
    in_channels, out_channels : int
    kernel_size, stride : int
    padding : int, optional
        Default ``(kernel_size - 1) // 2`` ("same" for odd kernels and stride 1).
    transposed : bool
        Transposed convolution (up-sampling).
    conv_only : bool
        The convolution alone (no norm, no activation).
    """
    if spatial_dims not in _CONV:
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
    pad = (kernel_size - 1) // 2 if padding is None else padding
    conv_cls = (_CONV_T if transposed else _CONV)[spatial_dims]
    block = nn.Sequential()
    block.add_module("conv", conv_cls(in_channels, out_channels, kernel_size, stride, pad))
    if not conv_only:
        adn = nn.Sequential()
        adn.add_module("N", _NORM[spatial_dims](out_channels))
        adn.add_module("A", nn.PReLU())
        block.add_module("adn", adn)
    return block
