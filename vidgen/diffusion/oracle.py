"""An exact denoiser for checking solvers: for Gaussian data x0 ~ N(mu, s^2) per pixel, E[x0 | x_t] is known
in closed form and so is the end point of the probability-flow ODE, so a sampler's error against the
true ODE solution can be measured (tests/test_sampler.py, python -m benchmarks.solvers)."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from ..data.shape import FRAMES, HEIGHT, WIDTH
from .sampler import iter_denoise
from .schedule import NoiseSchedule


class GaussianOracle(torch.nn.Module):
    """The exact denoiser of Gaussian data x0 ~ N(mu, s^2) per pixel: E[x0 | x_t] in closed form,
    returned as the model output the schedule's prediction type asks for. The probability-flow ODE
    of this data has an exact solution, so solvers can be compared against the truth."""

    def __init__(self, schedule: NoiseSchedule, mu: float = 0.3, s: float = 0.4):
        super().__init__()
        self.cfg = SimpleNamespace(sample_shape=(FRAMES, HEIGHT, WIDTH))  # the video shape iter_denoise reads
        self.schedule, self.mu, self.s = schedule, mu, s

    def x0(self, x_t, t):
        abar = self.schedule.alphas_cumprod[t].float().reshape(-1, 1, 1, 1)
        a, var = abar.sqrt(), 1 - abar
        return self.mu + a * self.s**2 / (abar * self.s**2 + var) * (x_t - a * self.mu)

    def encode_for_guidance(self, ids, guidance_scale):
        return ids  # no prompt: the data distribution is the same for every one

    def forward_with_guidance(self, x, t, ids, guidance_scale, state=None, cond=None):
        x0 = self.x0(x, t)
        abar = self.schedule.alphas_cumprod[t].float().reshape(-1, 1, 1, 1)
        a, sig = abar.sqrt(), (1 - abar).sqrt()
        eps = (x - a * x0) / sig
        return eps if self.schedule.prediction == "eps" else a * eps - sig * x0

    def exact(self, x_T, t_start: int):
        """The ODE's end point from x_T at t_start: for Gaussian data, x0 = mu + s * (x_T - a mu) / sqrt(a^2 s^2 + sigma^2)."""
        abar = float(self.schedule.alphas_cumprod[t_start])
        return self.mu + self.s * (x_T - abar**0.5 * self.mu) / (abar * self.s**2 + 1 - abar) ** 0.5


def solver_errors(schedule: NoiseSchedule, samplers=("ddim", "dpm++2m"), steps=(10, 20, 50, 1000), seed: int = 0) -> dict:
    """Max absolute error against the exact ODE end point from one x_T, per (sampler, steps)."""
    oracle = GaussianOracle(schedule)
    x_T = torch.randn((2, FRAMES, HEIGHT, WIDTH), generator=torch.Generator().manual_seed(seed))
    truth = oracle.exact(x_T, schedule.num_timesteps - 1)
    ids = torch.zeros(2, 8, dtype=torch.long)
    errors = {}
    for sampler in samplers:
        for n in steps:
            last = None
            for last in iter_denoise(oracle, schedule, ids, steps=n, sampler=sampler, seed=seed, clip_x0=False):
                pass
            errors[sampler, n] = (last.x_t - truth).abs().max().item()
    return errors
