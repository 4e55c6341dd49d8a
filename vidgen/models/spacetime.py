"""What the token variants (gentron, latte, snapvideo) share: the patch-token frame around their
blocks, and self-attention restricted to one axis of the token grid (factorised attention).

Tokens stay in the (B, N, D) layout with N = (t h w) everywhere; only the attention rearranges
them, so the convolutional MLP, the final layer and the learned positional embedding are the
ones `full` uses.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from einops import rearrange

from .base import VideoDenoiser
from .config import ModelConfig
from .layers import Attention, FinalLayer, Patcher, rope_tables

AXES = ("space", "time")


class AxisAttention(nn.Module):
    """Self-attention along one axis of the token grid (T', H', W').

    "space": every frame attends within itself, (B*T') sequences of H'*W' tokens.
    "time": every spatial position attends along its tube through the frames, (B*H'*W') sequences of T'.
    With rope, the rotary tables cover only that axis's coordinates.
    """

    def __init__(self, dim: int, heads: int, grid: tuple[int, int, int], axis: str, rope: bool):
        super().__init__()
        if axis not in AXES:
            raise ValueError(f"unknown axis {axis!r}; known: {', '.join(AXES)}")
        self.grid, self.axis = grid, axis
        self.attn = Attention(dim, heads)
        self.rope = rope
        if rope:
            t, h, w = grid
            cos, sin = rope_tables((1, h, w) if axis == "space" else (t, 1, 1), dim // heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, N, D) -> (B, N, D)."""
        t = self.grid[0]
        rope = (self.rope_cos, self.rope_sin) if self.rope else None
        if self.axis == "space":
            seq = rearrange(x, "b (t s) d -> (b t) s d", t=t)  # (B*T', H'W', D)
            return rearrange(self.attn(seq, rope=rope), "(b t) s d -> b (t s) d", t=t)
        seq = rearrange(x, "b (t s) d -> (b s) t d", t=t)  # (B*H'W', T', D)
        return rearrange(self.attn(seq, rope=rope), "(b s) t d -> b (t s) d", b=x.shape[0])


class TokenDenoiser(VideoDenoiser):
    """Patches -> linear embedding + learned video positional embedding -> (subclass's blocks) ->
    adaLN final layer -> patches back. Subclasses build their blocks, then call initialize_weights."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.patcher = Patcher(cfg.frames, cfg.height, cfg.width, cfg.patch, cfg.channels if cfg.latent else None)
        patch_volume = cfg.patch[0] * cfg.patch[1] * cfg.patch[2] * cfg.channels
        self.x_embedder = nn.Linear(patch_volume, cfg.dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.dim))  # learned, one per (t, h, w) token
        if self.glyph_layout is not None:  # the layout of a token's pt frames x pw columns (x its row band, or
            # x its ph pixel rows for a per-pixel "glyph2d" layout) -> one vector
            pixels = cfg.patch[0] * cfg.patch[2] * cfg.cell * (cfg.patch[1] * cfg.cell if cfg.pixel_layout else 1)
            self.layout_embedder = nn.Linear(pixels * self.glyph_layout.num_features, cfg.dim)
        self.final_layer = FinalLayer(cfg.dim, patch_volume)

    def learned_positions(self) -> list[nn.Parameter]:
        return [self.pos_embed]

    def embed_layout(self, layout: torch.Tensor) -> torch.Tensor:
        """Layout features `layout` (B, T, R, W, F) -> `layout_tokens`, one vector per token (B, N, D),
        once per generation.

        R is 1 (the layout is the same down a column: every row of tokens gets it), H' (a glyph
        template: each row of tokens gets its own) or H (a per-pixel layout of the motion world)."""
        pt, ph, pw = self.cfg.patch
        if self.cfg.pixel_layout:  # a latent model's token covers ph * cell video rows and pw * cell columns
            ph, pw = ph * self.cfg.cell, pw * self.cfg.cell
            cells = rearrange(layout, "b (t pt) (h ph) (w pw) f -> b (t h w) (pt ph pw f)", pt=pt, ph=ph, pw=pw)
            return self.layout_embedder(cells)  # (B, N, D)
        hh = self.cfg.grid[1]
        cols = rearrange(layout, "b (t pt) r (w pw) f -> b t r w (pt pw f)", pt=pt, pw=pw)  # (B, T', R, W', pt*pw*F)
        lay = self.layout_embedder(cols)  # (B, T', R, W', D)
        return rearrange(lay.expand(-1, -1, hh, -1, -1), "b t h w d -> b (t h w) d")  # (B, N, D)

    def embed(self, x: torch.Tensor, layout_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, H, W) video (or (B, C, T, H, W) latent) and the embedded layout (B, N, D) (`embed_layout`) or None -> tokens (B, N, D)."""
        h = self.x_embedder(self.patcher.patchify(x)) + self.pos_embed  # (B, N, D)
        return h if layout_tokens is None else h + layout_tokens.to(h.dtype)

    def unembed(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, D) -> (B, T, H, W) (or (B, C, T, H, W))."""
        return self.patcher.unpatchify(self.final_layer(h, c))


def conv_grid_of(cfg: ModelConfig):
    """The token grid for the MLP's depthwise convolution, or None when it is switched off."""
    return cfg.grid if cfg.conv_mlp else None
