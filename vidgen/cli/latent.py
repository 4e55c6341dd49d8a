"""`python -m vidgen train-vae | export-vae`: train a video autoencoder (exactly resumable) and release it."""
from __future__ import annotations

import json

from .common import UsageError, positive_float, positive_int


def add_train_vae_args(p) -> None:
    from ..latent.config import VAE_PRESETS

    p.description = ("Train a video autoencoder on the motion world (vidgen.training.vae_trainer): per frame ('frame') "
                     "or temporal causal 3D ('causal'); stops at --steps or after --minutes, checkpointed; --resume continues.")
    p.add_argument("--preset", choices=tuple(VAE_PRESETS), default="frame", help="the autoencoder's shape (default frame)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, log.jsonl)")
    p.add_argument("--steps", type=positive_int, default=None, help="total steps (default: VAETrainConfig's)")
    p.add_argument("--minutes", type=positive_float, default=None, help="stop (checkpointed) after this many minutes")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")


def run_train_vae(args) -> None:
    import torch

    from ..data.shape import HEIGHT
    from ..data.world import WorldConfig
    from ..latent.config import VAE_PRESETS
    from ..training.vae_trainer import VAERun, VAETrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume:
        if args.steps is not None:
            raise UsageError("--steps: a resumed run keeps its own (its learning-rate schedule depends on it)")
        run = VAERun(args.out, resume=True)
    else:
        vae_cfg = VAE_PRESETS[args.preset]
        world = WorldConfig(name="motion", scale=vae_cfg.height // HEIGHT)  # the world of the preset's frame size
        cfg = VAETrainConfig(world=world, **({} if args.steps is None else {"steps": args.steps}))
        run = VAERun(args.out, vae_cfg, cfg)
    print(json.dumps(run.train(args.minutes, progress=not args.no_progress)))


def add_export_vae_args(p) -> None:
    p.description = "Write a VAE run's EMA weights, with its latent statistics measured, as a release directory."
    p.add_argument("--run-dir", required=True, help="the run directory train-vae wrote")
    p.add_argument("--out", required=True, help="release directory (e.g. checkpoints/vae-frame)")


def run_export_vae(args) -> None:
    from ..training.vae_trainer import export_vae

    raw = export_vae(args.run_dir, args.out)
    print(json.dumps({"out": args.out, "step": raw["step"], "latent_stats": raw["latent_stats"]}))


def add_vae_report_args(p) -> None:
    p.description = ("Measure a VAE's reconstructions of the motion world (vidgen.evaluation.vae_report): PSNR, readability "
                     "by the motion reader and the nearest render, background bias, warping error and flicker.")
    p.add_argument("--vae", required=True, help="a VAE release directory or a shipped VAE's name (vae-frame, vae-causal)")
    p.add_argument("--n", type=positive_int, default=None, help="prompts per split (default: the world report's)")
    p.add_argument("--out", default=None, help="JSON report (default docs/reports/vae_<name>.json)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")


def run_vae_report(args) -> None:
    from pathlib import Path

    import torch

    from ..checkpoint import atomic_write_json
    from ..evaluation.recognizer import MOTION_DIR, default_reader
    from ..evaluation.vae_report import VAE_SPLITS, measure_vae
    from ..latent.release import load_vae
    from ..shipped import resolve_vae_path

    if args.threads:
        torch.set_num_threads(args.threads)
    path = resolve_vae_path(args.vae)
    vae, raw = load_vae(path)
    splits = VAE_SPLITS if args.n is None else {k: args.n for k in VAE_SPLITS}
    report = measure_vae(vae, raw, default_reader(str(MOTION_DIR)), splits, progress=not args.no_progress)
    out = Path(args.out or f"docs/reports/vae_{Path(path).name}.json")
    atomic_write_json(out, report)
    rows = {k: {m: round(v[m], 4) for m in ("psnr_db", "readability", "readability_nearest_render", "background_bias")}
            for k, v in report["splits"].items()}
    print(json.dumps(rows))
    print(f"wrote {out}")
