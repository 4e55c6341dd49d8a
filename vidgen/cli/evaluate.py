"""`python -m vidgen eval | experiments | train-recognizer | train-temporal-encoder | report | world-report`: argument
parsing, then one library call each."""
from __future__ import annotations

import json
from pathlib import Path

from ..diffusion.sampler import EVAL_SAMPLER, EVAL_STEPS
from ..evaluation.harness import SPLITS
from .common import (
    Bounded,
    UsageError,
    add_compile_arg,
    add_precision_arg,
    add_sampling_args,
    check_device,
    check_reader,
    check_sampling,
    positive_int,
    seed_int,
    unloaded_pipeline,
)

at_least_two = Bounded(int, 2)  # prompts per split: a rate needs two


def _add_common(p) -> None:
    p.add_argument("--checkpoint", required=True, help="run or release directory, or a shipped model: release or blog")
    p.add_argument("--out", required=True, help="output directory for the report")
    add_sampling_args(p, steps=EVAL_STEPS, sampler=EVAL_SAMPLER)  # the reference of every reported figure
    p.add_argument("--batch-size", type=positive_int, default=64, help="prompts sampled together (default 64)")
    p.add_argument("--recognizer", default=None, help="recognizer directory (default: the checkpoint's world's, checkpoints/recognizer or "
                        "checkpoints/recognizer-motion)")
    p.add_argument("--no-progress", action="store_true")


def _settings(args):
    """The sampling settings, every argument of eval and experiments checked against the checkpoint's config
    (no weights loaded yet), --recognizer and --device too."""
    from ..evaluation.harness import EvalSettings

    sampler, steps, guidance = check_sampling(unloaded_pipeline(args.checkpoint), args.sampler, args.steps, args.eta,
                                              args.guidance)
    if args.recognizer is not None:
        check_reader(args.recognizer)
    check_device(args.device)
    return EvalSettings(steps=steps, eta=args.eta, guidance_scale=guidance, seed=args.seed,
                        batch_size=args.batch_size, sampler=sampler)


def _reader(args):
    """The reader --recognizer names, else None: the library then reads with the reader of the checkpoint's
    world (checkpoints/recognizer for the scroll world, checkpoints/recognizer-motion for the motion world)."""
    from ..evaluation.recognizer import default_reader

    return None if args.recognizer is None else default_reader(args.recognizer)


def add_eval_args(p) -> None:
    _add_common(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--prompts", default=None, help="text file, one prompt a line")
    src.add_argument("--split", choices=SPLITS, default="val",
                     help="prompt set when no --prompts: val, heldout, lookalike (validation prompts of look-alike glyphs) or long (7-8 symbols); default val")
    p.add_argument("--n", type=positive_int, default=None, help="number of prompts: split prompts spread over lengths "
                   "(default 200), or the first N of --prompts (default all)")


def run_eval(args) -> None:
    from ..checkpoint import CONFIG_NAME, read_json, resolve_dir
    from ..evaluation.harness import (
        checkpoint_split,
        dumps_summary,
        evaluate,
        load_prompts_file,
        split_prompts,
    )

    settings = _settings(args)
    if args.prompts:
        prompts, source = load_prompts_file(args.prompts), f"file {args.prompts}"
        prompts = prompts[: args.n] if args.n else prompts
    else:
        split = checkpoint_split(read_json(resolve_dir(args.checkpoint) / CONFIG_NAME))
        prompts, source = split_prompts(args.split, args.n or 200, split, seed=args.seed), f"split {args.split}"
    report = evaluate(args.checkpoint, prompts, args.out, settings, prompt_source=source, reader=_reader(args),
                      progress=not args.no_progress, device=args.device, precision=args.precision)
    print(dumps_summary(report))
    print(f"wrote {Path(args.out) / 'report.json'} and report.md")


def add_experiments_args(p) -> None:
    from ..evaluation.experiments import EXPERIMENTS

    _add_common(p)
    p.add_argument("--n", type=positive_int, default=24, help="prompts per group (default 24)")
    p.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS), help="run only these")


def run_experiments_cmd(args) -> None:
    from ..evaluation.experiments import run_experiments

    report = run_experiments(args.checkpoint, args.out, _settings(args), n=args.n, reader=_reader(args),
                             progress=not args.no_progress, only=tuple(args.only), device=args.device, precision=args.precision)
    print(f"wrote {Path(args.out) / 'experiments.json'} and experiments.md ({report['seconds']} s)")


def add_train_recognizer_args(p) -> None:
    p.add_argument("--out", default=None, help="where the weights and config go (default: the reader's own directory, "
                                               "checkpoints/recognizer or, with --reads motion, checkpoints/recognizer-motion)")
    p.add_argument("--steps", type=positive_int, default=None, help="optimizer steps (default: RecognizerTrainConfig)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--reads", choices=("scroll", "motion"), default="scroll",
                   help="scroll: the scroll world's videos (checkpoints/recognizer); motion: text moving any way "
                        "(checkpoints/recognizer-motion)")
    p.add_argument("--no-progress", action="store_true")


def run_train_recognizer(args) -> None:
    import dataclasses

    import torch

    from ..evaluation.recognizer import DEFAULT_DIR, MOTION_DIR, MOTION_READER, RecognizerConfig
    from ..training.recognizer import RecognizerTrainConfig, train_recognizer

    torch.set_num_threads(args.threads)
    cfg = RecognizerTrainConfig(seed=args.seed)
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    model_cfg = MOTION_READER if args.reads == "motion" else RecognizerConfig()
    out = args.out or str(MOTION_DIR if args.reads == "motion" else DEFAULT_DIR)  # never the other reader's files
    print(json.dumps(train_recognizer(out, cfg, model_cfg, progress=not args.no_progress)))


def add_train_temporal_encoder_args(p) -> None:
    p.add_argument("--out", default=None, help="where the weights and config go (default checkpoints/temporal-encoder)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="optimizer steps (default: vidgen.training.temporal_encoder.DEFAULT_STEPS, about 5 min on 2 cores)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--no-progress", action="store_true")


def run_train_temporal_encoder(args) -> None:
    import torch

    from ..evaluation.temporal import DEFAULT_DIR, save_temporal_encoder
    from ..training.temporal_encoder import DEFAULT_STEPS, train_temporal_encoder

    out = Path(args.out or DEFAULT_DIR)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out must be a directory, got the file {str(out)!r}")
    torch.set_num_threads(args.threads)
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    encoder, _ = train_temporal_encoder(steps, seed=args.seed, progress=not args.no_progress)
    save_temporal_encoder(encoder, out)
    print(json.dumps({**encoder.meta, "path": str(out)}))



def add_report_args(p) -> None:
    from ..shipped import SCROLL_MODELS

    p.description = ("Measure the shipped scroll-world models' headline figures (the model card's table) from their "
                     "checkpoints, at the reference and the default sampler, and write them as JSON plus a Markdown table "
                     "(motion-world models: world-report).")
    p.add_argument("--models", default=",".join(SCROLL_MODELS),
                   help=f"comma-separated shipped names or directories (default {','.join(SCROLL_MODELS)})")
    p.add_argument("--out", default="docs/reports/shipped_models.json", help="the JSON file (the .md goes beside it)")
    p.add_argument("--n", type=at_least_two, default=None, help="prompts per split instead of the card's (200 val and held-out, "
                                                         "96 look-alike, 48 of 7-8 symbols), for a quick look")
    p.add_argument("--device", default="cpu")
    add_precision_arg(p)
    p.add_argument("--no-progress", action="store_true")


def run_report(args) -> None:
    from ..evaluation.model_card import CARD_SPLITS, measure_models, write_card

    splits = CARD_SPLITS if args.n is None else {k: args.n for k in CARD_SPLITS}
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if not names:
        raise UsageError("--models names no model")
    for name in names:  # each one's config.json read before any loads
        unloaded_pipeline(name, "--models")
    check_device(args.device)
    card = measure_models(names, splits, progress=not args.no_progress, device=args.device, precision=args.precision)
    md = write_card(card, Path(args.out))
    print(f"wrote {args.out} and {md}")


def add_world_report_args(p) -> None:
    p.description = ("Measure a motion-world model's figures (docs/world.md): readability and position error with a motion "
                     "given, on held-out path shapes too, variety with none given, and the sliders' table.")
    p.add_argument("--model", default="release", help="a shipped name or a checkpoint directory (default release)")
    p.add_argument("--out", default=None, help="the JSON file (default docs/reports/world_<model>.json; the .md goes beside it)")
    p.add_argument("--n", type=at_least_two, default=None, help="prompts per split instead of 200/200/96/48, for a quick look")
    p.add_argument("--no-sliders", action="store_true", help="skip the guidance x eta table")
    p.add_argument("--recognizer", default=None, help="motion reader directory (default: checkpoints/recognizer-motion)")
    add_precision_arg(p)
    add_compile_arg(p)
    p.add_argument("--no-progress", action="store_true")


def run_world_report(args) -> None:
    from ..evaluation.recognizer import MOTION_DIR, default_reader
    from ..evaluation.world_report import WORLD_SPLITS, measure_world, write_world_report
    from ..shipped import resolve_model_path

    if unloaded_pipeline(args.model, "--model").world.name != "motion":  # config.json only, before any weights load
        raise UsageError(f"--model {args.model} was trained in the scroll world; measure it with report")
    check_reader(args.recognizer or MOTION_DIR, reads="motion")
    reader = default_reader(args.recognizer or str(MOTION_DIR))
    splits = WORLD_SPLITS if args.n is None else {k: args.n for k in WORLD_SPLITS}
    name = Path(args.model).name
    report = measure_world(str(resolve_model_path(args.model)), reader, splits, progress=not args.no_progress, precision=args.precision,
                           sliders=not args.no_sliders, compile=args.compile)
    out = Path(args.out or f"docs/reports/world_{name}.json")
    md = write_world_report(name, report, out)
    print(f"wrote {out} and {md}")

