"""Noise levels per frame: the one vocabulary every long-video method speaks (vidgen.long.methods).

A frame of a long video is at a level k in 0..K: K is pure noise, 0 is clean, and k in 1..K-1 is the DDIM
chain's timestep `timesteps[K - k]` for K evenly strided timesteps (`strided_timesteps(K, T)`), so a frame
taken from level K down one level at a time gets exactly K-step DDIM. A model that takes a timestep per
frame (VideoDenoiser.PER_FRAME_TIME) sees each frame at its own level's timestep; a clean frame (level 0) is
shown at timestep 0: the context it is told, as Diffusion Forcing trains it (vidgen.training.frame_noise).
"""
from __future__ import annotations

import numpy as np
import torch

from ..diffusion.schedule import NoiseSchedule, strided_timesteps


class FrameLevels:
    """Maps levels (0..steps) to timesteps and moves frames down the chain with a per-frame DDIM step."""

    def __init__(self, schedule: NoiseSchedule, steps: int):
        if not 1 <= steps <= schedule.num_timesteps:
            raise ValueError(f"steps per frame must be in [1, {schedule.num_timesteps}], got {steps}")
        self.schedule = schedule
        self.steps = steps
        chain = strided_timesteps(steps, schedule.num_timesteps)  # (K,) descending
        # level k -> timestep: level 0 (clean) is shown as t = 0; level k >= 1 is chain[K - k]
        self.timestep_of = np.concatenate([[0], chain[::-1]]).astype(np.int64)  # (K + 1,)
        abar = schedule.alphas_cumprod.numpy()
        self.alpha_bar = np.concatenate([[1.0], abar[chain[::-1]]])  # (K + 1,) level 0 is clean: alpha_bar 1

    def timesteps(self, levels: np.ndarray, batch: int, device) -> torch.Tensor:
        """levels (T,) -> the model's per-frame timesteps (B, T)."""
        t = torch.from_numpy(self.timestep_of[np.asarray(levels)])  # (T,)
        return t[None].expand(batch, -1).to(device)

    def step(self, x: torch.Tensor, pred_x0: torch.Tensor, levels: np.ndarray, targets: np.ndarray) -> torch.Tensor:
        """Deterministic DDIM from each frame's level to its target (<= level) given the predicted clean video:
        x, pred_x0 (B, T, H, W), levels and targets (T,) -> x at the targets; frames whose target is their level
        are returned unchanged (a clean context frame, a frame still waiting)."""
        levels, targets = np.asarray(levels), np.asarray(targets)
        if (targets > levels).any():
            raise ValueError("a frame's level can only go down")
        moving = torch.from_numpy(targets < levels).to(x.device)[None, :, None, None]  # (1, T, 1, 1)
        a_now = torch.from_numpy(self.alpha_bar[levels]).float().to(x.device)[None, :, None, None]
        a_next = torch.from_numpy(self.alpha_bar[targets]).float().to(x.device)[None, :, None, None]
        # eps consistent with the (clamped) x0 at the frame's own level; a clean frame (a_now = 1) never moves
        eps = (x - a_now.sqrt() * pred_x0) / (1 - a_now).clamp_min(1e-12).sqrt()
        moved = a_next.sqrt() * pred_x0 + (1 - a_next).clamp_min(0).sqrt() * eps
        return torch.where(moving, moved, x)
