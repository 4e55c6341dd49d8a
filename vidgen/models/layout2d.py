"""What a motion-world model is told (ModelConfig.layout = "glyph2d"): the glyph layout at every frame and
pixel, in two dimensions and at any font size (vidgen.data.layout2d), as features.

Each pixel gets the learned embedding of the symbol whose glyph covers it (PAD where none does: the
token's id, not its slot), sin/cos features of its in-glyph coordinates (u, v) in FONT_SIZE pixels, the
font size, and a learned glyph template: one vector per (symbol, u bin, v bin), learned from the
denoising loss alone, which tells the network what a glyph looks like at that spot at any size.
The null prompt's layout is empty, so guidance dropout and classifier-free guidance need nothing more.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..data import tokenizer as tok
from ..data.layout import FONT_SIZE
from ..data.layout2d import check_pen, layout_batch_2d

PERIODS = (32.0, 16.0, 8.0, 4.0)  # pixels of the FONT_SIZE font: from "which half of a wide glyph" to stroke scale
U_BINS = 32  # template columns: u from -1 to 30 px (the widest advance is about 20)
V_BINS = 32  # template rows: v from 0 to 31 px (the strip is at most 27 rows tall at FONT_SIZE)
SIZE_SCALE = 4.0  # the size feature: (size - FONT_SIZE) / SIZE_SCALE


class GlyphLayout2DFeatures(nn.Module):
    """(ids (B, L), motion (B, T, 3)) -> features of the glyph layout at every pixel (B, T, H, W, F)."""

    def __init__(self, vocab_size: int, dim: int, template_dim: int, pen: str = "advance"):
        super().__init__()
        self.pen = check_pen(pen)  # where each glyph begins (vidgen.data.layout2d.PENS; ModelConfig.layout_pen)
        self.symbol_embed = nn.Embedding(vocab_size, dim)
        self.template = nn.Embedding(vocab_size * U_BINS * V_BINS, template_dim) if template_dim else None
        nn.init.normal_(self.symbol_embed.weight, std=0.02)
        if self.template is not None:
            nn.init.normal_(self.template.weight, std=0.02)
        self.num_features = dim + 4 * len(PERIODS) + 1 + template_dim

    def forward(self, ids: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Prompt ids (B, L) moving along motion (B, T, 3) -> (B, T, H, W, F)."""
        symbol, uv = layout_batch_2d(ids, motion, self.pen)  # (B, T, H, W), (B, T, H, W, 2)
        return self.features(symbol, uv, motion[:, 0, 2])

    def features(self, symbol: torch.Tensor, uv: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """symbol (B, T, H, W) token ids (PAD where empty), uv (B, T, H, W, 2), size (B,) -> (B, T, H, W, F)."""
        periods = torch.tensor(PERIODS, device=uv.device)
        angle = 2 * math.pi * uv[..., None] / periods  # (B, T, H, W, 2, P)
        covered = (symbol != tok.PAD_ID)[..., None].to(uv.dtype)  # (B, T, H, W, 1)
        fourier = torch.cat([angle.sin(), angle.cos()], dim=-1).flatten(-2) * covered  # (B, T, H, W, 4P)
        scale = ((size.to(uv.dtype) - FONT_SIZE) / SIZE_SCALE)[:, None, None, None, None] * covered  # (B, T, H, W, 1)
        emb = self.symbol_embed(symbol)  # (B, T, H, W, E)
        parts = [emb, fourier.to(emb.dtype), scale.to(emb.dtype)]
        if self.template is not None:
            ub = (uv[..., 0].floor().long() + 1).clamp(0, U_BINS - 1)  # (B, T, H, W)
            vb = uv[..., 1].floor().long().clamp(0, V_BINS - 1)
            parts.append(self.template((symbol * U_BINS + ub) * V_BINS + vb))  # (B, T, H, W, E_t)
        return torch.cat(parts, dim=-1)
