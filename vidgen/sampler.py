"""DDPM and DDIM sampling in one scheduler, and the generator that yields every denoising step.

| code                 | paper (DDIM, Song et al. 2021)   |
| -------------------- | -------------------------------- |
| alpha_prod_t         | alpha_t (DDIM's alpha = DDPM's alpha_bar) |
| alpha_prod_t_prev    | alpha_{t-1} of the *strided* chain: the next timestep in `timesteps` |
| pred_x0              | f_theta^(t)(x_t), eq. 9          |
| sigma_t              | eq. 16, scaled by eta            |

eta = 0 is deterministic DDIM; eta = 1 with all T steps is DDPM's ancestral sampler. "ddpm" mode
is eta = 1 with any number of steps (the posterior of the strided chain).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .schedule import NoiseSchedule

SAMPLERS = ("ddim", "ddpm")


@dataclass
class StepOutput:
    """One denoising step: its index (0-based), the timestep t it started from, x_{t_prev} and the
    predicted clean video, each (B, T, H, W) float in model space."""

    index: int
    num_steps: int
    t: int
    x_t: torch.Tensor
    pred_x0: torch.Tensor


class DDIMScheduler:
    """Chooses timesteps once (`set_timesteps`), then `step` maps x_t to x_{t_prev}."""

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.num_train_timesteps = schedule.num_timesteps
        self.timesteps: np.ndarray | None = None

    def set_timesteps(self, num_steps: int) -> np.ndarray:
        """Evenly spaced timesteps from T-1 down to 0, `num_steps` of them (1 <= num_steps <= T)."""
        T = self.num_train_timesteps
        if not isinstance(num_steps, (int, np.integer)) or not 1 <= num_steps <= T:
            raise ValueError(f"steps must be an integer in [1, {T}], got {num_steps!r}")
        if num_steps == 1:
            self.timesteps = np.array([T - 1], dtype=np.int64)
        else:
            self.timesteps = np.rint(np.linspace(T - 1, 0, num_steps)).astype(np.int64)
        return self.timesteps

    def prev_timestep(self, index: int) -> int:
        """The timestep after timesteps[index] in the strided chain, -1 after the last (alpha_bar = 1)."""
        return int(self.timesteps[index + 1]) if index + 1 < len(self.timesteps) else -1

    def step(
        self,
        model_output: torch.Tensor,
        index: int,
        x_t: torch.Tensor,
        eta: float = 0.0,
        clip_x0: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse step from timesteps[index]. Returns (x_prev, pred_x0)."""
        if self.timesteps is None:
            raise RuntimeError("call set_timesteps first")
        # 1. get the current and previous timestep of the strided chain
        t = int(self.timesteps[index])
        t_prev = self.prev_timestep(index)
        # 2. compute alphas (alpha_bar of DDPM); after the last step alpha_bar_prev = 1
        sched = self.schedule
        alpha_prod_t = float(sched.alphas_cumprod[t])
        alpha_prod_t_prev = float(sched.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
        # 3. predicted x0 and eps from the model output (DDIM eq. 12's "predicted x0")
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        pred_x0, pred_eps = sched.split_prediction(model_output.float(), x_t, tt)
        # 4. clamp x0 to the data range and make eps consistent with it
        if clip_x0:
            pred_x0 = pred_x0.clamp(-1.0, 1.0)
            pred_eps = (x_t - alpha_prod_t**0.5 * pred_x0) / (1 - alpha_prod_t) ** 0.5
        # 5. sigma_t (eq. 16): eta * sqrt((1 - a_prev) / (1 - a_t)) * sqrt(1 - a_t / a_prev)
        variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
        sigma = eta * max(variance, 0.0) ** 0.5
        # 6. direction pointing to x_t (eq. 12)
        dir_xt = max(1 - alpha_prod_t_prev - sigma**2, 0.0) ** 0.5 * pred_eps
        # 7. x_{t-1} = sqrt(a_prev) x0 + dir + sigma z
        x_prev = alpha_prod_t_prev**0.5 * pred_x0 + dir_xt
        if sigma > 0:
            noise = torch.randn(x_t.shape, generator=generator, dtype=torch.float32).to(x_t.device)
            x_prev = x_prev + sigma * noise
        return x_prev, pred_x0


def check_sampling_args(steps: int, eta: float, guidance_scale: float, num_timesteps: int, sampler: str = "ddim") -> None:
    """Raise ValueError with the allowed range for any argument out of range."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; known: {', '.join(SAMPLERS)}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be an integer in [1, {num_timesteps}], got {steps!r}")
    if not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta!r}")
    if not isinstance(guidance_scale, (int, float)) or not 0.0 <= guidance_scale <= 20.0 or guidance_scale != guidance_scale:
        raise ValueError(f"guidance_scale must be in [0, 20], got {guidance_scale!r}")


@torch.no_grad()
def iter_denoise(
    model,
    schedule: NoiseSchedule,
    ids: torch.Tensor,
    steps: int = 50,
    eta: float = 0.0,
    guidance_scale: float = 1.0,
    seed: int = 0,
    sampler: str = "ddim",
    clip_x0: bool = True,
    autocast_bf16: bool = False,
) -> Iterator[StepOutput]:
    """Sample videos for the prompt ids (B, L), yielding every step. Same seed, same output.

    Noise is drawn on the CPU from `seed`, so a seed gives the same start on any device.
    """
    check_sampling_args(steps, eta, guidance_scale, schedule.num_timesteps, sampler)
    if sampler == "ddpm":
        eta = 1.0
    device = ids.device
    cfg = model.cfg
    scheduler = DDIMScheduler(schedule)
    timesteps = scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(int(seed))
    x = torch.randn((ids.shape[0], cfg.frames, cfg.height, cfg.width), generator=generator).to(device)  # (B, T, H, W)
    model.reset_sampling_state()
    for i, t in enumerate(timesteps):
        tt = torch.full((ids.shape[0],), int(t), dtype=torch.long, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            out = model.forward_with_cfg(x, tt, ids, guidance_scale)
        x, pred_x0 = scheduler.step(out.float(), i, x, eta=eta, clip_x0=clip_x0, generator=generator)
        yield StepOutput(index=i, num_steps=len(timesteps), t=int(t), x_t=x, pred_x0=pred_x0)
