"""DDIM and DDPM in one scheduler (Song et al. 2021): eta = 0 is deterministic DDIM, eta = 1 adds as much
fresh noise as DDPM's ancestral sampler, on any strided chain of timesteps.

| code                 | paper (DDIM, Song et al. 2021)   |
| -------------------- | -------------------------------- |
| alpha_prod_t         | alpha_t (DDIM's alpha = DDPM's alpha_bar) |
| alpha_prod_t_prev    | alpha_{t-1} of the *strided* chain: the next timestep in `timesteps` |
| pred_x0              | f_theta^(t)(x_t), eq. 9          |
| sigma_t              | eq. 16, scaled by eta            |
"""
from __future__ import annotations

import numpy as np
import torch

from .schedule import NoiseSchedule, prev_timestep, strided_timesteps


class DDIMScheduler:
    """Chooses timesteps once (`set_timesteps`), then `step` maps x_t to x_{t_prev}. Stochastic: eta in
    [0, 1] scales the fresh noise each step draws from `generator`."""

    stochastic = True  # step uses eta and generator (vidgen.diffusion.sampler.Scheduler)

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.num_train_timesteps = schedule.num_timesteps
        self.timesteps: np.ndarray | None = None

    def set_timesteps(self, num_steps: int) -> np.ndarray:
        """Evenly spaced timesteps from T-1 down to 0, `num_steps` of them (1 <= num_steps <= T)."""
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
        """One reverse step from timesteps[index]. Returns (x_prev, pred_x0); the noise (eta > 0) is drawn on
        the CPU from `generator`."""
        if self.timesteps is None:
            raise RuntimeError("call set_timesteps first")
        # 1. get the current and previous timestep of the strided chain
        t = int(self.timesteps[index])
        t_prev = prev_timestep(self.timesteps, index)
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
