"""Training augmentations of ``fu2bl`` (torch, on HU slices of a batch).

van Voorst et al. (AJNR 2022) augment so that "the FU2BL-GAN [is] robust to differences in
contrast and noise between the BL and follow-up NCCTs". The authors' public code lists flips,
rotation +-20 degrees, zoom 0.8-1.2, noise, smoothing, brightness/contrast/gamma and simulated
beam-hardening streaks (p = 0.2); the other ranges are ours (`Fu2blConfig`). Geometric changes
apply to both scans alike; intensity changes to the follow-up only, so that the generator
cannot read the baseline's contrast or noise from its input and learns to ignore them.
All draws come from the global torch RNG (a resumed run replays them).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from strokect.methods.fu2bl.config import Fu2blConfig

__all__ = ["augment_pair"]

AIR_HU = -1024.0


def _uniform(lo: float, hi: float, n: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n)


def _geometric(fu: torch.Tensor, bl: torch.Tensor, cfg: Fu2blConfig):
    """Same random flip / rotation / zoom of both ``(B, H, W)`` HU slices (bilinear, air outside)."""
    b = fu.shape[0]
    angle = _uniform(-cfg.rotate_deg, cfg.rotate_deg, b) * (math.pi / 180.0)
    scale = 1.0 / _uniform(*cfg.zoom, b)  # sampling grid scale: zoom in = smaller grid
    flip = torch.where(torch.rand(b) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    stack = torch.stack([fu, bl], 1) - AIR_HU  # air -> 0, the padding value
    grid = F.affine_grid(theta.to(fu), list(stack.shape), align_corners=False)
    out = F.grid_sample(stack, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out + AIR_HU
    return out[:, 0], out[:, 1]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1)
    y = F.pad(x.unsqueeze(1), (r, r, 0, 0), mode="replicate")
    y = F.conv2d(y, k)
    y = F.pad(y, (0, 0, r, r), mode="replicate")
    return F.conv2d(y, k.transpose(-1, -2)).squeeze(1)


def _streaks(x: torch.Tensor) -> torch.Tensor:
    """A band of -8..8 HU along a random line through the head (beam-hardening-like)."""
    b, h, w = x.shape
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij"
    )
    phi = _uniform(0, math.pi, b).view(b, 1, 1)
    cy = _uniform(0.35 * h, 0.65 * h, b).view(b, 1, 1)
    cx = _uniform(0.35 * w, 0.65 * w, b).view(b, 1, 1)
    width = _uniform(1.5, 5.0, b).view(b, 1, 1)
    amp = _uniform(-8.0, 8.0, b).view(b, 1, 1)
    dist = (yy - cy) * torch.cos(phi) - (xx - cx) * torch.sin(phi)
    band = amp * torch.exp(-(dist**2) / (2 * width**2))
    soft = (x > -200) & (x < 300)
    return x + band * soft


def augment_pair(
    fu: torch.Tensor, bl: torch.Tensor, cfg: Fu2blConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmented copies of follow-up and baseline HU slices ``(B, H, W)``."""
    fu, bl = _geometric(fu.float(), bl.float(), cfg)
    b = fu.shape[0]
    gain = _uniform(*cfg.gain, b).view(b, 1, 1)
    offset = _uniform(*cfg.offset_hu, b).view(b, 1, 1)
    soft = (fu > -200) & (fu < 300)
    fu = torch.where(soft, 40.0 + gain * (fu - 40.0) + offset, fu)
    gamma = torch.exp(_uniform(math.log(cfg.gamma[0]), math.log(cfg.gamma[1]), b)).view(b, 1, 1)
    inside = (fu > 0) & (fu < 100)
    fu = torch.where(inside, 100.0 * (fu.clamp(0, 100) / 100.0) ** gamma, fu)
    smooth = torch.rand(b) < cfg.smooth_p
    if smooth.any():
        fu[smooth] = _blur(fu[smooth], float(_uniform(0.5, 1.0, 1)))
    streak = torch.rand(b) < cfg.streak_p
    if streak.any():
        fu[streak] = _streaks(fu[streak])
    sd = _uniform(*cfg.noise_sd_hu, b).view(b, 1, 1)
    fu = fu + sd * torch.randn_like(fu) * (fu > -500)
    return fu, bl
