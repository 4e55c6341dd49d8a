"""`python -m vidgen ...`: one parser that lists every subcommand, then one library call each.

Bad arguments exit non-zero with a one-line message instead of a traceback.
"""
from __future__ import annotations

import sys

from . import browser, compare, evaluate, generate, latent, probe, train
from .common import Parser, UsageError

# name, help, add its arguments, run it
SUBCOMMANDS = (
    ("render", "write the ground-truth video of a prompt", generate.add_render_args, generate.run_render),
    ("train", "train a model (runs under torchrun as DDP)", train.add_train_args, train.run_train),
    ("distill", "guidance distillation: one pass a step instead of two (a student of a trained model)",
     train.add_distill_args, train.run_distill),
    ("refit-layout", "refit the blog interface's layout predictor and motion prior on the world's labels",
     train.add_refit_layout_args, train.run_refit_layout),
    ("train-vae", "train a video autoencoder (per frame or temporal causal 3D) for latent diffusion",
     latent.add_train_vae_args, latent.run_train_vae),
    ("export-vae", "release a trained video autoencoder with its latent statistics", latent.add_export_vae_args,
     latent.run_export_vae),
    ("vae-report", "measure a video autoencoder's reconstructions: PSNR, readability, seams", latent.add_vae_report_args,
     latent.run_vae_report),
    ("sample", "generate a video from a prompt", generate.add_sample_args, generate.run_sample),
    ("export", "copy a run's EMA weights and config into a release directory", train.add_export_args, train.run_export),
    ("export-onnx", "a layout-guided model as the files the browser page runs (ONNX and tables)", browser.add_export_onnx_args,
     browser.run_export_onnx),
    ("eval", "score a model's videos: readability, fidelity, motion", evaluate.add_eval_args, evaluate.run_eval),
    ("report", "measure the shipped models' model-card figures into a committed JSON file", evaluate.add_report_args,
     evaluate.run_report),
    ("world-report", "measure a motion-world model: following a motion, variety, the sliders", evaluate.add_world_report_args,
     evaluate.run_world_report),
    ("experiments", "the blog's experiments: single symbols, held-out pairs, longer prompts, unknown tokens",
     evaluate.add_experiments_args, evaluate.run_experiments_cmd),
    ("train-recognizer", "train the text recognizer that scores readability",
     evaluate.add_train_recognizer_args, evaluate.run_train_recognizer),
    ("train-temporal-encoder", "train the frame-difference encoder of the temporal FID (seed 004's motion KPIs)",
     evaluate.add_train_temporal_encoder_args, evaluate.run_train_temporal_encoder),
    ("probe", "interpretability probes: embeddings, attention, loss by noise level", probe.add_probe_args, probe.run_probe),
    ("compare", "train every variant for the same budget, evaluate, write the comparison",
     compare.add_compare_args, compare.run_compare),
)


def build_parser(prog: str = "python -m vidgen") -> Parser:
    parser = Parser(prog=prog, description="vidgen: a hands-on text-to-video diffusion lab")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, help_text, add_args, run in SUBCOMMANDS:
        add_args(sub.add_parser(name, help=help_text))
        sub.choices[name].set_defaults(run=run)
    return parser


def main(argv=None, prog: str = "python -m vidgen") -> int:
    """Run one subcommand; -> its exit code (2, after one line on stderr, for any bad argument)."""
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as e:  # argparse has printed its one line (or the help): its code, returned like the others
        return e.code
    from ..models.layers import quiet_known_warnings
    from ..shipped import resolve_model_path

    quiet_known_warnings()
    if args.command != "export" and getattr(args, "checkpoint", None) is not None:
        args.checkpoint = str(resolve_model_path(args.checkpoint))  # a shipped model's name stands for its directory
    try:
        args.run(args)
    except (UsageError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def console() -> int:
    """The `vidgen` command an install puts on the PATH: the same as `python -m vidgen`."""
    return main(prog="vidgen")
