"""Noise levels per frame in training (Diffusion Forcing, Chen et al. 2024), for a model that takes a timestep
per frame (VideoDenoiser.PER_FRAME_TIME) and makes long videos window by window (vidgen.long).

Diffusion Forcing draws every frame's noise level independently, so that at sampling any pattern of levels
across a window is one the model has seen: clean context frames before noisy ones (latent splicing,
causal streaming), a pyramid of rising noise (a sliding window, FIFO-Diffusion). With 8 temporal tokens a
window, independent draws almost never give those patterns exactly (eight equal levels; a clean prefix),
so each sample draws one of four patterns, one per temporal token (levels equal within a token's frames):

    shared       one level for the whole window (the short-video model's training, kept)
    independent  every temporal token its own level (Diffusion Forcing's draw)
    context      a clean prefix of 1-7 tokens (level 0, or lightly noised: CONTEXT_NOISE), one level after it
    pyramid      levels that never fall along time (sorted independent draws): the sliding window's shape
"""
from __future__ import annotations

import torch

PATTERNS = ("shared", "independent", "context", "pyramid")
CONTEXT_NOISE = 0.1  # a context token's level is drawn below this share of the chain half the time (else 0): the
# context a window is given at sampling is a clean frame, and a little noise keeps the model from copying its errors


def forcing_timesteps(batch: int, tokens: int, patch_frames: int, num_timesteps: int, g: torch.Generator) -> torch.Tensor:
    """Per-frame timesteps (B, tokens * patch_frames) int64, one of PATTERNS per sample, equal within each token."""
    pattern = torch.randint(0, len(PATTERNS), (batch,), generator=g)  # (B,)
    shared = torch.randint(0, num_timesteps, (batch, 1), generator=g).expand(batch, tokens)  # (B, T')
    independent = torch.randint(0, num_timesteps, (batch, tokens), generator=g)  # (B, T')
    prefix = torch.randint(1, tokens, (batch, 1), generator=g)  # (B, 1) clean tokens before the noisy ones
    light = torch.randint(0, max(1, int(CONTEXT_NOISE * num_timesteps)), (batch, tokens), generator=g)
    light = torch.where(torch.rand(batch, 1, generator=g) < 0.5, light, torch.zeros_like(light))
    context = torch.where(torch.arange(tokens)[None, :] < prefix, light, shared)
    pyramid = independent.sort(dim=1).values
    t = torch.stack([shared, independent, context, pyramid], dim=1)  # (B, 4, T')
    t = t[torch.arange(batch), pattern]  # (B, T')
    return t.repeat_interleave(patch_frames, dim=1)  # (B, T)
