"""The ways to make a video longer than the model's window, as plans of model calls over noise levels.

Every method is a plan: a sequence of `Call`s, each one pass of the model over one window of W frames
(the model's own `frames`) at a start frame, with the level (vidgen.long.levels) every frame of the window
goes to. The engine (vidgen.long.engine) runs any plan the same way, so the methods differ only in which
frames they denoise together and what clean frames they are told:

    independent  16-frame chunks, each from its own noise with no context: the baseline that shows a seam
    splice       seed 004's latent splicing: chunks overlapping by `overlap` frames, the last frames of one
                 the clean initial condition (context) of the next (a causal model computes that context's keys
                 and values once per chunk and denoises the new frames alone, so a video costs what its new
                 frames do: the last chunk, which ends at the video's end, may hold more context and fewer new frames)
    pyramid      Diffusion Forcing's sliding window (a FIFO-Diffusion queue): each temporal token one level
                 noisier than the one before it; every call moves every token of the window down one level, the
                 front one comes out clean and a pure-noise one enters behind (W/pt - steps clean tokens of context)
    stream       seed 003's causal temporal attention, streamed: one temporal token at a time, denoised over
                 `steps` calls with every earlier token of the window as clean context (a causal model's keys
                 and values of that context are computed once per token: vidgen.long.engine's cache)

Levels are per frame but move per temporal token (pt frames): a model takes one timestep per token.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np


@dataclass(frozen=True)
class Call:
    """One model pass: the window [start, start + W) of the video, each of its frames taken to `targets`
    (W,) levels; `fresh`: the window is drawn from its own noise (all at the top level), not the video's;
    `chunk`: which chunk (or token) of the method this call serves; `context`: clean frames the call reads
    (the front of the window) to continue the video."""

    start: int
    targets: np.ndarray
    chunk: int
    context: int = 0
    fresh: bool = False


def independent(frames: int, window: int, pt: int, steps: int) -> Iterator[Call]:
    """Chunks of `window` frames side by side (the last one ends at the video's end, drawn from its own noise:
    only its frames not made before are kept), each sampled alone."""
    starts = list(range(0, frames - window + 1, window))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    for c, start in enumerate(starts):
        for i in range(steps):
            yield Call(start, np.full(window, steps - 1 - i), c, fresh=True)


def splice(frames: int, window: int, pt: int, steps: int, overlap: int = 4) -> Iterator[Call]:
    """Chunks of `window` frames, each after the first starting `overlap` frames before the last one ended:
    those frames are clean context, the rest is denoised from noise over `steps` calls."""
    if overlap % pt or not pt <= overlap < window:
        raise ValueError(f"overlap must be a multiple of {pt} frames in [{pt}, {window}), got {overlap}")
    end, c = 0, 0
    while end < frames:
        start = 0 if c == 0 else min(end - overlap, frames - window)
        context = end - start
        for i in range(steps):
            targets = np.full(window, steps - 1 - i)
            targets[:context] = 0
            yield Call(start, targets, c, context=context)
        end, c = start + window, c + 1


def pyramid(frames: int, window: int, pt: int, steps: int) -> Iterator[Call]:
    """Temporal token j starts j calls after token 0, and every call moves each token in flight down one level:
    the tokens of a window are one level apart. The window holds the tokens in flight and clean context before them."""
    tokens, wt = frames // pt, window // pt
    if steps > wt:
        raise ValueError(f"the pyramid holds at most {wt} levels in a window of {wt} temporal tokens, got {steps} steps")
    context = wt - steps  # clean tokens in front of the ones in flight
    for m in range(tokens + steps - 1):
        first = max(0, min(m - steps + 1 - context, tokens - wt))  # the window's first token
        j = np.arange(first, first + wt)  # (wt,) the window's tokens
        after = np.clip(steps - (m + 1 - j), 0, steps)  # their levels after this call
        clean_before = int(((np.clip(steps - (m - j), 0, steps)) == 0).sum())
        yield Call(first * pt, np.repeat(after, pt), m, context=clean_before * pt)


def stream(frames: int, window: int, pt: int, steps: int) -> Iterator[Call]:
    """One temporal token at a time, over `steps` calls, after up to W/pt - 1 clean tokens of context."""
    tokens, wt = frames // pt, window // pt
    for j in range(tokens):
        first = max(0, min(j - (wt - 1), tokens - wt))
        for i in range(steps):
            after = np.where(np.arange(first, first + wt) < j, 0, steps)  # context clean, later tokens untouched
            after[j - first] = steps - 1 - i
            yield Call(first * pt, np.repeat(after, pt), j, context=(j - first) * pt)


@dataclass(frozen=True)
class Method:
    """One registered long-video method: what a user types, its title, its plan and a line of help."""

    name: str
    title: str
    plan: Callable[..., Iterator[Call]]
    help: str
    cached: bool = False  # its calls keep their clean context unchanged: a causal model computes that context's keys
    # and values once per chunk (or token) and runs the frames it moves alone (vidgen.long.engine.ContextCache)


METHOD_REGISTRY: tuple[Method, ...] = (
    Method("independent", "independent chunks", independent, "16-frame chunks side by side, each alone (shows the seam)"),
    Method("splice", "latent splicing", splice, "chunks overlapping by 4 frames, the last frames of one the clean start of the next",
           cached=True),
    Method("pyramid", "Diffusion Forcing pyramid", pyramid, "a sliding window of rising noise, one level per temporal token (FIFO)"),
    Method("stream", "causal streaming", stream, "one temporal token at a time after clean context, keys and values cached",
           cached=True),
)
METHODS = {m.name: m for m in METHOD_REGISTRY}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown long-video method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


def num_calls(name: str, frames: int, window: int, pt: int, steps: int) -> int:
    """How many model passes a method's plan makes."""
    return sum(1 for _ in get_method(name).plan(frames, window, pt, steps))
