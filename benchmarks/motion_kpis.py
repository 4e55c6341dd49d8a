"""Seed 004's motion KPIs for every shipped motion-world model, short and long (issue 34, section 3).

    python -m benchmarks.motion_kpis [--models release,blog] [--n 48] [--encoder DIR] [--json FILE]
    python -m benchmarks.motion_kpis --models latent --update docs/reports/motion_kpis.json

`--update FILE` measures only the models named and replaces their rows in the report FILE (written by this command
at the same --n and --seed, with the same temporal encoder), keeping every other row and the separations, and
records under "updated" when and on what CPU each replaced row was measured: one retrained model is measured again
without the others.

For each model of vidgen.shipped.MOTION_MODELS whose checkpoint is on disk (the others are skipped and listed),
`--n` validation prompts (`split_prompts("val")`) are generated along motions drawn from the model's world
(prompt i by seed i, `pipe.sample_motion`), 16 frames; the model that makes long videos (`pipe.makes_long`) also
makes `--n` sentences (`sentence_prompts`) at 64 and 128 frames. On each set, for the generated videos and for
the true renders along the same motions: the mean warping error, MAWE, VBench flicker and flow consistency
(vidgen.evaluation.temporal), and the temporal FID (Frechet distance of the trained frame-difference encoder's
features, `python -m vidgen train-temporal-encoder`):

- `temporal_fid`: the generated set against the true set (same prompts, same motions: paired);
- `temporal_fid_floor`: the true set against a second true set of the same prompts along other motions
  (prompt i by seed REFERENCE_SEED + i), what sampling alone gives at this n;
- `temporal_fid_vs_reference`: the generated set against that second true set, the figure to hold against
  the floor (both compare with the same independent reference).

With n below the feature width (64) the covariances are rank-deficient: the distances are still defined, but
noisy; compare them at one n. Then once, on true videos only (short and long), each KPI's separation from the
same videos with two frames swapped (`separation`, `frechet_separation`): the means, the margin (how much
better the truth scores) and the share of videos that score better than their own swapped copy. Every KPI is
given the same swaps (one seed).

A model of a scaled world (`latent-64`, 64x64) is measured on its videos' 2x2 means, as the 32x32 judges read them.
Generation uses each model's defaults (sampler, steps, guidance; long videos: its default method). Figures of
quality do not depend on the machine; the seconds do: the CPU and the load average are recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from vidgen.checkpoint import CONFIG_NAME
from vidgen.data.prompts import SplitConfig, sentence_prompts
from vidgen.data.shape import FRAMES
from vidgen.data.world import downscale, render_motion, sample_motion
from vidgen.evaluation.harness import split_prompts
from vidgen.evaluation.temporal import (
    DEFAULT_DIR,
    flicker,
    flow_consistency,
    frechet_distance,
    frechet_separation,
    load_temporal_encoder,
    mawe,
    separation,
    temporal_features,
    warping_error,
)
from vidgen.pipeline import describe_precision, load_pipeline
from vidgen.precision import cpu_model
from vidgen.presets import MOTION
from vidgen.shipped import MOTION_MODELS, shipped_model

LONG_FRAMES = (64, 128)  # the long model's sentences are made at these lengths
REFERENCE_SEED = 10_000  # the second true set's motions (prompt i by REFERENCE_SEED + i): never a generated set's
# name, per-video KPI (video, motion) -> float, whether higher is better
KPIS = (
    ("warping_error", warping_error, False),
    ("mawe", mawe, False),
    ("flicker", lambda video, motion: flicker(video), True),
    ("flow_consistency_px", flow_consistency, False),
)


def video_sets(n: int, long: bool) -> list[tuple[str, list[str], int]]:
    """(name, prompts, frames) of the sets a model is measured on: validation prompts at 16 frames, and for a
    long-video model sentences at each of LONG_FRAMES."""
    sets = [(f"val-{FRAMES}", split_prompts("val", n, SplitConfig()), FRAMES)]
    if long:
        sets += [(f"sentences-{f}", list(sentence_prompts(n=n)), f) for f in LONG_FRAMES]
    return sets


def generate(pipe, prompts: list[str], motions: list, batch: int, seed: int, desc: str, progress: bool) -> np.ndarray:
    """uint8 videos (N, T, H, W) of the prompts along their motions, `batch` prompts a call (batch k by seed + k)."""
    out = []
    starts = range(0, len(prompts), batch)
    for k, lo in enumerate(tqdm(starts, desc=desc, unit="batch", disable=not progress, dynamic_ncols=True)):
        out.append(pipe.generate(prompts[lo : lo + batch], motion=motions[lo : lo + batch], seed=seed + k))
    return np.concatenate(out)


def kpi_means(videos, motions) -> dict:
    """Each KPI's mean over the videos (NaN-skipping: flow consistency has none where no text shows)."""
    return {name: float(np.nanmean([fn(v, m) for v, m in zip(videos, motions)])) for name, fn, _ in KPIS}


def measure_set(pipe, encoder, prompts: list[str], frames: int, batch: int, seed: int, desc: str,
                progress: bool) -> dict:
    """The KPIs of one model's videos of `prompts` at `frames` frames, of their truth, and the temporal FIDs."""
    motions = [pipe.sample_motion(p, i, frames=frames) for i, p in enumerate(prompts)]
    reference_motions = [pipe.sample_motion(p, REFERENCE_SEED + i, frames=frames) for i, p in enumerate(prompts)]
    t0 = time.perf_counter()
    videos = generate(pipe, prompts, motions, batch, seed, desc, progress)  # (N, T, H*s, W*s) at the world's scale s
    seconds = time.perf_counter() - t0
    videos = downscale(videos, pipe.world.scale)  # (N, T, H, W): a scaled world's videos as the 32x32 judges read them
    truths = np.stack([render_motion(p, m) for p, m in zip(prompts, motions)])  # (N, T, H, W)
    reference = np.stack([render_motion(p, m) for p, m in zip(prompts, reference_motions)])
    f_gen, f_true, f_ref = (temporal_features(encoder, v) for v in (videos, truths, reference))  # (N, D) each
    return {
        "n": len(prompts), "frames": frames,
        "generated": kpi_means(videos, motions), "truth": kpi_means(truths, motions),
        "temporal_fid": frechet_distance(f_gen, f_true),
        "temporal_fid_vs_reference": frechet_distance(f_gen, f_ref),
        "temporal_fid_floor": frechet_distance(f_true, f_ref),
        "seconds": round(seconds, 1), "seconds_per_video": round(seconds / len(prompts), 3),
    }


def measure_model(name: str, encoder, args) -> dict:
    """Every set of one shipped model (`video_sets`), with the sampling defaults it was measured at."""
    pipe = load_pipeline(name)
    sampler, steps = pipe.default_sampling
    out = {"precision": describe_precision(pipe), "makes_long": pipe.makes_long,
           "sampling": {"sampler": sampler, "steps": steps, "guidance": pipe.default_guidance}, "sets": {}}
    if pipe.makes_long:
        method, long_steps = pipe.default_long
        out["long"] = {"method": method, "steps": long_steps}
    for set_name, prompts, frames in video_sets(args.n, pipe.makes_long):
        batch = args.batch if frames == FRAMES else args.long_batch
        out["sets"][set_name] = measure_set(pipe, encoder, prompts, frames, batch, args.seed, f"{name} {set_name}",
                                            not args.no_progress)
    return out


def separations(encoder, n: int, seed: int) -> dict:
    """On true videos of the motion world (presets.MOTION, the shipped motion models' world) at every set's
    length: each KPI's `separation` and the temporal FID's `frechet_separation` from the same videos with two
    frames swapped. Every KPI gets the same swaps (a fresh generator of `seed` each)."""
    out = {}
    for set_name, prompts, frames in video_sets(n, long=True):
        motions = [sample_motion(p, MOTION, np.random.default_rng(i), frames=frames) for i, p in enumerate(prompts)]
        truths = [render_motion(p, m) for p, m in zip(prompts, motions)]
        reference = [render_motion(p, sample_motion(p, MOTION, np.random.default_rng(REFERENCE_SEED + i), frames=frames))
                     for i, p in enumerate(prompts)]
        rows = {name: separation(fn, truths, motions, np.random.default_rng(seed), higher_is_better=higher)
                for name, fn, higher in KPIS}
        rows["temporal_fid"] = frechet_separation(encoder, truths, reference, np.random.default_rng(seed))
        out[set_name] = rows
    return out


def summary(report: dict) -> str:
    """The report's figures as a few plain-text tables (generated / truth per KPI, then the separations)."""
    lines = [f"cpu: {report['cpu']}"]
    for name, reason in report["skipped"].items():
        lines.append(f"skipped {name}: {reason}")
    for name, model in report["models"].items():
        for set_name, row in model["sets"].items():
            kpis = "  ".join(f"{k} {row['generated'][k]:.4g}/{row['truth'][k]:.4g}" for k, _, _ in KPIS)
            lines.append(f"{name} {set_name} (generated/truth): {kpis}  temporal FID {row['temporal_fid']:.4g} "
                         f"(vs reference {row['temporal_fid_vs_reference']:.4g}, floor {row['temporal_fid_floor']:.4g})")
    for set_name, rows in report["separation"].items():
        cells = "  ".join(f"{k} margin {r['margin']:.4g}" + (f" ({100 * r['separated']:.0f}% apart)" if "separated" in r else "")
                          for k, r in rows.items())
        lines.append(f"separation, true vs two frames swapped, {set_name}: {cells}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MOTION_MODELS),
                    help=f"comma-separated shipped motion-world models (default {','.join(MOTION_MODELS)})")
    ap.add_argument("--n", type=int, default=48, help="prompts a set (default 48)")
    ap.add_argument("--encoder", default=str(DEFAULT_DIR), help=f"the temporal encoder (default {DEFAULT_DIR})")
    ap.add_argument("--batch", type=int, default=16, help="prompts a generation call, 16-frame videos (default 16)")
    ap.add_argument("--long-batch", type=int, default=8, help="prompts a generation call, long videos (default 8)")
    ap.add_argument("--seed", type=int, default=0, help="generation batch k is sampled with seed + k; the swaps' seed")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--update", default=None, metavar="FILE",
                    help="measure --models only and replace their rows in this report (same --n, --seed and encoder)")
    return ap


def updated_report(path: str, fresh: dict) -> dict:
    """The report at `path` with the rows of `fresh` (a report of some models) in place of its own, or SystemExit
    if the two were not measured alike (n, seed, temporal encoder)."""
    with open(path) as f:
        old = json.load(f)
    for key in ("n", "seed"):
        if old.get(key) != fresh[key]:
            raise SystemExit(f"--update: {path} has {key} {old.get(key)}, this run {fresh[key]}")
    if old["encoder"].get("weights_sha256") != fresh["encoder"].get("weights_sha256"):
        raise SystemExit(f"--update: {path} was measured with another temporal encoder")
    merged = {**old, "models": {**old["models"], **fresh["models"]}}
    merged["updated"] = {**old.get("updated", {}), **{name: {"cpu": fresh["cpu"], "threads": fresh["threads"],
                                                             "load_average_before": fresh["load_average_before"],
                                                             "date": time.strftime("%Y-%m-%d"), "seconds": fresh["seconds"]}
                                                      for name in fresh["models"]}}
    return merged


def main(argv=None) -> None:
    ap = build_parser()
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MOTION_MODELS]
    if unknown or not names:
        ap.error(f"--models: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(MOTION_MODELS)}")
    if args.update and args.json:
        ap.error("--update writes the report it updates; --json goes with a full run")
    if args.update and not os.path.isfile(args.update):
        ap.error(f"--update: no report at {args.update}")
    if args.n < 2 or args.batch < 1 or args.long_batch < 1 or args.seed < 0:
        ap.error("need --n >= 2 (a covariance), --batch and --long-batch >= 1 and --seed >= 0")
    if not (os.path.isdir(args.encoder) and os.path.exists(os.path.join(args.encoder, CONFIG_NAME))):
        ap.error(f"no temporal encoder at {args.encoder}: train one first (python -m vidgen train-temporal-encoder)")
    encoder = load_temporal_encoder(args.encoder)
    load = os.getloadavg()[0]
    print(f"cpu: {cpu_model()}", file=sys.stderr)
    t0 = time.perf_counter()
    report = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "load_average_before": round(load, 2),
              "n": args.n, "seed": args.seed,
              "encoder": {k: encoder.meta.get(k) for k in ("path", "weights_sha256", "steps", "seed", "final_loss", "held_out")},
              "models": {}, "skipped": {}}
    for name in names:
        directory = shipped_model(name).directory
        if not (directory / CONFIG_NAME).exists():
            report["skipped"][name] = f"no checkpoint at {directory}"
            print(f"skipping {name}: no checkpoint at {directory}", file=sys.stderr)
            continue
        report["models"][name] = measure_model(name, encoder, args)
    if args.update:
        report["seconds"] = round(time.perf_counter() - t0, 1)
        report = updated_report(args.update, report)
        out = args.update
    else:
        report["separation"] = separations(encoder, args.n, args.seed)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        out = args.json
    print(summary(report))
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
