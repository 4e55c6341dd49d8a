"""Which prompts training may see: the leak-free validation set, the held-out prompts and the
training batches, drawn on the fly as a pure function of (seed, step, rank)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from . import tokenizer as tok
from .layout2d import motion_tensor
from .render import render_video, to_model_space
from .shape import FRAMES, MAX_FRAMES
from .world import WorldConfig, min_frames, render_motion, sample_motion

TRAIN_MAX_LEN = 6  # the longest prompt training uses by default (SplitConfig.max_len)
# glyphs that a reader, or a model, easily takes for one another in this font: the hard split's groups
LOOKALIKE_GROUPS = ("O0QD", "I1L", "S5", "B8", "Z2", "EF", "G6", "MW")
SENTENCE_LENGTHS = (12, 24)  # symbols of a long-video prompt, the spaces between its words counted
WORD_LENGTHS = (2, 7)  # symbols of a sentence's words (the last takes what is left: 2 to 9)
SENTENCE_VAL = 400  # sentences kept from training (the first of `sentence_prompts`, so its n=48 default is among them)


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
    sentences: float = 0.0  # share of training prompts that are sentences (`sentence_prompts`: words of the allowed
    # prompts, spaces between, SENTENCE_LENGTHS symbols in all), for a long-video model

    def __post_init__(self):
        if not 0 <= self.sentences <= 1:
            raise ValueError(f"sentences is a share of the training prompts, in [0, 1], got {self.sentences}")
        if not 1 <= self.min_len <= self.max_len <= tok.PROMPT_SLOTS:
            raise ValueError(f"need 1 <= min_len <= max_len <= {tok.PROMPT_SLOTS}, got {self.min_len}, {self.max_len}")
        for name in ("heldout_first", "heldout_second"):
            bad = set(getattr(self, name)) - set(tok.SYMBOLS)
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
        n = len(tok.SYMBOLS)
        first = n - len(set(self.heldout_first))
        if length == 1:
            return 0 if self.holdout_single else first
        second = n - len(set(self.heldout_second))
        return first * second * n ** (length - 2)


def _random_prompt(rng: np.random.Generator, length: int, split: SplitConfig) -> str:
    """A uniformly random prompt of `length` among those the held-out rules allow."""
    first = [c for c in tok.SYMBOLS if c not in split.heldout_first]
    second = [c for c in tok.SYMBOLS if c not in split.heldout_second]
    chars = [first[rng.integers(len(first))]]
    if length > 1:
        chars.append(second[rng.integers(len(second))])
        chars += [tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=length - 2)]
    return "".join(chars)


@functools.lru_cache(maxsize=8)
def validation_prompts(split: SplitConfig = SplitConfig()) -> tuple[str, ...]:
    """Fixed validation prompts (never trained on), balanced by length.

    Each training length gets an equal share of `n_val`, but never more than `val_fraction_cap`
    of the prompts that length has: there are only 35 allowed 1-symbol prompts, so taking 333 of
    them would be impossible and taking many would remove them from training. What a short length
    cannot take goes to the longer ones.
    """
    rng = np.random.default_rng(split.seed)
    lengths = split.train_lengths()
    quota, left = {}, split.n_val
    for i, length in enumerate(lengths):
        share = left // (len(lengths) - i)
        cap = int(split.allowed_count(length) * split.val_fraction_cap)
        quota[length] = min(share, max(cap, 1))
        left -= quota[length]
    prompts: list[str] = []
    for length in lengths:
        chosen: set[str] = set()
        while len(chosen) < quota[length]:
            chosen.add(_random_prompt(rng, length, split))
        prompts += sorted(chosen)
    return tuple(prompts)


@functools.lru_cache(maxsize=8)
def _validation_set(split: SplitConfig) -> frozenset[str]:
    return frozenset(validation_prompts(split))


def heldout_prompts(split: SplitConfig = SplitConfig(), n: int = 200, seed: int = 99) -> tuple[str, ...]:
    """Prompts that break the held-out rules (e.g. start with A or have S second): never trained on."""
    rng = np.random.default_rng(seed)
    lengths = split.train_lengths() if not split.holdout_single else list(range(1, split.max_len + 1))
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n and tries < 100 * n:
        tries += 1
        length = lengths[tries % len(lengths)]
        p = "".join(tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=length))
        if length > 1 and rng.random() < 0.5 and split.heldout_second:
            p = p[0] + split.heldout_second[rng.integers(len(split.heldout_second))] + p[2:]
        elif split.heldout_first:
            p = split.heldout_first[rng.integers(len(split.heldout_first))] + p[1:]
        if split.is_heldout(p) and p not in seen:
            seen.add(p)
            out.append(p)
    return tuple(out)


def _sentence(rng: np.random.Generator, length: int, word) -> str:
    """Words from `word(rng, n)` (n symbols) joined by single spaces, `length` symbols in all: WORD_LENGTHS each,
    but the last, which takes what is left (2 to 9 symbols)."""
    words: list[str] = []
    left = length
    while left > 0:
        n = int(rng.integers(WORD_LENGTHS[0], WORD_LENGTHS[1] + 1))
        n = left if left - n - 1 < WORD_LENGTHS[0] else n  # the last word takes what is left
        words.append(word(rng, n))
        left -= n + 1
    return " ".join(words)


def sentence_prompts(split: SplitConfig = SplitConfig(), n: int = 48, seed: int = 41, heldout: bool = False) -> tuple[str, ...]:
    """n sentences of 12-24 symbols (`SENTENCE_LENGTHS`, the spaces counted; sentence i is 12 + i mod 13 long, so a
    shorter list is the start of a longer one), never trained on:
    the long-video split. heldout=False: words the held-out rules allow, a set training excludes (`_sentence_set`);
    heldout=True: the first word breaks them (starts with A, or has S second), as `heldout_prompts` do."""
    rng = np.random.default_rng([seed, int(heldout)])
    lo, hi = SENTENCE_LENGTHS
    out: list[str] = []
    while len(out) < n:
        length = lo + len(out) % (hi - lo + 1)
        p = _sentence(rng, length, lambda r, k: _random_prompt(r, k, split))
        if heldout:
            first, rest = p.split(" ", 1)
            word = first[0] + split.heldout_second[0] + first[2:] if len(first) > 1 and rng.random() < 0.5 else split.heldout_first[0] + first[1:]
            p = word + " " + rest
        if p not in out:
            out.append(p)
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _sentence_set(split: SplitConfig) -> frozenset[str]:
    return frozenset(sentence_prompts(split, n=SENTENCE_VAL))


def is_lookalike(prompt: str) -> bool:
    """A prompt that puts look-alike glyphs side by side: two different glyphs of one LOOKALIKE_GROUPS
    group, and at least half of its symbols from the groups."""
    symbols = "".join(LOOKALIKE_GROUPS)
    pair = any(len(set(prompt) & set(group)) >= 2 for group in LOOKALIKE_GROUPS)
    return pair and sum(c in symbols for c in prompt) >= max(2, (len(prompt) + 1) // 2)


@functools.lru_cache(maxsize=8)
def lookalike_prompts(split: SplitConfig = SplitConfig()) -> tuple[str, ...]:
    """The hard split of look-alike glyphs (O/0/Q/D, I/1/L, S/5, B/8, Z/2, E/F, G/6, M/W): the validation
    prompts for which `is_lookalike` holds, so never trained on (about 300 of the default 2000, lengths 2-6)."""
    return tuple(p for p in validation_prompts(split) if is_lookalike(p))


def long_prompts(n: int = 48, seed: int = 78, lengths: tuple[int, ...] = (7, 8)) -> tuple[str, ...]:
    """n random prompts of 7-8 symbols, longer than any training prompt, alternating lengths; deterministic."""
    if n < 1 or not lengths or min(lengths) < 1 or max(lengths) > tok.PROMPT_SLOTS:
        raise ValueError(f"need n >= 1 and lengths in [1, {tok.PROMPT_SLOTS}], got n={n}, lengths={lengths}")
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        p = "".join(tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=lengths[len(out) % len(lengths)]))
        if p not in out:
            out.append(p)
    return tuple(out)


def curriculum_lengths(split: SplitConfig, step: int, curriculum_steps: int) -> list[int]:
    """The training lengths at `step` of a short-prompts-first curriculum: the longest allowed grows
    linearly from the shortest training length to the longest over `curriculum_steps` (0: all at once)."""
    lengths = split.train_lengths()
    if not curriculum_steps or step >= curriculum_steps:
        return lengths
    longest = lengths[0] + int((lengths[-1] - lengths[0]) * step / curriculum_steps)
    return [n for n in lengths if n <= longest]


def sample_train_prompts(split: SplitConfig, seed: int, step: int, batch_size: int, rank: int = 0,
                         curriculum_steps: int = 0) -> list[str]:
    """Training prompts for one step, a pure function of (seed, step, rank): resumes see the same data.

    Lengths are uniform over the training lengths (those the curriculum allows at this step);
    prompts in the validation set or breaking the held-out rules are rejected and redrawn.
    """
    rng = np.random.default_rng([seed, step, rank])
    lengths = curriculum_lengths(split, step, curriculum_steps)
    val = _validation_set(split)
    out = []
    while len(out) < batch_size:
        p = _random_prompt(rng, lengths[rng.integers(len(lengths))], split)
        if p not in val:
            out.append(p)
    if split.sentences:  # a share replaced by sentences, drawn from their own stream (the short ones stay as they were)
        srng = np.random.default_rng([seed, step, rank, 5])
        held = _sentence_set(split)
        for i in np.nonzero(srng.random(batch_size) < split.sentences)[0]:
            while True:
                p = _sentence(srng, int(srng.integers(SENTENCE_LENGTHS[0], SENTENCE_LENGTHS[1] + 1)),
                              lambda r, k: _random_prompt(r, k, split))
                if p not in held:
                    out[i] = p
                    break
    return out


def make_batch(prompts, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts -> (videos (B, T, H, W) float in [-1, 1], token ids (B, slots) int64)."""
    videos = np.stack([render_video(p) for p in prompts])  # (B, T, H, W) uint8
    ids = tok.encode_batch(list(prompts))  # (B, slots)
    return to_model_space(videos).to(device), torch.from_numpy(ids).to(device)


def make_world_batch(prompts, world: WorldConfig, rng: np.random.Generator, device="cpu",
                     slots: int = tok.PROMPT_SLOTS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Prompts in a world -> (videos (B, T, H, W) float in [-1, 1], token ids (B, slots) int64, motions
    (B, T, 3) int64 or None). The scroll world's batch is `make_batch`'s, with no motions (its models
    are not told one); the motion world draws one motion per prompt from rng (`world.sample_motion`). A world
    of long videos (`world.frames` above FRAMES) draws each video's length, at least what its prompt needs,
    and gives a window of FRAMES frames at a random place in it (the rng draws nothing more for a short world)."""
    if world.name == "scroll":
        return (*make_batch(prompts, device), None)
    if world.frames == (FRAMES, FRAMES):
        motions = [sample_motion(p, world, rng) for p in prompts]
    else:
        motions = []
        for p in prompts:
            need = min_frames(p, world) or MAX_FRAMES  # twice what the prompt needs, where random draws find motions at once
            frames = max(int(rng.integers(world.frames[0], world.frames[1] + 1)), min(2 * need, MAX_FRAMES))
            try:
                long = sample_motion(p, world, rng, frames=frames)
            except ValueError:  # too rare at this length for random draws: the fewest frames, where the world's fastest line fits
                frames = need
                long = sample_motion(p, world, rng, frames=frames)
            motions.append(long.window(int(rng.integers(0, frames - FRAMES + 1))))
    videos = np.stack([render_motion(p, m, world.scale) for p, m in zip(prompts, motions)])  # (B, T, H, W) uint8
    ids = tok.encode_batch(list(prompts), slots, words=slots > tok.PROMPT_SLOTS)  # (B, slots)
    return to_model_space(videos).to(device), torch.from_numpy(ids).to(device), motion_tensor(motions).to(device)

