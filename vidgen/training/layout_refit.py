"""Refit the layout predictor of a model with the blog's interface ("learned2d"), its denoiser untouched.

The predictor (glyph widths, ink boxes, strip height and the motion prior: vidgen.models.aligner2d) learns
from the renderer's free labels only, and in training the denoiser is fed the true layout (teacher
forcing), so no gradient ever passes between the two: fitting the predictor apart, on many more labelled
motions than a denoiser run sees, is the same objective with more data. The shipped blog model trained it
jointly on 1,750 batches of 16 motions; its widths then ended 0.2 px off on average and up to 1.9 px by
the last glyph of eight, and its prior drew starts that mostly missed (docs/world.md). A refit draws a
fresh predictor (optionally with another motion prior, ModelConfig.motion_prior), trains it on batches of
training-split prompts moving along motions drawn from the model's world, keeps an EMA of it, and writes
a release: the source's denoiser weights bit for bit, the EMA predictor, the config with a "refit" record.

A refit takes minutes, so it runs to the end in one go (no --resume); its log is written beside the release.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..checkpoint import CONFIG_NAME, EMA_NAME, json_bytes, load_model, tensor_bytes, write_set
from ..data import tokenizer as tok
from ..data.layout2d import motion_tensor
from ..data.prompts import sample_train_prompts
from ..data.world import TRAINING_SHAPES, WorldConfig, raw_motion, sample_motion
from ..evaluation.harness import checkpoint_split
from ..jsonconfig import config_from_dict, to_dict
from ..models import build_model
from ..models.motion_prior import MOTION_PRIORS, PLACED_PRIORS, PRIOR_MOTIONS

PREDICTOR = "layout_predictor."  # the state-dict prefix of the predictor's weights
LOG_NAME = "refit_log.jsonl"


@dataclass(frozen=True)
class RefitConfig:
    """How the predictor is refitted (recorded in the release's config.json under "refit")."""

    motion_prior: str = "shaped"  # the refitted model's ModelConfig.motion_prior
    pair_kerning: bool = True  # the refitted model's ModelConfig.pair_kerning
    pair_boxes: bool = True  # the refitted model's ModelConfig.pair_boxes (placed priors only)
    prior_motions: str = "raw"  # what the prior learns: "world", the world's motions of each prompt (placed, and
    # redrawn when no start served), or "raw", its draws before placing (PLACED_PRIORS only). The model redraws a
    # path no start serves as the world does, so a prior of placed motions was filtered twice: the sideways lean
    steps: int = 9000
    batch_size: int = 128  # prompts a step, each along its own world motion
    lr: float = 1e-3  # the prior's; the width heads take the predictor's LR_SCALE times this
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # cosine decay to this fraction of lr at the last step
    ema_decay: float = 0.998
    seed: int = 0
    log_every: int = 100

    def __post_init__(self):
        if self.motion_prior not in MOTION_PRIORS:
            raise ValueError(f"unknown motion_prior {self.motion_prior!r}; known: {', '.join(MOTION_PRIORS)}")
        if self.prior_motions not in PRIOR_MOTIONS:
            raise ValueError(f"unknown prior_motions {self.prior_motions!r}; known: {', '.join(PRIOR_MOTIONS)}")
        if self.prior_motions == "raw" and self.motion_prior not in PLACED_PRIORS:
            raise ValueError(f"prior_motions 'raw' (paths before placing) needs motion_prior one of {', '.join(PLACED_PRIORS)}: "
                             "a 'whole' prior learns the start")
        for name in ("steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr or not 0 <= self.min_lr_ratio <= 1 or not 0 <= self.ema_decay < 1 or self.warmup_steps < 0:
            raise ValueError("lr > 0, 0 <= min_lr_ratio <= 1, 0 <= ema_decay < 1 and warmup_steps >= 0 are required")


def weights_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def learning_rate(cfg: RefitConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    done = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(done, 1.0))))


def world_batch(split, world: WorldConfig, cfg: RefitConfig, step: int, frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training-split prompts (B, L) ids, a motion of the world for each (B, T, 3), drawn by (seed, step): placed
    for its prompt, or (prior_motions "raw") the world's draw before placing, started at (0, 0); and each motion's
    path shape (B,), its index in TRAINING_SHAPES (a free label, like the widths; -1 for none of them)."""
    prompts = sample_train_prompts(split, cfg.seed, step, cfg.batch_size)
    rng = np.random.default_rng([cfg.seed, step])
    if cfg.prior_motions == "raw":
        motions = [raw_motion(world, rng, frames) for _ in prompts]
    else:
        motions = [sample_motion(p, world, rng, frames=frames) for p in prompts]
    shapes = torch.tensor([TRAINING_SHAPES.index(m.shape) if m.shape in TRAINING_SHAPES else -1 for m in motions])
    return torch.from_numpy(tok.encode_batch(prompts)), motion_tensor(motions), shapes


def refit_layout(source, out, cfg: RefitConfig = RefitConfig(), progress: bool = True, log=print,
                 source_name: str | None = None) -> dict:
    """Refit the layout predictor of the "learned2d" model at `source` (a directory; recorded as `source_name`,
    e.g. the shipped name it was given by, else its path) and write the release to `out`. -> the refit record
    (also in out/config.json)."""
    source, out = Path(source), Path(out)
    model, _, raw = load_model(source)
    if model.cfg.layout != "learned2d":
        raise ValueError(f"{source} has layout {model.cfg.layout!r}: only a 'learned2d' model (the blog's interface in the "
                         "motion world) has a layout predictor to refit")
    raw = copy.deepcopy(raw)
    world = config_from_dict(WorldConfig, raw["train"]["world"], "world")
    if cfg.motion_prior == "shaped" and set(world.shapes) - set(TRAINING_SHAPES):
        raise ValueError(f"a 'shaped' prior draws among {', '.join(TRAINING_SHAPES)}; this world also draws "
                         f"{', '.join(sorted(set(world.shapes) - set(TRAINING_SHAPES)))}")
    split = checkpoint_split(raw)
    new_cfg = dataclasses.replace(model.cfg, motion_prior=cfg.motion_prior, pair_kerning=cfg.pair_kerning,
                                  pair_boxes=cfg.pair_boxes and cfg.motion_prior in PLACED_PRIORS)
    torch.manual_seed(cfg.seed)
    fresh = build_model(new_cfg)
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith(PREDICTOR)}
    fresh.load_state_dict(kept, strict=False)  # the denoiser as it was; the predictor freshly drawn
    predictor = fresh.layout_predictor.train()
    ema = copy.deepcopy(predictor).eval().requires_grad_(False)
    groups = predictor.optimizer_groups()
    opt = torch.optim.AdamW([{"params": g["params"], "lr": cfg.lr * g["lr_scale"], "scale": g["lr_scale"]} for g in groups],
                            lr=cfg.lr, weight_decay=0.0)
    out.mkdir(parents=True, exist_ok=True)
    lines, t0, window = [], time.time(), []
    bar = tqdm(range(cfg.steps), desc="refit", disable=not progress)
    for step in bar:
        ids, motion, shape = world_batch(split, world, cfg, step, new_cfg.frames)
        lr = learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        loss = predictor.loss(ids, motion, shape)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(predictor.prior.parameters(), 1.0)  # the prior's alone: its flow loss
        # dwarfs the width heads' squared errors, and one norm over both would scale their steps down with its
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))  # warm-up: the EMA forgets the random start
        with torch.no_grad():
            for e, p in zip(ema.parameters(), predictor.parameters()):
                e.lerp_(p, 1 - decay)
        window.append(loss.item())
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            line = {"step": step + 1, "loss": float(np.mean(window)), "lr": lr, "seconds": round(time.time() - t0, 1)}
            lines.append(line)
            window = []
            bar.set_postfix(loss=f"{line['loss']:.4f}")
            if not progress:
                log(json.dumps(line))
    with torch.no_grad():
        for e, b in zip(ema.buffers(), predictor.buffers()):  # what training counted (the prior's size range), not averaged
            e.copy_(b)
    fresh.layout_predictor = ema
    state = fresh.state_dict()
    for k, v in kept.items():  # nothing of the denoiser may change
        if not torch.equal(state[k], v):
            raise RuntimeError(f"refit changed the denoiser weight {k}")
    record = {"config": to_dict(cfg), "source": source_name or str(source), "source_weights_sha256": weights_digest(source / EMA_NAME),
              "seconds": round(time.time() - t0, 1), "final_loss": lines[-1]["loss"], "log": LOG_NAME}
    raw["model"] = to_dict(new_cfg)
    raw["refit"] = record
    write_set(out, {EMA_NAME: tensor_bytes(state, metadata={"format": "vidgen-1", "weights": "ema"}),
                    CONFIG_NAME: json_bytes(raw), LOG_NAME: "".join(json.dumps(x) + "\n" for x in lines).encode()})
    return record
