"""Text-to-video inference: a loaded model plus its schedule, behind `generate` and `iter_steps`."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .checkpoint import load_model
from .compiled import compile_twin
from .data import tokenizer as tok
from .data.layout import FONT_SIZE
from .data.layout2d import motion_tensor
from .data.render import to_uint8
from .data.world import SCROLL_Y, Motion, WorldConfig, check_motion, render_motion
from .diffusion.sampler import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, StepOutput, iter_denoise
from .diffusion.schedule import NoiseSchedule
from .jsonconfig import config_from_dict
from .precision import PRECISIONS, choose_precision, describe
from .shipped import resolve_model_path


class Pipeline:
    """A loaded model ready to sample. Prompts are validated here; the maths lives in the sampler."""

    def __init__(self, model, diffusion_cfg, config: dict | None = None, device="cpu", bf16: bool | None = None,
                 precision: str = "auto"):
        """bf16 True/False forces a precision (as does precision "bf16"/"fp32"); otherwise "auto" times
        both on this machine at the first generation (vidgen.precision) and keeps the faster."""
        self.model = model.eval()
        self.schedule = NoiseSchedule(diffusion_cfg)
        self.config = config or {}
        self.device = torch.device(device)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
        if bf16 is not None:
            precision = "bf16" if bf16 else "fp32"
        self.precision_info: dict | None = None  # how the precision was chosen (vidgen.precision.choose_precision)
        self.compile_info: dict | None = None  # whether sampling uses a compiled twin, and why (vidgen.compiled)
        self._twin = None  # the compiled twin the sampler calls, once compile() found it faster
        self._bf16 = None if precision == "auto" else precision == "bf16"
        if self._bf16 is not None:
            self.precision_info = {"precision": precision, "how": "forced", "timings_ms": None}

    @property
    def bf16(self) -> bool:
        """Whether sampling autocasts to bfloat16; under "auto", decided by timing at first use."""
        if self._bf16 is None:
            self.precision_info = choose_precision(self.model, "auto", self.device)
            self._bf16 = self.precision_info["precision"] == "bf16"
        return self._bf16

    @bf16.setter
    def bf16(self, value: bool) -> None:
        self._bf16 = bool(value)
        self.precision_info = {"precision": "bf16" if value else "fp32", "how": "forced", "timings_ms": None}
        self._twin, self.compile_info = None, None  # a twin was checked and timed in the other precision

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

    @property
    def world(self) -> WorldConfig:
        """The world the checkpoint was trained in (its training config's "world"; the scroll world if it has none)."""
        raw = (self.config.get("train") or {}).get("world")
        return WorldConfig() if raw is None else config_from_dict(WorldConfig, raw, "world")

    def sample_motion(self, prompt: str, seed: int = 0) -> Motion:
        """A motion for `prompt` drawn from the checkpoint's training distribution (its world), keeping the
        invariant that every glyph is seen whole; the scroll world has one motion per prompt."""
        return self.model.layout_kind.world_motion(prompt, self.world, seed)

    def render(self, prompt: str, motion: Motion | None = None) -> np.ndarray:
        """The ground truth: uint8 (T, H, W) video of `prompt` moving along `motion` (None: the motion
        sample_motion draws with seed 0)."""
        return render_motion(prompt, self.sample_motion(prompt) if motion is None else motion)

    def motions(self, prompts: list[str], motion=None, seed: int = 0, check: bool = True) -> list[Motion] | None:
        """The motion each prompt is generated with: `motion` (one for every prompt, or a list of one per
        prompt), checked; or, with none given, for a model told its motion ("glyph2d") one drawn from its
        world by the seed (`sample_motion`), for a "learned2d" model the one its learned prior draws by the
        seed; None when the model moves the text itself. Refused with the reason when the model cannot
        follow a motion. check=False (raw token ids, for experiments) skips the prompts' and the motions'
        checks against the glyphs."""
        if check:
            prompts = [tok.normalize_prompt(p) for p in prompts]
        kind = self.model.layout_kind
        if motion is None:  # from its world ("glyph2d"), its own learned prior ("learned2d"), or none at all
            return kind.draw_motions(self.model, prompts, self.world, seed, self.encode)
        motions = list(motion) if isinstance(motion, (list, tuple)) else [motion] * len(prompts)
        if len(motions) != len(prompts):
            raise ValueError(f"got {len(motions)} motions for {len(prompts)} prompts")
        for prompt, m in zip(prompts, motions):
            if not isinstance(m, Motion):
                raise ValueError(f"a motion must be a vidgen.data.world.Motion, got {type(m).__name__}")
            if check:
                check_motion(prompt, m)
            if not kind.follows_motion:
                kind.refuse_motion()
            if self.world.name == "scroll" and (m.size != FONT_SIZE or set(m.ys) != {SCROLL_Y}):
                raise ValueError(f"this model was trained in the scroll world: it follows horizontal motions of the text at "
                                 f"its one size ({FONT_SIZE}) and row ({SCROLL_Y}), any speed, direction or pauses; got "
                                 f"size {m.size} and rows {sorted(set(m.ys))}")
        return motions

    def compile(self, both_precisions: bool | None = None) -> dict:
        """Compile a twin of the model for sampling and sample with it from now on if it is measurably
        faster on this machine (vidgen.compiled; 10-60 s). Unless the precision was forced, the twin is timed
        in fp32 and in bf16 and the faster kept (the compiled pass's best precision is not always the eager
        pass's); both_precisions True or False says whether to. -> how it was decided. Safe to call from a
        background thread while this pipeline generates: the swap is one assignment."""
        bf16 = self.bf16  # decided first (by timing, unless forced)
        if both_precisions is None:
            both_precisions = self.precision_info.get("how") != "forced"
        twin, info = compile_twin(self.model, bf16, both_precisions=both_precisions)
        if twin is not None and info["bf16"] != bf16:  # the compiled network is faster in the other precision
            self._bf16 = info["bf16"]
            self.precision_info = {"precision": "bf16" if info["bf16"] else "fp32", "key": self.precision_info.get("key", ""),
                                   "how": "measured with the compiled network", "timings_ms": None}
        self.compile_info = info
        self._twin = twin
        return info

    @property
    def sampling_model(self):
        """The network the sampler calls: the compiled twin once compile() kept one, else the model."""
        return self.model if self._twin is None else self._twin

    @property
    def default_sampling(self) -> tuple[str, int]:
        """(sampler, steps) the checkpoint is sampled with by default: its config's "default_sampling" (a
        progressive-distillation student is trained for its own few DDIM steps), else DEFAULT_SAMPLER/STEPS."""
        own = self.config.get("default_sampling") or {}
        return own.get("sampler", DEFAULT_SAMPLER), int(own.get("steps", DEFAULT_STEPS))

    def iter_steps(self, prompts, steps: int | None = None, eta: float = 0.0, guidance_scale: float | None = None, seed: int = 0,
                   sampler: str | None = None, clip_x0: bool = True, ids: torch.Tensor | None = None,
                   motion=None) -> Iterator[StepOutput]:
        """Yield every denoising step for the prompts (or raw token ids, for experiments).

        guidance_scale None means the checkpoint's default_guidance; sampler or steps None, its `default_sampling`. `motion` (a Motion, or one per
        prompt) is followed; None lets the model move the text as it learned: a "learned2d" model draws
        a motion from its learned prior by the seed, and for a model that is told its motion (layout
        "glyph2d") one is drawn per prompt from its world by the seed (`motions`).
        """
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        if sampler is None or steps is None:
            own_sampler, own_steps = self.default_sampling
            sampler, steps = sampler or own_sampler, own_steps if steps is None else steps
        motions = None
        if ids is None or motion is not None:
            motions = self.motions([prompts] if isinstance(prompts, str) else list(prompts), motion, seed, check=ids is None)
        ids = self.encode(prompts) if ids is None else ids.to(self.device)
        yield from iter_denoise(self.sampling_model, self.schedule, ids, steps=steps, eta=eta, guidance_scale=guidance_scale,
                                seed=seed, sampler=sampler, clip_x0=clip_x0, autocast_bf16=self.bf16,
                                motion=None if motions is None else motion_tensor(motions))

    def generate(self, prompts, **kwargs) -> np.ndarray:
        """-> uint8 videos: (T, H, W) for one prompt string, (B, T, H, W) for a list. Takes iter_steps'
        arguments, `motion` among them."""
        last = None
        for last in self.iter_steps(prompts, **kwargs):
            pass
        video = to_uint8(last.x_t)
        return video[0] if isinstance(prompts, str) else video


def describe_precision(pipe: Pipeline) -> str:
    """The CPU, its bf16 flags and the pipeline's precision with how it was chosen, in one line."""
    pipe.bf16  # noqa: B018 (decides it now if still "auto")
    return describe(pipe.precision_info)


def load_pipeline(path=None, device: str = "cpu", prefer_ema: bool = True, bf16: bool | None = None,
                  precision: str = "auto") -> Pipeline:
    """Load a checkpoint directory, or a shipped model by name (vidgen.shipped), as a Pipeline; None is
    the default shipped model (vidgen.shipped.DEFAULT_MODEL: the layout-guided release distilled to 2 steps)."""
    path = resolve_model_path(path)
    model, diff_cfg, raw = load_model(path, prefer_ema=prefer_ema, device=device)
    return Pipeline(model, diff_cfg, raw, device=device, bf16=bf16, precision=precision)
