"""What the motion world asks of a model, measured from its videos (docs/world.md):

- readability with a motion given: the motion reader (checkpoints/recognizer-motion) reads each video
  generated along a motion drawn from the model's world (or from its held-out path shapes);
- adherence: each frame's text position against the motion's truth (`tracking.position_errors`), in
  pixels, over the frames whose truth shows text;
- variety with no motion given: over many seeds per prompt, the motions measured from the videos (the
  tracker's mean velocity) against the world's, binned by direction (8 sectors) and speed (4 bands), as a
  total variation distance; its floor is what two independent draws of true motions score; and how many
  of the motions the model chose show every glyph whole twice by the true glyph boxes;
- fidelity: PSNR of the whole video against the truth;
- a second judge of readability that has learned nothing: the nearest render among the prompt and its
  one-edit neighbours along the same motion, 1 px of slack a frame (vidgen.evaluation.long_reading);
- a third, from outside the project: a general OCR over the frames laid back along the motion, beside what it
  reads of the true renders (vidgen.evaluation.outside_reader);
- placement: each glyph's offset from where the renderer puts it (vidgen.evaluation.placement).

Every function takes a Pipeline and a reader; nothing here trains or changes a model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..data.world import MIN_VISIBLE_FRAMES, TRAINING_SHAPES, downscale, render_motion, sample_motion, visible_frames
from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS
from .metrics import psnr_video
from .long_reading import long_nearest_reads
from .outside_reader import outside_reads, reads_right
from .placement import placement_errors, placement_summary
from .recognizer import TextReader
from .temporal import flicker, warping_error
from .tracking import position_errors, track

DIRECTION_BINS = 8  # sectors of 45 degrees, the first centred on rightwards
SPEED_EDGES = (0.5, 2.0, 3.5, 5.0)  # px a frame: "still" below 0.5 (no direction), then 4 bands
VARIETY_SEEDS = 96  # seeds of each prompt in the variety measurement: 8 prompts x 96 put two world samples 0.06 apart over
# the 8 direction sectors (at 48, 0.09-0.14 between pairs of exact world samples: too close to the gaps worth seeing)
VARIETY_SEED_STRIDE = 1000  # prompt i's seeds start at i * this (`variety_seeds`)


@dataclass(frozen=True)
class Sampling:
    """How the videos are generated (the default sampler and steps unless said)."""

    sampler: str = DEFAULT_SAMPLER
    steps: int = DEFAULT_STEPS
    eta: float = 0.0
    guidance_scale: float | None = None  # None: the checkpoint's default
    batch: int = 16

    def kwargs(self) -> dict:
        return {"sampler": self.sampler, "steps": self.steps, "eta": self.eta, "guidance_scale": self.guidance_scale}


def generate_many(pipe, prompts: list[str], motions, seeds: list[int], sampling: Sampling, progress: bool, desc: str,
                  used: list | None = None) -> np.ndarray:
    """One video per (prompt, motion or None, seed), in batches of equal seed: (N, T, H, W) uint8. With no
    motions, the ones the model chose (`Pipeline.motions`, exactly as `generate` draws them) go into `used`."""
    out = [None] * len(prompts)
    if used is not None:
        used[:] = [None] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: seeds[i])
    batches = [order[i : i + sampling.batch] for i in range(0, len(order), sampling.batch)]
    groups = []
    for batch in batches:  # a batch shares one seed
        by_seed: dict[int, list[int]] = {}
        for i in batch:
            by_seed.setdefault(seeds[i], []).append(i)
        groups += list(by_seed.items())
    for seed, idx in tqdm(groups, desc=desc, disable=not progress, dynamic_ncols=True):
        motion = None if motions is None else [motions[i] for i in idx]
        chosen = motion if motion is not None else pipe.motions([prompts[i] for i in idx], None, seed)  # as generate draws them
        videos = pipe.generate([prompts[i] for i in idx], motion=motion, seed=seed, **sampling.kwargs())
        for k, (i, v) in enumerate(zip(idx, videos)):
            out[i] = v
            if used is not None and chosen is not None:
                used[i] = chosen[k]
    return np.stack(out)


def followed(pipe, prompts: list[str], reader: TextReader, sampling: Sampling = Sampling(), shapes: tuple[str, ...] | None = None,
             seed: int = 0, progress: bool = False) -> dict:
    """Readability, adherence and PSNR of videos generated along motions drawn from the model's world for
    each prompt (prompt i's motion by seed + i; `shapes` restricts the path shapes, e.g. the held-out ones)."""
    motions = [sample_motion(p, pipe.world, np.random.default_rng(seed + i), shapes) for i, p in enumerate(prompts)]
    scale = pipe.world.scale
    full = generate_many(pipe, prompts, motions, [seed] * len(prompts), sampling, progress, "follow")
    full_truths = np.stack([render_motion(p, m, scale) for p, m in zip(prompts, motions)])
    # the judges read the world's 32x32 frames: a scaled world's videos are judged shrunk back (`downscale`), while
    # PSNR and the background's level are taken at the videos' own size
    videos, truths = downscale(full, scale), np.stack([render_motion(p, m) for p, m in zip(prompts, motions)])
    texts = reader.read(videos).texts
    nearest = long_nearest_reads(videos, prompts, motions)
    outside, outside_truth = outside_reads(videos, prompts, motions), outside_reads(truths, prompts, motions)
    errors = position_errors(videos, truths)  # (N, T) NaN where the truth shows no text
    per_video = np.nanmean(errors, axis=1)
    return {
        "n": len(prompts),
        "readability": float(np.mean([t == p for t, p in zip(texts, prompts)])),
        "readability_nearest_render": float(np.mean([t == p for t, p in zip(nearest, prompts)])),
        "readability_outside": reads_right(outside, prompts),
        "truth_outside": reads_right(outside_truth, prompts),  # the outside reader's own limit, on the true renders
        "placement": placement_summary(placement_errors(videos, prompts, motions)),
        "position_error_px": float(np.nanmean(errors)),
        "position_error_px_p90": float(np.percentile(per_video, 90)),
        "psnr_db": float(np.mean([psnr_video(v, t) for v, t in zip(full, full_truths)])),
        # fidelity beside readability (issue 35): the level of the background, black in the truth, in 0..255 units;
        # the warping error with the true motion and VBench's flicker, each beside the truth's own
        "background_bias": float(full[full_truths == 0].astype(np.float64).mean()),
        "warping_error": float(np.nanmean([warping_error(v, m) for v, m in zip(videos, motions)])),
        "warping_error_truth": float(np.nanmean([warping_error(t, m) for t, m in zip(truths, motions)])),
        "flicker": float(np.mean([flicker(v) for v in videos])),
        "flicker_truth": float(np.mean([flicker(t) for t in truths])),
        "misread": [(p, t) for p, t in zip(prompts, texts) if t != p][:20],
        "misread_nearest_render": [(p, t) for p, t in zip(prompts, nearest) if t != p][:20],
        "misread_outside": [(p, t) for p, t, u in zip(prompts, outside, outside_truth) if t != p and u == p][:20],
        "shapes": sorted({m.shape for m in motions}),
    }


def motion_histogram(velocity: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Mean velocities (N, 2) and path speeds (N,) -> the share of videos in each bin (1 + 8 x 4,): "still"
    (speed below SPEED_EDGES[0]), then direction sector x speed band."""
    hist = np.zeros(1 + DIRECTION_BINS * len(SPEED_EDGES))
    for (vx, vy), s in zip(velocity, speed):
        if s < SPEED_EDGES[0]:
            hist[0] += 1
            continue
        sector = int(((math.degrees(math.atan2(vy, vx)) + 360 / DIRECTION_BINS / 2) % 360) // (360 / DIRECTION_BINS))
        band = int(np.searchsorted(SPEED_EDGES, s, side="right")) - 1
        hist[1 + sector * len(SPEED_EDGES) + band] += 1
    return hist / max(len(velocity), 1)


def direction_histogram(velocity: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """The share of videos (1 + 8,) "still", then in each direction sector (the direction x speed bins summed
    over speed: fewer bins, so a lower floor at the same n and a skew of direction shows)."""
    hist = motion_histogram(velocity, speed)
    return np.concatenate([hist[:1], hist[1:].reshape(DIRECTION_BINS, len(SPEED_EDGES)).sum(axis=1)])


PATH_SHAPE_CLASSES = TRAINING_SHAPES  # what `path_shape` tells apart: the world's training shapes
PAUSED_SHARE = 0.2  # a path still in this share of its steps or more stops and goes (stop_go pauses for a third)
TURN_DEG = 40.0  # a path whose second half heads this far from its first half turns (arcs turn 60-180 degrees)
BOUNCE_PX = 2.5  # a path that strays this far from its chord or more bounces (hops are 3-8 px high)


def path_shape(motion) -> str:
    """Which of PATH_SHAPE_CLASSES a motion's integer positions look like, by three rules in turn: paused steps,
    then the turn between its halves, then its largest distance from the chord. A judge applied alike to a model's
    motions and the world's (on 2000 world motions it names the shape drawn 91% of the time: slow arcs and low hops
    pass for bounces and lines), so two distributions are compared through the same lens."""
    p = np.stack([np.asarray(motion.xs, float), np.asarray(motion.ys, float)], axis=1)  # (F, 2)
    steps = np.diff(p, axis=0)  # (F-1, 2)
    if 1.0 - (np.hypot(*steps.T) > 0).mean() >= PAUSED_SHARE:
        return "stop_go"
    half = len(steps) // 2
    a, b = steps[:half].sum(axis=0), steps[half:].sum(axis=0)
    if abs(math.degrees(math.atan2(a[0] * b[1] - a[1] * b[0], float(a @ b)))) >= TURN_DEG:
        return "arc"
    chord = p[-1] - p[0]
    normal = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-9)
    return "bounce" if np.abs((p - p[0]) @ normal).max() >= BOUNCE_PX else "line"


def shape_histogram(motions) -> np.ndarray:
    """The share of motions (len(PATH_SHAPE_CLASSES),) that `path_shape` puts in each class."""
    names = [path_shape(m) for m in motions]
    return np.array([names.count(c) for c in PATH_SHAPE_CLASSES], dtype=np.float64) / max(len(names), 1)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two histograms: 0 identical, 1 disjoint."""
    return 0.5 * float(np.abs(p - q).sum())


def measured_histogram(videos: np.ndarray, directions_only: bool = False) -> np.ndarray:
    """The motion histogram of videos (or their direction histogram), as the tracker measures them."""
    trk = track(videos)
    return (direction_histogram if directions_only else motion_histogram)(trk.velocity(), trk.path_speed())


def variety_seeds(n_prompts: int, seeds_per_prompt: int) -> list[list[int]]:
    """Each prompt's own seeds: a seed draws the same noise for every prompt (the learned prior's, the world's
    rng), so seeds shared between prompts would make one draw count len(prompts) times and raise every floor."""
    return [[VARIETY_SEED_STRIDE * i + s for s in range(seeds_per_prompt)] for i in range(n_prompts)]


def true_videos(pipe, prompts: list[str], seeds: list[int], seed_offset: int) -> np.ndarray:
    """Renders of each prompt along a motion drawn from the model's world by seed + seed_offset."""
    return np.stack([render_motion(p, sample_motion(p, pipe.world, np.random.default_rng([s, seed_offset])))
                     for p, s in zip(prompts, seeds)])


def variety(pipe, prompts: list[str], reader: TextReader, seeds_per_prompt: int = VARIETY_SEEDS, sampling: Sampling = Sampling(),
            progress: bool = False) -> dict:
    """Videos with no motion given, `seeds_per_prompt` seeds of each prompt (`variety_seeds`): how their measured
    motions compare with the world's (total variation over direction x speed bins, and over direction sectors
    alone; each floor is two independent samples of true motions of the same prompts), and how many read right."""
    rows = [(p, s) for p, own in zip(prompts, variety_seeds(len(prompts), seeds_per_prompt)) for s in own]
    ps, seeds = [p for p, _ in rows], [s for _, s in rows]
    chosen: list = []
    videos = downscale(generate_many(pipe, ps, None, seeds, sampling, progress, "variety", used=chosen), pipe.world.scale)
    keeps = [bool((visible_frames(p, m) >= MIN_VISIBLE_FRAMES).all()) for p, m in zip(ps, chosen) if m is not None]
    truths_a, truths_b = true_videos(pipe, ps, seeds, 1), true_videos(pipe, ps, seeds, 2)
    generated, truth_a, truth_b = (measured_histogram(v) for v in (videos, truths_a, truths_b))
    gen_dir, dir_a, dir_b = (measured_histogram(v, directions_only=True) for v in (videos, truths_a, truths_b))
    texts = reader.read(videos).texts
    trk = track(videos)
    return {
        "n_videos": len(rows),
        "seeds_per_prompt": seeds_per_prompt,
        "tv_generated_vs_world": total_variation(generated, truth_a),
        "tv_world_vs_world": total_variation(truth_b, truth_a),
        "tv_direction_generated_vs_world": total_variation(gen_dir, dir_a),
        "tv_direction_world_vs_world": total_variation(dir_b, dir_a),
        "direction_generated": gen_dir.round(4).tolist(),
        "direction_world": dir_a.round(4).tolist(),
        "readability": float(np.mean([t == p for t, p in zip(texts, ps)])),
        "still_share": float(generated[0]),
        "chosen_keep_invariant": float(np.mean(keeps)) if keeps else None,  # by the true glyph boxes
        "mean_speed_px": float(trk.path_speed().mean()),
        "histogram_generated": generated.round(4).tolist(),
        "histogram_world": truth_a.round(4).tolist(),
    }
