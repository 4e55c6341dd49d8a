"""The samplers by name, their defaults and ranges, and the generator that yields every denoising step.
The schedulers stand alone: DDPM and DDIM in one (diffusion/ddim.py), DPM-Solver++(2M) in another
(diffusion/dpm_solver.py), each with its own `step` signature.

eta = 0 is deterministic DDIM; eta = 1 with all T steps is DDPM's ancestral sampler. "ddpm" mode
is eta = 1 with any number of steps (the posterior of the strided chain). "dpm++2m" is the
deterministic second-order multistep solver of the probability-flow ODE (Lu et al. 2022, the
solver behind diffusers' DPMSolverMultistepScheduler); it takes no eta.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .ddim import DDIMScheduler
from .dpm_solver import DPMSolverMultistepScheduler
from .schedule import NoiseSchedule

DEFAULT_GUIDANCE = 3.0  # classifier-free guidance scale when a checkpoint's config names no "default_guidance"
# generating (the app, `sample`, Pipeline): the fewest steps measured to read back within 1 point of 50-step
# DDIM on the release with PSNR within 2 dB of it (docs/sampling.md)
DEFAULT_SAMPLER = "dpm++2m"  # one of SAMPLERS
DEFAULT_STEPS = 10
# measuring (eval, experiments, compare, probes): the reference every reported figure uses
EVAL_SAMPLER = "ddim"
EVAL_STEPS = 50
SAMPLERS = ("ddim", "ddpm", "dpm++2m")
STOCHASTIC = {"ddim": True, "ddpm": True, "dpm++2m": False}  # whether eta means anything to the sampler
ETA_RANGE = (0.0, 1.0)  # 0: deterministic DDIM, 1: as much fresh noise as DDPM
GUIDANCE_RANGE = (0.0, 20.0)  # classifier-free guidance scale s: uncond + s (cond - uncond)
SAMPLER_HELP = {  # one line per sampler, for the CLI's and the app's help
    "ddim": "DDIM, eta 0 deterministic, eta 1 as noisy as DDPM",
    "ddpm": "ancestral DDPM (eta forced to 1)",
    "dpm++2m": "DPM-Solver++(2M), deterministic, good in 10-20 steps (no eta)",
}


@dataclass
class StepOutput:
    """One denoising step: its index (0-based), the timestep t it started from, x_{t_prev} and the
    predicted clean video, each (B, T, H, W) float in model space."""

    index: int
    num_steps: int
    t: int
    x_t: torch.Tensor
    pred_x0: torch.Tensor


def make_scheduler(sampler: str, schedule: NoiseSchedule) -> DDIMScheduler | DPMSolverMultistepScheduler:
    """The scheduler object behind a sampler name; unknown names raise with the known ones."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; known: {', '.join(SAMPLERS)}")
    return DPMSolverMultistepScheduler(schedule) if sampler == "dpm++2m" else DDIMScheduler(schedule)


def check_sampling_args(steps: int, eta: float, guidance_scale: float, num_timesteps: int, sampler: str = DEFAULT_SAMPLER) -> None:
    """Raise ValueError with the allowed range for any argument out of range."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; known: {', '.join(SAMPLERS)}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be an integer in [1, {num_timesteps}], got {steps!r}")
    if not isinstance(eta, (int, float)) or not ETA_RANGE[0] <= eta <= ETA_RANGE[1]:
        raise ValueError(f"eta must be in [{ETA_RANGE[0]:g}, {ETA_RANGE[1]:g}], got {eta!r}")
    if not isinstance(guidance_scale, (int, float)) or not GUIDANCE_RANGE[0] <= guidance_scale <= GUIDANCE_RANGE[1]:
        raise ValueError(f"guidance_scale must be in [{GUIDANCE_RANGE[0]:g}, {GUIDANCE_RANGE[1]:g}], got {guidance_scale!r}")


@torch.no_grad()
def iter_denoise(
    model,
    schedule: NoiseSchedule,
    ids: torch.Tensor,
    steps: int = DEFAULT_STEPS,
    eta: float = 0.0,
    guidance_scale: float = 1.0,
    seed: int = 0,
    sampler: str = DEFAULT_SAMPLER,
    clip_x0: bool = True,
    autocast_bf16: bool = False,
    motion: torch.Tensor | None = None,
) -> Iterator[StepOutput]:
    """Sample videos for the prompt ids (B, L), yielding every step. Same seed, same output.

    The model encodes the prompts once, `cond = model.encode_for_guidance(ids, guidance_scale)`, and
    each step calls `model.forward_with_cfg(x_t, t, None, guidance_scale, state=..., cond=cond)`.

    Noise is drawn on the CPU from `seed`, so a seed gives the same start on any device.
    """
    check_sampling_args(steps, eta, guidance_scale, schedule.num_timesteps, sampler)
    if sampler == "ddpm":
        eta = 1.0
    device = ids.device
    cfg = model.cfg
    scheduler = make_scheduler(sampler, schedule)
    timesteps = scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(int(seed))
    noise_kwargs = {"eta": eta, "generator": generator} if STOCHASTIC[sampler] else {}  # the DPM solver adds no noise
    x = torch.randn((ids.shape[0], cfg.frames, cfg.height, cfg.width), generator=generator).to(device)  # (B, T, H, W)
    state: dict = {}  # the trajectory's own: what a variant carries from one step to the next
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
        # the prompts' encoding and layout, once; motion (B, T, 3): where the text is to go (layout2d.motion_tensor)
        cond = (model.encode_for_guidance(ids, guidance_scale) if motion is None
                else model.encode_for_guidance(ids, guidance_scale, motion=motion.to(device)))
    for i, t in enumerate(timesteps):
        tt = torch.full((ids.shape[0],), int(t), dtype=torch.long, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            out = model.forward_with_cfg(x, tt, None, guidance_scale, state=state, cond=cond)
        x, pred_x0 = scheduler.step(out.float(), i, x, clip_x0=clip_x0, **noise_kwargs)
        yield StepOutput(index=i, num_steps=len(timesteps), t=int(t), x_t=x, pred_x0=pred_x0)
