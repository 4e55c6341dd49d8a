"""`gentron`: GenTron's block (Chen et al. 2023, thesis section 3.2.1): spatial self-attention,
prompt cross-attention, temporal self-attention and the MLP, all inside one transformer block.

Space and time are factorised inside the block: no token attends to another frame's other
positions directly, only through two hops (space then time). The thesis found this gives the
sharpest frames but occasionally incoherent motion.
"""
from __future__ import annotations

import torch.nn as nn

from .attention_calls import AttentionCall
from .config import ModelConfig
from .layers import Attention, Mlp, ada_ln_zero, modulate
from .spacetime import AxisAttention, TokenDenoiser, conv_grid_of


class GenTronBlock(nn.Module):
    """Spatial attention (adaLN-Zero), cross-attention to the prompt, temporal attention
    (adaLN-Zero), MLP (adaLN-Zero).

    The thesis's pseudocode gives the temporal attention a plain residual; here it gets its own
    adaLN-Zero triple so that every block starts as the identity, as DiT's do.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, grid, rope: bool, conv_grid=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.spatial_attn = AxisAttention(dim, heads, grid, "space", rope)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.cross_attn = Attention(dim, heads)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.temporal_attn = AxisAttention(dim, heads, grid, "time", rope)
        self.norm4 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), conv_grid)
        self.adaLN_modulation = ada_ln_zero(dim, 9)

    def forward(self, x, c, text, mask):
        """x (B, N, D), c (B, D), text (B, L, D), mask (B, L) -> (B, N, D)."""
        (shift_s, scale_s, gate_s, shift_t, scale_t, gate_t,
         shift_mlp, scale_mlp, gate_mlp) = self.adaLN_modulation(c).chunk(9, dim=-1)
        x = x + gate_s.unsqueeze(1) * self.spatial_attn(modulate(self.norm1(x), shift_s, scale_s))
        x = x + self.cross_attn(self.norm2(x), context=text, mask=mask)
        x = x + gate_t.unsqueeze(1) * self.temporal_attn(modulate(self.norm3(x), shift_t, scale_t))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm4(x), shift_mlp, scale_mlp))


class GenTron(TokenDenoiser):
    """Patch tokens -> `depth` GenTron blocks -> patches."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.blocks = nn.ModuleList(
            GenTronBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.grid, cfg.rope, conv_grid_of(cfg)) for _ in range(cfg.depth)
        )
        self.initialize_weights()

    ATTENTION_MAPS = ("cross",)  # the prompt cross-attention reads all N tokens; self-attention only one axis
    SPACE_TIME = "in-block"  # spatial, then temporal self-attention in every block

    @classmethod
    def attention_calls(cls, cfg: ModelConfig) -> list[AttentionCall]:
        """Per block (grid T' x H' x W', S = H'W', N = T'S): T' sequences of S (space), S sequences of T'
        (time), and cross-attention from all N tokens to the prompt."""
        t, h, w = cfg.grid
        s, d = h * w, cfg.dim
        block = [AttentionCall(s, s, d, t), AttentionCall(t, t, d, s),
                 AttentionCall(cfg.num_tokens, cfg.prompt_len, d, kind="prompt")]
        return block * cfg.depth

    def attention_layers(self, kind: str) -> list[Attention]:
        return [block.cross_attn for block in self.blocks] if kind == "cross" else super().attention_layers(kind)

    def denoise(self, x, c, text, mask, layout_tokens=None, state=None):
        h = self.embed(x, layout_tokens)  # (B, N, D)
        for block in self.blocks:
            h = block(h, c, text, mask)
        return self.unembed(h, c)  # (B, T, H, W)
