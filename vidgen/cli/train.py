"""`python -m vidgen train | export`: train a preset (exactly resumable), and export a run as a release."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..precision import PRECISIONS, time_train_step
from ..models.motion_prior import MOTION_PRIORS, PRIOR_MOTIONS
from ..training.distill import KINDS
from ..presets import PRESETS
from .common import (
    UsageError,
    check_device,
    check_sampling,
    guidance_float,
    nonnegative_int,
    positive_float,
    positive_int,
    seed_int,
    unloaded_pipeline,
)


def add_train_args(p) -> None:
    p.add_argument("--preset", default="small", help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--out", required=True, help="run directory (checkpoints, log.jsonl)")
    p.add_argument("--max-steps", type=positive_int, default=None, help="stop at this total step count")
    p.add_argument("--time-budget", type=positive_float, default=None, help="stop after this many seconds")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out exactly where it stopped (only --lr, --lr-decay-steps, --ckpt-every may change)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--lr", type=positive_float, default=None)
    p.add_argument("--lr-decay-steps", type=nonnegative_int, default=None, help="cosine-decay horizon (0 = constant lr)")
    p.add_argument("--ckpt-every", type=positive_int, default=None, help="steps between checkpoints (the preset's by default)")
    p.add_argument("--seed", type=seed_int, default=None)
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: time a training step in fp32 and in bf16 autocast on this machine and train in the faster "
                        "(recorded in the run's config, so --resume keeps it); or force one (default auto)")
    p.add_argument("--no-bf16", action="store_true", help="train in fp32 (the same as --precision fp32)")
    p.add_argument("--holdout-single", action="store_true", help="never train on 1-symbol prompts (the blog's experiment)")
    p.add_argument("--vae", default=None, help="a latent preset's autoencoder: a VAE release directory or a shipped VAE's name "
                                               "(default: the preset's; copied into the run)")
    p.add_argument("--init-from", default=None, help="start from these weights (a shipped model's name or a checkpoint "
                   "directory) instead of the preset's (TrainConfig.init_from)")
    p.add_argument("--no-progress", action="store_true")


def run_train(args) -> None:
    from ..training.trainer import init_distributed, leave_distributed

    from ..presets import get_preset

    # every argument checked before the group forms and a precision is timed
    device = check_device(args.device)
    try:
        preset = get_preset(args.preset)
    except ValueError as e:
        raise UsageError(f"--preset: {e}") from None
    _check_run_dir(args.out, args.resume)
    if args.vae is not None and (args.resume or not preset.model.latent):
        raise UsageError("--vae: " + ("a resumed run keeps the VAE it was started with" if args.resume else
                                      f"preset {args.preset!r} denoises pixels; only a latent preset takes a VAE"))
    if args.init_from is not None:
        if args.resume:
            raise UsageError("--init-from: a resumed run continues from its own weights")
        from ..models import build_model
        from ..training.trainer import init_weights

        try:  # before a precision is timed
            init_weights(args.init_from, build_model(preset.model))
        except ValueError as e:
            raise UsageError(f"--init-from: {e}") from None
    device = init_distributed(device)
    _train(args, preset, device)
    leave_distributed()


def _check_run_dir(out, resume: bool) -> None:
    """--out holds a run exactly when --resume says it does."""
    from ..checkpoint import CONFIG_NAME

    out = Path(out)
    if resume and not (out / CONFIG_NAME).is_file():
        raise UsageError(f"--resume: no run to resume in {out} (config.json missing)")
    if not resume and (out / CONFIG_NAME).is_file():
        raise UsageError(f"--out {out} already holds a run; pass --resume to continue it or choose another --out")


def _train(args, preset, device: str) -> None:
    from ..training.trainer import Trainer, decided_by_rank0, override

    precision = "fp32" if args.no_bf16 else args.precision
    bf16 = None if precision == "auto" else precision == "bf16"
    if precision == "auto" and not args.resume:  # a resumed run keeps the precision it was started with
        # rank 0 times alone (two ranks timing at once would slow each other) and decides for every rank
        batch = args.batch_size or preset.train.batch_size
        bf16 = decided_by_rank0(lambda: choose_training_precision(preset, batch, device))
    changes = dict(batch_size=args.batch_size, lr=args.lr, lr_decay_steps=args.lr_decay_steps, seed=args.seed, ckpt_every=args.ckpt_every,
                   bf16=bf16, holdout_single=True if args.holdout_single else None)
    out = Path(args.out)
    train_cfg = override(preset.train, **{k: v for k, v in changes.items() if k != "holdout_single"})
    if args.holdout_single:
        train_cfg = override(train_cfg, split=override(train_cfg.split, holdout_single=True))
    if args.vae is not None:
        train_cfg = override(train_cfg, vae=args.vae)
    if args.init_from is not None:
        train_cfg = override(train_cfg, init_from=args.init_from)
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


def choose_training_precision(preset, batch: int, device: str) -> bool:
    """Time a training step of the preset's network in fp32 and bf16 here (cached per machine); -> bf16."""
    from functools import partial

    from ..models import build_model
    from ..precision import choose_precision, describe

    model = build_model(preset.model).to(device)
    info = choose_precision(model, "auto", device, timer=partial(time_train_step, batch=batch), scope="train")
    print(f"precision: {describe(info)}", file=sys.stderr)
    return info["precision"] == "bf16"


def add_export_args(p) -> None:
    p.add_argument("--checkpoint", required=True, help="run directory")
    p.add_argument("--out", required=True, help="release directory, e.g. checkpoints/release")
    p.add_argument("--guidance", type=guidance_float, default=None, help="default guidance scale stored with the release")
    p.add_argument("--best", action="store_true", help="export the EMA weights of the lowest validation loss, not the latest")
    p.add_argument("--long-method", default=None, help="a long-video model's default method, stored with the release "
                   "(its config's default_long; chosen by python -m benchmarks.long_video)")
    p.add_argument("--long-steps", type=positive_int, default=None, help="its default steps per frame, with --long-method")


def run_export(args) -> None:
    from ..checkpoint import CheckpointError, export_release, read_best, resolve_dir

    unloaded = unloaded_pipeline(args.checkpoint)  # the run's config read, before its weights
    if args.guidance is not None:
        check_sampling(unloaded, None, None, 0.0, args.guidance)  # a guidance-distilled run's own range
    if args.best:
        try:
            read_best(resolve_dir(args.checkpoint))
        except CheckpointError as e:
            raise UsageError(f"--best: {e}") from None
    default_long = None
    if args.long_method is not None or args.long_steps is not None:
        from ..long.engine import check_long_args

        if not unloaded.makes_long:
            raise UsageError("--long-method/--long-steps: this run's model does not make long videos (a timestep per frame, "
                             "causal temporal attention and sentence prompts: the motion-long preset)")
        method, steps = args.long_method or unloaded.default_long[0], args.long_steps or unloaded.default_long[1]
        try:
            guidance = unloaded.default_guidance if args.guidance is None else args.guidance
            check_long_args(method, steps, guidance, unloaded.model.cfg.frames // unloaded.model.cfg.patch[0])
        except ValueError as e:
            raise UsageError(f"--long-method/--long-steps: {e}") from None
        default_long = {"method": method, "steps": steps}
    print(f"wrote {export_release(args.checkpoint, args.out, args.guidance, best=args.best, default_long=default_long)}")


def add_distill_args(p) -> None:
    p.description = ("Distillation (vidgen.training.distill): 'guidance', a student that takes the guidance scale as an "
                     "input learns its teacher's guided output in one pass; 'progressive', a student of a guidance-distilled "
                     "teacher learns two of its DDIM steps in one. Export its run like a training run's.")
    p.add_argument("--teacher", default="release", help="a shipped model's name or a checkpoint directory (default release)")
    p.add_argument("--kind", choices=KINDS, default="guidance", help="what to distil (default guidance)")
    p.add_argument("--student-steps", type=positive_int, default=None,
                   help="progressive: the student's DDIM steps, 2^k + 1 (default: DistillConfig's)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--steps", type=positive_int, default=None, help="optimizer steps (default: DistillConfig)")
    p.add_argument("--time-budget", type=positive_float, default=None, help="stop after this many seconds (then --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: time a training step in fp32 and in bf16 autocast here and distil in the faster")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")


def run_distill(args) -> None:
    import dataclasses

    import torch

    from ..checkpoint import CONFIG_NAME
    from ..shipped import resolve_model_path
    from ..training.distill import DistillConfig, Distiller, check_teacher

    # every argument checked before the teacher loads
    out = Path(args.out)
    if args.resume != (out / CONFIG_NAME).is_file():
        raise UsageError(f"--resume: no run in {out}" if args.resume else f"{out} already holds a run; pass --resume")
    given = {"steps": args.steps, "student_steps": args.student_steps}
    try:
        cfg = DistillConfig(kind=args.kind, **{k: v for k, v in given.items() if v is not None})
    except ValueError as e:
        raise UsageError(f"--student-steps: {e}") from None
    if not args.resume:  # the rule Distiller applies once the teacher is loaded, read from its config.json
        try:
            check_teacher(args.kind, unloaded_pipeline(args.teacher, "--teacher").model.cfg, args.teacher)
        except ValueError as e:
            raise UsageError(f"--teacher {e}") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    distiller = Distiller(resolve_model_path(args.teacher), out, cfg, resume=args.resume)
    if args.steps is not None and args.resume:
        distiller.cfg = dataclasses.replace(distiller.cfg, steps=args.steps)
    if not args.resume:
        bf16 = args.precision == "bf16"
        if args.precision == "auto":
            from functools import partial

            from ..precision import choose_precision, describe

            info = choose_precision(distiller.student, "auto", "cpu", timer=partial(time_train_step, batch=cfg.batch_size),
                                    scope="train")
            print(f"precision: {describe(info)}", file=sys.stderr)
            bf16 = info["precision"] == "bf16"
        distiller.cfg = dataclasses.replace(distiller.cfg, bf16=bf16)
    print(f"distilling ({distiller.cfg.kind}) {distiller.teacher_dir} at guidance {distiller.cfg.guidance_range}, "
          f"step {distiller.step}, bf16 {distiller.cfg.bf16}")
    print(json.dumps(distiller.fit(args.time_budget, progress=not args.no_progress)))


def add_refit_layout_args(p) -> None:
    p.description = ("Refit the layout predictor (glyph widths, ink boxes, motion prior) of a model with the blog's "
                     "interface in the motion world on the world's free labels, its denoiser untouched "
                     "(vidgen.training.layout_refit); writes a release directory.")
    p.add_argument("--model", default="blog", help="a shipped model's name or a checkpoint directory (default blog)")
    p.add_argument("--out", required=True, help="release directory to write (e.g. checkpoints/blog)")
    p.add_argument("--steps", type=positive_int, default=None, help="optimizer steps (default: RefitConfig's)")
    p.add_argument("--motion-prior", choices=MOTION_PRIORS, default=None, help="the refitted prior (default: RefitConfig's)")
    p.add_argument("--prior-motions", choices=PRIOR_MOTIONS, default=None,
                   help="what the prior learns: the world's placed motions or its draws before placing (default: RefitConfig's)")
    p.add_argument("--pair-boxes", action=argparse.BooleanOptionalAction, default=None,
                   help="a learned ink-column shift per symbol pair, placed priors only (default: RefitConfig's)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")


def run_refit_layout(args) -> None:
    import torch

    from ..shipped import resolve_model_path
    from ..training.layout_refit import RefitConfig, refit_layout

    unloaded = unloaded_pipeline(args.model, "--model")  # refused before any weights load
    if unloaded.model.cfg.layout != "learned2d":
        raise UsageError(f"--model: its layout is {unloaded.model.cfg.layout!r}; only a 'learned2d' model (the blog's interface "
                         "in the motion world) has a layout predictor to refit")
    given = {"steps": args.steps, "motion_prior": args.motion_prior, "prior_motions": args.prior_motions,
             "pair_boxes": args.pair_boxes}
    try:
        cfg = RefitConfig(**{k: v for k, v in given.items() if v is not None})
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.threads:
        torch.set_num_threads(args.threads)
    source = resolve_model_path(args.model)
    if Path(args.out).resolve() == source.resolve():
        raise UsageError("--out: write the refit elsewhere first (the source's denoiser is read from it), then move it")
    print(json.dumps(refit_layout(source, args.out, cfg, progress=not args.no_progress, source_name=args.model)))
