"""UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion
Models"; the solver behind diffusers' UniPCMultistepScheduler) in its B(h) = e^h - 1 form ("bh2"), order 2,
on the data prediction. Deterministic: its step refuses eta != 0.

Each step first *corrects* x_t with the model output just computed there (UniC: the step that produced x_t is
taken again with that output as one more point, so the correction costs no network pass), then *predicts*
x_{t_prev} from the corrected x_t (UniP-2, which with B(h) = e^h - 1 is DPM-Solver++(2M)'s update).
"""
from __future__ import annotations

import numpy as np
import torch

from .schedule import NoiseSchedule, prev_timestep, strided_timesteps


class UniPCMultistepScheduler:
    """UniPC-2 (bh2) on the same strided timesteps as DDIM's.

    | code          | paper (UniPC, Zhao et al. 2023)                               |
    | ------------- | ------------------------------------------------------------- |
    | alpha, sigma  | alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t)  |
    | lambda_       | lambda_t = log(alpha_t / sigma_t), the half log-SNR           |
    | h             | h = lambda_t - lambda_s, s the noisier end of the step        |
    | r             | r_1 = (lambda_{s'} - lambda_s) / h, s' the step before s (< 0) |
    | d1            | D_1 = (x0_{s'} - x0_s) / r_1                                  |
    | b_h           | B(h) = e^{-h} - 1 (bh2, for the data prediction)              |
    | rho           | the corrector's coefficients, Algorithm 2: R rho = b          |

    Every update here has the form x_t = (sigma_t / sigma_s) x_s - alpha_t B(h) x0_eff, DDIM's step with its x0
    replaced by a combination of the predictions at hand (`_exponential_step`).

    The predictor is first order (a DDIM step) on the first step, where there is no earlier prediction, on
    the last, into alpha_bar = 1 where lambda is infinite and the update is the predicted x0 itself, and
    into t = 0, as DPM-Solver++(2M) here is: alpha_bar_0 is nearly 1, so that step's lambda jump dwarfs the
    ones before it, and extrapolating across it, as diffusers does, lands farther from the exact ODE end
    point (measured at 10 to 50 steps on the Gaussian denoiser of vidgen.diffusion.oracle). The corrector
    has the order of the predictor step it corrects.
    """

    stochastic = False  # step draws no noise: eta must be 0 (vidgen.diffusion.sampler.Scheduler)

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.num_train_timesteps = schedule.num_timesteps
        self.timesteps: np.ndarray | None = None

    def set_timesteps(self, num_steps: int) -> np.ndarray:
        """The same strided chain as DDIM's; clears the multistep state."""
        self._x0_history: list[torch.Tensor] = []  # the data predictions of the last two steps, newest last
        self._last_x: torch.Tensor | None = None  # the (corrected) sample the last predictor step started from
        self._last_order = 0  # that step's order
        self.timesteps = strided_timesteps(num_steps, self.num_train_timesteps)
        return self.timesteps

    def _lambda(self, t: int) -> float:
        """lambda_t, the half log-SNR (inf at the clean end, t = -1)."""
        return self.schedule.alpha_sigma_lambda(t)[2]

    def _exponential_step(self, x_s: torch.Tensor, s: int, t: int, x0_eff: torch.Tensor) -> torch.Tensor:
        """x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) x0_eff: the probability-flow ODE solved exactly
        from s to t with the data prediction held at x0_eff (with x0_eff = x0_s, DDIM's step)."""
        alpha_t, sigma_t, lambda_t = self.schedule.alpha_sigma_lambda(t)
        _, sigma_s, lambda_s = self.schedule.alpha_sigma_lambda(s)
        return (sigma_t / sigma_s) * x_s - alpha_t * float(np.expm1(lambda_s - lambda_t)) * x0_eff

    @staticmethod
    def _corrector_rhos(h: float, r: float) -> tuple[float, float]:
        """(rho_1, rho_t) of UniC-2 with B(h) = e^{-h} - 1: the solution of [[1, 1], [r, 1]] rho = (b_1, b_2),
        b_k = k! phi_{k+1}(-h) (-h)^k / B(h) (UniPC Algorithm 2; as h -> 0 and r = -1, Adams-Moulton's 1/12, 5/12)."""
        hh = -h
        b_h = float(np.expm1(hh))
        phi_2 = b_h / hh - 1  # h phi_2(h) in the recursion phi_{k+1} = (phi_k - 1/k!) / h, scaled
        phi_3 = phi_2 / hh - 0.5
        b1, b2 = phi_2 / b_h, 2 * phi_3 / b_h
        rho_1 = (b1 - b2) / (1 - r)
        return rho_1, b1 - rho_1

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
            raise ValueError(f"UniPC is deterministic: eta must be 0, got {eta!r}")
        t, t_prev = int(self.timesteps[index]), prev_timestep(self.timesteps, index)
        # 1. the data prediction x0 at t (clamped to the data range, as the DDIM step does)
        pred_x0 = self.schedule.predicted_x0(model_output, x_t, t, clip_x0)
        # 2. UniC: take the step s -> t that produced x_t again, with x0_t as one more point (not before the
        # last step: it lands on x0_t, whatever x_t is)
        if index > 0 and self._last_x is not None and t_prev >= 0:
            s = int(self.timesteps[index - 1])
            x0_s = self._x0_history[-1]
            if self._last_order == 1:  # the trapezoid rule: rho_t = 1/2
                x0_eff = 0.5 * (x0_s + pred_x0)
            else:
                h = self._lambda(t) - self._lambda(s)
                r = (self._lambda(int(self.timesteps[index - 2])) - self._lambda(s)) / h
                rho_1, rho_t = self._corrector_rhos(h, r)
                x0_eff = x0_s + rho_1 * (self._x0_history[-2] - x0_s) / r + rho_t * (pred_x0 - x0_s)
            x_t = self._exponential_step(self._last_x, s, t, x0_eff)
        self._x0_history = (self._x0_history + [pred_x0])[-2:]
        # 3. UniP: t -> t_prev from the corrected x_t; second order (rho = 1/2 on D_1) but for the edges above
        order = 1 if index == 0 or t_prev <= 0 else 2
        if t_prev < 0:
            x_prev = pred_x0  # lambda -> inf, sigma -> 0: the first-order step lands on x0 itself
        elif order == 1:
            x_prev = self._exponential_step(x_t, t, t_prev, pred_x0)
        else:
            h = self._lambda(t_prev) - self._lambda(t)
            r = (self._lambda(int(self.timesteps[index - 1])) - self._lambda(t)) / h
            x_prev = self._exponential_step(x_t, t, t_prev, pred_x0 + 0.5 * (self._x0_history[-2] - pred_x0) / r)
        self._last_x, self._last_order = x_t, order
        return x_prev, pred_x0
