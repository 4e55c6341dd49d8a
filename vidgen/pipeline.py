"""Text-to-video inference: a loaded model plus its schedule, behind `generate` and `iter_steps`."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .checkpoint import load_model
from .data import tokenizer as tok
from .data.render import to_uint8
from .diffusion.sampler import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, StepOutput, iter_denoise
from .diffusion.schedule import NoiseSchedule
from .shipped import resolve_model_path


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 autocast pays off on CUDA and on CPUs with native bf16 matrix units (AVX-512 BF16 / AMX)."""
    if device.type == "cuda":
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Pipeline:
    """A loaded model ready to sample. Prompts are validated here; the maths lives in the sampler."""

    def __init__(self, model, diffusion_cfg, config: dict | None = None, device="cpu", bf16: bool | None = None):
        self.model = model.eval()
        self.schedule = NoiseSchedule(diffusion_cfg)
        self.config = config or {}
        self.device = torch.device(device)
        self.bf16 = bf16_is_fast(self.device) if bf16 is None else bf16

    @property
    def default_guidance(self) -> float:
        """The guidance scale the checkpoint was released with (its config's "default_guidance")."""
        return float(self.config.get("default_guidance", DEFAULT_GUIDANCE))

    @property
    def num_timesteps(self) -> int:
        return self.schedule.num_timesteps

    def encode(self, prompts) -> torch.Tensor:
        """str or list of str -> (B, L) ids on the model's device; raises ValueError on bad prompts."""
        if isinstance(prompts, str):
            prompts = [prompts]
        return torch.from_numpy(tok.encode_batch(list(prompts), self.model.cfg.prompt_len)).to(self.device)

    def iter_steps(self, prompts, steps: int = DEFAULT_STEPS, eta: float = 0.0, guidance_scale: float | None = None, seed: int = 0,
                   sampler: str = DEFAULT_SAMPLER, clip_x0: bool = True, ids: torch.Tensor | None = None) -> Iterator[StepOutput]:
        """Yield every denoising step for the prompts (or raw token ids, for experiments).

        guidance_scale None means the checkpoint's default_guidance.
        """
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        ids = self.encode(prompts) if ids is None else ids.to(self.device)
        yield from iter_denoise(self.model, self.schedule, ids, steps=steps, eta=eta, guidance_scale=guidance_scale,
                                seed=seed, sampler=sampler, clip_x0=clip_x0, autocast_bf16=self.bf16)

    def generate(self, prompts, **kwargs) -> np.ndarray:
        """-> uint8 videos: (T, H, W) for one prompt string, (B, T, H, W) for a list."""
        last = None
        for last in self.iter_steps(prompts, **kwargs):
            pass
        video = to_uint8(last.x_t)
        return video[0] if isinstance(prompts, str) else video


def load_pipeline(path=None, device: str = "cpu", prefer_ema: bool = True, bf16: bool | None = None) -> Pipeline:
    """Load a checkpoint directory, or a shipped model by name (vidgen.shipped), as a Pipeline; None is
    the default shipped model (the layout-guided release)."""
    path = resolve_model_path(path)
    model, diff_cfg, raw = load_model(path, prefer_ema=prefer_ema, device=device)
    return Pipeline(model, diff_cfg, raw, device=device, bf16=bf16)
