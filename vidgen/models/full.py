"""`full`: the blog's diffusion transformer with joint attention over all space-time tokens.

Conditioning reaches every block: adaLN-Zero from (timestep + pooled prompt) and cross-attention
to the prompt tokens with a padding mask.
"""
from __future__ import annotations

import torch.nn as nn

from .attention_calls import AttentionCall
from .config import ModelConfig
from .layers import Attention, Mlp, ada_ln_zero, modulate, rope_tables
from .spacetime import TokenDenoiser, conv_grid_of


class DiTBlock(nn.Module):
    """Self-attention (adaLN-Zero), cross-attention to the prompt, MLP (adaLN-Zero)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, conv_grid=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.cross_attn = Attention(dim, heads)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), conv_grid)
        self.adaLN_modulation = ada_ln_zero(dim, 6)

    def forward(self, x, c, text, mask, rope=None):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa), rope=rope)
        x = x + self.cross_attn(self.norm2(x), context=text, mask=mask)
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm3(x), shift_mlp, scale_mlp))


class FullDiT(TokenDenoiser):
    """Patches -> learned positional embedding -> DiT blocks with joint space-time attention -> patches back."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.blocks = nn.ModuleList(DiTBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, conv_grid_of(cfg)) for _ in range(cfg.depth))
        if cfg.rope:
            cos, sin = rope_tables(cfg.grid, cfg.dim // cfg.heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.initialize_weights()

    ATTENTION_MAPS = ("cross", "self")
    PRESETS_BY_SIZE_ALONE = True  # the blog's network: presets "tiny", "small"
    SPACE_TIME = "joint"

    @classmethod
    def attention_calls(cls, cfg: ModelConfig) -> list[AttentionCall]:
        """Per block: self-attention over all N tokens, one sequence; cross-attention from them to the prompt."""
        n, d = cfg.num_tokens, cfg.dim
        return [AttentionCall(n, n, d), AttentionCall(n, cfg.prompt_len, d, kind="prompt")] * cfg.depth

    def attention_layers(self, kind: str) -> list[Attention]:
        if kind == "cross":
            return [block.cross_attn for block in self.blocks]
        return [block.attn for block in self.blocks] if kind == "self" else super().attention_layers(kind)

    def denoise(self, x, c, text, mask, layout_tokens=None, state=None):
        rope = (self.rope_cos, self.rope_sin) if self.cfg.rope else None
        h = self.embed(x, layout_tokens)  # (B, N, D)
        for block in self.blocks:
            h = block(h, c, text, mask, rope)
        return self.unembed(h, c)  # (B, T, H, W)
