"""Optimisation: one dataclass for a training run, stored as JSON in every checkpoint."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..data.prompts import SplitConfig
from ..data.world import WorldConfig
from ..jsonconfig import config_from_dict


FRAME_NOISE = ("shared", "forcing")  # TrainConfig.frame_noise (vidgen.training.frame_noise draws "forcing")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. Data randomness is a function of (seed, step, rank), so resumes are exact."""

    RENAMED: ClassVar[dict[str, str]] = {"cfg_dropout": "guidance_dropout"}  # old JSON name -> field (jsonconfig.with_current_names)

    batch_size: int = 32  # per process
    lr: float = 1e-3  # peak AdamW learning rate
    warmup_steps: int = 200  # linear warm-up
    lr_decay_steps: int = 0  # cosine decay to lr * min_lr_ratio over this many steps (0 = constant lr);
    # part of the config, not of --max-steps, so that a run stopped and resumed follows the same curve
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max global grad norm
    ema_decay: float = 0.999  # EMA of the weights, used for sampling
    ema_warmup: bool = True  # decay = min(ema_decay, (1+step)/(10+step)) early on
    guidance_dropout: float = 0.1  # probability of training with the null prompt (classifier-free guidance's
    # unconditional model; Ho & Salimans 2022)
    loss_weighting: str = "min_snr"  # "none" or "min_snr" (Hang et al. 2023, gamma below)
    min_snr_gamma: float = 5.0
    attention_loss: float = 0.0  # weight of attention supervision (vidgen.training.attention_supervision): the
    # cross-attention of every block pulled towards the renderer's per-patch symbol labels; 0 = off
    curriculum_steps: int = 0  # short prompts first: the longest training length grows from the shortest to
    # max_len over this many steps (0 = every length from the start)
    bf16: bool = True  # autocast matmuls to bfloat16 (CPU with AVX-512 BF16, or CUDA)
    max_steps: int = 20000  # default stop; --max-steps overrides
    seed: int = 0
    val_every: int = 500  # steps between validation-loss evaluations
    val_size: int = 256  # validation prompts used for the loss
    ckpt_every: int = 500  # steps between checkpoints
    snapshot_every: int = 0  # also keep the EMA weights of every N-th step in snapshots/ (0 = never), to
    # measure what a run reaches along the way
    log_every: int = 50
    split: SplitConfig = field(default_factory=SplitConfig)
    prior_motions: int = 0  # a "learned2d" model's motion prior also learns from this many extra motions per prompt
    # and step, drawn from the world (motions cost no rendering, so the prior sees more of the world than the denoiser)
    frame_noise: str = "shared"  # "shared": one noise level per video; "forcing": per frame, Diffusion Forcing's
    # patterns (vidgen.training.frame_noise), for a model that takes a timestep per frame (a long-video model)
    temporal_loss: float = 0.0  # weight of seed 004's temporal term (vidgen.training.temporal_loss): the predicted clean
    # video's frame-to-frame change against the truth's, added to the loss (0 = none)
    init_from: str = ""  # start from these weights (a shipped model's name or a checkpoint directory) instead of
    # random ones: a long-video model fine-tuned from the release; its network must have the same parameters
    vae: str = ""  # a latent model's autoencoder (ModelConfig.channels, cell): a VAE release directory (`python -m vidgen
    # train-vae`, `export-vae`), copied into the run at its start, so the run and its release never depend on the path
    world: WorldConfig = field(default_factory=WorldConfig)  # how the text moves in the data (vidgen.data.world);
    # checkpoints from before the motion world have none: the scroll world

    def __post_init__(self):
        if isinstance(self.split, dict):  # read from JSON
            object.__setattr__(self, "split", config_from_dict(SplitConfig, self.split, "split"))
        if isinstance(self.world, dict):
            object.__setattr__(self, "world", config_from_dict(WorldConfig, self.world, "world"))
        if self.loss_weighting not in ("none", "min_snr"):
            raise ValueError(f"unknown loss_weighting {self.loss_weighting!r}; known: none, min_snr")
        if self.attention_loss < 0 or self.curriculum_steps < 0 or self.prior_motions < 0:
            raise ValueError(f"attention_loss, curriculum_steps and prior_motions must be >= 0, got {self.attention_loss}, "
                             f"{self.curriculum_steps}, {self.prior_motions}")
        if self.temporal_loss < 0:
            raise ValueError(f"temporal_loss is a weight, >= 0, got {self.temporal_loss}")
        if self.frame_noise not in FRAME_NOISE:
            raise ValueError(f"unknown frame_noise {self.frame_noise!r}; known: {', '.join(FRAME_NOISE)}")
        if self.batch_size < 1 or self.lr <= 0 or not 0 <= self.guidance_dropout < 1 or not 0 <= self.ema_decay < 1:
            raise ValueError("batch_size >= 1, lr > 0, 0 <= guidance_dropout < 1 and 0 <= ema_decay < 1 are required")
