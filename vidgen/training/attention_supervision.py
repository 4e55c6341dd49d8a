"""Attention supervision while training (TokenCompose's grounding loss, for scrolling text).

The renderer knows, for free, which prompt symbol covers every frame and pixel column. This loss pulls
the denoiser's cross-attention from each patch token towards the slot of the glyph under it, in every
block; sampling is unchanged (prompt tokens in, video out), the weights just learn where to look.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from ..data.layout import slot_batch
from ..models import variants_with_attention
from ..models.base import VideoDenoiser
from ..models.layers import Attention

COVERED = 0.5  # a token is labelled when glyphs cover at least this share of its frames x columns


def cross_attentions(model: VideoDenoiser) -> list[Attention]:
    """The prompt cross-attention layers whose maps the loss supervises: the ones from the whole (t h w)
    token sequence, in every block (`VideoDenoiser.attention_layers("cross")`)."""
    layers = model.attention_layers("cross")
    if not layers:
        raise ValueError(f"attention supervision needs a variant whose cross-attention reads every space-time token "
                         f"({', '.join(variants_with_attention('cross'))}), not {model.cfg.variant!r}")
    return layers


class AttentionSupervision:
    """Keeps the supervised layers' attention maps (with their gradients) and scores them."""

    def __init__(self, model: VideoDenoiser):
        self.cfg = model.cfg
        self.layers = cross_attentions(model)
        for layer in self.layers:
            layer.store_attention = layer.keep_attention_grad = True

    def targets(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts as the network saw them (B, L) -> (share of each slot under each token (B, N, L),
        labelled tokens (B, N) bool). The layout is the same down a column, so every row of tokens
        gets its column's label."""
        pt, _, pw = self.cfg.patch
        _, rows, _ = self.cfg.grid
        slot = slot_batch(ids)  # (B, F, W), EMPTY = -1
        onehot = F.one_hot(slot + 1, ids.shape[1] + 1).float()  # (B, F, W, 1 + L), class 0 = no glyph
        share = rearrange(onehot, "b (t pt) (w pw) s -> b t w (pt pw) s", pt=pt, pw=pw).mean(3)  # (B, T', W', 1 + L)
        glyphs = share[..., 1:]  # (B, T', W', L)
        labelled = glyphs.sum(-1) >= COVERED  # (B, T', W')
        target = glyphs / glyphs.sum(-1, keepdim=True).clamp_min(1e-6)
        target = repeat(target, "b t w s -> b (t h w) s", h=rows)  # (B, N, L)
        return target, repeat(labelled, "b t w -> b (t h w)", h=rows)

    def loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the head-averaged attention of every supervised layer (from the last
        forward pass) against the targets, over the labelled tokens; mean over layers."""
        target, labelled = self.targets(ids)
        if not labelled.any():
            return torch.zeros((), device=ids.device)
        total = 0.0
        for layer in self.layers:
            attn = layer.last_attention.mean(1)  # (B, N, L) over heads
            ce = -(target * attn.clamp_min(1e-6).log()).sum(-1)  # (B, N)
            total = total + ce[labelled].mean()
        return total / len(self.layers)
