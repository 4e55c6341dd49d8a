"""Convolutions over videos (B, C, T, H, W) that never look at a later frame.

A causal 3D convolution here is factorised, (2+1)D: a 3x3 convolution inside each frame, then a convolution
over time of kernel 3 fed by the current and the two earlier frames, the video padded at the front alone with
copies of its first frame (CV-VAE, LTX-Video and Cosmos pad the same way). Factorised because a full 3x3x3
kernel costs 27 C^2 multiply-adds a voxel against 12 C^2, and this VAE trains on a 2-core CPU; the receptive
field in time is the same. Normalisation is per frame (GroupNorm over each frame's channels and pixels), since
statistics pooled over time would let the last frame change the first frame's code.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

TIME_KERNEL = 3  # frames a temporal convolution reads: the current one and the two before it
GROUPS = 8  # GroupNorm groups (fewer where a width has fewer channels)


class FrameConv(nn.Module):
    """3x3 convolution inside every frame: (B, Ci, T, H, W) -> (B, Co, T, H/s, W/s)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        y = self.conv(rearrange(x, "b c t h w -> (b t) c h w"))  # (B*T, Co, H', W')
        return rearrange(y, "(b t) c h w -> b c t h w", t=t)


class TimeConv(nn.Module):
    """Causal convolution over time at every pixel: (B, C, T, H, W) -> (B, C, T', H, W). Stride 1 keeps T; stride 2
    takes T = 1 + 2n frames to 1 + n, the first output reading the first frame alone (and its padded copies),
    output j >= 1 frames 2j-2 .. 2j."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(channels, channels, TIME_KERNEL, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x.shape
        if self.stride > 1 and (t - 1) % self.stride:
            raise ValueError(f"a causal time step of {self.stride} takes 1 + {self.stride}n frames, got {t}")
        x = torch.cat([x[:, :, :1].expand(-1, -1, TIME_KERNEL - 1, -1, -1), x], dim=2)  # (B, C, T+2, H, W) front only
        y = self.conv(rearrange(x, "b c t h w -> (b h w) c t"))  # (B*H*W, C, T')
        return rearrange(y, "(b h w) c t -> b c t h w", b=b, h=h, w=w)


class VideoConv(nn.Module):
    """A frame convolution, then (causal VAE) a causal time convolution: (B, Ci, T, H, W) -> (B, Co, T', H/s, W/s)."""

    def __init__(self, cin: int, cout: int, causal: bool, space_stride: int = 1, time_stride: int = 1):
        super().__init__()
        if time_stride > 1 and not causal:
            raise ValueError("only a causal VAE's convolutions step through time")
        self.space = FrameConv(cin, cout, space_stride)
        self.time = TimeConv(cout, time_stride) if causal else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.space(x)
        return x if self.time is None else self.time(x)


class FrameNorm(nn.Module):
    """GroupNorm of each frame apart: (B, C, T, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.GroupNorm(min(GROUPS, channels), channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        return rearrange(self.norm(rearrange(x, "b c t h w -> (b t) c h w")), "(b t) c h w -> b c t h w", t=t)


class ResBlock(nn.Module):
    """norm, SiLU, conv, norm, SiLU, conv, plus the input (1x1-projected where the width changes)."""

    def __init__(self, cin: int, cout: int, causal: bool):
        super().__init__()
        self.norm1, self.conv1 = FrameNorm(cin), VideoConv(cin, cout, causal)
        self.norm2, self.conv2 = FrameNorm(cout), VideoConv(cout, cout, causal)
        self.skip = FrameConv(cin, cout, kernel=1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Halve H and W (and, `time`, take 1 + 2n frames to 1 + n): (B, Ci, T, H, W) -> (B, Co, T', H/2, W/2)."""

    def __init__(self, cin: int, cout: int, causal: bool, time: bool):
        super().__init__()
        self.conv = VideoConv(cin, cout, causal, space_stride=2, time_stride=2 if time else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double H and W (and, `time`, take 1 + n frames to 1 + 2n: the first stays alone, each later one is repeated,
    so no output frame reads a later latent frame), then a convolution: (B, Ci, T, H, W) -> (B, Co, T', 2H, 2W)."""

    def __init__(self, cin: int, cout: int, causal: bool, time: bool):
        super().__init__()
        self.time = time
        self.conv = VideoConv(cin, cout, causal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time:
            x = torch.cat([x[:, :, :1], x[:, :, 1:].repeat_interleave(2, dim=2)], dim=2)  # (B, C, 1 + 2n, H, W)
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")  # (B, C, T, 2H, 2W)
        return self.conv(x)
