"""What every `python -m vidgen` subcommand shares: the one-line error, the parser class, argument checks."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..data.shape import FRAMES, MAX_FRAMES
from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS, samplers_help
from ..diffusion.sampler import ETA_RANGE, GUIDANCE_RANGE, MAX_SEED, check_sampling_args
from ..precision import PRECISIONS


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and `-h` still prints the full usage)."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} -h)\n")


def check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for, but no CUDA device is available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise UsageError(f"--device must be cpu or cuda[:N], got {device!r}")
    return device


class Bounded:
    """An argparse type: a finite number of `kind` in [lo, hi] (lo excluded if lo_open). A bad value is refused
    while the command line is parsed, before anything loads, and argparse's one line names the flag."""

    def __init__(self, kind=float, lo: float | None = None, hi: float | None = None, lo_open: bool = False):
        self.kind, self.lo, self.hi, self.lo_open = kind, lo, hi, lo_open
        self.__name__ = kind.__name__  # argparse's name for the type in its own messages

    def wanted(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        lo, hi = (v if self.kind is int or v is None else f"{v:g}" for v in (self.lo, self.hi))
        if self.lo is not None and self.hi is not None:
            return f"{what} in {'(' if self.lo_open else '['}{lo}, {hi}]"
        if self.lo is not None:
            return f"{what} {'>' if self.lo_open else '>='} {lo}"
        return f"a finite {'integer' if self.kind is int else 'number'}"

    def __call__(self, text: str):
        try:
            v = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {self.wanted()}, got {text!r}") from None
        low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        if not math.isfinite(v) or low or (self.hi is not None and v > self.hi):
            raise argparse.ArgumentTypeError(f"must be {self.wanted()}, got {text!r}")
        return v


positive_int = Bounded(int, 1)
nonnegative_int = Bounded(int, 0)
positive_float = Bounded(float, 0, lo_open=True)
seed_int = Bounded(int, 0, MAX_SEED)  # numpy refuses negative seeds
frames_int = Bounded(int, FRAMES, MAX_FRAMES)  # a video's length; above the model's window it is made window by window
eta_float = Bounded(float, *ETA_RANGE)
guidance_float = Bounded(float, *GUIDANCE_RANGE)  # a guidance-distilled model's narrower range: check_sampling


def add_sampling_args(p: argparse.ArgumentParser, steps: int = DEFAULT_STEPS, sampler: str = DEFAULT_SAMPLER) -> None:
    """--steps, --eta, --guidance, --seed, --sampler, --device: how a video is sampled (sample, eval, experiments)."""
    p.add_argument("--steps", type=positive_int, default=steps, help=f"denoising steps, 1..T (default {steps})")
    p.add_argument("--eta", type=eta_float, default=0.0, help="0 = deterministic DDIM, 1 = DDPM-like noise (default 0)")
    p.add_argument("--guidance", type=guidance_float, default=None,
                   help="classifier-free guidance scale, 1 = none (default: the checkpoint's)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--sampler", choices=SAMPLERS, default=sampler,
                   help=f"{samplers_help()} (default {sampler})")
    p.add_argument("--device", default="cpu")
    add_precision_arg(p)


def add_precision_arg(p: argparse.ArgumentParser) -> None:
    """--precision: auto (time fp32 and bf16 on this machine, keep the faster; vidgen.precision), fp32 or bf16."""
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: time fp32 and bf16 autocast on this machine once and keep the faster (default); or force one")


def add_compile_arg(p: argparse.ArgumentParser) -> None:
    """--compile: sample with a torch.compile'd twin of the network where it is faster here (vidgen.compiled)."""
    p.add_argument("--compile", action="store_true",
                   help="compile the network (10-60 s, a C++ compiler needed) and sample with it if it is measurably faster "
                        "here; pays off over many videos")


def check_out(out: str) -> None:
    from ..data.video_io import VIDEO_SUFFIXES

    if Path(out).suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"--out must end in {', '.join(VIDEO_SUFFIXES)}, got {out!r}")


class _ConfigOnly:
    """A checkpoint's model config standing in for its network: enough for a Pipeline to answer what its
    config.json says (T, default sampling and guidance, world, which motions it follows) with no weights loaded."""

    def __init__(self, cfg):
        self.cfg = cfg

    def __getattr__(self, name):  # what a network takes from its config as is (its layout_kind)
        return getattr(self.cfg, name)

    def eval(self):
        return self


def unloaded_pipeline(checkpoint, flag: str = "--checkpoint"):
    """The Pipeline of a checkpoint (a directory or a shipped name; None: the default model) read from its
    config.json only, for checking arguments before any weights load; it cannot sample. A missing or corrupt
    config is refused here, naming `flag`, as loading would refuse it."""
    from ..checkpoint import CheckpointError, read_configs
    from ..pipeline import Pipeline
    from ..shipped import resolve_model_path

    from ..latent.release import vae_config

    try:
        path = resolve_model_path(checkpoint)
        model_cfg, diff_cfg, raw = read_configs(path)
        vae = _ConfigOnly(vae_config(raw, path)) if model_cfg.latent else None  # a latent model's VAE, its config alone
        return Pipeline(_ConfigOnly(model_cfg), diff_cfg, raw, precision="fp32", vae=vae)
    except CheckpointError as e:
        raise UsageError(f"{flag}: {e}") from None


def check_sampling(pipe, sampler: str | None, steps: int | None, eta: float, guidance: float | None) -> tuple[str, int, float]:
    """Sampling arguments against a checkpoint's own limits (its T; a guidance-distilled model's range of
    scales), None standing for its defaults, before it loads. -> (sampler, steps, guidance)."""
    own_sampler, own_steps = pipe.default_sampling
    sampler = sampler or own_sampler
    steps = own_steps if steps is None else steps
    guidance = pipe.default_guidance if guidance is None else guidance
    T = pipe.num_timesteps
    if not 1 <= steps <= T:
        raise UsageError(f"--steps must be in [1, {T}] (this model's T, its noise levels), got {steps}")
    try:
        pipe.model.cfg.check_guidance(guidance)
    except ValueError as e:
        raise UsageError(f"--guidance: {e}") from None
    try:
        check_sampling_args(steps, eta, guidance, T, sampler)  # the sampler's own rules, whatever they become
    except ValueError as e:
        raise UsageError(str(e)) from None
    return sampler, steps, guidance


def check_motion(pipe, spec: str | None, prompt: str, seed: int):
    """--motion parsed and checked against the prompt and against what the model follows, before it loads.
    -> the Motion, or None when none is given (the model then moves the text itself)."""
    from ..data.world import motion_from_spec

    if spec is None:
        return None
    try:
        motion = motion_from_spec(spec, prompt, pipe.world, seed)
        pipe.motions([prompt], motion, seed)
    except ValueError as e:
        raise UsageError(f"--motion: {e}") from None
    return motion


def check_reader(path, reads: str | None = None) -> None:
    """A recognizer directory (--recognizer) read from its config.json: it exists, is a reader, reads `reads`."""
    from ..checkpoint import CONFIG_NAME, CheckpointError, read_json

    try:
        raw = read_json(Path(path) / CONFIG_NAME)
    except CheckpointError as e:
        raise UsageError(f"--recognizer: {e}") from None
    if raw.get("format") != "vidgen-recognizer-1":
        raise UsageError(f"--recognizer {path} is not a recognizer (its config.json has format {raw.get('format')!r})")
    found = (raw.get("model") or {}).get("reads", "scroll")
    if reads is not None and found != reads:
        raise UsageError(f"--recognizer {path} reads the {found} world; give a {reads} reader "
                         f"(train-recognizer --reads {reads})")
