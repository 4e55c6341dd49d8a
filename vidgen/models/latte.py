"""`latte`: Latte's separate spatial and temporal transformer blocks, alternating (Ma et al. 2024,
its "variant 1"; thesis section 3.2.2), with the prompt cross-attention at one of the thesis's
three placements (`ModelConfig.text_placement`, thesis section 3.3.1):

| text_placement | thesis   | where the prompt cross-attention sits                               |
| -------------- | -------- | ------------------------------------------------------------------- |
| "between"      | Latte v1 | its own layer after each spatial block, before the temporal block    |
| "spatial"      | Latte v2 | inside each spatial block, between the attention and the MLP         |
| "both"         | Latte v3 | inside every block, spatial and temporal                             |

`depth` counts blocks, spatial and temporal together (block 0 spatial, 1 temporal, ...), so a
Latte of depth 6 has about the parameters of a `full` model of depth 6.
"""
from __future__ import annotations

import torch.nn as nn

from .attention_calls import AttentionCall
from .config import ModelConfig
from .layers import Attention, Mlp, ada_ln_zero, modulate
from .spacetime import AxisAttention, TokenDenoiser, conv_grid_of


class TextInjection(nn.Module):
    """Pre-norm residual cross-attention from the video tokens to the prompt tokens."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.cross_attn = Attention(dim, heads)

    def forward(self, x, text, mask):
        return x + self.cross_attn(self.norm(x), context=text, mask=mask)


class LatteBlock(nn.Module):
    """A DiT block whose self-attention runs along one axis ("space" or "time"), with an optional
    prompt cross-attention between the attention and the MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, grid, axis: str, rope: bool, with_text: bool, conv_grid=None):
        super().__init__()
        self.axis = axis
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = AxisAttention(dim, heads, grid, axis, rope)
        self.text = TextInjection(dim, heads) if with_text else None
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), conv_grid)
        self.adaLN_modulation = ada_ln_zero(dim, 6)

    def forward(self, x, c, text, mask):
        """x (B, N, D), c (B, D), text (B, L, D), mask (B, L) -> (B, N, D)."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        if self.text is not None:
            x = self.text(x, text, mask)
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class Latte(TokenDenoiser):
    """Patch tokens -> spatial, temporal, spatial, ... blocks -> patches."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        placement = cfg.text_placement
        axes = ["space" if i % 2 == 0 else "time" for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(
            LatteBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.grid, axis, cfg.rope,
                       with_text=placement == "both" or (placement == "spatial" and axis == "space"),
                       conv_grid=conv_grid_of(cfg))
            for axis in axes
        )
        # "between": a cross-attention layer after every spatial block (keys are the block indices)
        self.between = nn.ModuleDict(
            {str(i): TextInjection(cfg.dim, cfg.heads) for i, axis in enumerate(axes) if axis == "space" and placement == "between"}
        )
        self.initialize_weights()

    COMPARED = ("", "-between", "-both")  # every text placement (the presets `latte`, `latte-between`, `latte-both`)
    SPACE_TIME = "alternating"

    @classmethod
    def attention_calls(cls, cfg: ModelConfig) -> list[AttentionCall]:
        """Spatial blocks: T' sequences of S = H'W' tokens; temporal blocks: S sequences of T'; a
        cross-attention from all N tokens to the prompt wherever `text_placement` puts one."""
        t, h, w = cfg.grid
        s, d = h * w, cfg.dim
        calls = []
        for i in range(cfg.depth):
            spatial = i % 2 == 0
            calls.append(AttentionCall(s, s, d, t) if spatial else AttentionCall(t, t, d, s))
            if cfg.text_placement == "both" or (spatial and cfg.text_placement in ("spatial", "between")):
                calls.append(AttentionCall(cfg.num_tokens, cfg.prompt_len, d, kind="prompt"))
        return calls

    def denoise(self, x, c, text, mask, layout_tokens=None, state=None):
        h = self.embed(x, layout_tokens)  # (B, N, D)
        for i, block in enumerate(self.blocks):
            h = block(h, c, text, mask)
            if str(i) in self.between:
                h = self.between[str(i)](h, text, mask)
        return self.unembed(h, c)  # (B, T, H, W)
