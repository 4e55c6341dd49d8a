"""`python -m vidgen render | sample`: the true video of a prompt, and a generated one."""
from __future__ import annotations

from pathlib import Path

from .common import add_sampling_args, check_device, check_out


def add_render_args(p) -> None:
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", required=True, help="FILE.gif, FILE.mp4 or FILE.npy")


def run_render(args) -> None:
    from ..data.render import render_video
    from ..data.video_io import save_video

    check_out(args.out)
    path = save_video(render_video(args.prompt), args.out)
    print(f"wrote {path}")


def add_sample_args(p) -> None:
    p.add_argument("--checkpoint", default=None, help="run or release directory, or a shipped model: release (default, layout-guided) or blog")
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", required=True, help="FILE.gif, FILE.mp4 or FILE.npy")
    p.add_argument("--steps-out", default=None, help="also write every intermediate step (x_t and predicted x0) here")
    add_sampling_args(p)


def run_sample(args) -> None:
    import numpy as np
    from tqdm.auto import tqdm

    from ..data.render import to_uint8
    from ..data.video_io import frames_grid, save_video
    from ..pipeline import load_pipeline

    check_out(args.out)
    pipe = load_pipeline(args.checkpoint, device=check_device(args.device))
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
