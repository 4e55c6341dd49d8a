"""`conv3d`: a U-Net of factorised 3D convolutions (the "Tiny Diffusion" post's backbone): every
convolution is a 1x3x3 spatial kernel followed by a 3x1x1 temporal one, so a 3x3x3 receptive
field costs 9+3 taps instead of 27 and time is mixed only locally, one frame either side.

Conditioning: the timestep + pooled prompt vector c scales and shifts every residual block
(FiLM), and the prompt tokens are read by cross-attention in the two coarser levels, where
a few positions carry the layout of the whole frame.

Levels: channels (dim/8, dim/2, dim) at (T, H, W), (T/2, H/2, W/2), (T/4, H/4, W/4);
max(1, depth // 3) residual blocks per level and direction. `patch` and `rope` are unused.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .attention_calls import AttentionCall
from .base import VideoDenoiser
from .config import ModelConfig
from .layers import Attention, zero_init

LEVELS = 3  # resolutions; each halves T, H and W


def level_channels(cfg: ModelConfig) -> list[int]:
    """Feature channels per level: full resolution is 16x the positions of the next level, so keep it thin."""
    return [cfg.dim // 8, cfg.dim // 2, cfg.dim]


def blocks_per_level(cfg: ModelConfig) -> int:
    """Residual blocks per level and direction."""
    return max(1, cfg.depth // 3)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels, eps=1e-6)


class FactorisedConv(nn.Module):
    """1x3x3 spatial convolution, norm and SiLU, then a 3x1x1 temporal convolution: (B, Cin, T, H, W) -> (B, Cout, T, H, W)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.spatial = nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))
        self.norm = _norm(cout)
        self.temporal = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x):
        return self.temporal(F.silu(self.norm(self.spatial(x))))


class ResBlock(nn.Module):
    """norm, SiLU, factorised conv, FiLM from c, SiLU, factorised conv (zero-initialised), + skip."""

    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.norm1 = _norm(cin)
        self.conv1 = FactorisedConv(cin, cout)
        self.film = nn.Linear(cond_dim, 2 * cout)
        self.norm2 = _norm(cout)
        self.conv2 = FactorisedConv(cout, cout)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()
        zero_init(self.conv2.temporal)  # the residual branch starts at zero: the block starts as the identity

    def forward(self, x, c):
        h = self.conv1(F.silu(self.norm1(x)))  # (B, Cout, T, H, W)
        scale, shift = rearrange(self.film(c), "b (two ch) -> two b ch 1 1 1", two=2)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class PromptCrossAttention(nn.Module):
    """Every position of a feature volume attends to the prompt tokens (pre-norm, residual)."""

    def __init__(self, channels: int, heads: int, context_dim: int):
        super().__init__()
        self.norm = _norm(channels)
        self.attn = Attention(channels, heads, context_dim)

    def forward(self, x, text, mask):
        b, _, t, h, w = x.shape
        seq = rearrange(self.norm(x), "b c t h w -> b (t h w) c")  # (B, THW, C)
        out = rearrange(self.attn(seq, context=text, mask=mask), "b (t h w) c -> b c t h w", t=t, h=h, w=w)
        return x + out


class Stage(nn.Module):
    """Residual blocks at one resolution, each followed by prompt cross-attention when `attend`."""

    def __init__(self, cin: int, cout: int, blocks: int, cfg: ModelConfig, attend: bool):
        super().__init__()
        self.res = nn.ModuleList(ResBlock(cin if i == 0 else cout, cout, cfg.dim) for i in range(blocks))
        heads = cfg.heads if cout % cfg.heads == 0 else 1
        self.attn = nn.ModuleList(PromptCrossAttention(cout, heads, cfg.dim) for _ in range(blocks)) if attend else None

    def forward(self, x, c, text, mask):
        for i, res in enumerate(self.res):
            x = res(x, c)
            if self.attn is not None:
                x = self.attn[i](x, text, mask)
        return x


class Conv3dUNet(VideoDenoiser):
    """(B, T, H, W) -> stem -> down stages -> middle -> up stages (with skips) -> (B, T, H, W)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        factor = 2 ** (LEVELS - 1)
        if cfg.frames % factor or cfg.height % factor or cfg.width % factor:
            raise ValueError(f"conv3d needs frames, height and width divisible by {factor}, got {cfg.frames}x{cfg.height}x{cfg.width}")
        if cfg.dim % 8:
            raise ValueError(f"conv3d needs dim divisible by 8, got {cfg.dim}")
        chans = level_channels(cfg)
        blocks = blocks_per_level(cfg)
        self.stem = nn.Conv3d(1, chans[0], (1, 3, 3), padding=(0, 1, 1))
        # learned video positional embedding, factorised per axis: where the text is depends on the frame index
        self.pos_t = nn.Parameter(torch.zeros(1, chans[0], cfg.frames, 1, 1))
        self.pos_h = nn.Parameter(torch.zeros(1, chans[0], 1, cfg.height, 1))
        self.pos_w = nn.Parameter(torch.zeros(1, chans[0], 1, 1, cfg.width))
        # the glyph layout of each frame and column (and row, with a template), added to the stem's features
        self.layout_embedder = nn.Linear(self.glyph_layout.num_features, chans[0]) if self.glyph_layout is not None else None
        self.down = nn.ModuleList(
            Stage(chans[max(i - 1, 0)], chans[i], blocks, cfg, attend=i > 0) for i in range(LEVELS)
        )
        self.middle = Stage(chans[-1], chans[-1], 1, cfg, attend=True)
        self.up = nn.ModuleList(
            Stage(2 * chans[i], chans[i], blocks, cfg, attend=i > 0) for i in reversed(range(LEVELS))
        )
        self.up_proj = nn.ModuleList(nn.Conv3d(chans[i], chans[i - 1], 1) for i in reversed(range(1, LEVELS)))
        self.out_norm = _norm(chans[0])
        self.out = zero_init(nn.Conv3d(chans[0], 1, (1, 3, 3), padding=(0, 1, 1)))
        self.initialize_weights()

    SPACE_TIME = "convolution"
    OUTPUT_LAYER = "out"

    @staticmethod
    def template_rows(cfg: ModelConfig) -> int:
        return cfg.height  # the stem works at full resolution: a template row per pixel row

    def learned_positions(self) -> list[nn.Parameter]:
        return [self.pos_t, self.pos_h, self.pos_w]

    @classmethod
    def attention_calls(cls, cfg: ModelConfig) -> list[AttentionCall]:
        """No self-attention (convolutions); in each coarser level, every position's cross-attention to
        the prompt after each residual block, down and up (and in the middle stage, at the coarsest)."""
        blocks, chans = blocks_per_level(cfg), level_channels(cfg)
        calls = []
        for level in range(1, LEVELS):
            positions = (cfg.frames >> level) * (cfg.height >> level) * (cfg.width >> level)
            per_level = 2 * blocks + (1 if level == LEVELS - 1 else 0)  # down + up stages (+ the middle one)
            calls += [AttentionCall(positions, cfg.prompt_len, chans[level], kind="prompt")] * per_level
        return calls

    def denoise(self, x, c, text, mask, layout=None, state=None):
        h = self.stem(x[:, None]) + self.pos_t + self.pos_h + self.pos_w  # (B, C0, T, H, W)
        if layout is not None:  # the raw features (B, T, R, W, F): this variant embeds them here, per pixel
            lay = self.layout_embedder(layout.to(h.dtype))  # (B, T, R, W, C0), R = 1 or H
            h = h + rearrange(lay, "b t r w c -> b c t r w")  # R = 1 broadcasts over H
        skips = []
        for i, stage in enumerate(self.down):
            h = stage(h, c, text, mask)
            skips.append(h)
            if i < LEVELS - 1:
                h = F.avg_pool3d(h, 2)  # (B, Ci, T/2, H/2, W/2)
        h = self.middle(h, c, text, mask)
        for i, stage in enumerate(self.up):
            h = stage(torch.cat([h, skips.pop()], dim=1), c, text, mask)
            if i < LEVELS - 1:
                h = self.up_proj[i](F.interpolate(h, scale_factor=2, mode="nearest"))  # (B, C_{i-1}, 2T, 2H, 2W)
        return self.out(F.silu(self.out_norm(h)))[:, 0]  # (B, T, H, W)
