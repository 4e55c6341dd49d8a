"""The trainer: DDPM training with guidance dropout, EMA, bf16 autocast, exact resume and DDP.

Every random draw of step s on process r comes from a generator seeded with (seed, s, r), so a
run stopped and resumed sees the same batches, timesteps and noise as one that never stopped.
Run under `torchrun --nproc-per-node K` it becomes DistributedDataParallel (gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from .. import checkpoint as ckpt
from ..data.prompts import make_world_batch, sample_train_prompts, validation_prompts
from ..diffusion.schedule import DiffusionConfig, NoiseSchedule
from ..models import build_model
from ..models.config import ModelConfig
from ..latent.release import check_vae, load_vae, read_vae, vae_files, vae_section
from ..shipped import resolve_model_path, resolve_vae_path
from .attention_supervision import AttentionSupervision
from .config import TrainConfig
from .frame_noise import forcing_timesteps
from .temporal_loss import temporal_loss
from .optimizer_state import optimizer_from_tensors, optimizer_to_tensors

NUM_BUCKETS = 10  # loss is logged per tenth of [0, T)


def _step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    mixed = int(np.random.SeedSequence([seed, step, rank, 7]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(mixed)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then constant or cosine decay over cfg.lr_decay_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_decay_steps <= 0:
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.lr_decay_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def check_world(model_cfg: ModelConfig, train_cfg: TrainConfig) -> None:
    """Refuse a model that cannot be told where the text is in its data's world, with the reason."""
    model_cfg.layout_kind.check_world(train_cfg.world.name)  # e.g. a per-column layout in the motion world
    if train_cfg.world.name == "motion" and train_cfg.attention_loss:
        raise ValueError("attention supervision reads the scroll world's per-patch labels; set attention_loss 0 in the motion world")


def bucket_losses(t: torch.Tensor, losses: torch.Tensor, num_timesteps: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of per-sample losses per noise-level bucket."""
    b = (t.cpu() * NUM_BUCKETS // num_timesteps).numpy()
    sums = np.bincount(b, weights=losses.detach().float().cpu().numpy(), minlength=NUM_BUCKETS)
    counts = np.bincount(b, minlength=NUM_BUCKETS)
    return sums, counts


def diffusion_loss(model, schedule: NoiseSchedule, x0, ids, t, noise, drop=None, weighting="none", gamma=5.0, bf16=False,
                   motion=None, temporal=0.0):
    """Per-sample (weighted loss, unweighted MSE) of the network's prediction against its target, and
    the network's auxiliary losses (name -> scalar; a layout predictor's, for instance). motion (B, T, 3):
    where the text is, for a model of the motion world (None in the scroll world). temporal > 0 adds seed 004's
    temporal term (vidgen.training.temporal_loss) times `temporal`, each sample or frame weighted by
    min(SNR, gamma) / gamma: the predicted clean video is only worth comparing where the noise lets it be known."""
    x_t = schedule.q_sample(x0, t, noise)
    with torch.autocast(x0.device.type, dtype=torch.bfloat16, enabled=bf16):
        out, aux = model(x_t, t, ids, drop, aux=True, motion=motion)
    if t.ndim == 2:  # a timestep per frame (B, T): each frame weighted by its own level
        per_frame = (out.float() - schedule.target(x0, noise, t)).pow(2).mean(dim=(2, 3))  # (B, T)
        loss, mse = (per_frame * schedule.loss_weight(t, weighting, gamma)).mean(dim=1), per_frame.mean(dim=1)
    else:
        mse, _ = schedule.denoising_errors(out, x_t, x0, noise, t)  # (B,)
        loss = mse * schedule.loss_weight(t, weighting, gamma)
    if temporal:
        pred_x0, _ = schedule.split_prediction(out.float(), x_t, t)
        known = schedule.snr.to(t.device)[t].clamp(max=gamma).float() / gamma  # (B,) or (B, T)
        aux = {**aux, "temporal": temporal * temporal_loss(pred_x0, x0, known).mean()}
    return loss, mse, aux


def init_weights(source: str, model) -> dict[str, torch.Tensor]:
    """The weights of `source` (TrainConfig.init_from: a shipped model's name or a checkpoint directory) that `model`
    starts from, or ValueError in one line: all of them must fit, but a latent model takes only those whose names and
    shapes match (its patch embedding and output layer hold other numbers than a pixel model's)."""
    weights = ckpt.load_model(resolve_model_path(source), prefer_ema=True)[0].state_dict()
    own = model.state_dict()
    fits = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if model.cfg.latent:
        return fits
    differ = sorted(set(own) ^ set(weights) | {k for k in own if k in weights and k not in fits})
    if differ:
        raise ValueError(f"init_from={source!r}: its network does not match this one's parameters ({len(differ)} tensors "
                         f"differ in name or shape, e.g. {differ[0]})")
    return fits


class Trainer:
    """Owns the model, its EMA, the optimizer and the run directory."""

    def __init__(self, model_cfg: ModelConfig, diff_cfg: DiffusionConfig, train_cfg: TrainConfig, out_dir, device="cpu",
                 resume=False, preset_name=None, resume_changes: dict | None = None):
        """resume=True continues the run in out_dir with its saved configs; `resume_changes` may then
        change the learning-rate schedule (see apply_resume_changes), e.g. a longer cosine horizon for
        a run that goes on past its plan; `self.resume_changes` keeps what actually changed."""
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self.device = torch.device(device)
        self.out = Path(out_dir)
        self.resume_changes: dict = {}
        if resume:
            model_cfg, diff_cfg, raw = ckpt.read_configs(self.out)
            saved_train = ckpt.config_section(raw, TrainConfig, "train", self.out / ckpt.CONFIG_NAME) if "train" in raw else None
            train_cfg, self.resume_changes = apply_resume_changes(saved_train or train_cfg, resume_changes or {})
            preset_name = raw.get("preset", preset_name)
        self.model_cfg, self.diff_cfg, self.cfg, self.preset_name = model_cfg, diff_cfg, train_cfg, preset_name
        check_world(model_cfg, train_cfg)
        self.schedule = NoiseSchedule(diff_cfg)
        self.vae = self._load_vae(resume)  # a latent model's autoencoder, None for a pixel model
        torch.manual_seed(train_cfg.seed)
        self.model = build_model(model_cfg).to(self.device)
        self.ema = build_model(model_cfg).to(self.device).eval()
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.attention_supervision = AttentionSupervision(self.model) if train_cfg.attention_loss else None
        self.opt = torch.optim.AdamW(self.model.optimizer_groups(), lr=train_cfg.lr, betas=(0.9, 0.99), weight_decay=train_cfg.weight_decay)
        self.step = 0
        self.samples_seen = 0
        self.train_seconds = 0.0
        if resume:
            self._load_state()
        elif train_cfg.init_from:
            self._init_from(train_cfg.init_from)
        self.ddp = self.model
        if self.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self._val = None

    # -- state ----------------------------------------------------------------------------------
    def _load_vae(self, resume: bool):
        """A latent model's VAE: the run's own copy when resuming, else TrainConfig.vae's release; checked against the
        model's latent shape (pipeline.check_vae). A pixel model takes none."""
        if not self.model_cfg.latent:
            if self.cfg.vae:
                raise ValueError(f"vae={self.cfg.vae!r}: a pixel model (channels 1, cell 1) takes no VAE")
            return None
        if resume:
            vae = read_vae(self.out, ckpt.read_json(self.out / ckpt.CONFIG_NAME))
        elif not self.cfg.vae:
            raise ValueError("a latent model (channels > 1 or cell > 1) trains with a VAE: set the training config's vae")
        else:
            vae = load_vae(resolve_vae_path(self.cfg.vae))[0]
        return check_vae(self.model_cfg, vae, self.cfg.world.scale).to(self.device)

    def _init_from(self, source: str) -> None:
        """Start model and EMA from the weights of `source` (TrainConfig.init_from), which must have this network's
        parameters; a latent model takes those of a pixel model whose names and shapes match and keeps its own
        patch embedding and output layer (a latent patch holds other numbers than a pixel patch)."""
        weights = init_weights(source, self.model)
        if self.model_cfg.latent:
            weights = self.model.state_dict() | weights
        self.model.load_state_dict(weights)
        self.ema.load_state_dict(self.model.state_dict())

    def _load_state(self):
        d = self.out
        ckpt.discard_unfinished_writes(d)  # a crash mid-save: finish a committed checkpoint or drop a partial one
        ckpt.load_state_into(self.model, ckpt.load_tensors(d / ckpt.MODEL_NAME), d / ckpt.MODEL_NAME)
        ckpt.load_state_into(self.ema, ckpt.load_tensors(d / ckpt.EMA_NAME), d / ckpt.EMA_NAME)
        meta = ckpt.read_json(d / ckpt.STATE_JSON)
        optimizer_from_tensors(self.opt, self.model, ckpt.load_tensors(d / ckpt.STATE_NAME), meta)
        self.step = int(meta["step"])
        self.samples_seen = int(meta.get("samples_seen", 0))
        self.train_seconds = float(meta.get("train_seconds", 0.0))
        if self.rank == 0:
            ckpt.trim_log(self.out / ckpt.LOG_NAME, self.step)  # lines past the checkpoint are logged again

    def save(self):
        """Write weights, EMA, config and optimizer state (rank 0) as one all-or-nothing set (checkpoint.write_set)."""
        if self.rank != 0:
            return
        extra = {"step": self.step, "samples_seen": self.samples_seen, "train_seconds": round(self.train_seconds, 1),
                 "world_size": self.world, "device": str(self.device), "preset": self.preset_name}
        tensors, meta = optimizer_to_tensors(self.opt, self.model)
        meta.update(step=self.step, samples_seen=self.samples_seen, train_seconds=self.train_seconds,
                    rng="every draw of step s on rank r is seeded by (seed, s, r); nothing else to restore")
        latent = {} if self.vae is None else vae_files(self.vae)
        if self.vae is not None:
            extra.update(vae_section(self.vae))
        ckpt.write_set(self.out, {  # all or nothing: a crash mid-save leaves the previous checkpoint whole
            **latent,
            ckpt.MODEL_NAME: ckpt.tensor_bytes(self.model.state_dict()),
            ckpt.EMA_NAME: ckpt.tensor_bytes(self.ema.state_dict()),
            ckpt.STATE_NAME: ckpt.tensor_bytes(tensors),
            ckpt.STATE_JSON: ckpt.json_bytes(meta),
            ckpt.CONFIG_NAME: ckpt.json_bytes(ckpt.config_dict(self.model_cfg, self.diff_cfg, self.cfg, **extra)),
        })

    # -- one step -------------------------------------------------------------------------------
    def train_step(self) -> dict:
        cfg = self.cfg
        g = _step_generator(cfg.seed, self.step, self.rank)
        torch.manual_seed(g.initial_seed() + 1)  # draws inside the model (a motion prior's noise) are a function of the step too
        prompts = sample_train_prompts(cfg.split, cfg.seed, self.step, cfg.batch_size, self.rank, cfg.curriculum_steps)
        world_rng = np.random.default_rng([cfg.seed, self.step, self.rank, 11])  # the motions: a function of the step too
        x0, ids, motion = make_world_batch(prompts, cfg.world, world_rng, slots=self.model_cfg.prompt_len)  # (B, T, H, W), (B, L), (B, T, 3) or None
        x0 = self.to_model_space(x0)  # a latent model's (B, C, T, H', W')
        b = x0.shape[0]
        if cfg.frame_noise == "forcing":  # a level per temporal token (B, T)
            t = forcing_timesteps(b, self.model_cfg.grid[0], self.model_cfg.patch[0], self.schedule.num_timesteps, g)
        else:
            t = torch.randint(0, self.schedule.num_timesteps, (b,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        drop = torch.rand(b, generator=g) < cfg.guidance_dropout
        x0, ids, t, noise, drop = (v.to(self.device) for v in (x0, ids, t, noise, drop))
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, cfg) * group.get("lr_scale", 1.0)
        motion = None if motion is None or not self.model.layout_kind.follows_motion else motion.to(self.device)
        loss_w, mse, aux = diffusion_loss(self.ddp, self.schedule, x0, ids, t, noise, drop, cfg.loss_weighting, cfg.min_snr_gamma,
                                          cfg.bf16, motion, cfg.temporal_loss)
        if self.attention_supervision is not None:
            aux["attention"] = cfg.attention_loss * self.attention_supervision.loss(self.model.drop_prompts(ids, drop))
        # what the kind learns from more of its world than the batch shows (a motion prior's draws)
        aux.update(self.model.layout_kind.world_losses(self.model, ids, prompts, cfg.world, world_rng, cfg.prior_motions))
        loss = loss_w.mean() + sum(aux.values())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        # each parameter group clipped on its own (a layout predictor's early errors of tens of pixels must
        # not shrink the denoiser's step); the first group's norm, the denoiser's, is the one logged
        grad_norm = [torch.nn.utils.clip_grad_norm_(g["params"], cfg.grad_clip) for g in self.opt.param_groups][0]
        self.opt.step()
        self._update_ema()
        self.step += 1
        self.samples_seen += b * self.world
        return {"loss": loss.item(), "grad_norm": grad_norm.item(), "t": t if t.ndim == 1 else t.float().mean(dim=1).long(), "mse": mse,
                "aux": {k: v.item() for k, v in aux.items()}}

    @torch.no_grad()
    def to_model_space(self, videos: torch.Tensor) -> torch.Tensor:
        """Videos (B, T, H, W) in [-1, 1] -> what the model denoises: themselves, or a latent model's normalised latents
        (B, C, T, H', W') (VideoVAE.to_latent, 64 videos at a time)."""
        if self.vae is None:
            return videos
        return torch.cat([self.vae.to_latent(v.to(self.device)).cpu() for v in videos.split(64)])

    @torch.no_grad()
    def _update_ema(self):
        decay = self.cfg.ema_decay
        if self.cfg.ema_warmup:
            decay = min(decay, (1 + self.step) / (10 + self.step))
        for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
            pe.lerp_(pm.detach(), 1 - decay)
        for be, bm in zip(self.ema.buffers(), self.model.buffers()):  # what training counted (a placed prior's size
            be.copy_(bm)  # range) is copied, not averaged; the other buffers are constants

    # -- validation -----------------------------------------------------------------------------
    @torch.no_grad()
    def validation_loss(self, model=None, guidance_scale: float = 1.0) -> dict:
        """Unweighted MSE (target and x0 space) of the EMA model on fixed validation prompts, t and noise;
        guidance_scale != 1 scores the classifier-free-guided prediction instead of the conditional one."""
        model = self.ema if model is None else model
        cfg = self.cfg
        if self._val is None:
            prompts = list(validation_prompts(cfg.split))
            rng = np.random.default_rng(cfg.split.seed + 1)
            pick = sorted(rng.choice(len(prompts), size=min(cfg.val_size, len(prompts)), replace=False))
            x0, ids, motion = make_world_batch([prompts[i] for i in pick], cfg.world, np.random.default_rng(cfg.split.seed + 3),
                                               slots=self.model_cfg.prompt_len)
            x0 = self.to_model_space(x0)
            g = torch.Generator().manual_seed(cfg.split.seed + 2)
            t = (torch.arange(len(pick)) * self.schedule.num_timesteps // len(pick)).long()  # evenly over [0, T)
            noise = torch.randn(x0.shape, generator=g)
            self._val = (x0, ids, t, noise, motion)
        sums, counts, total, total_x0 = np.zeros(NUM_BUCKETS), np.zeros(NUM_BUCKETS), [], []
        x0, ids, t, noise, motion = self._val
        for i in range(0, len(t), 64):
            b = [v[i : i + 64].to(self.device) for v in (x0, ids, t, noise)]
            m = None if motion is None or not self.model.layout_kind.follows_motion else motion[i : i + 64].to(self.device)
            x_t = self.schedule.q_sample(b[0], b[2], b[3])
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                cond = model.encode_for_guidance(b[1], guidance_scale, motion=m)
                out = model.forward_with_guidance(x_t, b[2], None, guidance_scale, cond=cond).float()
            mse, x0_mse = self.schedule.denoising_errors(out, x_t, b[0], b[3], b[2])  # (B,), (B,)
            total_x0.append(x0_mse.cpu())
            s, c = bucket_losses(b[2], mse, self.schedule.num_timesteps)
            sums += s
            counts += c
            total.append(mse.cpu())
        by_bucket = (sums / np.maximum(counts, 1)).round(5).tolist()
        return {"val_loss": float(torch.cat(total).mean()), "val_x0_mse": float(torch.cat(total_x0).mean()),
                "val_loss_by_bucket": by_bucket}

    # -- loop -----------------------------------------------------------------------------------
    def fit(self, max_steps: int | None = None, time_budget: float | None = None, progress: bool = True) -> dict:
        """Train until max_steps (total, counting resumed steps) or time_budget seconds; save at the end."""
        cfg = self.cfg
        max_steps = cfg.max_steps if max_steps is None else max_steps
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
        log_path = self.out / ckpt.LOG_NAME
        start = time.time()
        # under a time budget the step count at the end is unknown: count steps, show the time left
        bar = tqdm(total=max_steps if time_budget is None else None, initial=self.step,
                   disable=not progress or self.rank != 0, desc="train", unit="step", dynamic_ncols=True)
        sums, counts, losses = np.zeros(NUM_BUCKETS), np.zeros(NUM_BUCKETS), []
        last = {}
        self.model.train()
        stop = _StopOnSignal()
        while self.step < max_steps:
            if self._should_stop(stop.requested or (time_budget is not None and time.time() - start >= time_budget)):
                break
            t0 = time.time()
            out = self.train_step()
            self.train_seconds += time.time() - t0
            s, c = bucket_losses(out["t"].cpu(), out["mse"], self.schedule.num_timesteps)
            sums, counts = sums + s, counts + c
            losses.append(out["loss"])
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == max_steps:
                last = {"step": self.step, "loss": float(np.mean(losses)), "lr": lr_at(self.step - 1, cfg),
                        "grad_norm": round(out["grad_norm"], 4), "samples_seen": self.samples_seen,
                        **{f"{k}_loss": round(v, 5) for k, v in out["aux"].items()},
                        "train_seconds": round(self.train_seconds, 1),
                        "mse_by_bucket": (sums / np.maximum(counts, 1)).round(5).tolist()}
                bar.set_postfix(loss=f"{last['loss']:.4f}", **self._time_left(start, time_budget))
                sums, counts, losses = np.zeros(NUM_BUCKETS), np.zeros(NUM_BUCKETS), []
                if cfg.val_every and self.step % cfg.val_every == 0 and self.rank == 0:
                    last.update(self.validation_loss())
                    self._keep_if_best(last["val_loss"])
                    bar.set_postfix(loss=f"{last['loss']:.4f}", val=f"{last['val_loss']:.4f}", **self._time_left(start, time_budget))
                if self.rank == 0:
                    with open(log_path, "a") as f:
                        f.write(json.dumps(last) + "\n")
            if cfg.ckpt_every and self.step % cfg.ckpt_every == 0:
                self.save()
            if cfg.snapshot_every and self.step % cfg.snapshot_every == 0 and self.rank == 0:
                self.save_snapshot()
        stop.restore()
        bar.close()
        self.save()
        # the last log line's figures, overridden by the final ones (the run may stop between log lines)
        return {**last, "step": self.step, "samples_seen": self.samples_seen, "train_seconds": self.train_seconds,
                "interrupted": stop.requested}

    def save_snapshot(self) -> Path:
        """Keep this step's EMA weights as snapshots/step_NNNNNN/ (a release directory: config + weights)."""
        d = self.out / ckpt.SNAPSHOT_DIR / f"step_{self.step:06d}"
        ckpt.write_set(d, {ckpt.EMA_NAME: ckpt.tensor_bytes(self.ema.state_dict()),
                           ckpt.CONFIG_NAME: ckpt.json_bytes(ckpt.config_dict(
                               self.model_cfg, self.diff_cfg, self.cfg, step=self.step, samples_seen=self.samples_seen,
                               train_seconds=round(self.train_seconds, 1), preset=self.preset_name))})
        return d

    def _keep_if_best(self, val_loss: float) -> None:
        """Save the EMA weights whenever the validation loss is the lowest so far, so a run that
        degrades later (a loss spike at the end of a long run) still has its best weights to export."""
        if (self.out / ckpt.BEST_JSON).is_file():
            try:
                if ckpt.read_best(self.out)["val_loss"] <= val_loss:
                    return
            except ckpt.CheckpointError as e:  # an unreadable record must not stop a long run: replace it
                warnings.warn(f"{e}; replacing it with this validation's")
        ckpt.write_set(self.out, {
            ckpt.BEST_EMA_NAME: ckpt.tensor_bytes(self.ema.state_dict()),
            ckpt.BEST_JSON: ckpt.json_bytes({"step": self.step, "val_loss": val_loss, "samples_seen": self.samples_seen,
                                             "train_seconds": round(self.train_seconds, 1)})})

    @staticmethod
    def _time_left(start: float, time_budget: float | None) -> dict:
        """{"left": "12m03s"} for the progress bar under a time budget, else {}."""
        if time_budget is None:
            return {}
        left = max(0, int(time_budget - (time.time() - start)))
        return {"left": f"{left // 60}m{left % 60:02d}s"}

    def _should_stop(self, local: bool) -> bool:
        """All ranks stop together (rank 0's clock decides) so DDP never waits on a missing peer."""
        if self.world == 1:
            return local
        flag = torch.tensor([1.0 if local else 0.0], device=self.device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())


class _StopOnSignal:
    """Ctrl-C or SIGTERM asks the loop to stop after the current step, so the saved state is a
    step boundary and the run resumes exactly."""

    def __init__(self):
        self.requested = False
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def restore(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def init_distributed(device: str) -> str:
    """Join the process group when launched by torchrun; returns the device this rank uses."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend)
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def decided_by_rank0(decide: Callable[[], bool]) -> bool:
    """`decide()` run on rank 0 alone (a timing probe must not share the CPU with its twin on another
    rank), its answer broadcast to every rank; just `decide()` when not distributed."""
    if not dist.is_initialized():
        return decide()
    t = torch.tensor([1.0 if dist.get_rank() == 0 and decide() else 0.0])
    if dist.get_backend() == "nccl":  # gloo broadcasts CPU tensors, nccl the rank's GPU ones
        t = t.cuda()
    dist.broadcast(t, src=0)
    return bool(t.item())


def leave_distributed() -> None:
    """After a run that finished: wait until every rank is done (rank 0 may still be saving), then
    destroy the process group, so that no rank exits while its peers are still connected and
    working. A rank that does can abort in gloo's teardown ("terminate called without an active
    exception", SIGABRT; pytorch/pytorch#190489, #179291). The caller drops its Trainer first, so
    the group's last references go while the interpreter is whole. Not after an error: the other
    ranks may be inside a collective, a barrier would deadlock, and torchrun stops them anyway (as
    torchtitan does)."""
    if dist.is_initialized():
        gc.collect()  # a finished Trainer's DDP reducer and its pending work go now, not at interpreter exit
        dist.barrier()
        dist.destroy_process_group()


RESUMABLE_CHANGES = ("lr", "lr_decay_steps", "min_lr_ratio", "ckpt_every")  # none of them touches the data stream


def apply_resume_changes(saved: TrainConfig, changes: dict) -> tuple[TrainConfig, dict]:
    """A resumed run's config: the saved one, with the asked-for changes that differ from it.

    Only the lr schedule and how often it saves (RESUMABLE_CHANGES) may change: anything else (batch size, seed, data split,
    bf16) would break the resumed data stream, so it raises ValueError. Values equal to the saved
    ones (the first command repeated with --resume) are not changes. -> (config, the real changes).
    `holdout_single` names the split's field of that name.
    """
    current = {f.name: getattr(saved, f.name) for f in dataclasses.fields(saved)}
    current["holdout_single"] = saved.split.holdout_single
    real = {k: v for k, v in changes.items() if v is not None and current.get(k) != v}
    bad = sorted(set(real) - set(RESUMABLE_CHANGES))
    if bad:
        raise ValueError(f"a resumed run keeps its settings; only {', '.join(RESUMABLE_CHANGES)} may change, "
                         f"not {', '.join(f'{k} ({current.get(k)!r} -> {real[k]!r})' for k in bad)}")
    return override(saved, **real), real


def override(cfg, **changes):
    """dataclasses.replace that ignores None values (unset CLI flags)."""
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})
