"""Fewer network passes by distillation, in two kinds (DistillConfig.kind):

- "guidance" (Meng et al. 2023, "On Distillation of Guided Diffusion Models", stage one): a student that
  takes the guidance scale s as an input learns, in one network pass, what its teacher makes of two,
  uncond + s (cond - uncond). Sampling then costs one pass a step instead of two.
- "progressive" (Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion Models"): a
  student learns to land with one deterministic DDIM step where its teacher lands with two, so N/2 DDIM
  steps of the student stand for N of the teacher. Its teacher is a guidance-distilled model (one pass a
  teacher step, at the same scale s); the student's x_0 target is eq. 8 of the paper's algorithm 2,
  x~ = (z'' - (sigma''/sigma) z) / (alpha'' - (sigma''/sigma) alpha), weighted by max(SNR, 1)
  ("truncated SNR"). Applied again to its own student it halves the steps again.

A guidance student is the teacher's network plus a guidance embedder (ModelConfig.guidance_range), added to the
timestep embedding and zero-initialised, so training starts from the teacher's conditional model. Each step
draws a batch exactly as the teacher's training did (same prompts' split, same world, motions included),
noises it at uniform timesteps, draws s uniformly in the range, and regresses the student's output onto the
teacher's guided output (the same prediction type, v or eps). The teacher is frozen; the student's EMA is
what ships.

A latent teacher (ModelConfig.latent) teaches in its latent: the batch is coded by the VAE stored beside it, the
DDIM steps leave x_0 unclipped (a latent has no [-1, 1] range, as the pipeline samples it), and the run directory
and its export keep that VAE, so the student loads and decodes as its teacher does.

A run directory holds what the trainer's does (model, EMA, optimizer, config, log), so `export` copies its
EMA into a release directory and `--resume` continues exactly: every draw of step k is seeded by (seed, k).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import checkpoint as ckpt
from ..data.prompts import make_world_batch, sample_train_prompts
from ..diffusion.schedule import NoiseSchedule, strided_timesteps
from ..latent.release import check_vae, read_vae, vae_files
from ..models import build_model
from .config import TrainConfig
from .optimizer_state import optimizer_from_tensors, optimizer_to_tensors


KINDS = ("guidance", "progressive")


def check_teacher(kind: str, teacher_cfg, name: str) -> None:
    """Raise ValueError unless a model of config `teacher_cfg` (a ModelConfig) can teach distillation `kind`:
    guidance distillation starts from a model guided by two passes, progressive from a guidance-distilled one."""
    distilled = teacher_cfg.guidance_range is not None
    if kind == "guidance" and distilled:
        raise ValueError(f"{name} is already guidance-distilled (distil it further with kind 'progressive')")
    if kind == "progressive" and not distilled:
        raise ValueError(f"{name} is not guidance-distilled: progressive distillation starts from a "
                         "guidance-distilled model (distil it with kind 'guidance' first)")


@dataclass(frozen=True)
class DistillConfig:
    """The distillation's own settings; the data (split, world, batch drawing) is the teacher's."""

    kind: str = "guidance"  # "guidance": one pass a step; "progressive": half the DDIM steps (see the module)
    student_steps: int = 5  # progressive: the DDIM steps the student takes, 2^k + 1 so that the grids nest (the
    # sampler's steps run from T-1 to 0 evenly, so 3 steps lie on 5's, 5 on 9's); its teacher steps on the grid of 2 (n - 1) + 1
    steps: int = 800  # optimizer steps
    batch_size: int = 16
    lr: float = 2e-4  # AdamW, constant after a 20-step warm-up: a fine-tune of the teacher's weights
    guidance_range: tuple[float, float] = (1.0, 7.0)  # scales the student learns (the app's useful range)
    ema_decay: float = 0.995
    bf16: bool = False  # autocast the teacher and the student (the CLI decides by timing, see precision.py)
    save_every: int = 50  # steps between checkpoints of the run directory
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "guidance_range", tuple(float(g) for g in self.guidance_range))
        lo, hi = self.guidance_range
        n = self.student_steps - 1
        if self.kind not in KINDS or n < 1 or n & (n - 1):
            raise ValueError(f"kind must be one of {KINDS} and student_steps 2^k + 1 (2, 3, 5, 9, ...), got {self.kind!r}, "
                             f"{self.student_steps}")
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or not 0 <= lo < hi or not 0 < self.ema_decay < 1:
            raise ValueError(f"bad distillation config: {self}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Distiller:
    """Owns the frozen teacher, the student, its EMA and optimizer, and the run directory."""

    def __init__(self, teacher_dir, out_dir, cfg: DistillConfig = DistillConfig(), resume: bool = False):
        self.out = Path(out_dir)
        if resume:
            raw = ckpt.read_json(self.out / ckpt.CONFIG_NAME)
            try:
                cfg = DistillConfig(**raw["distill"]["config"])
                teacher_dir = raw["distill"]["teacher"]
            except (KeyError, TypeError) as e:
                raise ckpt.CheckpointError(f"{self.out / ckpt.CONFIG_NAME} is not a distillation run's config: {e}") from e
        self.cfg, self.teacher_dir = cfg, ckpt.resolve_dir(teacher_dir)
        self.teacher, diff_cfg, self.teacher_raw = ckpt.load_model(self.teacher_dir, prefer_ema=True)
        self.teacher.requires_grad_(False)
        check_teacher(cfg.kind, self.teacher.cfg, str(self.teacher_dir))
        if cfg.kind == "progressive":  # the student keeps its teacher's guidance range
            cfg = self.cfg = dataclasses.replace(cfg, guidance_range=self.teacher.cfg.guidance_range)
        self.train_cfg = ckpt.config_section(self.teacher_raw, TrainConfig, "train", self.teacher_dir / ckpt.CONFIG_NAME)
        self.vae = None  # a latent teacher's autoencoder: the batch is coded into its latent
        if self.teacher.cfg.latent:
            self.vae = check_vae(self.teacher.cfg, read_vae(self.teacher_dir, self.teacher_raw), self.train_cfg.world.scale)
        self.diff_cfg = diff_cfg
        self.schedule = NoiseSchedule(diff_cfg)
        self.model_cfg = dataclasses.replace(self.teacher.cfg, guidance_range=cfg.guidance_range)
        torch.manual_seed(cfg.seed)
        self.student = build_model(self.model_cfg)
        missing, unexpected = self.student.load_state_dict(self.teacher.state_dict(), strict=False)
        if unexpected or any(not k.startswith("g_embedder.") for k in missing) or (missing and cfg.kind != "guidance"):
            raise ckpt.CheckpointError(f"the student does not extend its teacher: missing {missing}, unexpected {unexpected}")
        self.ema = build_model(self.model_cfg).eval()
        self.ema.load_state_dict(self.student.state_dict())
        self.ema.requires_grad_(False)
        self.opt = torch.optim.AdamW(self.student.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
        self.step, self.seconds = 0, 0.0
        if resume:
            ckpt.load_state_into(self.student, ckpt.load_tensors(self.out / ckpt.MODEL_NAME), self.out / ckpt.MODEL_NAME)
            ckpt.load_state_into(self.ema, ckpt.load_tensors(self.out / ckpt.EMA_NAME), self.out / ckpt.EMA_NAME)
            meta = ckpt.read_json(self.out / ckpt.STATE_JSON)
            optimizer_from_tensors(self.opt, self.student, ckpt.load_tensors(self.out / ckpt.STATE_NAME), meta)
            self.step, self.seconds = int(meta["step"]), float(meta["train_seconds"])
            ckpt.trim_log(self.out / ckpt.LOG_NAME, self.step)  # lines past the checkpoint are logged again

    def batch(self, step: int):
        """Step `step`'s draws: (x_t, t, ids, motion, guidance), all a function of (seed, step)."""
        tc, cfg = self.train_cfg, self.cfg
        prompts = sample_train_prompts(tc.split, cfg.seed + 1000, step, cfg.batch_size, 0, 0)
        x0, ids, motion = make_world_batch(prompts, tc.world, np.random.default_rng([cfg.seed, step, 11]))  # x0 (B, T, H, W)
        if self.vae is not None:
            with torch.no_grad():
                x0 = self.vae.to_latent(x0)  # (B, C, T, H', W')
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        if cfg.kind == "progressive":  # the student's own timesteps
            grid = torch.from_numpy(strided_timesteps(cfg.student_steps, self.schedule.num_timesteps))
            t = grid[torch.randint(0, len(grid), (x0.shape[0],), generator=g)]
        else:
            t = torch.randint(0, self.schedule.num_timesteps, (x0.shape[0],), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        lo, hi = cfg.guidance_range
        s = lo + (hi - lo) * torch.rand(x0.shape[0], generator=g)
        return self.schedule.q_sample(x0, t, noise), t, ids, motion, s

    def _abar(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        """alpha_bar at timesteps t (B,), 1 where t = -1 (the data), shaped (B, 1, ...) to broadcast over a batch of
        `ndim` axes (a video's 4, a latent's 5)."""
        a = self.schedule.alphas_cumprod.float()[t.clamp(min=0)]
        return torch.where(t < 0, torch.ones_like(a), a).view(-1, *[1] * (ndim - 1))

    def _ddim(self, x: torch.Tensor, t: torch.Tensor, t_to: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """One deterministic DDIM step from t to t_to (per sample; -1: the data), x_0 clipped as the sampler does (a
        pixel model's; a latent is never clipped)."""
        a_t, a_to = self._abar(t, x.ndim), self._abar(t_to, x.ndim)
        x0, _ = self.schedule.split_prediction(out, x, t)
        if self.vae is None:
            x0 = x0.clamp(-1.0, 1.0)
        eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        return a_to.sqrt() * x0 + (1 - a_to).sqrt() * eps

    def _teacher_steps(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For each t of the student's grid: the teacher's two steps' ends (t_mid, t_next), on the teacher's grid of
        2 (n - 1) + 1 steps, which holds the student's; the last student step (t = 0 to the data) is the teacher's too."""
        num = self.schedule.num_timesteps
        student = strided_timesteps(self.cfg.student_steps, num).tolist()
        teacher = strided_timesteps(2 * (self.cfg.student_steps - 1) + 1, num).tolist()
        mids, nexts = [], []
        for v in t.tolist():
            i = student.index(v)
            if i + 1 == len(student):  # t = 0: one step to the data, the teacher's as well
                mids.append(v), nexts.append(-1)
            else:
                mids.append(teacher[2 * i + 1]), nexts.append(student[i + 1])
        return torch.tensor(mids), torch.tensor(nexts)

    def x0_target(self, x_t: torch.Tensor, t: torch.Tensor, x_next: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        """The x_0 whose one DDIM step from (x_t, t) lands on x_next at t_next (Salimans & Ho, algorithm 2):
        (x_next - (sigma''/sigma) x_t) / (alpha'' - (sigma''/sigma) alpha)."""
        a_t, a_n = self._abar(t, x_t.ndim), self._abar(t_next, x_t.ndim)
        ratio = (1 - a_n).sqrt() / (1 - a_t).sqrt()  # sigma'' / sigma
        return (x_next - ratio * x_t) / (a_n.sqrt() - ratio * a_t.sqrt())

    def loss(self, x_t, t, ids, motion, s) -> torch.Tensor:
        """The student's error against its target for one batch."""
        bf16 = self.cfg.bf16
        if self.cfg.kind == "guidance":
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                null = self.teacher.null_prompt(ids.shape[0])  # uncond rows: the null prompt, along the same motion
                cond = self.teacher.encode_prompts(torch.cat([ids, null]), motion=None if motion is None else torch.cat([motion, motion]))
                c, u = self.teacher(torch.cat([x_t, x_t]), torch.cat([t, t]), cond=cond).float().chunk(2)
                target = u + s.view(-1, *[1] * (c.ndim - 1)) * (c - u)  # (B, ...): the teacher's guided output at scale s
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = self.student(x_t, t, ids, motion=motion, guidance=s).float()
            return torch.nn.functional.mse_loss(out, target)
        t_mid, t_next = self._teacher_steps(t)
        with torch.no_grad():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                cond = self.teacher.encode_prompts(ids, motion=motion)
                out = self.teacher(x_t, t, cond=cond, guidance=s).float()
            x_mid = self._ddim(x_t, t, t_mid, out)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = self.teacher(x_mid, t_mid, cond=cond, guidance=s).float()
            target = self.x0_target(x_t, t, self._ddim(x_mid, t_mid, t_next, out), t_next)
            a_t = self._abar(t, x_t.ndim)
            weight = (a_t / (1 - a_t)).clamp(min=1.0)  # truncated SNR
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = self.student(x_t, t, ids, motion=motion, guidance=s).float()
        x0, _ = self.schedule.split_prediction(out, x_t, t)
        return (weight * (x0 - target) ** 2).mean()

    def train_step(self) -> float:
        loss = self.loss(*self.batch(self.step))
        for group in self.opt.param_groups:
            group["lr"] = self.cfg.lr * min(1.0, (self.step + 1) / 20)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), 1.0)
        self.opt.step()
        with torch.no_grad():
            for pe, pm in zip(self.ema.parameters(), self.student.parameters()):
                pe.lerp_(pm, 1 - min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step)))
        self.step += 1
        return loss.item()

    def save(self) -> None:
        tensors, meta = optimizer_to_tensors(self.opt, self.student)
        meta.update(step=self.step, train_seconds=self.seconds)
        distill = {"kind": self.cfg.kind, "teacher": str(self.teacher_dir), "teacher_weights_sha256": _sha256(self.teacher_dir / ckpt.EMA_NAME),
                   "config": dataclasses.asdict(self.cfg), "steps": self.step, "seconds": round(self.seconds, 1)}
        extra = {k: v for k, v in self.teacher_raw.items() if k not in ("model", "diffusion", "train", "format")}
        extra.update(step=self.step, train_seconds=round(self.seconds, 1), distill=distill)
        if self.cfg.kind == "progressive":  # how the student is to be sampled
            extra["default_sampling"] = {"sampler": "ddim", "steps": self.cfg.student_steps}
        ckpt.write_set(self.out, {
            ckpt.MODEL_NAME: ckpt.tensor_bytes(self.student.state_dict()),
            ckpt.EMA_NAME: ckpt.tensor_bytes(self.ema.state_dict()),
            ckpt.STATE_NAME: ckpt.tensor_bytes(tensors),
            ckpt.STATE_JSON: ckpt.json_bytes(meta),
            **({} if self.vae is None else vae_files(self.vae)),  # the config's "vae" section is the teacher's
            ckpt.CONFIG_NAME: ckpt.json_bytes(ckpt.config_dict(self.model_cfg, self.diff_cfg, self.train_cfg, **extra)),
        })

    def fit(self, time_budget: float | None = None, progress: bool = True) -> dict:
        """Train until cfg.steps or the time budget (seconds of this call), saving every cfg.save_every steps."""
        self.out.mkdir(parents=True, exist_ok=True)
        start, losses = time.time(), []
        log = open(self.out / ckpt.LOG_NAME, "a")
        bar = tqdm(total=self.cfg.steps, initial=self.step, desc=f"distill-{self.cfg.kind}", unit="step", disable=not progress,
                   dynamic_ncols=True)
        try:
            while self.step < self.cfg.steps:
                if time_budget is not None and time.time() - start > time_budget:
                    break
                t0 = time.time()
                losses.append(self.train_step())
                self.seconds += time.time() - t0
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.5f}")
                if self.step % 10 == 0:
                    log.write(json.dumps({"step": self.step, "loss": float(np.mean(losses[-10:])),
                                          "train_seconds": round(self.seconds, 1)}) + "\n")
                    log.flush()
                if self.step % self.cfg.save_every == 0:
                    self.save()
        finally:
            log.close()
            bar.close()
        self.save()
        return {"step": self.step, "done": self.step >= self.cfg.steps, "train_seconds": round(self.seconds, 1),
                "final_loss": float(np.mean(losses[-50:])) if losses else None}
