"""A second judge of readability with a motion given, one that has learned nothing: the nearest render.

A video generated for prompt p along motion m reads as p when, among p and every prompt one edit away
(each symbol replaced by each other symbol, each symbol dropped, each symbol inserted anywhere), the
render of p along m is the closest to the video (mean squared pixel error). It checks what the learned
reader (checkpoints/recognizer-motion) checks without its blind spots: a reader trained on renders can
misread a generated video that a person reads at once, and this judge cannot. Its own limits: it sees
only one-edit neighbours, and only with the true motion, so it serves beside the reader, not instead.
"""
from __future__ import annotations

import numpy as np

from ..data import tokenizer as tok
from ..data.world import Motion, render_motion


VISIBLE_DIFFERENCE = 64  # of 255: a pixel where two renders differ by more tells them apart
MIN_VISIBLE_PIXELS = 8  # a neighbour whose render differs from the prompt's in fewer such pixels (a glyph that
# stays off screen but for a corner) is no rival


def one_edit_neighbours(prompt: str, max_len: int = tok.PROMPT_SLOTS) -> list[str]:
    """Every prompt one substitution, deletion or insertion away from `prompt` (at most `max_len`
    symbols, at least one), without repeats and without the prompt itself."""
    out: dict[str, None] = {}
    for i in range(len(prompt)):
        for s in tok.SYMBOLS:
            if s != prompt[i]:
                out[prompt[:i] + s + prompt[i + 1 :]] = None
        if len(prompt) > 1:
            out[prompt[:i] + prompt[i + 1 :]] = None
    if len(prompt) < max_len:
        for i in range(len(prompt) + 1):
            for s in tok.SYMBOLS:
                out[prompt[:i] + s + prompt[i:]] = None
    out.pop(prompt, None)
    return list(out)


def nearest_render(video: np.ndarray, prompt: str, motion: Motion) -> tuple[str, float]:
    """uint8 (T, H, W) video -> (the closest of `prompt` and its one-edit neighbours rendered along
    `motion`, its margin: the runner-up's error minus the prompt's, in squared pixel units of 255^2)."""
    candidates = [prompt] + one_edit_neighbours(prompt)
    renders = np.stack([render_motion(c, motion) for c in candidates]).astype(np.float32)  # (C, T, H, W)
    err = ((renders - video.astype(np.float32)[None]) ** 2).mean(axis=(1, 2, 3))  # (C,)
    visible = (np.abs(renders - renders[0]) > VISIBLE_DIFFERENCE).sum(axis=(1, 2, 3))  # (C,) pixels that tell each from the prompt
    err[1:][visible[1:] < MIN_VISIBLE_PIXELS] = np.inf  # a neighbour nobody could tell from the prompt is no rival
    best = int(np.argmin(err))
    return candidates[best], float(np.min(err[1:]) - err[0])


def nearest_render_reads(videos: np.ndarray, prompts: list[str], motions: list[Motion]) -> list[str]:
    """(N, T, H, W) uint8 videos of `prompts` along `motions` -> what each reads as by the nearest render."""
    return [nearest_render(v, p, m)[0] for v, p, m in zip(videos, prompts, motions)]
