"""A long video (vidgen.long) as a stream of updates for the page: the clean frames so far, the window each
model call denoises, and the finished run for the step viewer."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..data.render import to_uint8
from ..long.methods import Call
from ..pipeline import Pipeline
from ..trajectory import Trajectory
from .requests import GenerationRequest


@dataclass
class LongRun:
    """A finished long video: what was asked for, how it was made, and every call of it (for the step viewer).
    `trajectory` holds the calls' windows (x after the call and its predicted x0), so the viewer scrubs and grids
    them as it does a short run's steps; its timesteps are the window's highest noise level after each call."""

    request: GenerationRequest
    trajectory: Trajectory  # (S,) calls of (W, H, W) windows
    video: np.ndarray  # (N, H, W) uint8: the whole video
    calls: list[Call]  # (S,) what each call denoised
    levels: np.ndarray  # (S, N) every frame's noise level after each call (0 = clean)
    done: np.ndarray  # (S,) clean frames from the start after each call
    method: str
    steps: int  # steps per frame


@dataclass
class LongUpdate:
    """What one model call of a long video hands to the page. `show` says whether to draw it; `run` is set on the
    last call only."""

    index: int
    num_calls: int
    call: Call
    seconds: float  # since sampling started
    clean: np.ndarray  # (done, H, W) uint8: the frames made so far, from the start
    window_x: np.ndarray  # (W, H, W) uint8: the call's window after it
    window_pred: np.ndarray  # (W, H, W) uint8: the model's clean prediction of that window
    levels: np.ndarray  # (N,) every frame's noise level after the call
    show: bool
    run: LongRun | None = None

    @property
    def done(self) -> bool:
        return self.index == self.num_calls - 1


class ChunkGate:
    """Chooses which calls of a long video are drawn: every call that made new frames clean (so the preview grows
    at least once a chunk), the first and the last, and otherwise what `throttle` lets through."""

    def __init__(self, throttle: Callable[[int, int], bool] | None = None):
        self.throttle = throttle
        self.shown_done = -1  # clean frames at the last call drawn

    def __call__(self, index: int, num_calls: int, done: int) -> bool:
        grew = done > self.shown_done
        if grew or index in (0, num_calls - 1) or (self.throttle is not None and self.throttle(index, num_calls)):
            self.shown_done = max(self.shown_done, done)
            return True
        return False


def stream_long(pipe: Pipeline, request: GenerationRequest, motion, throttle: Callable[[int, int], bool] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> Iterator[LongUpdate]:
    """Make the request's long video with `pipe` (a model that `makes_long`) along `motion`, with its own method and
    steps per frame, and yield a LongUpdate for every call, recording every window for the step viewer."""
    method, steps = pipe.default_long
    frames = request.frames
    gate = ChunkGate(throttle)
    windows_x, windows_pred, calls, levels, done = [], [], [], [], []
    start = clock()
    for out in pipe.iter_long_steps(request.prompt, frames=frames, motion=motion, seed=request.seed,
                                    guidance_scale=request.guidance_scale, method=method, steps=steps):
        s = out.call.start
        w = out.pred_x0.shape[1]
        # out.x is the engine's own buffer, changed by later calls: everything kept is copied to uint8 now
        window_x = to_uint8(out.x[0, s : s + w])  # (W, H, W)
        window_pred = to_uint8(out.pred_x0[0])  # (W, H, W)
        made = min(out.done, frames)
        windows_x.append(window_x)
        windows_pred.append(window_pred)
        calls.append(out.call)
        levels.append(out.levels[:frames])
        done.append(made)
        last = out.index == out.num_calls - 1
        show = last or gate(out.index, out.num_calls, made)
        seconds = clock() - start
        clean = to_uint8(out.x[0, :made]) if show else np.empty((0, *window_x.shape[1:]), np.uint8)  # (done, H, W)
        run = None
        if last:
            highest = np.array([lv[c.start : c.start + w].max() for lv, c in zip(levels, calls)], dtype=np.int64)  # (S,)
            trajectory = Trajectory(highest, np.stack(windows_x), np.stack(windows_pred), seconds)
            run = LongRun(request, trajectory, clean, calls, np.stack(levels), np.array(done), method, steps)
        yield LongUpdate(out.index, out.num_calls, out.call, seconds, clean, window_x, window_pred, out.levels[:frames], show, run)


def run_long(pipe: Pipeline, request: GenerationRequest, motion) -> LongRun:
    """The whole long video at once (cached examples)."""
    for update in stream_long(pipe, request, motion):
        pass
    return update.run
