"""Training a video autoencoder (vidgen.latent) on the motion world, on the CPU, with exact resume.

The data of step s is a pure function of (seed, s): training-split prompts (the denoisers' held-out rules, so a
latent model's held-out prompts stay unseen by its VAE too) moving along motions drawn from the world. A run
directory holds config.json, the weights, the EMA weights, the optimizer state and log.jsonl; it stops at
`steps` or when its time budget runs out (checkpointed either way), and `resume=True` continues it exactly.
`export_vae` writes a release: the EMA weights with the latent's per-channel mean and spread measured on
validation videos (what diffusion reads: VideoVAE.to_latent), the config and the log.
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import checkpoint as ckpt
from ..data.prompts import SplitConfig, make_world_batch, sample_train_prompts, validation_prompts
from ..data.shape import HEIGHT
from ..data.world import WorldConfig
from ..jsonconfig import config_from_dict, to_dict
from ..latent.config import VAEConfig
from ..latent.loss import vae_loss
from ..latent.release import vae_files
from ..latent.vae import VideoVAE
from .optimizer_state import optimizer_from_tensors, optimizer_to_tensors

STATS_VIDEOS = 256  # validation videos the latent's per-channel mean and spread are measured on at export


@dataclass(frozen=True)
class VAETrainConfig:
    """How a VAE is trained (config.json's "train")."""

    steps: int = 6000
    batch_size: int = 4  # videos a step
    lr: float = 1e-3
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05
    ema_decay: float = 0.999
    seed: int = 0
    ckpt_every: int = 250
    log_every: int = 50
    val_videos: int = 32  # fixed validation videos, PSNR logged at every checkpoint
    world: WorldConfig = field(default_factory=lambda: WorldConfig(name="motion"))
    split: SplitConfig = field(default_factory=SplitConfig)

    def __post_init__(self):
        if isinstance(self.world, dict):
            object.__setattr__(self, "world", config_from_dict(WorldConfig, self.world, "world"))
        if isinstance(self.split, dict):
            object.__setattr__(self, "split", config_from_dict(SplitConfig, self.split, "split"))
        for name in ("steps", "batch_size", "ckpt_every", "log_every", "val_videos"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.world.name != "motion":
            raise ValueError("a VAE trains on the motion world's videos")


def lr_at(cfg: VAETrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    done = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done)))


def world_videos(cfg: VAETrainConfig, prompts: list[str], rng: np.random.Generator) -> torch.Tensor:
    """(B, T, H, W) in [-1, 1]: the prompts moving along motions of the world drawn by rng (at its scale)."""
    return make_world_batch(prompts, cfg.world, rng)[0]


def train_batch(cfg: VAETrainConfig, step: int) -> torch.Tensor:
    prompts = sample_train_prompts(cfg.split, cfg.seed, step, cfg.batch_size)
    return world_videos(cfg, prompts, np.random.default_rng([cfg.seed, step, 1]))


def validation_videos(cfg: VAETrainConfig, n: int, seed: int = 0) -> torch.Tensor:
    prompts = list(validation_prompts(cfg.split))
    pick = np.random.default_rng([seed, 5]).choice(len(prompts), n, replace=False)
    return world_videos(cfg, [prompts[i] for i in pick], np.random.default_rng([seed, 6]))


def psnr(decoded: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB over whole videos in [-1, 1] (peak 2), decoded clamped, mean over the batch."""
    mse = (decoded.clamp(-1, 1) - target).pow(2).flatten(1).mean(1)
    return float((10 * torch.log10(4.0 / mse.clamp_min(1e-10))).mean())


class VAERun:
    """A VAE training run in a directory: fresh, or resumed where it stopped."""

    def __init__(self, out, vae_cfg: VAEConfig | None = None, train_cfg: VAETrainConfig | None = None, resume: bool = False):
        self.dir = Path(out)
        if resume:
            ckpt.finish_interrupted_write(self.dir)
            raw = ckpt.read_json(self.dir / ckpt.CONFIG_NAME)
            vae_cfg = config_from_dict(VAEConfig, raw["vae"], "vae")
            train_cfg = config_from_dict(VAETrainConfig, raw["train"], "train")
        elif (self.dir / ckpt.CONFIG_NAME).exists():
            raise ValueError(f"{self.dir} already holds a run: pass --resume to continue it, or another --out")
        if train_cfg.world.video_size != (vae_cfg.height, vae_cfg.width):
            raise ValueError(f"the VAE codes {vae_cfg.height}x{vae_cfg.width} frames but the world draws {train_cfg.world.video_size}: "
                             f"set the world's scale to {vae_cfg.height // HEIGHT}")
        self.vae_cfg, self.cfg = vae_cfg, train_cfg
        torch.manual_seed(train_cfg.seed)
        self.vae = VideoVAE(vae_cfg)
        self.ema = copy.deepcopy(self.vae).eval().requires_grad_(False)
        self.opt = torch.optim.AdamW(self.vae.parameters(), lr=train_cfg.lr, weight_decay=0.0)
        self.step, self.seconds = 0, 0.0
        if resume:
            ckpt.load_state_into(self.vae, ckpt.load_tensors(self.dir / ckpt.MODEL_NAME), self.dir / ckpt.MODEL_NAME)
            ckpt.load_state_into(self.ema, ckpt.load_tensors(self.dir / ckpt.EMA_NAME), self.dir / ckpt.EMA_NAME)
            state = ckpt.read_json(self.dir / ckpt.STATE_JSON)
            optimizer_from_tensors(self.opt, self.vae, ckpt.load_tensors(self.dir / ckpt.STATE_NAME), state["optimizer"])
            self.step, self.seconds = int(state["step"]), float(state["seconds"])
            ckpt.trim_log(self.dir / ckpt.LOG_NAME, self.step)  # lines past the checkpoint are logged again
        self.val = validation_videos(train_cfg, train_cfg.val_videos)

    def config(self) -> dict:
        return {"format": "vidgen-vae-1", "vae": to_dict(self.vae_cfg), "train": to_dict(self.cfg)}

    def save(self) -> None:
        opt_tensors, opt_meta = optimizer_to_tensors(self.opt, self.vae)
        ckpt.write_set(self.dir, {
            ckpt.CONFIG_NAME: ckpt.json_bytes(self.config()),
            ckpt.MODEL_NAME: ckpt.tensor_bytes(self.vae.state_dict()),
            ckpt.EMA_NAME: ckpt.tensor_bytes(self.ema.state_dict()),
            ckpt.STATE_NAME: ckpt.tensor_bytes(opt_tensors),
            ckpt.STATE_JSON: ckpt.json_bytes({"step": self.step, "seconds": round(self.seconds, 1), "optimizer": opt_meta}),
        })

    @torch.no_grad()
    def validate(self) -> float:
        decoded = torch.cat([self.ema.decode(self.ema.encode(v)[0]) for v in self.val.split(8)])
        return psnr(decoded, self.val)

    def train(self, minutes: float | None = None, progress: bool = True, log=print) -> dict:
        """Train to cfg.steps or until `minutes` of this call have passed; checkpoint; -> the last log line."""
        cfg, t_start = self.cfg, time.time()
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.step == 0:
            self.save()
        sums: dict[str, float] = {}
        bar = tqdm(total=cfg.steps, initial=self.step, desc="vae", disable=not progress)
        last: dict = {}
        while self.step < cfg.steps:
            t0 = time.time()
            video = train_batch(cfg, self.step)  # (B, T, H, W)
            for g in self.opt.param_groups:
                g["lr"] = lr_at(cfg, self.step)
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([cfg.seed, self.step, 2]).generate_state(1)[0]))
            decoded, mean, logvar = self.vae(video, generator=g)
            losses = vae_loss(decoded, self.vae.padded(video)[:, 0], mean, logvar)
            self.opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(self.vae.parameters(), 1.0)
            self.opt.step()
            decay = min(cfg.ema_decay, (1 + self.step) / (10 + self.step))
            with torch.no_grad():
                for e, p in zip(self.ema.parameters(), self.vae.parameters()):
                    e.lerp_(p, 1 - decay)
            self.step += 1
            self.seconds += time.time() - t0
            bar.update(1)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                last = {"step": self.step, **{k: round(v / cfg.log_every, 5) for k, v in sums.items()},
                        "lr": lr_at(cfg, self.step - 1), "seconds": round(self.seconds, 1)}
                sums = {}
                out_of_time = minutes is not None and time.time() - t_start > 60 * minutes
                if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps or out_of_time:
                    last["val_psnr"] = round(self.validate(), 3)
                    with open(self.dir / ckpt.LOG_NAME, "a") as f:
                        f.write(json.dumps(last) + "\n")
                    self.save()
                else:
                    with open(self.dir / ckpt.LOG_NAME, "a") as f:
                        f.write(json.dumps(last) + "\n")
                bar.set_postfix(l1=last.get("l1"), psnr=last.get("val_psnr"))
                if not progress:
                    log(json.dumps(last))
                if out_of_time:
                    break
        bar.close()
        self.save()
        return last


def export_vae(run_dir, out) -> dict:
    """The run's EMA weights as a release in `out`, with the latent statistics measured (STATS_VIDEOS validation
    videos); -> its config (with "latent_stats" and the run's step)."""
    run = VAERun(run_dir, resume=True)
    vae = run.ema
    videos = validation_videos(run.cfg, STATS_VIDEOS, seed=1)
    vae.measure_latents(videos)
    raw = run.config() | {"step": run.step, "train_seconds": round(run.seconds, 1),
                          "latent_stats": {"videos": STATS_VIDEOS, "mean": vae.latent_mean.tolist(), "std": vae.latent_std.tolist()}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = (Path(run_dir) / ckpt.LOG_NAME).read_bytes() if (Path(run_dir) / ckpt.LOG_NAME).exists() else b""
    ckpt.write_set(out, {**vae_files(vae), ckpt.CONFIG_NAME: ckpt.json_bytes(raw), ckpt.LOG_NAME: log})
    return raw
