"""The samplers: DDPM and DDIM in one scheduler, DPM-Solver++(2M) in another, and the generator that
yields every denoising step.

| code                 | paper (DDIM, Song et al. 2021)   |
| -------------------- | -------------------------------- |
| alpha_prod_t         | alpha_t (DDIM's alpha = DDPM's alpha_bar) |
| alpha_prod_t_prev    | alpha_{t-1} of the *strided* chain: the next timestep in `timesteps` |
| pred_x0              | f_theta^(t)(x_t), eq. 9          |
| sigma_t              | eq. 16, scaled by eta            |

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


class DPMSolverMultistepScheduler(DDIMScheduler):
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2) on the same strided timesteps.

    | code        | paper                                          |
    | ----------- | ---------------------------------------------- |
    | alpha, sigma| alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t) |
    | lambda_     | lambda_t = log(alpha_t / sigma_t), the half log-SNR |
    | h           | h_i = lambda_{t_i} - lambda_{t_{i-1}}          |
    | r           | r_i = h_{i-1} / h_i                            |
    | d           | D_i, the extrapolated data prediction          |

    Each step uses the model's x0 prediction at this step and the previous one, second order, except
    three first-order (DDIM) steps: the first (there is no previous prediction), the one into t = 0
    (alpha_bar_0 is nearly 1, so its lambda jump dwarfs the steps before it and extrapolating across it
    is unstable: measured on an exact Gaussian denoiser in tests/test_sampler.py, the way diffusers
    takes its final step at lower order) and the last, into alpha_bar = 1, where lambda is infinite and
    the update is the predicted x0 itself.
    """

    def set_timesteps(self, num_steps: int) -> np.ndarray:
        self._prev_x0: torch.Tensor | None = None  # the previous step's data prediction (multistep state)
        self._prev_h: float | None = None
        return super().set_timesteps(num_steps)

    def _alpha_sigma_lambda(self, t: int) -> tuple[float, float, float]:
        """alpha_t, sigma_t and lambda_t; t = -1 is the clean end (alpha 1, sigma 0, lambda inf)."""
        if t < 0:
            return 1.0, 0.0, float("inf")
        abar = float(self.schedule.alphas_cumprod[t])
        alpha, sigma = abar**0.5, (1.0 - abar) ** 0.5
        return alpha, sigma, float(np.log(alpha) - np.log(sigma))

    def step(self, model_output: torch.Tensor, index: int, x_t: torch.Tensor, clip_x0: bool = True,
             **_unused) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from timesteps[index] to the next one. Returns (x_prev, pred_x0)."""
        if self.timesteps is None:
            raise RuntimeError("call set_timesteps first")
        # 1. the current and next timestep, and their alpha, sigma, lambda
        t, t_prev = int(self.timesteps[index]), self.prev_timestep(index)
        alpha_t, sigma_t, lambda_t = self._alpha_sigma_lambda(t)
        alpha_s, sigma_s, lambda_s = self._alpha_sigma_lambda(t_prev)
        # 2. the data prediction x0 at t (clamped to the data range, as the DDIM step does)
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        pred_x0, _ = self.schedule.split_prediction(model_output.float(), x_t, tt)
        if clip_x0:
            pred_x0 = pred_x0.clamp(-1.0, 1.0)
        # 3. into the clean end: x_0 is the prediction itself (lambda -> inf, sigma -> 0)
        if t_prev < 0:
            x_prev = pred_x0
        else:
            h = lambda_s - lambda_t
            # 4. D: first order on the first step and into t = 0, else the second-order extrapolation (r = h_{i-1} / h_i)
            if self._prev_x0 is None or index == 0 or t_prev == 0:
                d = pred_x0
            else:
                r = self._prev_h / h
                d = (1 + 1 / (2 * r)) * pred_x0 - (1 / (2 * r)) * self._prev_x0
            # 5. x_{t_prev} = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D   (DPM-Solver++ eq. 8 with D)
            x_prev = (sigma_s / sigma_t) * x_t - alpha_s * float(np.expm1(-h)) * d
            self._prev_h = h
        self._prev_x0 = pred_x0
        return x_prev, pred_x0


def make_scheduler(sampler: str, schedule: NoiseSchedule) -> DDIMScheduler:
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
    x = torch.randn((ids.shape[0], cfg.frames, cfg.height, cfg.width), generator=generator).to(device)  # (B, T, H, W)
    state: dict = {}  # the trajectory's own: what a variant carries from one step to the next
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
        cond = model.encode_for_guidance(ids, guidance_scale)  # the prompts' encoding and layout, once
    for i, t in enumerate(timesteps):
        tt = torch.full((ids.shape[0],), int(t), dtype=torch.long, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            out = model.forward_with_cfg(x, tt, None, guidance_scale, state=state, cond=cond)
        x, pred_x0 = scheduler.step(out.float(), i, x, eta=eta, clip_x0=clip_x0, generator=generator)
        yield StepOutput(index=i, num_steps=len(timesteps), t=int(t), x_t=x, pred_x0=pred_x0)
