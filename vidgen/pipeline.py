"""Text-to-video inference: a loaded model plus its schedule, behind `generate` and `iter_steps`."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .checkpoint import CheckpointError, load_model
from .compiled import compile_twin
from .data import tokenizer as tok
from .data.layout import FONT_SIZE
from .data.layout2d import motion_tensor
from .data.render import to_uint8
from .data.shape import FRAMES
from .data.world import SCROLL_Y, Motion, WorldConfig, check_frames, check_motion, extend_motion, render_motion
from .diffusion.sampler import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, StepOutput, check_seed, iter_denoise
from .diffusion.schedule import NoiseSchedule
from .jsonconfig import config_from_dict
from .latent.release import check_vae, read_vae
from .models import variant_class
from .long.engine import DEFAULT_LONG_METHOD, DEFAULT_LONG_STEPS, LongStep, check_long_args, iter_long
from .precision import PRECISIONS, choose_precision, describe, describe_choice, median_seconds
from .shipped import LONG_MODEL, resolve_model_path


class Pipeline:
    """A loaded model ready to sample. Prompts are validated here; the maths lives in the sampler."""

    def __init__(self, model, diffusion_cfg, config: dict | None = None, device="cpu", bf16: bool | None = None,
                 precision: str = "auto", vae=None):
        """bf16 True/False forces a precision (as does precision "bf16"/"fp32"); otherwise "auto" times
        both on this machine at the first generation (vidgen.precision) and keeps the faster. `vae`: a latent
        model's autoencoder (vidgen.latent.vae.VideoVAE), which must code the model's latent shape."""
        self.model = model.eval()
        self.schedule = NoiseSchedule(diffusion_cfg)
        self.config = config or {}
        self.vae = check_vae(model.cfg, vae, self.world.scale)
        self.device = torch.device(device)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
        if bf16 is not None:
            precision = "bf16" if bf16 else "fp32"
        self.precision_info: dict | None = None  # how the precision was chosen (vidgen.precision.choose_precision)
        self.compile_info: dict | None = None  # whether sampling uses a compiled twin, and why (vidgen.compiled)
        self._twin = None  # the compiled twin the sampler calls, once compile() found it faster
        self._long: Pipeline | None = None  # the long-video model this one hands long requests to (long_pipeline)
        self._bf16 = None if precision == "auto" else precision == "bf16"
        if self._bf16 is not None:
            self.precision_info = {"precision": precision, "how": "forced", "timings_ms": None}
        # a latent model's VAE decodes in its own precision: forced with the denoiser's, else timed apart (decode_bf16)
        self._decode_bf16 = self._bf16
        self.decode_precision_info: dict | None = None if self._bf16 is None else dict(self.precision_info)

    @property
    def bf16(self) -> bool:
        """Whether sampling autocasts to bfloat16; under "auto", decided by timing at first use."""
        if self._bf16 is None:
            self.precision_info = choose_precision(self.model, "auto", self.device, timer=self.time_video_start, scope="video")
            self._bf16 = self.precision_info["precision"] == "bf16"
        return self._bf16

    @torch.no_grad()
    def time_video_start(self, model, bf16: bool, repeats: int = 5) -> float:
        """Median seconds of what a user waits for, in bf16 or fp32: a video of PROBE_PROMPT along its seed-0 motion,
        conditioning and glyph layout included, for the first (up to) PROBE_STEPS steps of the model's own sampler.
        The "auto" precision is decided by this: a forward pass alone (vidgen.precision.time_guided_pass) can favour
        bf16 where a video does not, as on an AMD EPYC with AVX-512 BF16 (see docs/reports/browser.json)."""
        sampler, steps = self.default_sampling
        motions = self.motions([PROBE_PROMPT], None, 0)
        ids = self.encode([PROBE_PROMPT])
        motion = None if motions is None else motion_tensor(motions)

        def video_start():
            for _ in iter_denoise(model, self.schedule, ids, steps=min(steps, PROBE_STEPS), guidance_scale=self.default_guidance,
                                  sampler=sampler, clip_x0=self.vae is None, autocast_bf16=bf16, motion=motion):
                pass

        return median_seconds(video_start, repeats)

    @property
    def decode_bf16(self) -> bool:
        """Whether a latent model's VAE decodes under bf16 autocast (a pixel model: False). Forced with the pipeline's
        precision; under "auto", decided by timing one decoding both ways at first use (vidgen.precision, scope
        "decode"): a decoder's convolutions and a denoiser's attention need not favour the same precision."""
        if self.vae is None:
            return False
        if self._decode_bf16 is None:
            self.decode_precision_info = choose_precision(self.vae, "auto", self.device, timer=self.time_decode, scope="decode")
            self._decode_bf16 = self.decode_precision_info["precision"] == "bf16"
        return self._decode_bf16

    @torch.no_grad()
    def time_decode(self, vae, bf16: bool, repeats: int = 5) -> float:
        """Median seconds of decoding one video's latent (unit noise of the model's latent shape) in bf16 or fp32."""
        z = torch.randn(1, *self.model.cfg.sample_shape, generator=torch.Generator().manual_seed(0)).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            return median_seconds(lambda: vae.from_latent(z), repeats)

    @bf16.setter
    def bf16(self, value: bool) -> None:
        self._bf16 = self._decode_bf16 = bool(value)
        self.precision_info = {"precision": "bf16" if value else "fp32", "how": "forced", "timings_ms": None}
        self.decode_precision_info = dict(self.precision_info)
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

    def sample_motion(self, prompt: str, seed: int = 0, frames: int = FRAMES) -> Motion:
        """A motion of `frames` frames (FRAMES to MAX_FRAMES) for `prompt` drawn from the checkpoint's training
        distribution (its world), keeping the invariant that every glyph is seen whole (and, in a long video,
        some of the text in every frame); the scroll world has one 16-frame motion per prompt."""
        return self.model.layout_kind.world_motion(prompt, self.world, seed, check_frames(frames))

    def render(self, prompt: str, motion: Motion | None = None, frames: int = FRAMES) -> np.ndarray:
        """The ground truth: uint8 (T, H, W) video of `prompt` moving along `motion` (T = its frames; None: the
        motion of `frames` frames sample_motion draws with seed 0); H and W those of the model's world (64 at scale 2)."""
        return render_motion(prompt, self.sample_motion(prompt, frames=frames) if motion is None else motion, self.world.scale)

    # -- long videos (vidgen.long) ---------------------------------------------------------------
    @property
    def makes_long(self) -> bool:
        """Whether this model makes long videos itself: a timestep per frame, causal temporal attention and
        sentence prompts (the "long" model); others hand long requests to it (`long_pipeline`)."""
        cfg = self.model.cfg
        return variant_class(cfg.variant).PER_FRAME_TIME and cfg.temporal == "causal" and cfg.words

    @property
    def default_long(self) -> tuple[str, int]:
        """(method, steps per frame) a long-video model makes long videos with: its config's "default_long"
        (chosen by measurement, docs/long.md), else DEFAULT_LONG_METHOD and DEFAULT_LONG_STEPS."""
        own = self.config.get("default_long") or {}
        return own.get("method", DEFAULT_LONG_METHOD), int(own.get("steps", DEFAULT_LONG_STEPS))

    def needs_long(self, prompts: list[str], frames: int) -> bool:
        """Whether a request is beyond this model's one window: more frames, or a prompt it cannot take that a
        long-video model can (a prompt no model takes raises here, with the reason)."""
        cfg = self.model.cfg
        if frames > cfg.frames:
            return True
        for p in prompts:
            try:
                tok.normalize_prompt(p, cfg.prompt_len, words=cfg.words)
            except ValueError:
                tok.normalize_prompt(p, tok.LONG_PROMPT_SLOTS, words=True)
                return True
        return False

    def long_pipeline(self) -> "Pipeline":
        """The pipeline that makes this one's long videos: itself if it `makes_long`, else the shipped long model
        (LONG_MODEL), loaded once on first use with this pipeline's device and precision."""
        if self.makes_long:
            return self
        if self._long is None:
            if self.world.name != "motion" or not self.model.layout_kind.follows_motion:
                raise ValueError(f"this model makes {self.model.cfg.frames}-frame videos of up to {self.model.cfg.prompt_len} symbols; "
                                 f"for longer videos or sentences use the long-video model (load_pipeline({LONG_MODEL!r}))")
            path = resolve_model_path(LONG_MODEL)
            if not (path / "config.json").exists():
                raise ValueError(f"a long video needs the long-video model, which is missing ({path})")
            self._long = load_pipeline(path, device=str(self.device), bf16=None if self._bf16 is None else self._bf16)
        return self._long

    def long_motions(self, prompts: list[str], motion, seed: int, frames: int | None) -> tuple[list[Motion], int]:
        """The motion each prompt of a long video follows, checked, and the video's frame count."""
        if motion is None:
            frames = FRAMES if frames is None else check_frames(frames)
            return [self.sample_motion(p, seed, frames) for p in prompts], frames
        motions = list(motion) if isinstance(motion, (list, tuple)) else [motion] * len(prompts)
        if len(motions) != len(prompts):
            raise ValueError(f"got {len(motions)} motions for {len(prompts)} prompts")
        for p, m in zip(prompts, motions):
            if not isinstance(m, Motion):
                raise ValueError(f"a motion must be a vidgen.data.world.Motion, got {type(m).__name__}")
            if frames is not None and m.frames != frames:
                raise ValueError(f"the motion has {m.frames} frames but frames={frames} were asked: give one or make them match")
            check_motion(p, m)
        if len({m.frames for m in motions}) != 1:
            raise ValueError(f"the motions of one batch must have one length, got {sorted({m.frames for m in motions})}")
        return motions, motions[0].frames

    def iter_long_steps(self, prompts, frames: int | None = None, motion=None, seed: int = 0, steps: int | None = None,
                        guidance_scale: float | None = None, method: str | None = None) -> Iterator[LongStep]:
        """Yield every model call of a long video (vidgen.long.engine.LongStep) for the prompts (up to
        LONG_PROMPT_SLOTS symbols, spaces between words), `frames` long (FRAMES to MAX_FRAMES) or along `motion`
        (one for every prompt, or one per prompt), made window by window by `method` (None: the model's
        `default_long`). A video whose length is not a multiple of the temporal patch is made one patch longer
        along the motion's last step, and cut (`generate_long`)."""
        if not self.makes_long:
            raise ValueError("this model does not make long videos itself: call long_pipeline() (generate does)")
        check_seed(seed)
        prompts = [tok.normalize_prompt(p, self.model.cfg.prompt_len, words=True) for p in ([prompts] if isinstance(prompts, str) else prompts)]
        own_method, own_steps = self.default_long
        method, steps = method or own_method, own_steps if steps is None else steps
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        check_long_args(method, steps, guidance_scale, self.model.cfg.frames // self.model.cfg.patch[0])
        motions, n = self.long_motions(prompts, motion, seed, frames)
        pt = self.model.cfg.patch[0]
        padded = [extend_motion(m, -(-n // pt) * pt) for m in motions]
        ids = torch.from_numpy(tok.encode_batch(prompts, self.model.cfg.prompt_len, words=True)).to(self.device)
        yield from iter_long(self.sampling_model, self.schedule, ids, motion_tensor(padded).to(self.device), method=method,
                             steps=steps, guidance_scale=guidance_scale, seed=seed, autocast_bf16=self.bf16)

    def generate_long(self, prompts, **kwargs) -> np.ndarray:
        """uint8 long videos, (N, H, W) for one prompt string, (B, N, H, W) for a list; iter_long_steps' arguments."""
        frames = kwargs.get("frames")
        if frames is None and kwargs.get("motion") is not None:
            m = kwargs["motion"]
            frames = (m[0] if isinstance(m, (list, tuple)) else m).frames
        last = None
        for last in self.iter_long_steps(prompts, **kwargs):
            pass
        video = to_uint8(last.x[:, : frames or FRAMES])
        return video[0] if isinstance(prompts, str) else video

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
            if m.frames != self.model.cfg.frames:
                raise ValueError(f"the motion has {m.frames} frames; this model makes {self.model.cfg.frames} in one window "
                                 "(generate() hands longer videos to the long-video model)")
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

    def to_video(self, x: torch.Tensor) -> torch.Tensor:
        """What the model denoises (B, T, H, W), or a latent model's (B, C, T, H', W'), -> the video (B, T, H, W) in model
        space, not clamped: the VAE's decoding of a latent."""
        if self.vae is None:
            return x
        device = next(self.vae.parameters()).device
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.decode_bf16):
            return self.vae.from_latent(x.float().to(device)).float()

    @property
    def default_sampling(self) -> tuple[str, int]:
        """(sampler, steps) the checkpoint is sampled with by default: its config's "default_sampling" (a
        progressive-distillation student is trained for its own few DDIM steps), else DEFAULT_SAMPLER/STEPS."""
        own = self.config.get("default_sampling") or {}
        return own.get("sampler", DEFAULT_SAMPLER), int(own.get("steps", DEFAULT_STEPS))

    def iter_steps(self, prompts, steps: int | None = None, eta: float = 0.0, guidance_scale: float | None = None, seed: int = 0,
                   sampler: str | None = None, clip_x0: bool = True, ids: torch.Tensor | None = None,
                   motion=None, noise=None, decode: bool = True) -> Iterator[StepOutput]:
        """Yield every denoising step for the prompts (or raw token ids, for experiments).

        guidance_scale None means the checkpoint's default_guidance; sampler or steps None, its `default_sampling`. `motion` (a Motion, or one per
        prompt) is followed; None lets the model move the text as it learned: a "learned2d" model draws
        a motion from its learned prior by the seed, and for a model that is told its motion (layout
        "glyph2d") one is drawn per prompt from its world by the seed (`motions`). `noise`: the initial x_T
        (B, T, H, W), or (T, H, W) for one prompt, instead of the seed's (the browser page's, for instance); a latent
        model's (B, C, T, H', W'). A latent model's steps are decoded by its VAE (x_t, pred_x0: videos), the latents
        beside them (latent_x_t, latent_x0), and its x0 is never clipped (a latent has no [-1, 1] range); decode=False
        yields its latents undecoded (`generate` decodes the last alone).
        """
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        if sampler is None or steps is None:
            own_sampler, own_steps = self.default_sampling
            sampler, steps = sampler or own_sampler, own_steps if steps is None else steps
        motions = None
        if ids is None or motion is not None:
            motions = self.motions([prompts] if isinstance(prompts, str) else list(prompts), motion, seed, check=ids is None)
        ids = self.encode(prompts) if ids is None else ids.to(self.device)
        steps_out = iter_denoise(self.sampling_model, self.schedule, ids, steps=steps, eta=eta, guidance_scale=guidance_scale,
                                 seed=seed, sampler=sampler, clip_x0=clip_x0 and self.vae is None, autocast_bf16=self.bf16,
                                 motion=None if motions is None else motion_tensor(motions), noise=noise)
        for out in steps_out:  # a latent model's steps come decoded, its latents beside them
            if self.vae is not None and decode:
                out = StepOutput(out.index, out.num_steps, out.t, self.to_video(out.x_t), self.to_video(out.pred_x0),
                                 latent_x_t=out.x_t, latent_x0=out.pred_x0)
            yield out

    def generate(self, prompts, frames: int | None = None, **kwargs) -> np.ndarray:
        """-> uint8 videos: (T, H, W) for one prompt string, (B, T, H, W) for a list. Takes iter_steps'
        arguments, `motion` among them. A request beyond the model's window (`frames` above its 16, a motion
        that long, a sentence of up to LONG_PROMPT_SLOTS symbols) is made by the long-video model
        (`long_pipeline`: this one, or the shipped "long" model it hands the request to) with its default method,
        unless `method`, `steps`, `guidance_scale` say otherwise."""
        listed = [prompts] if isinstance(prompts, str) else list(prompts)
        motion = kwargs.get("motion")
        first = motion[0] if isinstance(motion, (list, tuple)) and motion else motion
        given = first.frames if isinstance(first, Motion) else None
        if frames is not None and given is not None and check_frames(frames) != given:
            raise ValueError(f"the motion has {given} frames but frames={frames} were asked: give one or make them match")
        asked = check_frames(frames) if frames is not None else given or FRAMES
        texts = listed if kwargs.get("ids") is None else []  # given ids are the prompt; the strings only label them
        if kwargs.get("method") is not None or self.makes_long or self.needs_long(texts, asked):
            return self.long_pipeline().generate_long(prompts, frames=frames, **long_arguments(kwargs))
        last = None
        for last in self.iter_steps(prompts, decode=False, **kwargs):
            pass
        video = to_uint8(self.to_video(last.x_t))
        return video[0] if isinstance(prompts, str) else video


PROBE_PROMPT = "CAT"  # what the precision probe generates (Pipeline.time_video_start); any prompt costs the same
PROBE_STEPS = 2  # the probe's steps at most: the default student's whole video
LONG_ARGUMENTS = ("motion", "seed", "steps", "guidance_scale", "method")  # what a long video takes (iter_long_steps)


def long_arguments(kwargs: dict) -> dict:
    """generate's arguments as a long video takes them; one that does not apply is refused, not dropped: a long video is
    made with per-frame DDIM (eta 0, x0 clipped) from prompts (not raw ids), and its steps are steps per frame."""
    sampler, eta, clip_x0 = kwargs.get("sampler"), kwargs.get("eta", 0.0), kwargs.get("clip_x0", True)
    if sampler not in (None, "ddim") or eta or not clip_x0 or kwargs.get("ids") is not None:
        raise ValueError("a long video is made with per-frame DDIM from prompts: it takes no sampler but ddim, no eta, no "
                         "clip_x0=False and no raw ids (its steps are steps per frame)")
    unknown = set(kwargs) - set(LONG_ARGUMENTS) - {"sampler", "eta", "clip_x0", "ids"}
    if unknown:
        raise ValueError(f"unknown arguments for a long video: {', '.join(sorted(unknown))}")
    return {k: v for k, v in kwargs.items() if k in LONG_ARGUMENTS}


def describe_precision(pipe: Pipeline) -> str:
    """The CPU, its bf16 flags and the pipeline's precision with how it was chosen, in one line."""
    pipe.bf16  # noqa: B018 (decides it now if still "auto")
    if pipe.vae is None:
        return describe(pipe.precision_info)
    pipe.decode_bf16  # noqa: B018
    return f"{describe(pipe.precision_info)}; its VAE decodes in {describe_choice(pipe.decode_precision_info)}"


def load_pipeline(path=None, device: str = "cpu", prefer_ema: bool = True, bf16: bool | None = None,
                  precision: str = "auto") -> Pipeline:
    """Load a checkpoint directory, or a shipped model by name (vidgen.shipped), as a Pipeline; None is
    the default shipped model (vidgen.shipped.DEFAULT_MODEL: the layout-guided release distilled to 2 steps)."""
    path = resolve_model_path(path)
    model, diff_cfg, raw = load_model(path, prefer_ema=prefer_ema, device=device)
    vae = None
    if model.cfg.latent:
        vae = read_vae(path, raw).to(device)
    elif "vae" in raw:
        raise CheckpointError(f"{path} holds a VAE but its model denoises pixels (channels 1, cell 1): a broken release")
    return Pipeline(model, diff_cfg, raw, device=device, bf16=bf16, precision=precision, vae=vae)
