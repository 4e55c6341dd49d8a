"""DPM-Solver++(2M): the deterministic second-order multistep solver of the probability-flow ODE
(Lu et al. 2022, the solver behind diffusers' DPMSolverMultistepScheduler). Deterministic: its step refuses
eta != 0 (vidgen.diffusion.sampler passes it 0, whatever the user's eta)."""
from __future__ import annotations

import numpy as np
import torch

from .schedule import NoiseSchedule, prev_timestep, strided_timesteps


class DPMSolverMultistepScheduler:
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

    stochastic = False  # step draws no noise: eta must be 0 (vidgen.diffusion.sampler.Scheduler)

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.num_train_timesteps = schedule.num_timesteps
        self.timesteps: np.ndarray | None = None

    def set_timesteps(self, num_steps: int) -> np.ndarray:
        """The same strided chain as DDIM's; clears the multistep state."""
        self._prev_x0: torch.Tensor | None = None  # the previous step's data prediction (multistep state)
        self._prev_h: float | None = None
        self.timesteps = strided_timesteps(num_steps, self.num_train_timesteps)
        return self.timesteps

    def step(
        self,
        model_output: torch.Tensor,
        index: int,
        x_t: torch.Tensor,
        *,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        clip_x0: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from timesteps[index] to the next one. Returns (x_prev, pred_x0). The solver draws no
        noise: eta must be 0 and `generator` is not used."""
        if self.timesteps is None:
            raise RuntimeError("call set_timesteps first")
        if eta != 0:
            raise ValueError(f"DPM-Solver++(2M) is deterministic: eta must be 0, got {eta!r}")
        # 1. the current and next timestep, and their alpha, sigma, lambda
        t, t_prev = int(self.timesteps[index]), prev_timestep(self.timesteps, index)
        alpha_t, sigma_t, lambda_t = self.schedule.alpha_sigma_lambda(t)
        alpha_s, sigma_s, lambda_s = self.schedule.alpha_sigma_lambda(t_prev)
        # 2. the data prediction x0 at t (clamped to the data range, as the DDIM step does)
        pred_x0 = self.schedule.predicted_x0(model_output, x_t, t, clip_x0)
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
