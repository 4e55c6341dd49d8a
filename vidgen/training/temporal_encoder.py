"""Training the temporal encoder, the feature extractor of seed 004's temporal FID (vidgen.evaluation.temporal).

`python -m vidgen train-temporal-encoder` runs it and writes checkpoints/temporal-encoder (DEFAULT_STEPS: about
5 minutes on 2 CPU cores). The encoder only ever sees true renders of the motion world: clips of CLIP_FRAMES
consecutive frames, cut from videos of 16 to 128 frames of short prompts (the validation prompts) and of sentences
(the long videos' text, from another draw than the benchmark's), half of them across a frame swapped with
another frame of the same video. It learns two things from the frame differences: each pair's integer step
(dx and dy, classified in [-R, R]) and whether the clip holds a swapped frame, so its features describe the
motion between frames and notice where it breaks.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange
from tqdm.auto import tqdm

from ..data.prompts import SplitConfig, sentence_prompts, validation_prompts
from ..data.shape import FRAMES, MAX_FRAMES
from ..data.world import min_frames, render_motion, sample_motion
from ..evaluation.temporal import CLIP_FRAMES, TemporalEncoder, TemporalEncoderConfig, swap_frames
from ..presets import MOTION

# Timed on one thread of a 2-core machine busy with a training run (2026-12-04): 0.115 s a step, 0.041 of it the
# batch (drawing the motions: numpy, one thread) and 0.074 the network; with 2 threads for the network about 0.085
# s, so 3000 steps (96,000 clips) take about 4.5 minutes (6 if the second thread does not help)
DEFAULT_STEPS = 3000
TRAIN_SENTENCES = 400  # sentences the encoder sees besides the validation prompts
TRAIN_SENTENCE_SEED = 5  # not sentence_prompts' default (41), the long-video benchmarks' draw
HELD_OUT_BATCHES = 4  # batches after the last training step (never trained on) that measure the encoder at the end
LOSS_CURVE_POINTS = 20  # the saved loss log: the mean loss over each twentieth of training


@dataclass(frozen=True)
class TemporalTrainConfig:
    """How the encoder is trained: batches of clips of true videos, some across two swapped frames."""

    batch_size: int = 32  # clips a step
    clips_per_video: int = 8  # clips cut from each rendered video: drawing a long motion costs more than the network's step
    lr: float = 2e-3  # peak AdamW learning rate, after a linear warm-up, cosine-decayed to min_lr_share of it
    warmup_steps: int = 50
    min_lr_share: float = 0.1
    frames: tuple[int, int] = (FRAMES, MAX_FRAMES)  # lengths (inclusive) of the videos clips are cut from: long
    # motions are slower, so both short and long videos' steps are seen (a sentence: from the frames it needs)
    swapped_share: float = 0.5  # share of videos with two frames swapped; their clips are cut across a swapped frame

    def __post_init__(self):
        object.__setattr__(self, "frames", tuple(int(f) for f in self.frames))
        if self.batch_size < 1 or self.clips_per_video < 1 or self.batch_size % self.clips_per_video:
            raise ValueError(f"need batch_size >= 1 a multiple of clips_per_video >= 1, got {self.batch_size} and "
                             f"{self.clips_per_video}")
        if not self.lr > 0 or self.warmup_steps < 0 or not 0 <= self.min_lr_share <= 1 or not 0 <= self.swapped_share <= 1:
            raise ValueError(f"need lr > 0, warmup_steps >= 0, min_lr_share and swapped_share in [0, 1], got {self.lr}, "
                             f"{self.warmup_steps}, {self.min_lr_share}, {self.swapped_share}")
        if not FRAMES <= self.frames[0] <= self.frames[1] <= MAX_FRAMES:
            raise ValueError(f"frames must satisfy {FRAMES} <= min <= max <= {MAX_FRAMES}, got {self.frames}")


def default_prompts() -> tuple[str, ...]:
    """What the encoder is trained on unless told: the validation prompts (1-6 symbols) and TRAIN_SENTENCES sentences."""
    split = SplitConfig()
    return validation_prompts(split) + sentence_prompts(split, n=TRAIN_SENTENCES, seed=TRAIN_SENTENCE_SEED)


def usable_prompts(prompts: Sequence[str], train: TemporalTrainConfig) -> tuple[str, ...]:
    """The prompts the motion world can show whole within train.frames[1] frames (the others are dropped)."""
    return tuple(p for p in prompts if (need := min_frames(p, MOTION)) is not None and need <= train.frames[1])


def training_clips(step: int, seed: int, train: TemporalTrainConfig, max_shift: int,
                   prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training batch, a pure function of (seed, step): clips (B, K, H, W) in [0, 1], step classes
    (B, K-1, 2) in [0, 2R] (dx, dy clipped to +-R, plus R), swapped (B,) float (1 = the clip holds a swapped
    frame that differs from the one it replaced). Prompts must be `usable_prompts`."""
    rng = np.random.default_rng([seed, step])
    clips, classes, swapped = [], [], []
    for _ in range(train.batch_size // train.clips_per_video):
        prompt = prompts[int(rng.integers(len(prompts)))]
        need = min_frames(prompt, MOTION)
        if need is None or need > train.frames[1]:
            raise ValueError(f"{prompt!r} needs more than {train.frames[1]} frames: pass usable_prompts")
        frames = int(rng.integers(max(train.frames[0], need), train.frames[1] + 1))
        motion = sample_motion(prompt, MOTION, rng, frames=frames)
        video = render_motion(prompt, motion)  # (T, H, W)
        pos = np.stack([motion.xs, motion.ys], axis=1)  # (T, 2)
        starts = np.arange(frames - CLIP_FRAMES + 1)  # (S,) first frames of the clips
        label = 0.0
        if rng.random() < train.swapped_share:
            i, j = (int(k) for k in rng.choice(frames, size=2, replace=False))
            video, pos = swap_frames(video, i, j), swap_frames(pos, i, j)
            label = float(np.any(video[i] != video[j]))
            holds = lambda f: (starts <= f) & (f < starts + CLIP_FRAMES)  # noqa: E731
            starts = starts[holds(i) | holds(j)]
        for s in starts[rng.integers(len(starts), size=train.clips_per_video)]:
            clips.append(video[s : s + CLIP_FRAMES])  # (K, H, W)
            classes.append(np.clip(np.diff(pos[s : s + CLIP_FRAMES], axis=0), -max_shift, max_shift) + max_shift)  # (K-1, 2)
            swapped.append(label)
    return (torch.from_numpy(np.stack(clips)).float() / 255.0,  # (B, K, H, W)
            torch.from_numpy(np.stack(classes)).long(),  # (B, K-1, 2)
            torch.tensor(swapped))  # (B,)


def encoder_loss(model: TemporalEncoder, clips: torch.Tensor, classes: torch.Tensor,
                 swapped: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each pair's dx and dy class plus the binary cross-entropy of "swapped" (a scalar)."""
    _, step_logits, swap_logit = model(clips)  # (B, K-1, 2, 2R+1), (B,)
    return (F.cross_entropy(rearrange(step_logits, "b p a k -> (b p a) k"), rearrange(classes, "b p a -> (b p a)"))
            + F.binary_cross_entropy_with_logits(swap_logit, swapped))


@torch.no_grad()
def held_out_accuracy(model: TemporalEncoder, seed: int, first_step: int, train: TemporalTrainConfig,
                      prompts: Sequence[str], batches: int = HELD_OUT_BATCHES) -> dict:
    """The encoder's two tasks on `batches` batches from step `first_step` on (after training: never seen) ->
    {"step_accuracy": share of (pair, axis) steps classed right, "swap_accuracy": share of clips whose swap
    is told right, "clips"}."""
    model.eval()
    right_steps = right_swaps = pairs = clips_seen = 0
    for step in range(first_step, first_step + batches):
        clips, classes, swapped = training_clips(step, seed, train, model.cfg.max_shift, prompts)
        _, step_logits, swap_logit = model(clips)  # (B, K-1, 2, 2R+1), (B,)
        right_steps += int((step_logits.argmax(-1) == classes).sum())
        right_swaps += int(((swap_logit > 0).float() == swapped).sum())
        pairs, clips_seen = pairs + classes.numel(), clips_seen + len(clips)
    return {"step_accuracy": right_steps / pairs, "swap_accuracy": right_swaps / clips_seen, "clips": clips_seen}


def _lr_share(step: int, steps: int, train: TemporalTrainConfig) -> float:
    """The learning rate's share of its peak at `step`: a linear warm-up, then a cosine decay to min_lr_share."""
    warm = min(1.0, (step + 1) / train.warmup_steps) if train.warmup_steps else 1.0
    done = min(step / max(steps, 1), 1.0)
    return warm * (train.min_lr_share + (1 - train.min_lr_share) * 0.5 * (1 + math.cos(math.pi * done)))


def _loss_curve(losses: list[float], points: int = LOSS_CURVE_POINTS) -> list[float]:
    """The mean loss over each of `points` equal parts of training (fewer when there were fewer steps)."""
    if not losses:
        return []
    return [round(float(np.mean(part)), 4) for part in np.array_split(np.asarray(losses), min(points, len(losses)))]


def train_temporal_encoder(steps: int = DEFAULT_STEPS, seed: int = 0,
                           cfg: TemporalEncoderConfig = TemporalEncoderConfig(),
                           train: TemporalTrainConfig = TemporalTrainConfig(), prompts: Sequence[str] | None = None,
                           progress: bool = False) -> tuple[TemporalEncoder, list[float]]:
    """Train an encoder for `steps` steps on true videos of the motion world (prompts: `default_prompts` unless
    given) -> (encoder in eval mode, loss per step). The same arguments give the same weights: the
    initialisation is seeded inside a forked torch RNG (the caller's is untouched) and each batch is a function
    of (seed, step). `progress` shows a bar with the running loss and writes the loss every tenth of training.
    The encoder's `.meta` holds what it was trained with and reached (save_temporal_encoder writes it): steps,
    seed, the config, prompts, seconds, final loss (the mean of the last 50 steps), the loss curve and the
    held-out accuracy of both tasks."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    prompts = usable_prompts(default_prompts() if prompts is None else prompts, train)
    if not prompts:
        raise ValueError(f"need at least one prompt the motion world shows within {train.frames[1]} frames")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TemporalEncoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_share(s, steps, train))
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc="train-temporal-encoder", unit="step", disable=not progress, dynamic_ncols=True)
    model.train()
    for step in bar:
        loss = encoder_loss(model, *training_clips(step, seed, train, cfg.max_shift, prompts))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 10 == 9:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if progress and (step + 1) % max(1, steps // 10) == 0:
            bar.write(f"step {step + 1}/{steps}: loss {np.mean(losses[-50:]):.4f} (mean of the last 50), "
                      f"lr {sched.get_last_lr()[0]:.2e}")
    seconds = time.perf_counter() - t0
    model.meta = {
        "steps": steps, "seed": seed, "train": asdict(train), "prompts": len(prompts),
        "seconds": round(seconds, 1), "final_loss": float(np.mean(losses[-50:])) if losses else None,
        "loss_curve": _loss_curve(losses),
        "held_out": held_out_accuracy(model, seed, steps, train, prompts),
        "torch_threads": torch.get_num_threads(),
    }
    return model.eval(), losses
