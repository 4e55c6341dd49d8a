"""What every `python -m vidgen` subcommand shares: the one-line error, the parser class, argument checks."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLER_HELP, SAMPLERS
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


def positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def add_sampling_args(p: argparse.ArgumentParser, steps: int = DEFAULT_STEPS, sampler: str = DEFAULT_SAMPLER) -> None:
    """--steps, --eta, --guidance, --seed, --sampler, --device: how a video is sampled (sample, eval, experiments)."""
    p.add_argument("--steps", type=int, default=steps, help=f"denoising steps, 1..T (default {steps})")
    p.add_argument("--eta", type=float, default=0.0, help="0 = deterministic DDIM, 1 = DDPM-like noise (default 0)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale, 1 = none (default: the checkpoint's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=SAMPLERS, default=sampler,
                   help="; ".join(f"{name}: {text}" for name, text in SAMPLER_HELP.items()) + f" (default {sampler})")
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
