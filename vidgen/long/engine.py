"""Runs a long-video method's plan (vidgen.long.methods) with a model that takes a timestep per frame.

The whole video's noise is drawn once from the seed, (B, N, H, W); every call reads one window of it, tells
the model each frame's level as a timestep (vidgen.long.levels), and moves the frames of the window to the
levels the call asks with a per-frame DDIM step. The model's prompt encoding is made once per generation
and its layout once per window position (the glyph layout of that window's frames along the motion).
Memory is bounded by the window: the model only ever sees W frames; the video itself is N x 32 x 32 floats.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..diffusion.sampler import GUIDANCE_RANGE, check_seed
from ..diffusion.schedule import NoiseSchedule
from .levels import FrameLevels
from .methods import Call, get_method

MAX_LONG_STEPS = 50  # steps per frame: every method's cost grows with them (the stream's by a call per step per token)
DEFAULT_LONG_METHOD = "splice"  # a long-video model's method and steps per frame unless its config says ("default_long")
DEFAULT_LONG_STEPS = 6



def check_long_args(method: str, steps: int, guidance_scale: float, window_tokens: int) -> None:
    """Refuse a method, steps per frame or guidance scale a long video cannot be made with, with the reason."""
    get_method(method)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_LONG_STEPS:
        raise ValueError(f"steps per frame must be a whole number from 1 to {MAX_LONG_STEPS}, got {steps!r}")
    if method == "pyramid" and steps > window_tokens:
        raise ValueError(f"the pyramid holds at most {window_tokens} levels in its window, got {steps} steps")
    if not isinstance(guidance_scale, (int, float)) or not GUIDANCE_RANGE[0] <= guidance_scale <= GUIDANCE_RANGE[1]:
        raise ValueError(f"guidance_scale must be in [{GUIDANCE_RANGE[0]:g}, {GUIDANCE_RANGE[1]:g}], got {guidance_scale!r}")


@dataclass
class LongStep:
    """One call of a long generation, as it lands (the app's step viewer and the streamed preview read it)."""

    index: int  # which call, from 0
    num_calls: int
    call: Call
    x: torch.Tensor  # (B, N, H, W) the whole video now: clean frames, frames in flight, noise
    pred_x0: torch.Tensor  # (B, W, H, W) the model's clean prediction of the call's window
    levels: np.ndarray  # (N,) every frame's level after the call (0 = clean)
    done: int  # how many frames from the start are clean (what a stream can show)
    made_by: np.ndarray  # (N,) the chunk (Call.chunk) whose call made each frame clean, -1 while it is not: where two
    # neighbouring frames were made by different chunks, the video has a boundary its seams are measured at


def check_long_model(model) -> None:
    """Refuse a model that cannot make long videos, with the reason."""
    if not getattr(model, "PER_FRAME_TIME", False):
        raise ValueError(f"{type(model).__name__} takes one timestep per video; a long video needs a model that takes "
                         "one per frame (a long-video model: vidgen.load_pipeline('long'))")


@torch.no_grad()
def iter_long(model, schedule: NoiseSchedule, ids: torch.Tensor, motion: torch.Tensor, method: str = "splice", steps: int = 6,
              guidance_scale: float = 1.0, seed: int = 0, autocast_bf16: bool = False, noise: torch.Tensor | None = None,
              cache: bool = True) -> Iterator[LongStep]:
    """Make videos of motion.shape[1] frames for prompts ids (B, L) along motion (B, N, 3), yielding every call.

    N must be a multiple of the model's temporal patch and at least its window. Same seed, same video.
    `cache`: a method whose calls keep clean context in front ("splice", "stream": Method.cached) computes that
    context's keys and values once per chunk or token and runs the frames it moves alone (a causal model)."""
    check_long_model(model)
    check_seed(seed)
    cfg = model.cfg
    window, pt = cfg.frames, cfg.patch[0]
    b, frames = motion.shape[0], motion.shape[1]
    if frames < window or frames % pt:
        raise ValueError(f"a long video has at least {window} frames, a multiple of {pt}; got {frames}")
    plan = list(get_method(method).plan(frames, window, pt, steps))
    levels_map = FrameLevels(schedule, steps)
    device = ids.device
    generator = torch.Generator().manual_seed(int(seed))
    x = torch.randn((b, frames, cfg.height, cfg.width), generator=generator) if noise is None else noise.float().clone()
    x = x.to(device)  # (B, N, H, W)
    levels = np.full(frames, steps, dtype=np.int64)
    made_by = np.full(frames, -1, dtype=np.int64)
    conds: dict[int, object] = {}  # window start -> its Conditioning (the layout of its frames)
    scratch = None  # an independent chunk's own window (x, levels) while it is made
    runner = ContextCache(model) if get_method(method).cached and cache and cfg.temporal == "causal" else None
    for i, call in enumerate(plan):
        s = call.start
        if s not in conds:
            conds = {s: encode_window(model, ids, motion[:, s : s + window], guidance_scale, autocast_bf16)} | (
                {k: v for k, v in conds.items() if k > s - window})  # keep the windows still ahead
        cond = conds[s]
        if call.fresh and (scratch is None or scratch[2] != call.chunk):
            chunk_noise = torch.randn((b, window, cfg.height, cfg.width), generator=generator).to(device)
            scratch = (chunk_noise, np.full(window, steps, dtype=np.int64), call.chunk)
        xw, lw = (scratch[0], scratch[1]) if call.fresh else (x[:, s : s + window], levels[s : s + window])
        t = levels_map.timesteps(lw, b, device)  # (B, W)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            if runner is not None:
                moving = np.flatnonzero(call.targets < lw)  # the frames this call moves, after its context
                out = runner(xw, t, cond, guidance_scale, call, -(-(int(moving.max()) + 1) // pt) * pt)
            else:
                out = model.forward_with_guidance(xw, t, None, guidance_scale, cond=cond)
        pred_x0, _ = schedule.split_prediction(out.float(), xw, t)
        pred_x0 = pred_x0.clamp(-1.0, 1.0)
        if runner is not None:  # the cached pass predicts the frames it moves alone: elsewhere show the window as it is
            active = torch.from_numpy(call.targets < lw).to(device)[None, :, None, None]
            pred_x0 = torch.where(active, pred_x0, xw)
        moved = levels_map.step(xw, pred_x0, lw, call.targets)
        if call.fresh:
            scratch = (moved, call.targets.copy(), call.chunk)
            if (call.targets == 0).all():  # the chunk is made: keep its frames the video has not made yet
                new = torch.from_numpy(levels[s : s + window] > 0).to(device)[None, :, None, None]
                x[:, s : s + window] = torch.where(new, moved, x[:, s : s + window])
                levels[s : s + window] = 0
        else:
            x[:, s : s + window] = moved
            levels[s : s + window] = call.targets
        made_by[(levels == 0) & (made_by < 0)] = call.chunk
        done = int(np.argmax(levels > 0)) if (levels > 0).any() else frames
        yield LongStep(i, len(plan), call, x, pred_x0, levels.copy(), done, made_by.copy())


def encode_window(model, ids: torch.Tensor, motion: torch.Tensor, guidance_scale: float, autocast_bf16: bool):
    """The Conditioning of prompts ids (B, L) for a window whose text moves along motion (B, W, 3)."""
    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
        return model.encode_for_guidance(ids, guidance_scale, motion=motion)


class ContextCache:
    """A cached method's calls (Method.cached: "splice", "stream"): while a chunk (or a token) is denoised, the clean
    context in front of it does not change, and in a causal model it never attends to what follows, so its keys and
    values in every layer are computed once per chunk (its first call) and reused by the others, which run the
    frames they move alone (vidgen.models.full.FullDiT.forward_cached)."""

    def __init__(self, model):
        self.model = model
        self.key = None  # (window start, chunk) the cache was made for
        self.cache = None

    def __call__(self, x: torch.Tensor, t: torch.Tensor, cond, guidance_scale: float, call: Call, end: int) -> torch.Tensor:
        """The guided prediction for frames [call.context, end) of the window x (B, W, H, W)."""
        key = (call.start, call.chunk)
        if key != self.key:  # a new chunk or token: its context's keys and values
            self.key, self.cache = key, None
        return self.model.forward_cached(x, t, cond, guidance_scale, call.context, end, self)
