"""`python -m vidgen ...`: argument parsing and calls into the library, nothing more.

Bad arguments exit non-zero with a one-line message instead of a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import PRESETS
from .sampler import SAMPLERS


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and `-h` still prints the full usage)."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} -h)\n")


def _check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for, but no CUDA device is available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise UsageError(f"--device must be cpu or cuda[:N], got {device!r}")
    return device


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _add_sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=50, help="denoising steps, 1..T (default 50)")
    p.add_argument("--eta", type=float, default=0.0, help="0 = deterministic DDIM, 1 = DDPM-like noise (default 0)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale, 1 = none (default: the checkpoint's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=SAMPLERS, default="ddim",
                   help="ddim (eta 0: deterministic), ddpm (eta 1), dpm++2m (DPM-Solver++ 2M: deterministic, fewer steps)")
    p.add_argument("--device", default="cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m vidgen", description="vidgen: a hands-on text-to-video diffusion lab")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("render", help="write the ground-truth video of a prompt")
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", required=True, help="FILE.gif, FILE.mp4 or FILE.npy")

    p = sub.add_parser("train", help="train a model (runs under torchrun as DDP)")
    p.add_argument("--preset", default="small", help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--out", required=True, help="run directory (checkpoints, log.jsonl)")
    p.add_argument("--max-steps", type=_positive_int, default=None, help="stop at this total step count")
    p.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped (only --lr, --lr-decay-steps may change)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--lr-decay-steps", type=int, default=None, help="cosine-decay horizon (0 = constant lr)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--no-bf16", action="store_true", help="train in fp32")
    p.add_argument("--holdout-single", action="store_true", help="never train on 1-symbol prompts (the blog's experiment)")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("sample", help="generate a video from a prompt")
    p.add_argument("--checkpoint", default=None, help="run or release directory, or a shipped model: release (default, layout-guided) or blog")
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", required=True, help="FILE.gif, FILE.mp4 or FILE.npy")
    p.add_argument("--steps-out", default=None, help="also write every intermediate step (x_t and predicted x0) here")
    _add_sampling_args(p)
    p = sub.add_parser("export", help="copy a run's EMA weights and config into a release directory")
    p.add_argument("--checkpoint", required=True, help="run directory")
    p.add_argument("--out", required=True, help="release directory, e.g. checkpoints/release")
    p.add_argument("--guidance", type=float, default=None, help="default guidance scale stored with the release")
    p.add_argument("--best", action="store_true", help="export the EMA weights of the lowest validation loss, not the latest")
    return parser


def cmd_export(args) -> None:
    from .checkpoint import export_release

    print(f"wrote {export_release(args.checkpoint, args.out, args.guidance, best=args.best)}")


def cmd_render(args) -> None:
    from .data import render_video
    from .video_io import save_video

    _check_out(args.out)
    path = save_video(render_video(args.prompt), args.out)
    print(f"wrote {path}")


def cmd_train(args) -> None:
    from .config import get_preset
    from .train import Trainer, init_distributed, override

    preset = get_preset(args.preset)
    changes = dict(batch_size=args.batch_size, lr=args.lr, lr_decay_steps=args.lr_decay_steps, seed=args.seed,
                   bf16=False if args.no_bf16 else None, holdout_single=True if args.holdout_single else None)
    out = Path(args.out)
    if args.resume and not (out / "config.json").is_file():
        raise UsageError(f"--resume: no run to resume in {out} (config.json missing)")
    if not args.resume and (out / "config.json").is_file():
        raise UsageError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    train_cfg = override(preset.train, **{k: v for k, v in changes.items() if k != "holdout_single"})
    if args.holdout_single:
        train_cfg = override(train_cfg, split=override(train_cfg.split, holdout_single=True))
    device = init_distributed(_check_device(args.device))
    try:
        trainer = Trainer(preset.model, preset.diffusion, train_cfg, out, device=device, resume=args.resume,
                          preset_name=args.preset, resume_changes=changes if args.resume else None)
    except ValueError as e:
        raise UsageError(f"--resume: {e}" if args.resume else str(e)) from None
    if trainer.resume_changes:
        print(f"resuming with a changed lr schedule: {trainer.resume_changes}", file=sys.stderr)
    if trainer.rank == 0:
        print(f"{trainer.model.num_params() / 1e6:.2f}M parameters, step {trainer.step}, device {device}, world {trainer.world}")
    result = trainer.fit(max_steps=args.max_steps, time_budget=args.time_budget, progress=not args.no_progress)
    if trainer.rank == 0:
        print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}))
        if result["interrupted"]:
            print(f"interrupted: saved at step {result['step']}; continue with --resume", file=sys.stderr)


def cmd_sample(args) -> None:
    import numpy as np
    from tqdm.auto import tqdm

    from .data import to_uint8
    from .pipeline import load_pipeline
    from .video_io import frames_grid, save_video

    _check_out(args.out)
    pipe = load_pipeline(args.checkpoint, device=_check_device(args.device))
    guidance = args.guidance if args.guidance is not None else pipe.default_guidance
    steps_dir = Path(args.steps_out) if args.steps_out else None
    last, x_ts, x0s = None, [], []
    it = pipe.iter_steps(args.prompt, steps=args.steps, eta=args.eta, guidance_scale=guidance, seed=args.seed, sampler=args.sampler)
    for last in tqdm(it, total=args.steps, desc="sample", unit="step"):
        if steps_dir is not None:
            x_ts.append(to_uint8(last.x_t[0]))
            x0s.append(to_uint8(last.pred_x0[0]))
    video = to_uint8(last.x_t[0])
    save_video(video, args.out)
    print(f"wrote {args.out}")
    if steps_dir is not None:
        from PIL import Image

        steps_dir.mkdir(parents=True, exist_ok=True)
        np.save(steps_dir / "x_t.npy", np.stack(x_ts))  # (steps, T, H, W)
        np.save(steps_dir / "pred_x0.npy", np.stack(x0s))
        cols = sorted({round(i) for i in np.linspace(0, len(x_ts) - 1, min(len(x_ts), 11))})
        Image.fromarray(frames_grid([x_ts[i] for i in cols], scale=4)).save(steps_dir / "steps_grid.png")
        print(f"wrote {len(x_ts)} steps to {steps_dir}")


def _check_out(out: str) -> None:
    from .video_io import VIDEO_SUFFIXES

    if Path(out).suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"--out must end in {', '.join(VIDEO_SUFFIXES)}, got {out!r}")


COMMANDS = {"render": cmd_render, "train": cmd_train, "sample": cmd_sample, "export": cmd_export}


def register(name: str, add_parser, run) -> None:
    """Let another module add a sub-command (eval, probe, compare, ...) without touching this file's core."""
    COMMANDS[name] = run
    _EXTRA.append((name, add_parser))


_EXTRA: list = []


def main(argv=None) -> int:
    parser = build_parser()
    _load_extra_commands()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, add in _EXTRA:
        add(sub.add_parser(name))
    args = parser.parse_args(argv)
    if args.command != "export" and getattr(args, "checkpoint", None) is not None:
        from .pipeline import resolve_model_path

        args.checkpoint = str(resolve_model_path(args.checkpoint))  # "release" / "blog" name the shipped models
    try:
        COMMANDS[args.command](args)
    except (UsageError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _load_extra_commands() -> None:
    """Import the optional command modules; each calls `register` on import."""
    import importlib

    for mod in ("vidgen.evaluate_cli", "vidgen.probe_cli", "vidgen.compare_cli"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
