"""Where the blog interface's motions and glyph widths come from, measured without denoising (issue 36, docs/world.md).

    python -m benchmarks.blog_prior [--model blog] [--prompts 6] [--seeds 96] [--sets val:11,lookalike:11] [--expected N] [--json F]

For each of `--sets` (SPLIT:PROMPT_SEED: `--prompts` prompts of that split as `split_prompts` draws them with that
seed; by default val:11, the world report's variety prompts; other splits and seeds are prompts the refit never
chose by), each prompt with its own `--seeds` seeds:

- chosen: the direction sectors (still + 8, from each motion's mean step) of the motions the model chooses with no
  motion given (`Pipeline.motions`, as `generate` draws them) against two independent samples of the world's motions
  of the same prompts: the total variation and its floor (what the two world samples score); the same for the
  path shapes (`vidgen.evaluation.motion_metrics.path_shape`: line, arc, bounce, stop and go); with `--expected N`,
  also each side's direction TV to the expected shares (N world draws a prompt, on seeds of their own): every set
  gives prompt i the same seeds, so its world samples (and the model's draws) err alike from set to set, and a
  shared error of the reference passes for a lean of the model's;
- raw: the prior's draws before the model keeps one: for a "whole" prior (the start learned with the path) the first
  draw of each seed, its direction TV to the world's and the share keeping the world's invariant by the true glyph
  boxes; for a "placed" prior (paths placed as the world places them) the share of drawn paths that some start lets
  show every glyph whole twice, by the true boxes (`vidgen.data.world.valid_starts`);
- widths: the largest distance between a predicted pen start and the renderer's over random prompts of 1-8 symbols
  at the world's sizes (mean and largest over prompts);
- boxes (placed priors): the model's predicted ink boxes (`ink_boxes`, what it places paths by) against the world's
  (`glyph_boxes`) over the same kind of prompts at every size: how many edges stand inwards of the world's (a
  placement can then count on ink that is off screen) and the largest difference.

Only the prior and the width heads run, so this takes a minute or two on one thread.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmarks import print_and_save
from vidgen.data import tokenizer as tok
from vidgen.data.layout import pen_starts
from vidgen.data.world import MIN_VISIBLE_FRAMES, Motion, font_at, sample_motion, valid_starts, visible_frames
from vidgen.cli.common import UsageError, nonnegative_int, positive_int, unloaded_pipeline
from vidgen.evaluation.harness import SPLITS, checkpoint_split, split_prompts
from vidgen.evaluation.ink_boxes import box_differences, inward_edges
from vidgen.evaluation.motion_metrics import (PATH_SHAPE_CLASSES, direction_histogram, shape_histogram, total_variation,
                                             variety_seeds)
from vidgen.evaluation.world_report import VARIETY_PROMPT_SEED, VARIETY_PROMPTS
from vidgen.pipeline import load_pipeline

WIDTH_PROMPTS = 200  # random prompts a size for the widths
EXPECTED_STREAM = 99  # the expected shares' seeds are [s, EXPECTED_STREAM]: apart from the world samples' [s, 1], [s, 2]
BOX_PROMPTS = 300  # random prompts, each at every size, for the ink boxes


def shares(motions: list[Motion]) -> np.ndarray:
    """Direction histogram (still + 8 sectors) of motions from each one's mean step and path speed."""
    velocity = np.array([m.velocities.mean(axis=0) for m in motions])
    speed = np.array([np.hypot(*m.velocities.T).mean() for m in motions])
    return direction_histogram(velocity, speed)


def as_motion(row: torch.Tensor) -> Motion:
    return Motion(row[:, 0].tolist(), row[:, 1].tolist(), int(row[0, 2]))


def width_errors(pipe, rng: np.random.Generator) -> dict:
    lp = pipe.model.layout_predictor
    worst = []
    for size in range(pipe.world.sizes[0], pipe.world.sizes[1] + 1, 2):
        for _ in range(WIDTH_PROMPTS):
            prompt = "".join(rng.choice(list(tok.SYMBOLS), int(rng.integers(1, tok.PROMPT_SLOTS + 1))))
            with torch.no_grad():
                adv = lp.advances(pipe.encode([prompt]), torch.tensor([size]))[0, : len(prompt)].numpy()
            predicted = np.concatenate([[0.0], np.cumsum(adv)])
            worst.append(float(np.abs(predicted - pen_starts(prompt, font_at(size))).max()))
    return {"prompts": len(worst), "mean_px": round(float(np.mean(worst)), 3), "max_px": round(float(np.max(worst)), 3)}


def box_errors(pipe, rng: np.random.Generator) -> dict | None:
    """Predicted ink boxes against the world's, every glyph of random prompts at every size (placed priors only)."""
    lp = pipe.model.layout_predictor
    if not lp.placed:
        return None
    prompts = ["".join(rng.choice(list(tok.SYMBOLS), int(rng.integers(1, tok.PROMPT_SLOTS + 1)))) for _ in range(BOX_PROMPTS)]
    ids = pipe.encode(prompts)
    inward, edges, worst = 0, 0, 0.0
    for size in range(pipe.world.sizes[0], pipe.world.sizes[1] + 1):
        for d in box_differences(lp, ids, prompts, size):  # (n, 4) a prompt: left, top, right, bottom
            inward += inward_edges(d)
            edges += d.size
            worst = max(worst, float(np.abs(d).max()))
    return {"prompts": len(prompts), "edges": edges, "edges_inwards": inward, "max_px": worst}


def prompt_set(text: str) -> tuple[str, int]:
    """'SPLIT:PROMPT_SEED' -> (split, seed), for argparse."""
    split, _, seed = text.partition(":")
    if split not in SPLITS or not seed.isdigit():
        raise argparse.ArgumentTypeError(f"a prompt set is SPLIT:SEED with SPLIT one of {', '.join(SPLITS)}, got {text!r}")
    return split, int(seed)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.blog_prior", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="blog", help="a shipped name or a checkpoint directory of a 'learned2d' model")
    p.add_argument("--prompts", type=positive_int, default=VARIETY_PROMPTS - 2,
                   help="prompts of each set (default: the variety run's first 6)")
    p.add_argument("--seeds", type=positive_int, default=96, help="seeds of each prompt, its own")
    p.add_argument("--sets", type=lambda text: [prompt_set(t) for t in text.split(",")],
                   default=[("val", VARIETY_PROMPT_SEED)],
                   help=f"comma-separated SPLIT:PROMPT_SEED (default val:{VARIETY_PROMPT_SEED}, the world report's prompts)")
    p.add_argument("--expected", type=nonnegative_int, default=0,
                   help="also compare both sides with the world's expected direction shares, N draws a prompt (0: no)")
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def expected_shares(pipe, prompts: list[str], draws: int) -> np.ndarray:
    """The world's direction shares for `prompts` (each weighted alike), from `draws` motions a prompt drawn on seeds
    no measured sample uses."""
    return np.mean([shares([sample_motion(q, pipe.world, np.random.default_rng([s, EXPECTED_STREAM])) for s in range(draws)])
                    for q in prompts], axis=0)


def measure_set(pipe, prompts: list[str], seeds: int, expected: int = 0) -> dict:
    """The chosen motions and the prior's first draws of `prompts`, each with its own `seeds` seeds."""
    lp = pipe.model.layout_predictor
    rows = [(q, s) for q, own in zip(prompts, variety_seeds(len(prompts), seeds)) for s in own]
    chosen = [pipe.motions([q], None, seed=s)[0] for q, s in tqdm(rows, desc="chosen")]
    world_a, world_b = ([sample_motion(q, pipe.world, np.random.default_rng([s, k])) for q, s in rows] for k in (1, 2))
    floor = total_variation(shares(world_b), shares(world_a))
    shape_chosen, shape_a, shape_b = (shape_histogram(ms) for ms in (chosen, world_a, world_b))
    out = {"prompts": prompts,
           "chosen": {"tv_direction": round(total_variation(shares(chosen), shares(world_a)), 4),
                      "tv_direction_floor": round(floor, 4),
                      "keep_invariant": float(np.mean([(visible_frames(q, m) >= MIN_VISIBLE_FRAMES).all()
                                                       for (q, _), m in zip(rows, chosen)])),
                      "direction_shares": shares(chosen).round(4).tolist(),
                      "world_direction_shares": shares(world_a).round(4).tolist(),
                      "tv_shape": round(total_variation(shape_chosen, shape_a), 4),
                      "tv_shape_floor": round(total_variation(shape_b, shape_a), 4),
                      "shape_shares": dict(zip(PATH_SHAPE_CLASSES, shape_chosen.round(4).tolist())),
                      "world_shape_shares": dict(zip(PATH_SHAPE_CLASSES, shape_a.round(4).tolist()))}}
    if expected:
        truth = expected_shares(pipe, prompts, expected)
        out["chosen"]["expected"] = {"draws_a_prompt": expected, "direction_shares": truth.round(4).tolist(),
                                     "tv_direction": round(total_variation(shares(chosen), truth), 4),
                                     "tv_direction_world": round(total_variation(shares(world_a), truth), 4)}
    raw, kept = [], []
    for q, s in tqdm(rows, desc="raw"):
        draw = lp.prior.sample(lp.prior_condition(pipe.encode([q])), s)[0]  # the first draw of round 0
        m = as_motion(draw)
        raw.append(m)
        if lp.placed:
            kept.append(len(valid_starts(q, m.size, np.stack([m.xs, m.ys], axis=1))) > 0)
        else:
            kept.append(bool((visible_frames(q, m) >= MIN_VISIBLE_FRAMES).all()))
    out["raw"] = {"tv_direction": round(total_variation(shares(raw), shares(world_a)), 4),
                  "keep_invariant": float(np.mean(kept)),
                  "what_keeps": "some start shows every glyph whole twice" if lp.placed else "the draw itself shows every glyph whole twice"}
    return out


def main() -> None:
    args = build_parser().parse_args()
    try:  # refused from its config alone, before any weights load
        layout = unloaded_pipeline(args.model, "--model").model.cfg.layout
    except UsageError as e:
        raise SystemExit(str(e)) from None
    if layout != "learned2d":
        raise SystemExit(f"{args.model} has layout {layout!r}: this measures the blog interface's prior")
    torch.set_num_threads(1)
    pipe = load_pipeline(args.model, precision="fp32")
    refit = pipe.config.get("refit", {}).get("config", {})
    report = {"model": args.model, "motion_prior": pipe.model.cfg.motion_prior,
              "prior_motions": refit.get("prior_motions", "world"), "seeds": args.seeds, "sets": []}
    for split, seed in args.sets:
        prompts = split_prompts(split, max(args.prompts, VARIETY_PROMPTS), checkpoint_split(pipe.config), seed=seed)
        report["sets"].append({"split": split, "prompt_seed": seed, **measure_set(pipe, prompts[: args.prompts], args.seeds, args.expected)})
    report["widths"] = width_errors(pipe, np.random.default_rng(0))
    report["boxes"] = box_errors(pipe, np.random.default_rng(0))
    print_and_save(report, args.json)


if __name__ == "__main__":
    main()
