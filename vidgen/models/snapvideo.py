"""`snapvideo`: SnapVideo's FiT backbone (Menapace et al. 2024; FiT, Chen & Li 2023; RIN, Jabri et
al. 2022; thesis sections 3.2.3 and 3.3.2, its "SnapVideo v1" text conditioning).

The patch tokens are cut into regions (`latent_groups` x `latent_groups` over H' x W', each
spanning all frames). Every block
  1. lets all latents cross-attend to the conditioning tokens [timestep+pooled prompt; prompt tokens],
  2. "reads": each region's latents cross-attend to that region's patch tokens,
  3. "computes": self-attention layers over all latents together (joint space-time, but on few tokens),
  4. "writes": each region's patch tokens cross-attend to their latents, then an MLP on the patches.
So the expensive work is on G*L latents instead of N patches and grows linearly in N.

Latent self-conditioning (RIN): the latents a call ends with seed the next call's latents.
Training runs a no-grad pass on the same x_t first and conditions on its latents (every tenth
sample of the batch trains without, for the first sampling step). Sampling carries them from one
step to the next in the trajectory's `state` dict, which the sampler creates per trajectory and
passes to every step; a call without a state (a validation batch, a probe) starts from zero
latents, as the first sampling step does.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from einops import rearrange

from .attention_calls import AttentionCall
from .config import ModelConfig
from .layers import Attention, Mlp, TextBlock, zero_init
from .spacetime import TokenDenoiser, conv_grid_of

SELF_COND_EVERY = 10  # in training, samples i with i % 10 == 0 see zero latents, the rest self-condition (RIN's 90%)


class CrossAttentionLayer(nn.Module):
    """Pre-norm residual cross-attention, queries and keys normalised separately."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim, eps=1e-6)
        self.norm_kv = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)

    def forward(self, x, context, mask=None):
        return x + self.attn(self.norm_q(x), context=self.norm_kv(context), mask=mask)


class FeedForward(nn.Module):
    """Pre-norm residual MLP."""

    def __init__(self, dim: int, mlp_ratio: float, conv_grid=None):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), conv_grid)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class LatentBlock(nn.Module):
    """Condition, read, compute, write (see the module docstring)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dim, heads, ratio = cfg.dim, cfg.heads, cfg.mlp_ratio
        self.groups = cfg.latent_groups
        self.grid = cfg.grid
        self.cond = CrossAttentionLayer(dim, heads)
        self.read = CrossAttentionLayer(dim, heads)
        self.read_ff = FeedForward(dim, ratio)
        self.compute = nn.ModuleList(TextBlock(dim, heads, ratio) for _ in range(cfg.latent_layers))
        self.write = CrossAttentionLayer(dim, heads)
        self.write_ff = FeedForward(dim, ratio, conv_grid_of(cfg))

    def group(self, x):
        t, h, w = self.grid
        g = self.groups
        return rearrange(x, "b (t gh h gw w) d -> (b gh gw) (t h w) d", t=t, gh=g, h=h // g, gw=g, w=w // g)  # (B*G, P, D)

    def ungroup(self, x):
        t, h, w = self.grid
        g = self.groups
        return rearrange(x, "(b gh gw) (t h w) d -> b (t gh h gw w) d", t=t, gh=g, h=h // g, gw=g, w=w // g)  # (B, N, D)

    def forward(self, x, latents, cond, cond_mask):
        """x (B, N, D) patch tokens, latents (B, G*L, D), cond (B, 1+L_text, D) -> (x, latents)."""
        g2 = self.groups**2
        latents = self.cond(latents, cond, cond_mask)
        per_group = rearrange(latents, "b (g l) d -> (b g) l d", g=g2)  # (B*G, L, D)
        patches = self.group(x)  # (B*G, P, D)
        per_group = self.read_ff(self.read(per_group, patches))
        latents = rearrange(per_group, "(b g) l d -> b (g l) d", g=g2)  # (B, G*L, D)
        for layer in self.compute:
            latents = layer(latents, None)
        per_group = rearrange(latents, "b (g l) d -> (b g) l d", g=g2)
        x = self.ungroup(self.write(patches, per_group))  # (B, N, D)
        return self.write_ff(x), latents


class SnapVideo(TokenDenoiser):
    """Patch tokens + learned latents -> latent blocks -> patches; latents carried across steps."""

    def __init__(self, cfg: ModelConfig):
        _, gh, gw = cfg.grid
        if cfg.latent_groups < 1 or gh % cfg.latent_groups or gw % cfg.latent_groups:
            raise ValueError(f"latent_groups={cfg.latent_groups} must divide the token grid {gh}x{gw}")
        super().__init__(cfg)
        self.num_latents = cfg.latent_groups**2 * cfg.latents_per_group
        self.latents = nn.Parameter(torch.zeros(1, self.num_latents, cfg.dim))
        self.latent_pos = nn.Parameter(torch.zeros(1, self.num_latents, cfg.dim))
        # zero: before training, previous latents change nothing
        self.self_cond = nn.Sequential(nn.LayerNorm(cfg.dim, eps=1e-6), zero_init(nn.Linear(cfg.dim, cfg.dim)))
        self.blocks = nn.ModuleList(LatentBlock(cfg) for _ in range(cfg.depth))
        self.initialize_weights()

    SPACE_TIME = "latent"

    @classmethod
    def attention_calls(cls, cfg: ModelConfig) -> list[AttentionCall]:
        """Per block, with M = G*L latents and P = N/G patches a region: the latents' cross-attention to
        the 1 + L_text conditioning tokens, G reads (L x P) and G writes (P x L), and latent_layers
        self-attentions over all M latents."""
        g, lg, d = cfg.latent_groups**2, cfg.latents_per_group, cfg.dim
        m, p = g * lg, cfg.num_tokens // g
        block = [AttentionCall(m, 1 + cfg.prompt_len, d, kind="prompt"),
                 AttentionCall(lg, p, d, g, kind="cross"), AttentionCall(p, lg, d, g, kind="cross")]
        return (block + [AttentionCall(m, m, d)] * cfg.latent_layers) * cfg.depth

    def run(self, x, c, text, mask, layout_tokens, prev_latents):
        """One pass from given previous latents (B, G*L, D) -> (output (B, T, H, W), final latents)."""
        b = x.shape[0]
        h = self.embed(x, layout_tokens)  # (B, N, D)
        latents = self.latents + self.latent_pos + self.self_cond(prev_latents)  # (B, G*L, D)
        cond = torch.cat([c[:, None], text], dim=1)  # (B, 1+L, D)
        cond_mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=mask.device), mask], dim=1)  # (B, 1+L)
        for block in self.blocks:
            h, latents = block(h, latents, cond, cond_mask)
        return self.unembed(h, c), latents

    def denoise(self, x, c, text, mask, layout_tokens=None, state=None):
        b, zeros = x.shape[0], x.new_zeros(x.shape[0], self.num_latents, self.cfg.dim)
        if self.training:
            with torch.no_grad():
                _, latents = self.run(x, c, text, mask, layout_tokens, zeros)
            keep = (torch.arange(b, device=x.device) % SELF_COND_EVERY != 0)[:, None, None]
            out, _ = self.run(x, c, text, mask, layout_tokens, torch.where(keep, latents.detach(), zeros))
            return out
        # a sampling step starts from the previous step's latents (the trajectory's state); the first
        # step of a trajectory, and any call outside one, from zero
        prev = state.get("latents") if state is not None else None
        out, latents = self.run(x, c, text, mask, layout_tokens, zeros if prev is None else prev.to(zeros.dtype))
        if state is not None:
            state["latents"] = latents.detach()
        return out
