"""`full`: the blog's diffusion transformer with joint attention over all space-time tokens.

Conditioning reaches every block: adaLN-Zero from (timestep + pooled prompt) and cross-attention
to the prompt tokens with a padding mask.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .attention_calls import AttentionCall
from .base import GUIDANCE_FEATURE_SCALE
from .config import ModelConfig
from .layers import Attention, Mlp, ada_ln_zero, modulate, per_token, rope_tables
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

    def forward(self, x, c, text, mask, rope=None, attn_mask=None, past=None, keep_kv=False):
        """x (B, N, D); c (B, D), or (B, T', D) with a timestep per temporal token; attn_mask (N, N) or None;
        past / keep_kv: the self-attention's key-value cache (Attention.forward) -> x, or (x, its (k, v))."""
        n = x.shape[1]
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        attended = self.attn(modulate(self.norm1(x), shift_msa, scale_msa), rope=rope, attn_mask=attn_mask, past=past,
                             keep_kv=keep_kv)
        attended, kv = attended if keep_kv else (attended, None)
        x = x + per_token(gate_msa, n) * attended
        x = x + self.cross_attn(self.norm2(x), context=text, mask=mask)
        x = x + per_token(gate_mlp, n) * self.mlp(modulate(self.norm3(x), shift_mlp, scale_mlp))
        return (x, kv) if keep_kv else x


def rope_rows(tables, lo: int, hi: int):
    """Rows [lo, hi) of the rotary tables (cos, sin) (N, hd/2), or None without rope."""
    return None if tables is None else (tables[0][lo:hi], tables[1][lo:hi])


class FullDiT(TokenDenoiser):
    """Patches -> learned positional embedding -> DiT blocks with joint space-time attention -> patches back.

    With cfg.temporal == "causal" a token attends to the tokens of its own and earlier temporal tokens only,
    so a window's first frames never depend on its later ones (long videos streamed with a cache, vidgen.long).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.blocks = nn.ModuleList(DiTBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, conv_grid_of(cfg)) for _ in range(cfg.depth))
        if cfg.rope:
            cos, sin = rope_tables(cfg.grid, cfg.dim // cfg.heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        frame_of = torch.arange(cfg.num_tokens) // (cfg.grid[1] * cfg.grid[2])  # (N,) each token's temporal index
        causal = frame_of[None, :] <= frame_of[:, None] if cfg.temporal == "causal" else None  # (N, N) True = attend
        self.register_buffer("causal_mask", causal, persistent=False)
        self.initialize_weights()

    ATTENTION_MAPS = ("cross", "self")
    PER_FRAME_TIME = True
    LATENT = True
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

    def forward_cached(self, x, t, cond, guidance_scale: float, lo: int, hi: int, holder) -> torch.Tensor:
        """The guided prediction for frames [lo, hi) of the window x (B, W, H, W) (a causal model's chunk or
        temporal token, vidgen.long), at per-frame timesteps t (B, W), with frames [0, lo) as context whose keys and
        values in every block are computed on the first call for a chunk and kept in `holder.cache` (the
        others reuse them). -> (B, W, H, W), zero outside [lo, hi). Equal to forward_with_guidance's
        prediction on those frames (tests/test_long.py)."""
        if self.cfg.temporal != "causal":
            raise ValueError("a key-value cache needs causal temporal attention (temporal='causal')")
        b = x.shape[0]
        guided = self.g_embedder is None and guidance_scale != 1.0
        xx, tt = (torch.cat([x, x]), torch.cat([t, t])) if guided else (x, t)
        c = self.condition(tt, cond.pooled)  # (B', T', D)
        if self.g_embedder is not None:
            self.cfg.check_guidance(guidance_scale)
            c = c + self.g_embedder(torch.full((xx.shape[0],), float(guidance_scale) * GUIDANCE_FEATURE_SCALE, device=x.device))[:, None]
        pt = self.cfg.patch[0]
        hw = self.cfg.grid[1] * self.cfg.grid[2]
        a, z = lo // pt * hw, hi // pt * hw  # the token range of the frames asked
        h = self.embed(xx, cond.layout)  # (B', N, D)
        rope = (self.rope_cos, self.rope_sin) if self.cfg.rope else None
        if holder.cache is None:  # the context's keys and values, once per token
            holder.cache = []
            hc = h[:, :a]
            for block in self.blocks:
                if a == 0:
                    holder.cache.append(None)
                    continue
                hc, kv = block(hc, c[:, : lo // pt], cond.text, cond.mask, rope_rows(rope, 0, a), self.causal_mask[:a, :a], keep_kv=True)
                holder.cache.append(kv)
        hn = h[:, a:z]
        for block, past in zip(self.blocks, holder.cache):  # the frames asked attend to the context and causally among themselves
            hn = block(hn, c[:, lo // pt : hi // pt], cond.text, cond.mask, rope_rows(rope, a, z), self.causal_mask[a:z, :z], past=past)
        patches = torch.zeros(h.shape[0], h.shape[1], self.final_layer.linear.out_features, dtype=hn.dtype, device=hn.device)
        patches[:, a:z] = self.final_layer(hn, c[:, lo // pt : hi // pt])
        out = self.patcher.unpatchify(patches)  # (B', W, H, W)
        if not guided:
            return out
        return out[b:] + guidance_scale * (out[:b] - out[b:])

    def denoise(self, x, c, text, mask, layout_tokens=None, state=None):
        rope = (self.rope_cos, self.rope_sin) if self.cfg.rope else None
        h = self.embed(x, layout_tokens)  # (B, N, D)
        for block in self.blocks:
            h = block(h, c, text, mask, rope, self.causal_mask)
        return self.unembed(h, c)  # (B, T, H, W)
