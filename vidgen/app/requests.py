"""A generation request: checked before anything runs, named for files and captions; the Compare tab's
named A/B pairs."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..data import tokenizer as tok
from ..data.prompts import TRAIN_MAX_LEN
from ..diffusion.sampler import (
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    EVAL_SAMPLER,
    EVAL_STEPS,
    MAX_SEED,
    SAMPLER_REGISTRY,
    check_sampling_args,
)
from ..data.shape import FRAMES
from ..data.world import Motion, WorldConfig, check_frames, min_frames, motion_from_spec, sample_motion
from ..pipeline import Pipeline
from ..shipped import DEFAULT_MODEL, LONG_MODEL, SHIPPED_MODELS

RANDOM_MOTION = "random"
MOTION_WORLD = WorldConfig(name="motion")  # a given motion's form is checked against it before any model is asked


# the Generate tab's request widgets, in the order Gradio hands a callback their values (and an example row)
WIDGET_FIELDS = ("prompt", "steps", "eta", "guidance_scale", "seed", "sampler", "model")


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """What to generate, built by keyword once from the widgets' (or a script's) values: raw until
    `checked()` returns it validated and normalised; `note` then warns about what the run will not use or
    has not seen in training."""

    prompt: str
    model: str = DEFAULT_MODEL  # which served model (a name of vidgen.shipped.SHIPPED_MODELS)
    sampler: str = DEFAULT_SAMPLER
    steps: int = DEFAULT_STEPS
    eta: float = 0.0
    guidance_scale: float = DEFAULT_GUIDANCE
    seed: int = 0
    motion: str = RANDOM_MOTION  # how the text moves: "random" (the seed and the model choose) or a spec of
    # vidgen.data.world.MOTION_SPEC_HELP (a direction and speed, or a path)
    frames: int = FRAMES  # the video's length: above FRAMES (or with a long model) it is made window by window
    note: str | None = None

    @classmethod
    def from_widgets(cls, *values, motion: str = RANDOM_MOTION, frames: int = FRAMES) -> GenerationRequest:
        """The WIDGET_FIELDS widgets' values, by position as Gradio calls back, -> a raw request."""
        return cls(**dict(zip(WIDGET_FIELDS, values, strict=True)), motion=motion, frames=frames)

    def is_long(self, long_models=(LONG_MODEL,)) -> bool:
        """Whether a long-video model makes it (vidgen.long): more than FRAMES frames, or a model of `long_models`
        (those that make long videos themselves). Its prompt may then be a sentence of up to LONG_PROMPT_SLOTS symbols."""
        return self.frames > FRAMES or self.model in long_models

    def widget_values(self) -> list:
        """The values of the WIDGET_FIELDS widgets (an example row): the inverse of `from_widgets`."""
        return [getattr(self, name) for name in WIDGET_FIELDS]

    def checked(self, num_timesteps: int = 1000, models=tuple(SHIPPED_MODELS), long_models=(LONG_MODEL,)) -> GenerationRequest:
        """Every field validated before any sampling starts -> the normalised request (prompt upper-cased,
        whole numbers as int, the sampler's lower-case name, `note` set); a bad one raises ValueError with a
        readable message. `models` are the names of the models being served, `num_timesteps` the model's T,
        `long_models` those that make long videos themselves (`is_long`); the motion is checked for its form and
        for showing every glyph in the frames asked (whether the model can follow it: `motion_of`)."""
        model = self.model
        if not isinstance(model, str) or model not in models:
            raise ValueError(f"unknown model {model!r}; this server has: {', '.join(models)}")
        frames = check_frames(_as_int(self.frames, "frames"))
        long = replace(self, frames=frames).is_long(long_models)
        text = tok.normalize_prompt(self.prompt, max_len=tok.LONG_PROMPT_SLOTS, words=True) if long else short_prompt(self.prompt)
        steps = _as_int(self.steps, "steps")
        seed = _as_int(self.seed, "seed")
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
        sampler = str(self.sampler).lower()
        try:
            eta, guidance_scale = float(self.eta), float(self.guidance_scale)
        except (TypeError, ValueError):
            raise ValueError(f"eta and guidance_scale must be numbers, got {self.eta!r} and {self.guidance_scale!r}") from None
        check_sampling_args(steps, eta, guidance_scale, num_timesteps, sampler)
        motion = RANDOM_MOTION if self.motion is None else str(self.motion).strip().lower()
        if motion != RANDOM_MOTION:
            motion_from_spec(motion, text, MOTION_WORLD, frames=frames)  # its form, and every glyph whole in two frames
        elif long and (min_frames(text, MOTION_WORLD) or frames + 1) > frames:
            sample_motion(text, MOTION_WORLD, np.random.default_rng(0), frames=frames)  # the world's refusal: the frames it needs
        notes = []
        if len(text) > TRAIN_MAX_LEN and not long:
            notes.append(f"{text!r} has {len(text)} symbols: the model was trained on 1 to {TRAIN_MAX_LEN}, "
                         "so this length is out of distribution; expect the extra symbols to be garbled.")
        if not SAMPLER_REGISTRY[sampler].stochastic and eta != 0:
            notes.append(f"{sampler} is deterministic: eta = {eta:g} is not used.")
        return GenerationRequest(prompt=text, model=model, sampler=sampler, steps=steps, eta=eta, guidance_scale=guidance_scale,
                                 seed=seed, motion=motion, frames=frames, note=" ".join(notes) or None)

    def sampling_kwargs(self) -> dict:
        return dict(steps=self.steps, eta=self.eta, guidance_scale=self.guidance_scale, seed=self.seed, sampler=self.sampler)

    def label(self) -> str:
        """Short description for captions: 'HELLO · release · DDIM 50 steps · eta 0 · guidance 3 · seed 0' (a
        longer video: '· 64 frames' after the prompt)."""
        moving = "" if self.motion == RANDOM_MOTION else f" · motion {self.motion}"
        length = "" if self.frames == FRAMES else f" · {self.frames} frames"
        return (f"{self.prompt}{length} · {self.model} · {self.sampler.upper()} {self.steps} steps · eta {self.eta:g} · "
                f"guidance {self.guidance_scale:g} · seed {self.seed}{moving}")

    def motion_of(self, pipe: Pipeline) -> Motion | None:
        """The motion this request generates with on `pipe`: the one asked for, or the one the seed and the
        model choose (a motion-world model's), or None (a scroll-world model scrolls as it learned). On a model
        that makes long videos (`Pipeline.makes_long`) the motion spans the request's frames."""
        if pipe.makes_long:
            if self.motion == RANDOM_MOTION:
                return pipe.sample_motion(self.prompt, self.seed, self.frames)
            return motion_from_spec(self.motion, self.prompt, pipe.world, self.seed, self.frames)
        given = None if self.motion == RANDOM_MOTION else motion_from_spec(self.motion, self.prompt, pipe.world, self.seed)
        motions = pipe.motions([self.prompt], given, self.seed)
        return None if motions is None else motions[0]


def _as_int(value, name: str) -> int:
    """Widgets and JSON send 50.0 for 50; accept whole floats, refuse the rest."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def short_prompt(text) -> str:
    """`text` as a FRAMES-frame prompt (tokenizer.normalize_prompt); a sentence or a prompt of up to
    LONG_PROMPT_SLOTS symbols is refused with the way to make it: a longer video (the length control) or the long model."""
    try:
        return tok.normalize_prompt(text, max_len=tok.PROMPT_SLOTS)
    except ValueError as short:
        try:
            sentence = tok.normalize_prompt(text, max_len=tok.LONG_PROMPT_SLOTS, words=True)
        except ValueError:
            raise short from None
        spaces = ", spaces between words" if tok.SPACE in sentence else ""
        raise ValueError(f"prompt {sentence!r} ({len(sentence)} symbols{spaces}) is a long-video prompt: a {FRAMES}-frame video "
                         f"takes at most {tok.PROMPT_SLOTS} symbols from A-Z and 0-9; set Length (frames) above {FRAMES}, "
                         f"or choose the {LONG_MODEL} model") from None


def check_request(prompt, *, num_timesteps: int = 1000, models=tuple(SHIPPED_MODELS), **fields) -> GenerationRequest:
    """`GenerationRequest(prompt=prompt, **fields).checked(num_timesteps, models)`: a script's or a test's
    shorthand, fields by keyword only."""
    return GenerationRequest(prompt=prompt, **fields).checked(num_timesteps, models)


def file_stem(request: GenerationRequest) -> str:
    """A file name that records the model and settings: HELLO_release_ddim50_eta0_g3_seed0."""
    moving = "" if request.motion == RANDOM_MOTION else "_" + "".join(c if c.isalnum() or c in ".-" else "-" for c in request.motion)[:40]
    length = "" if request.frames == FRAMES else f"_{request.frames}f"
    return (f"{request.prompt.replace(tok.SPACE, '-')}{length}_{request.model}_{request.sampler}{request.steps}_eta{request.eta:g}_g{request.guidance_scale:g}"
            f"_seed{request.seed}{moving}")


# Named A/B pairs for the comparison tab: overrides applied to the same prompt and seed.
COMPARISONS: dict[str, tuple[dict, dict]] = {
    "guidance 1 vs 5": ({"guidance_scale": 1.0}, {"guidance_scale": 5.0}),
    f"the default ({DEFAULT_SAMPLER}, {DEFAULT_STEPS} steps) vs DDIM at {EVAL_STEPS}": (
        {}, {"sampler": EVAL_SAMPLER, "steps": EVAL_STEPS}),
    "eta 0 vs 1": ({"sampler": "ddim", "steps": EVAL_STEPS, "eta": 0.0}, {"sampler": "ddim", "steps": EVAL_STEPS, "eta": 1.0}),
    "10 vs 100 steps": ({"steps": 10}, {"steps": 100}),
    "DDIM vs DDPM": ({"sampler": "ddim", "steps": EVAL_STEPS}, {"sampler": "ddpm", "steps": EVAL_STEPS}),
    "DDIM vs DPM-Solver++ at 10 steps": ({"sampler": "ddim", "steps": 10}, {"sampler": "dpm++2m", "steps": 10}),
    "the two shipped models": tuple({"model": name} for name in list(SHIPPED_MODELS)[:2]),  # the release vs the blog's
    "the motion world vs the scroll world": ({"model": "release"}, {"model": "scroll-release"}),
    "two passes a step vs one (the release vs its guidance-distilled student)": ({"model": "release"}, {"model": "release-fast"}),
    f"the release at DDIM {EVAL_STEPS} vs its 2-step student (the default)": (
        {"model": "release", "sampler": "ddim", "steps": EVAL_STEPS}, {"model": "release-2step", "sampler": "ddim", "steps": 2}),
}


def comparison_requests(base: GenerationRequest, name: str) -> tuple[GenerationRequest, GenerationRequest]:
    """The two requests of a named comparison; unknown names raise with the list of known ones."""
    if name not in COMPARISONS:
        raise ValueError(f"unknown comparison {name!r}; known: {', '.join(COMPARISONS)}")
    a, b = COMPARISONS[name]
    return replace(base, **a), replace(base, **b)
