"""`python -m vidgen render | sample`: the true video of a prompt, and a generated one."""
from __future__ import annotations

import sys
from pathlib import Path

from ..data.shape import FRAMES, MAX_FRAMES
from ..long.methods import METHOD_REGISTRY, METHODS
from .common import (
    UsageError,
    add_compile_arg,
    add_sampling_args,
    check_device,
    check_motion,
    check_out,
    check_sampling,
    frames_int,
    seed_int,
    unloaded_pipeline,
)


def add_render_args(p) -> None:
    from ..data.world import MOTION_SPEC_HELP, WORLDS

    p.add_argument("--prompt", required=True)
    p.add_argument("--out", required=True, help="FILE.gif, FILE.mp4 or FILE.npy")
    p.add_argument("--world", choices=WORLDS, default=None,
                   help="the world a random motion is drawn from (default scroll; motion for a long video or a sentence)")
    p.add_argument("--motion", default="random", help=f"how the text moves: {MOTION_SPEC_HELP} (default random)")
    p.add_argument("--seed", type=seed_int, default=0, help="draws the random motion")
    add_frames_arg(p)


def add_frames_arg(p) -> None:
    p.add_argument("--frames", type=frames_int, default=None,
                   help=f"video length, {FRAMES} to {MAX_FRAMES} frames (default {FRAMES}); prompts of up to 24 symbols with spaces "
                        "between words need enough frames to show every glyph")


def run_render(args) -> None:
    from ..data import tokenizer as tok
    from ..data.video_io import save_video
    from ..data.world import WorldConfig, motion_from_spec, render_motion

    check_out(args.out)
    prompt = tok.normalize_prompt(args.prompt, tok.LONG_PROMPT_SLOTS, words=True)
    long = (args.frames or FRAMES) > FRAMES or len(prompt) > tok.PROMPT_SLOTS or tok.SPACE in prompt
    world = args.world or ("motion" if long else "scroll")
    if long and world == "scroll":
        raise UsageError("--world scroll has one 16-frame motion of up to 8 symbols a prompt: a long video or a sentence "
                         "needs --world motion")
    try:
        motion = motion_from_spec(args.motion, prompt, WorldConfig(name=world), args.seed, args.frames or FRAMES)
    except ValueError as e:
        raise UsageError(f"--motion: {e}") from None
    path = save_video(render_motion(prompt, motion), args.out)
    print(f"wrote {path} ({motion.shape}, size {motion.size})")


def add_sample_args(p) -> None:
    p.add_argument("--checkpoint", default=None, help="run or release directory, or a shipped model: release-2step (default: the layout-guided release "
                        "distilled to 2 steps), release (its full-step teacher), blog, release-fast, scroll-release, scroll-blog")
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", required=True, help="FILE.gif, FILE.mp4 or FILE.npy")
    p.add_argument("--steps-out", default=None, help="also write every intermediate step (x_t and predicted x0) here")
    p.add_argument("--motion", default=None, help="a motion for the model to follow: random (drawn from its world by --seed), "
                                                  "line:DIRECTION,SPEED[,SIZE] or path:X,Y;X,Y;...[@SIZE] (default: the model moves the text itself)")
    add_frames_arg(p)
    p.add_argument("--method", choices=METHODS, default=None,
                   help="how a video longer than the model's window is made: " + "; ".join(f"{m.name}: {m.help}" for m in METHOD_REGISTRY)
                        + " (default: the long model's own, its config's default_long)")
    add_sampling_args(p)
    add_compile_arg(p)
    p.set_defaults(steps=None, sampler=None)  # the checkpoint's own (Pipeline.default_sampling): DPM-Solver++ 10 steps
    # unless it names others, as a progressive-distillation student does


def run_sample(args) -> None:
    import numpy as np
    from tqdm.auto import tqdm

    from ..data import tokenizer as tok
    from ..data.video_io import frames_grid, save_video
    from ..data.world import describe_motion
    from ..pipeline import describe_precision, load_pipeline
    from ..shipped import DEFAULT_MODEL, TEACHER_MODEL, resolve_model_path
    from ..trajectory import TrajectoryRecorder

    # 1. every argument checked before anything loads: a bad one is one line and no time
    check_out(args.out)
    prompt = tok.normalize_prompt(args.prompt, tok.LONG_PROMPT_SLOTS, words=True)
    device = check_device(args.device)
    if args.steps_out is not None and Path(args.steps_out).is_file():
        raise UsageError(f"--steps-out must be a directory, got the file {args.steps_out}")
    unloaded = unloaded_pipeline(args.checkpoint)  # config.json only: T, defaults, world, the motions it follows
    if args.method is not None or unloaded.makes_long or unloaded.needs_long([prompt], args.frames or 0):
        return run_sample_long(args, unloaded, prompt, device)
    prompt = tok.normalize_prompt(args.prompt)
    sampler, steps, guidance = check_sampling(unloaded, args.sampler, args.steps, args.eta, args.guidance)
    motion = check_motion(unloaded, args.motion, prompt, args.seed)
    # 2. the model
    pipe = load_pipeline(args.checkpoint, device=device, precision=args.precision)
    motions = pipe.motions([prompt], motion, args.seed)
    if motion is None and motions is not None:
        print(f"motion: none given, drawn from the model's world by the seed: {describe_motion(motions[0])}", file=sys.stderr)
    if args.checkpoint is None:
        print(f"model: {DEFAULT_MODEL} (the default, {resolve_model_path(None)}; --checkpoint {TEACHER_MODEL} for the "
              "full-step release)", file=sys.stderr)
    print(f"precision: {describe_precision(pipe)}", file=sys.stderr)
    if args.compile:
        from ..compiled import describe_compile

        print(f"network: {describe_compile(pipe.compile())}", file=sys.stderr)
    steps_dir = Path(args.steps_out) if args.steps_out else None
    rec = TrajectoryRecorder()
    it = pipe.iter_steps(prompt, steps=steps, eta=args.eta, guidance_scale=guidance, seed=args.seed, sampler=sampler,
                         motion=motion)
    for out in tqdm(it, total=steps, desc="sample", unit="step"):
        rec.add(out)
    save_video(rec.x_t[-1], args.out)
    print(f"wrote {args.out}")
    if steps_dir is not None:
        from PIL import Image

        steps_dir.mkdir(parents=True, exist_ok=True)
        np.save(steps_dir / "x_t.npy", rec.x_t)  # (steps, T, H, W)
        np.save(steps_dir / "pred_x0.npy", rec.pred_x0)
        cols = sorted({round(i) for i in np.linspace(0, rec.count - 1, min(rec.count, 11))})
        Image.fromarray(frames_grid([rec.x_t[i] for i in cols], scale=4)).save(steps_dir / "steps_grid.png")
        print(f"wrote {rec.count} steps to {steps_dir}")


def run_sample_long(args, unloaded, prompt: str, device: str) -> None:
    """`sample` for a video longer than a window or of a sentence: made by the long-video model (the checkpoint
    itself if it makes long videos, else the shipped long model), window by window."""
    from tqdm.auto import tqdm

    from ..data.render import to_uint8
    from ..data.video_io import save_video
    from ..data.world import describe_motion, motion_from_spec
    from ..long.engine import check_long_args
    from ..long.methods import num_calls
    from ..pipeline import describe_precision, load_pipeline
    from ..shipped import LONG_MODEL

    if args.steps_out is not None:
        raise UsageError("--steps-out records a short video's steps; a long video's calls are shown in the app's step viewer")
    if args.sampler not in (None, "ddim") or args.eta:
        raise UsageError("a long video is made with per-frame DDIM (eta 0): --sampler and --eta do not apply")
    if not unloaded.makes_long and (unloaded.world.name != "motion" or not unloaded.model.layout_kind.follows_motion):
        raise UsageError(f"this model makes {unloaded.model.cfg.frames}-frame videos of up to {unloaded.model.cfg.prompt_len} "
                         f"symbols; for longer videos or sentences use --checkpoint {LONG_MODEL} (or the default model)")
    checkpoint = args.checkpoint if unloaded.makes_long else LONG_MODEL
    long = unloaded if unloaded.makes_long else unloaded_pipeline(LONG_MODEL, flag=f"the long-video model ({LONG_MODEL})")
    own_method, own_steps = long.default_long
    method, steps = args.method or own_method, args.steps or own_steps
    guidance = long.default_guidance if args.guidance is None else args.guidance
    frames = args.frames or FRAMES
    cfg = long.model.cfg
    try:
        check_long_args(method, steps, guidance, cfg.frames // cfg.patch[0])
        motion = None if args.motion is None else motion_from_spec(args.motion, prompt, long.world, args.seed, frames)
        if motion is None:
            long.sample_motion(prompt, args.seed, frames)  # the prompt fits the frames asked, or the reason
    except ValueError as e:
        raise UsageError(str(e)) from None
    pipe = load_pipeline(checkpoint, device=device, precision=args.precision)
    if motion is None:
        print(f"motion: none given, drawn from the model's world by the seed: {describe_motion(pipe.sample_motion(prompt, args.seed, frames))}",
              file=sys.stderr)
    print(f"model: {checkpoint} ({method}, {steps} steps a frame, guidance {guidance:g}); precision: {describe_precision(pipe)}",
          file=sys.stderr)
    total = num_calls(method, -(-frames // cfg.patch[0]) * cfg.patch[0], cfg.frames, cfg.patch[0], steps)
    last = None
    for last in tqdm(pipe.iter_long_steps(prompt, frames=frames, motion=motion, seed=args.seed, steps=steps, guidance_scale=guidance,
                                          method=method), total=total, desc=f"sample ({method})", unit="call"):
        pass
    save_video(to_uint8(last.x[0, :frames]), args.out)
    print(f"wrote {args.out} ({frames} frames)")
