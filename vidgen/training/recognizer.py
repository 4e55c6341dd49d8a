"""Training the text recognizer on ground-truth renders made to look like imperfect generations.

`python -m vidgen train-recognizer --out checkpoints/recognizer` runs it (about 10 min on one CPU
thread). Prompts are 1..8 random symbols (longer than the diffusion model's 6, so the reader also
serves the longer-than-training experiment); the augmentations imitate what a half-trained
diffusion model gets wrong: noise, blur, a grey background, weak contrast, per-frame flicker and
1-pixel jitter, and a scroll speed that is slightly too slow.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data import tokenizer as tok
from ..data.layout import paste_strip, scroll_offsets
from ..data.prompts import SplitConfig, heldout_prompts, long_prompts, lookalike_prompts, validation_prompts
from ..data.render import render_strip, render_video
from ..data.shape import HEIGHT
from ..data.world import PATH_SHAPES, WorldConfig, render_motion, sample_motion
from ..evaluation.recognizer import (
    MAX_STRIP,
    Recognizer,
    RecognizerConfig,
    TextReader,
    encode_targets,
    fit_strip,
    save_recognizer,
)
from ..evaluation.tracking import stitch, track


@dataclass(frozen=True)
class RecognizerTrainConfig:
    """Optimisation and augmentation strengths; stored in the recognizer's config.json."""

    steps: int = 1500  # optimizer steps (the scroll reader: 1500, about 15 min on one busy CPU thread; the motion
    # reader: --steps 4000, 60 min on one thread beside another job)
    batch_size: int = 64
    lr: float = 3e-3  # peak AdamW learning rate, cosine-decayed to 1% after a 100-step warm-up
    weight_decay: float = 1e-4
    max_len: int = tok.PROMPT_SLOTS  # prompts of 1..max_len symbols
    clean_fraction: float = 0.15  # share of videos left un-augmented
    noise_max: float = 0.2  # Gaussian noise std, uniform in [0, noise_max], in [0, 1] pixel units
    seed: int = 0


def random_prompts(rng: np.random.Generator, n: int, max_len: int) -> list[str]:
    """Uniform lengths 1..max_len, uniform symbols; one in ten repeats a symbol to teach CTC doubles."""
    out = []
    for _ in range(n):
        length = int(rng.integers(1, max_len + 1))
        chars = [tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=length)]
        if length > 1 and rng.random() < 0.1:
            i = int(rng.integers(length - 1))
            chars[i + 1] = chars[i]
        out.append("".join(chars))
    return out


def render_slow(prompt: str, extra: int) -> np.ndarray:
    """The prompt's video scrolled as if its strip were `extra` pixels wider (a slightly-too-slow scroll)."""
    strip = render_strip(prompt)
    if extra <= 0:
        return render_video(prompt)
    ws = min(strip.shape[1] + extra, MAX_STRIP)
    wide = np.zeros((HEIGHT, ws), dtype=np.uint8)
    wide[:, : strip.shape[1]] = strip[:, :ws]
    return paste_strip(wide, scroll_offsets(ws))  # (T, H, W)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-video separable blur of (B, T, H, W) with std `sigma` (B,), 5-tap kernels."""
    taps = torch.arange(-2, 3, dtype=torch.float32)
    k = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    k = k / k.sum(1, keepdim=True)  # (B, 5)
    b, t, h, w = x.shape
    y = x.reshape(1, b * t, h, w)
    kb = k.repeat_interleave(t, 0)  # (B*T, 5)
    y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="replicate"), kb[:, None, None, :], groups=b * t)
    y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), kb[:, None, :, None], groups=b * t)
    return y.reshape(b, t, h, w)


def _jitter(x: torch.Tensor, gen: torch.Generator, p_frame: float = 0.25) -> torch.Tensor:
    """Shift single frames by one pixel in x and/or y (zero fill)."""
    b, t, h, w = x.shape
    moved = torch.rand(b, t, generator=gen) < p_frame
    d = torch.randint(-1, 2, (b, t, 2), generator=gen) * moved[..., None]
    padded = F.pad(x, (1, 1, 1, 1))  # (B, T, H+2, W+2)
    out = x.clone()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            sel = (d[..., 0] == dy) & (d[..., 1] == dx) & moved
            if sel.any():
                out[sel] = padded[sel][:, 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
    return out


def augment(videos: torch.Tensor, gen: torch.Generator, cfg: RecognizerTrainConfig) -> torch.Tensor:
    """(B, T, H, W) in [0, 1] -> the same videos with generation-like defects (a share stays clean)."""
    b = videos.shape[0]

    def pick(p):  # which videos get a defect
        return (torch.rand(b, generator=gen) < p)[:, None, None, None]

    def uniform(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=gen)

    x = videos
    x = torch.where(pick(0.5), _gaussian_blur(x, uniform(0.4, 1.2, b)), x)
    x = torch.where(pick(0.4), _jitter(x, gen), x)
    gain = torch.where(pick(0.5), uniform(0.5, 1.1, b, 1, 1, 1), torch.ones(b, 1, 1, 1))
    bias = torch.where(pick(0.4), uniform(-0.05, 0.25, b, 1, 1, 1), torch.zeros(b, 1, 1, 1))
    flicker = torch.where(pick(0.3), uniform(0.8, 1.2, b, x.shape[1], 1, 1), torch.ones(b, x.shape[1], 1, 1))
    x = x * gain * flicker + bias * (1 - x)  # a grey background, not grey text
    sigma = torch.where(pick(0.7), uniform(0.0, cfg.noise_max, b, 1, 1, 1), torch.zeros(b, 1, 1, 1))
    x = x + sigma * torch.randn(x.shape, generator=gen)
    x = (x.clamp(0, 1) * 255).round() / 255  # generations arrive as uint8
    return torch.where(pick(cfg.clean_fraction), videos, x)


# what a "motion" reader learns to read: every path shape, the held-out one too (the reader is the measuring
# instrument, not the model under test), at the motion world's sizes and speeds
READER_WORLD = WorldConfig(name="motion", shapes=PATH_SHAPES, heldout_shapes=())


def render_in_world(prompt: str, rng: np.random.Generator) -> np.ndarray:
    """The prompt moving along a motion drawn from READER_WORLD: uint8 (T, H, W)."""
    return render_motion(prompt, sample_motion(prompt, READER_WORLD, rng))


def make_training_batch(rng: np.random.Generator, gen: torch.Generator, cfg: RecognizerTrainConfig, reads: str = "scroll"):
    """-> (prompts, augmented videos (B, T, H, W) in [0, 1]): scrolled (partly too slowly), or moving any way."""
    prompts = random_prompts(rng, cfg.batch_size, cfg.max_len)
    if reads == "motion":
        videos = []
        for i in range(len(prompts)):
            while True:
                try:
                    videos.append(render_in_world(prompts[i], rng))
                    break
                except ValueError:  # no motion of the world shows this prompt (eight wide glyphs): another prompt
                    prompts[i] = random_prompts(rng, 1, cfg.max_len)[0]
        videos = np.stack(videos)  # (B, T, H, W) uint8
    else:
        extra = np.where(rng.random(cfg.batch_size) < 0.25, rng.integers(1, 13, cfg.batch_size), 0)
        videos = np.stack([render_slow(p, int(e)) for p, e in zip(prompts, extra)])  # (B, T, H, W) uint8
    return prompts, augment(torch.from_numpy(videos).float() / 255.0, gen, cfg)


def reader_inputs(model: Recognizer, videos: torch.Tensor) -> torch.Tensor:
    """Videos (B, T, H, W) in [0, 1] -> what the network reads (B, H, width): the scroll fit's strip or the
    tracker's stitched canvas, as TextReader.read makes them."""
    if model.cfg.reads == "motion":
        return stitch(videos, track(videos), HEIGHT, model.cfg.width)
    return fit_strip(videos).strips


def true_renders(reader: TextReader, prompts, seed: int = 0) -> np.ndarray:
    """Ground-truth uint8 (N, T, H, W) videos of the prompts in the reader's world (motions drawn by `seed`)."""
    rng = np.random.default_rng(seed)
    render = (lambda p: render_in_world(p, rng)) if reader.model.cfg.reads == "motion" else render_video
    return np.stack([render(p) for p in prompts])


def sentence_accuracy_on(reader: TextReader, prompts, seed: int = 0) -> float:
    """Share of clean ground-truth renders read exactly (in the reader's world: motions drawn by `seed`)."""
    texts = reader.read(true_renders(reader, prompts, seed)).texts
    return float(np.mean([t == p for t, p in zip(texts, prompts)]))


def augmented_accuracy_on(reader: TextReader, prompts, cfg: RecognizerTrainConfig, seed: int = 0) -> float:
    """Share of ground-truth renders read exactly after every one has been given the training defects (none
    left clean): how much of a generation's flaws the reader itself survives, its own error floor."""
    gen = torch.Generator().manual_seed(seed)
    clean = torch.from_numpy(true_renders(reader, prompts, seed)).float() / 255.0
    videos = (augment(clean, gen, replace(cfg, clean_fraction=0.0)) * 255).round().to(torch.uint8).numpy()
    texts = reader.read(videos).texts
    return float(np.mean([t == p for t, p in zip(texts, prompts)]))


def train_recognizer(out_dir, cfg: RecognizerTrainConfig = RecognizerTrainConfig(),
                     model_cfg: RecognizerConfig = RecognizerConfig(), progress: bool = True) -> dict:
    """Train, check on clean validation and held-out renders, save to `out_dir`. -> summary dict."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = Recognizer(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(s / cfg.steps, 1.0)))))
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    seq_len = model_cfg.seq_len
    t0, losses = time.time(), []
    bar = tqdm(range(cfg.steps), desc="train-recognizer", unit="step", disable=not progress, dynamic_ncols=True)
    model.train()
    for step in bar:
        prompts, videos = make_training_batch(rng, gen, cfg, model_cfg.reads)
        strips = reader_inputs(model, videos)  # (B, H, S)
        logits, _ = model(strips)  # (B, L, classes)
        targets, target_lens = encode_targets(prompts)
        log_probs = logits.log_softmax(-1).transpose(0, 1)  # (L, B, classes) as CTCLoss wants
        loss = ctc(log_probs, targets, torch.full((len(prompts),), seq_len, dtype=torch.long), target_lens)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    model.eval()
    reader = TextReader(model)
    split = SplitConfig()
    summary = {
        "train": asdict(cfg),
        "params": model.num_params(),
        "train_seconds": round(time.time() - t0, 1),
        "final_loss": float(np.mean(losses[-50:])),
        "clean_val_sentence_accuracy_300": sentence_accuracy_on(reader, validation_prompts(split)[::6][:300]),
        "clean_heldout_sentence_accuracy_300": sentence_accuracy_on(reader, heldout_prompts(split, n=300, seed=7)),
        "clean_lookalike_sentence_accuracy": sentence_accuracy_on(reader, lookalike_prompts(split)),
        "clean_long_sentence_accuracy": sentence_accuracy_on(reader, long_prompts()),
        "augmented_val_sentence_accuracy_300": augmented_accuracy_on(reader, validation_prompts(split)[::6][:300], cfg),
    }
    save_recognizer(model, out_dir, summary)
    return summary
