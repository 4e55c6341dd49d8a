"""Every constant and configuration of vidgen, and the named presets that the CLI, the app and the tests all read.

A leaf module: it imports nothing of vidgen, so any part of the package may import it.
"""
from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------- where the shipped files are

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"  # the font
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"  # the shipped models and the recognizer

# ----------------------------------------------------------------------------- the data's constants

FRAMES, HEIGHT, WIDTH = 16, 32, 32  # (T, H, W) of every video in vidgen

# the prompt vocabulary (vidgen.data.tokenizer encodes with it)
SYMBOLS = string.ascii_uppercase + string.digits  # the 36 symbols a prompt may hold
PAD_ID = 0
NULL_ID = 1
FIRST_SYMBOL_ID = 2
NUM_SPARE = 10
VOCAB_SIZE = FIRST_SYMBOL_ID + len(SYMBOLS) + NUM_SPARE  # 48
PROMPT_SLOTS = 8  # positions in the prompt tensor; training uses 1..6 of them
TRAIN_MAX_LEN = 6
SPARE_IDS = tuple(range(FIRST_SYMBOL_ID + len(SYMBOLS), VOCAB_SIZE))

# ----------------------------------------------------------------------------- sampling defaults

DEFAULT_GUIDANCE = 3.0  # classifier-free guidance scale when a checkpoint's config names no "default_guidance"
# generating (the app, `sample`, Pipeline): the fewest steps measured to read back within 1 point of 50-step
# DDIM on the release with PSNR within 2 dB of it (docs/sampling.md)
DEFAULT_SAMPLER = "dpm++2m"  # one of vidgen.diffusion.sampler.SAMPLERS
DEFAULT_STEPS = 10
# measuring (eval, experiments, compare, probes): the reference every reported figure uses
EVAL_SAMPLER = "ddim"
EVAL_STEPS = 50

# ----------------------------------------------------------------------------- configs

@dataclass(frozen=True)
class SplitConfig:
    """Which prompts training may see. Defaults are the blog's held-out rules."""

    seed: int = 1234  # seed of the validation set
    n_val: int = 2000  # validation prompts (about; short lengths are capped, see validation_prompts)
    min_len: int = 1  # shortest training prompt
    max_len: int = TRAIN_MAX_LEN  # longest training prompt
    heldout_first: str = "A"  # symbols never seen in first place during training
    heldout_second: str = "S"  # symbols never seen in second place during training
    holdout_single: bool = False  # also never train on 1-symbol prompts (the blog's experiment)
    val_fraction_cap: float = 0.05  # at most this share of a length's prompts goes to validation

    def __post_init__(self):
        if not 1 <= self.min_len <= self.max_len <= PROMPT_SLOTS:
            raise ValueError(f"need 1 <= min_len <= max_len <= {PROMPT_SLOTS}, got {self.min_len}, {self.max_len}")
        for name in ("heldout_first", "heldout_second"):
            bad = set(getattr(self, name)) - set(SYMBOLS)
            if bad:
                raise ValueError(f"{name} has symbols outside A-Z0-9: {sorted(bad)}")

    def is_heldout(self, prompt: str) -> bool:
        """True for prompts that training never sees by rule (not the validation set)."""
        if prompt[:1] and prompt[0] in self.heldout_first:
            return True
        if len(prompt) > 1 and prompt[1] in self.heldout_second:
            return True
        return self.holdout_single and len(prompt) == 1

    def train_lengths(self) -> list[int]:
        lo = max(self.min_len, 2) if self.holdout_single else self.min_len
        return list(range(lo, self.max_len + 1))

    def allowed_count(self, length: int) -> int:
        """Number of distinct prompts of `length` that the held-out rules leave for training."""
        n = len(SYMBOLS)
        first = n - len(set(self.heldout_first))
        if length == 1:
            return 0 if self.holdout_single else first
        second = n - len(set(self.heldout_second))
        return first * second * n ** (length - 2)


TEXT_PLACEMENTS = ("between", "spatial", "both")  # Latte's prompt cross-attention: thesis models v1, v2, v3
LAYOUTS = ("none", "glyph", "learned")  # where the model's glyph layout comes from (ModelConfig.layout)


@dataclass(frozen=True)
class ModelConfig:
    """Network shape. Every field is plain JSON so a checkpoint stores it as is."""

    variant: str = "full"  # architecture: see vidgen.models.VARIANTS
    frames: int = FRAMES  # T of the video
    height: int = HEIGHT  # H
    width: int = WIDTH  # W
    patch: tuple[int, int, int] = (2, 4, 4)  # (pt, ph, pw): 2x4x4 -> 8*8*8 = 512 tokens
    dim: int = 128  # transformer width
    depth: int = 6  # number of blocks
    heads: int = 4  # attention heads (dim must divide evenly)
    mlp_ratio: float = 4.0  # hidden width of the MLP / dim
    vocab_size: int = VOCAB_SIZE  # prompt vocabulary, spare slots included
    prompt_len: int = PROMPT_SLOTS  # prompt slots
    text_layers: int = 2  # small transformer over the prompt tokens before cross-attention
    rope: bool = True  # 3D rotary position in self-attention (relative positions) on top of learned ones
    conv_mlp: bool = True  # depthwise 3x3 convolution over each frame's tokens inside the MLP (weights shared across positions)
    freq_dim: int = 256  # size of the sinusoidal timestep features
    qk_norm: bool = False  # RMS-normalise each head's queries and keys before the dot product (in every
    # attention layer of every variant), which bounds the attention logits (ViT-22B, SD3)
    layout: str = "none"  # "none": the blog's model, prompt tokens only; "glyph": also told which symbol covers
    # every frame and pixel column and how far into the glyph it lies (vidgen.data.layout), and its prompt
    # encoder has no slot positions, so a symbol reaches the pixels the same way wherever it stands;
    # "learned": prompt tokens only, like the blog's, but the model predicts the glyph layout from them
    # (vidgen.models.aligner, trained on the renderer's widths and offsets) and reads it as "glyph" does
    layout_dim: int = 32  # glyph layout: width of the per-symbol embedding
    template_dim: int = 0  # glyph layout: width of a learned feature per (symbol, in-glyph pixel column, row),
    # a glyph template in feature space that the model learns from the denoising loss alone (0 = none: the
    # layout reaches every row of a column alike and the network must work out each glyph's rows itself)
    # variant-specific fields; the other variants ignore them
    text_placement: str = "spatial"  # latte: prompt cross-attention "between" the spatial and temporal blocks
    # (the thesis's Latte v1), inside the "spatial" block (v2) or inside "both" spatial and temporal blocks (v3)
    latent_groups: int = 2  # snapvideo: the H' x W' token grid is cut into latent_groups^2 regions, each spanning all frames
    latents_per_group: int = 16  # snapvideo: latent tokens that read from (and write to) each region
    latent_layers: int = 2  # snapvideo: self-attention layers over all latents inside each block ("compute")

    def __post_init__(self):
        object.__setattr__(self, "patch", tuple(int(p) for p in self.patch))
        if len(self.patch) != 3:
            raise ValueError(f"patch must be (pt, ph, pw), got {self.patch}")
        for size, p, name in zip((self.frames, self.height, self.width), self.patch, "THW"):
            if p <= 0 or size % p:
                raise ValueError(f"patch {self.patch} does not tile {name}={size}")
        if self.dim <= 0 or self.depth <= 0 or self.heads <= 0 or self.dim % self.heads:
            raise ValueError(f"dim={self.dim} must be positive and divisible by heads={self.heads}")
        if self.rope and (self.dim // self.heads) % 2:
            raise ValueError("rope needs an even head dimension")
        if self.vocab_size < VOCAB_SIZE or self.prompt_len < 1:
            raise ValueError(f"vocab_size must be >= {VOCAB_SIZE} and prompt_len >= 1")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; known: {', '.join(LAYOUTS)} (a checkpoint from a newer vidgen?)")
        if self.layout_dim < 1:
            raise ValueError(f"layout_dim must be >= 1, got {self.layout_dim}")
        if self.template_dim < 0 or (self.template_dim and self.layout == "none"):
            raise ValueError(f"template_dim must be >= 0 and needs a layout ('glyph' or 'learned'), got {self.template_dim} with layout={self.layout!r}")
        if self.text_placement not in TEXT_PLACEMENTS:
            raise ValueError(f"unknown text_placement {self.text_placement!r}; known: {', '.join(TEXT_PLACEMENTS)}")
        _, gh, gw = self.grid
        if self.variant == "snapvideo" and (self.latent_groups < 1 or gh % self.latent_groups or gw % self.latent_groups):
            raise ValueError(f"latent_groups={self.latent_groups} must divide the token grid {gh}x{gw}")
        if self.latents_per_group < 1 or self.latent_layers < 0:
            raise ValueError("latents_per_group >= 1 and latent_layers >= 0 are required")

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (T', H', W')."""
        pt, ph, pw = self.patch
        return self.frames // pt, self.height // ph, self.width // pw

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w


@dataclass(frozen=True)
class DiffusionConfig:
    """The forward process and what the network predicts."""

    schedule: str = "cosine"  # "linear" (the blog's, betas 1e-4..0.02) or "cosine" (Nichol & Dhariwal)
    num_timesteps: int = 1000  # T
    prediction: str = "v"  # "eps" (the blog's) or "v" (Salimans & Ho)

    def __post_init__(self):
        if self.schedule not in ("linear", "cosine"):
            raise ValueError(f"unknown schedule {self.schedule!r}; known: linear, cosine")
        if self.prediction not in ("eps", "v"):
            raise ValueError(f"unknown prediction {self.prediction!r}; known: eps, v")
        if not 2 <= self.num_timesteps <= 100_000:
            raise ValueError(f"num_timesteps must be in [2, 100000], got {self.num_timesteps}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. Data randomness is a function of (seed, step, rank), so resumes are exact."""

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
    cfg_dropout: float = 0.1  # probability of training with the null prompt
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

    def __post_init__(self):
        if isinstance(self.split, dict):
            object.__setattr__(self, "split", SplitConfig(**self.split))
        if self.loss_weighting not in ("none", "min_snr"):
            raise ValueError(f"unknown loss_weighting {self.loss_weighting!r}; known: none, min_snr")
        if self.attention_loss < 0 or self.curriculum_steps < 0:
            raise ValueError(f"attention_loss and curriculum_steps must be >= 0, got {self.attention_loss}, {self.curriculum_steps}")
        if self.batch_size < 1 or self.lr <= 0 or not 0 <= self.cfg_dropout < 1 or not 0 <= self.ema_decay < 1:
            raise ValueError("batch_size >= 1, lr > 0, 0 <= cfg_dropout < 1 and 0 <= ema_decay < 1 are required")


@dataclass(frozen=True)
class Preset:
    model: ModelConfig
    diffusion: DiffusionConfig
    train: TrainConfig


PRESETS: dict[str, Preset] = {
    # trains in seconds; for tests and for trying the CLI
    "tiny": Preset(
        ModelConfig(patch=(4, 8, 8), dim=32, depth=2, heads=2, text_layers=1),
        DiffusionConfig(),
        TrainConfig(batch_size=8, warmup_steps=10, val_every=50, val_size=16, ckpt_every=50, log_every=10, max_steps=100),
    ),
    # about the blog's larger model (width 128, 6 layers, 512 tokens); the CPU recipe
    "small": Preset(ModelConfig(), DiffusionConfig(), TrainConfig()),
    # the blog's recipe as it was: no rope, no conv, eps prediction, linear schedule
    "small-blog": Preset(
        ModelConfig(rope=False, conv_mlp=False, text_layers=0),
        DiffusionConfig(schedule="linear", prediction="eps"),
        TrainConfig(loss_weighting="none"),
    ),
    # for a GPU
    "base": Preset(
        ModelConfig(dim=384, depth=12, heads=6),
        DiffusionConfig(),
        TrainConfig(batch_size=128, lr=5e-4, max_steps=100_000, val_every=2000, ckpt_every=2000),
    ),
}


def _variant_presets() -> dict[str, Preset]:
    """`tiny-<variant>` and `small-<variant>`: the `tiny` and `small` recipes with another network.

    Same width, heads and training recipe as their base, and the same depth except where noted
    below, so `python -m vidgen compare` puts the architectures side by side at one budget. Latte
    comes with each of the thesis's text placements ("latte" is its best one, inside the spatial block).
    """
    variants = {
        "gentron": {"variant": "gentron"},
        "latte": {"variant": "latte", "text_placement": "spatial"},
        "latte-between": {"variant": "latte", "text_placement": "between"},
        "latte-both": {"variant": "latte", "text_placement": "both"},
        "snapvideo": {"variant": "snapvideo"},
        "conv3d": {"variant": "conv3d"},
    }
    # a SnapVideo block (condition, read, 2 latent layers, write) has about 3x the weights of a DiT
    # block, so a third of the depth keeps the parameter budget; tiny's 4x4x4 token grid gets 8
    # latents per 2x2 region
    extra = {
        ("tiny", "snapvideo"): {"depth": 1, "latents_per_group": 8},
        ("small", "snapvideo"): {"depth": 2},
        # one residual block per level and direction: the U-Net then costs about what `small` does per
        # training sample (two blocks per level cost twice as much)
        ("small", "conv3d"): {"depth": 3},
    }
    out = {}
    for size in ("tiny", "small"):
        base = PRESETS[size]
        for name, fields in variants.items():
            fields = {**fields, **extra.get((size, name), {})}
            out[f"{size}-{name}"] = Preset(dataclasses.replace(base.model, **fields), base.diffusion, base.train)
    return out


PRESETS.update(_variant_presets())


TEMPLATE_DIM = 8  # a 4-pixel-tall band of one column needs only a few numbers


def _layout_presets() -> dict[str, Preset]:
    """`<preset>-layout`: the same network told the glyph layout (ModelConfig.layout = "glyph");
    `<preset>-template`: the same again with a learned glyph template (ModelConfig.template_dim).

    The small ones train with the release's recipe (`small-fast-template` below): batch 16 (smaller
    batches learn more per sample on the CPU, docs/recipe.md) and a cosine decay over 3600 steps,
    with EMA snapshots every 250 steps to read what it reaches along the way.
    """
    out = {}
    for name, preset in list(PRESETS.items()):
        if name.startswith(("tiny", "small")) and name != "small-blog":
            train = preset.train
            if name.startswith("small"):
                train = dataclasses.replace(train, batch_size=16, lr_decay_steps=3600, max_steps=3600,
                                            val_every=250, ckpt_every=250, snapshot_every=250)
            out[f"{name}-layout"] = Preset(dataclasses.replace(preset.model, layout="glyph"), preset.diffusion, train)
            out[f"{name}-template"] = Preset(dataclasses.replace(preset.model, layout="glyph", template_dim=TEMPLATE_DIM),
                                             preset.diffusion, train)
    return out


PRESETS.update(_layout_presets())

# Shapes sized for speed (docs/sampling.md): 4 blocks instead of 6. `small-fast-template` is the release recipe
# (0.54 s a training step, a 10-step guided video in 0.27 s on the 2-core CPU); it also normalises queries and
# keys, because the 6-block runs without that diverged (checkpoints/README.md).
PRESETS["small-fast-layout"] = Preset(dataclasses.replace(PRESETS["small-layout"].model, depth=4),
                                      PRESETS["small-layout"].diffusion, PRESETS["small-layout"].train)
PRESETS["small-fast-template"] = Preset(dataclasses.replace(PRESETS["small-template"].model, depth=4, qk_norm=True),
                                        PRESETS["small-template"].diffusion, PRESETS["small-template"].train)


# The blog's interface (prompt tokens in, video out) with the binding recipes of docs/binding.md, all on the
# layout presets' training recipe (batch 16, cosine over 3600 steps, snapshots every 250):
# `-learned` predicts its own glyph layout (vidgen.models.aligner) and reads it with a glyph template;
# `-attnsup` supervises its cross-attention with the renderer's per-patch labels while training;
# `-curriculum` starts on two-symbol prompts and reaches six at step 1500.
def _binding_presets() -> dict[str, Preset]:
    out = {}
    for name in ("tiny", "small", "small-fast"):
        base = PRESETS[f"{name}-template"]
        out[f"{name}-learned"] = Preset(dataclasses.replace(base.model, layout="learned"), base.diffusion, base.train)
    for name in ("tiny", "small"):
        template = PRESETS[f"{name}-template"]  # its training recipe, the blog's network
        out[f"{name}-attnsup"] = Preset(PRESETS[name].model, template.diffusion,
                                        dataclasses.replace(template.train, attention_loss=ATTENTION_LOSS))
        out[f"{name}-curriculum"] = Preset(PRESETS[name].model, template.diffusion,
                                           dataclasses.replace(template.train, curriculum_steps=CURRICULUM_STEPS))
    return out


ATTENTION_LOSS = 0.1  # the cross-entropy starts near log(6) ~ 1.8, the weighted denoising loss near 0.2
CURRICULUM_STEPS = 1500
PRESETS.update(_binding_presets())


def get_preset(name: str) -> Preset:
    """Look up a preset by name; unknown names raise with the list of known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def _from_dict(cls, d: dict, what: str):
    if not isinstance(d, dict):
        raise ValueError(f"{what} config must be a JSON object, got {type(d).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"{what} config has unknown fields {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**d)
    except TypeError as e:
        raise ValueError(f"{what} config is malformed: {e}") from e


def model_config_from_dict(d: dict) -> ModelConfig:
    return _from_dict(ModelConfig, d, "model")


def diffusion_config_from_dict(d: dict) -> DiffusionConfig:
    return _from_dict(DiffusionConfig, d, "diffusion")


def train_config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    if "split" in d:
        d["split"] = _from_dict(SplitConfig, d["split"], "split")
    return _from_dict(TrainConfig, d, "train")


def to_dict(cfg) -> dict:
    """Dataclass -> plain JSON-able dict (tuples become lists)."""
    return dataclasses.asdict(cfg)
