"""`python -m vidgen probe`: every interpretability probe on a checkpoint, written to a folder."""
from __future__ import annotations

from ..diffusion.sampler import EVAL_SAMPLER, EVAL_STEPS
from ..shipped import TEACHER_MODEL
from .common import UsageError, check_device, check_sampling, guidance_float, positive_int, seed_int, unloaded_pipeline


def add_probe_args(p) -> None:
    p.description = "Interpretability probes: positional/timestep embeddings, attention, loss by noise level."
    p.add_argument("--checkpoint", default=TEACHER_MODEL,
                   help="run or release directory, or a shipped model: release (default: the full-step layout-guided model), blog, ...")
    p.add_argument("--out", required=True, help="folder for the HTML, PNG and summary.json files")
    p.add_argument("--prompt", default="NOISE", help="prompt whose attention is traced (default NOISE)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--steps", type=positive_int, default=EVAL_STEPS, help=f"DDIM steps of the traced sample (default {EVAL_STEPS})")
    p.add_argument("--guidance", type=guidance_float, default=None, help="guidance scale (default: the checkpoint's)")
    p.add_argument("--ref", type=int, nargs=3, metavar=("T", "H", "W"), default=None,
                   help="reference position of the similarity cube, patch coordinates (default: grid centre)")
    p.add_argument("--query", type=int, nargs=3, metavar=("T", "H", "W"), default=None,
                   help="patch whose self-attention is shown (default: a patch on the text in the middle frame)")
    p.add_argument("--loss-prompts", type=positive_int, default=16, help="validation prompts for loss by noise level (default 16)")
    p.add_argument("--loss-timesteps", type=positive_int, default=20, help="noise levels for loss by noise level (default 20)")
    p.add_argument("--align-prompts", type=positive_int, default=32, help="validation prompts for the teacher-forced attention alignment (default 32)")
    p.add_argument("--align-timesteps", type=positive_int, default=10, help="noise levels for the teacher-forced alignment (default 10)")
    p.add_argument("--device", default="cpu")


def run_probe(args) -> None:
    from ..pipeline import load_pipeline
    from ..probes.report import write_report
    from ..shipped import resolve_model_path

    from ..data import tokenizer as tok
    from ..probes.analysis import check_position

    # every argument checked against the checkpoint's config before its weights load
    checkpoint = resolve_model_path(args.checkpoint)
    unloaded = unloaded_pipeline(checkpoint)
    _, _, guidance = check_sampling(unloaded, EVAL_SAMPLER, args.steps, 0.0, args.guidance)  # the attention probe's DDIM
    cfg = unloaded.model.cfg
    try:
        tok.normalize_prompt(args.prompt, max_len=cfg.prompt_len)
        for flag, pos in (("--ref", args.ref), ("--query", args.query)):
            if pos is not None:
                check_position(pos, cfg.grid, flag)
    except ValueError as e:
        raise UsageError(str(e)) from None
    pipe = load_pipeline(checkpoint, device=check_device(args.device))
    summary = write_report(pipe, args.out, prompt=args.prompt, seed=args.seed, steps=args.steps, guidance_scale=guidance,
                           ref=args.ref, query=args.query, loss_prompts=args.loss_prompts, loss_timesteps=args.loss_timesteps,
                           align_prompts=args.align_prompts, align_timesteps=args.align_timesteps,
                           checkpoint=str(checkpoint))
    a = summary.get("attention")
    if a:
        print(f"alignment: final step {a['final_step_alignment']:.3f}, validation data {a['data_alignment']:.3f} "
              f"(chance {a['data']['chance']:.3f}, majority {a['data']['majority']:.3f})")
    print(f"wrote {len(summary['files'])} figures and summary.json to {args.out}")

