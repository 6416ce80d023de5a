"""Shared network building blocks (residual encoder-decoders, MC dropout...)."""

from strokect.nn.mc_dropout import MCDropout, disable_mc_dropout, enable_mc_dropout
from strokect.nn.resunet import AsymmetricResUNet

__all__ = ["AsymmetricResUNet", "MCDropout", "disable_mc_dropout", "enable_mc_dropout"]
