"""The forward (noising) process: schedules, q_sample, prediction targets, the DDPM posterior.

Symbols (DDPM, Ho et al. 2020): beta_t, alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s
(`alphas_cumprod`). Timesteps are 0-based: t = 0 is the least noisy step, t = T-1 the noisiest.
Every coefficient is computed once in float64 and read through `_extract`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")


@dataclass(frozen=True)
class DiffusionConfig:
    """The forward process and what the network predicts."""

    schedule: str = "cosine"  # "linear" (the blog's, betas 1e-4..0.02) or "cosine" (Nichol & Dhariwal)
    num_timesteps: int = 1000  # T
    prediction: str = "v"  # "eps" (the blog's) or "v" (Salimans & Ho)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; known: linear, cosine")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {self.prediction!r}; known: eps, v")
        if not 2 <= self.num_timesteps <= 100_000:
            raise ValueError(f"num_timesteps must be in [2, 100000], got {self.num_timesteps}")


def make_betas(kind: str, num_timesteps: int) -> np.ndarray:
    """beta_1..beta_T as float64. "linear": the blog's alpha from 0.9999 to 0.98; "cosine": Nichol & Dhariwal."""
    if kind == "linear":
        return np.linspace(1e-4, 0.02, num_timesteps, dtype=np.float64)
    if kind == "cosine":
        s = 0.008
        steps = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
        f = np.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    raise ValueError(f"unknown schedule {kind!r}; known: linear, cosine")


def strided_timesteps(num_steps: int, num_timesteps: int) -> np.ndarray:
    """The timesteps a sampler visits: `num_steps` evenly spaced from T-1 down to 0 (1 <= num_steps <= T)."""
    T = num_timesteps
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or not 1 <= num_steps <= T:
        raise ValueError(f"steps must be an integer in [1, {T}], got {num_steps!r}")
    if num_steps == 1:
        return np.array([T - 1], dtype=np.int64)
    return np.rint(np.linspace(T - 1, 0, num_steps)).astype(np.int64)


def prev_timestep(timesteps: np.ndarray, index: int) -> int:
    """t_prev of the step from timesteps[index]: the less noisy timestep it lands on, which is the next entry
    of the descending chain, or -1 (alpha_bar = 1, the clean end) after the last."""
    return int(timesteps[index + 1]) if index + 1 < len(timesteps) else -1


def _extract(arr: torch.Tensor, t: torch.Tensor, ndim: int) -> torch.Tensor:
    """arr[t] as float32, shaped (B, 1, ..., 1) to broadcast against an ndim tensor; t (B, T), a timestep per
    frame, gives (B, T, 1, 1)."""
    out = arr.to(t.device)[t].float()
    return out.reshape(*t.shape, *([1] * (ndim - t.ndim)))


class NoiseSchedule:
    """Precomputed coefficients of one schedule, and the maths that uses them."""

    def __init__(self, cfg: DiffusionConfig):
        self.cfg = cfg
        self.num_timesteps = cfg.num_timesteps
        self.prediction = cfg.prediction
        betas = make_betas(cfg.schedule, cfg.num_timesteps)
        alphas_cumprod = np.cumprod(1.0 - betas)
        alphas_cumprod_prev = np.append(1.0, alphas_cumprod[:-1])
        f64 = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64))  # noqa: E731
        self.betas = f64(betas)
        self.alphas_cumprod = f64(alphas_cumprod)  # alpha_bar_t
        self.alphas_cumprod_prev = f64(alphas_cumprod_prev)  # alpha_bar_{t-1}, 1 at t = 0
        self.sqrt_alphas_cumprod = f64(np.sqrt(alphas_cumprod))
        self.sqrt_one_minus_alphas_cumprod = f64(np.sqrt(1.0 - alphas_cumprod))
        self.snr = f64(alphas_cumprod / (1.0 - alphas_cumprod))  # alpha_bar / (1 - alpha_bar)
        # q(x_{t-1} | x_t, x_0) = N(coef1 * x_0 + coef2 * x_t, posterior_variance)   (DDPM eq. 6-7)
        self.posterior_variance = f64(betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod))
        self.posterior_mean_coef1 = f64(betas * np.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod))
        self.posterior_mean_coef2 = f64((1.0 - alphas_cumprod_prev) * np.sqrt(1.0 - betas) / (1.0 - alphas_cumprod))

    def alpha_sigma_lambda(self, t: int) -> tuple[float, float, float]:
        """alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t) and the half log-SNR lambda_t =
        log(alpha_t / sigma_t) of one timestep, as floats, for the solvers that step in lambda; t = -1 is the
        clean end (alpha 1, sigma 0, lambda inf)."""
        if t < 0:
            return 1.0, 0.0, float("inf")
        abar = float(self.alphas_cumprod[t])
        alpha, sigma = abar**0.5, (1.0 - abar) ** 0.5
        return alpha, sigma, float(np.log(alpha) - np.log(sigma))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
        return (
            _extract(self.sqrt_alphas_cumprod, t, x0.ndim) * x0
            + _extract(self.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * noise
        )

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the network learns to output: eps, or v = sqrt(a_bar) eps - sqrt(1 - a_bar) x_0."""
        if self.prediction == "eps":
            return noise
        return (
            _extract(self.sqrt_alphas_cumprod, t, x0.ndim) * noise
            - _extract(self.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * x0
        )

    def split_prediction(self, model_output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor):
        """Network output -> (pred_x0, pred_eps) for either prediction type."""
        a = _extract(self.sqrt_alphas_cumprod, t, x_t.ndim)
        s = _extract(self.sqrt_one_minus_alphas_cumprod, t, x_t.ndim)
        if self.prediction == "eps":
            eps = model_output
            x0 = (x_t - s * eps) / a
        else:
            x0 = a * x_t - s * model_output
            eps = s * x_t + a * model_output
        return x0, eps

    def predicted_x0(self, model_output: torch.Tensor, x_t: torch.Tensor, t: int, clip_x0: bool = True) -> torch.Tensor:
        """The clean video x_t (B, T, H, W) implies at timestep t, clamped to the data range unless clip_x0=False:
        the data prediction the multistep solvers step with."""
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        pred_x0, _ = self.split_prediction(model_output.float(), x_t, tt)
        return pred_x0.clamp(-1.0, 1.0) if clip_x0 else pred_x0

    def denoising_errors(self, model_output: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor,
                         t: torch.Tensor, clamp_x0: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample errors of one prediction, each (B,): the MSE against the training target (the
        loss before weighting) and the MSE of the clean video it implies (comparable across eps and v;
        clamped to [-1, 1] like the sampler's, unless clamp_x0=False). The trainer's loss, its
        validation and the probes all measure with this."""
        output = model_output.float()
        target_mse = (output - self.target(x0, noise, t)).pow(2).mean(dim=tuple(range(1, x0.ndim)))  # (B,)
        pred_x0, _ = self.split_prediction(output, x_t, t)
        if clamp_x0:
            pred_x0 = pred_x0.clamp(-1, 1)
        x0_mse = (pred_x0 - x0).pow(2).mean(dim=tuple(range(1, x0.ndim)))  # (B,)
        return target_mse, x0_mse

    def loss_weight(self, t: torch.Tensor, kind: str, gamma: float = 5.0) -> torch.Tensor:
        """Per-sample loss weight (B,), or per frame (B, T) for timesteps (B, T). min_snr: min(SNR, gamma) / SNR for
        eps and / (SNR + 1) for v, which weighs every t as an x0-loss capped at gamma (Hang et al. 2023)."""
        if kind == "none":
            return torch.ones(t.shape, device=t.device)
        if kind != "min_snr":
            raise ValueError(f"unknown loss weighting {kind!r}; known: none, min_snr")
        snr = self.snr.to(t.device)[t]
        clipped = snr.clamp(max=gamma)
        denom = snr if self.prediction == "eps" else snr + 1.0
        return (clipped / denom).float()

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor):
        """Mean and variance of q(x_{t-1} | x_t, x_0)."""
        mean = _extract(self.posterior_mean_coef1, t, x_t.ndim) * x0 + _extract(self.posterior_mean_coef2, t, x_t.ndim) * x_t
        return mean, _extract(self.posterior_variance, t, x_t.ndim)
