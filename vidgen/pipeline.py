"""Text-to-video inference: a loaded model plus its schedule, behind `generate` and `iter_steps`."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .data import tokenizer as tok
from .data.render import to_uint8
from .diffusion.sampler import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, StepOutput, iter_denoise
from .diffusion.schedule import NoiseSchedule
from .paths import CHECKPOINTS_DIR
from .training.checkpoint import load_model

DEFAULT_CHECKPOINT = CHECKPOINTS_DIR / "release"  # the layout-guided release
BLOG_CHECKPOINT = DEFAULT_CHECKPOINT.parent / "blog"  # the blog's model: prompt tokens only


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


class TrajectoryRecorder:
    """Collects one sample's steps from `iter_steps` as uint8 video: after `add` of step i, x_t[i] is
    the sample after that step (x_t[-1] the result), pred_x0[i] the model's guess of the clean video
    and timesteps[i] the t the step started from. The CLI, the app and the probes all record with it."""

    def __init__(self, sample: int = 0):
        self.sample = sample  # which sample of the batch to record
        self.x_t = self.pred_x0 = self.timesteps = None  # (S, T, H, W) uint8, (S, T, H, W) uint8, (S,) int64
        self.count = 0  # steps recorded so far

    def add(self, out: StepOutput) -> None:
        if self.x_t is None:  # allocate once the number of steps is known
            shape = (out.num_steps, *out.x_t.shape[1:])  # (S, T, H, W)
            self.x_t, self.pred_x0 = np.empty(shape, np.uint8), np.empty(shape, np.uint8)
            self.timesteps = np.empty(out.num_steps, np.int64)
        self.x_t[out.index] = to_uint8(out.x_t[self.sample])
        self.pred_x0[out.index] = to_uint8(out.pred_x0[self.sample])
        self.timesteps[out.index] = out.t
        self.count = out.index + 1


SHIPPED = {"release": DEFAULT_CHECKPOINT, "blog": BLOG_CHECKPOINT}  # names that stand for the shipped models


def resolve_model_path(path=None) -> Path:
    """A checkpoint directory, or the name of a shipped model ("release", "blog") where no such
    directory exists; None is the release."""
    if path is None:
        return DEFAULT_CHECKPOINT
    path = Path(path)
    if str(path) in SHIPPED and not path.exists():
        return SHIPPED[str(path)]
    return path


def load_pipeline(path=None, device: str = "cpu", prefer_ema: bool = True, bf16: bool | None = None) -> Pipeline:
    """Load a checkpoint directory as a Pipeline: default the shipped checkpoints/release (layout-guided);
    "blog" is the shipped blog's model."""
    path = resolve_model_path(path)
    model, diff_cfg, raw = load_model(path, prefer_ema=prefer_ema, device=device)
    return Pipeline(model, diff_cfg, raw, device=device, bf16=bf16)
