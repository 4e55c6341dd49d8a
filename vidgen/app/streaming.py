"""A generation as a stream of step updates for the page: which steps are drawn, and the finished run."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..pipeline import Pipeline
from ..trajectory import Trajectory, TrajectoryRecorder
from .requests import GenerationRequest


class PreviewThrottle:
    """Chooses which steps are drawn: the first, the last, and otherwise at most one every
    `min_interval` seconds, so a fast model is not held back by drawing and sending previews."""

    def __init__(self, min_interval: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.min_interval = min_interval
        self.clock = clock
        self._last: float | None = None

    def __call__(self, index: int, num_steps: int) -> bool:
        now = self.clock()
        due = self._last is None or now - self._last >= self.min_interval
        if index == 0 or index == num_steps - 1 or due:
            self._last = now
            return True
        return False


@dataclass
class Run:
    """A finished generation: what was asked for and every step of it (for the step viewer)."""

    request: GenerationRequest
    trajectory: Trajectory


@dataclass
class StepUpdate:
    """What one denoising step hands to the page. `show` says whether to draw it; `run` is set on the
    last step only."""

    index: int
    num_steps: int
    t: int
    seconds: float  # since sampling started
    x_t: np.ndarray  # (T, H, W) uint8
    pred_x0: np.ndarray  # (T, H, W) uint8
    show: bool
    run: Run | None = None
    latent: np.ndarray | None = None  # a latent model's x_t, its channels tiled (T, H'', W'') uint8

    @property
    def done(self) -> bool:
        return self.index == self.num_steps - 1


def stream_generation(pipe: Pipeline, request: GenerationRequest, throttle: Callable[[int, int], bool] | None = None,
                      clock: Callable[[], float] = time.perf_counter) -> Iterator[StepUpdate]:
    """Run the sampler for one prompt and yield a StepUpdate for every step, recording the trajectory."""
    start = clock()
    rec = TrajectoryRecorder()
    motion = request.motion_of(pipe)
    for out in pipe.iter_steps(request.prompt, motion=motion, **request.sampling_kwargs()):
        rec.add(out)
        last = out.index == out.num_steps - 1
        show = last or throttle is None or throttle(out.index, out.num_steps)
        seconds = clock() - start
        run = Run(request, rec.trajectory(seconds)) if last else None
        yield StepUpdate(out.index, out.num_steps, out.t, seconds, rec.x_t[out.index], rec.pred_x0[out.index], show, run,
                         None if rec.latent is None else rec.latent[out.index])


def run_generation(pipe: Pipeline, request: GenerationRequest) -> Run:
    """The whole run at once (cached examples, benchmarks)."""
    for update in stream_generation(pipe, request):
        pass
    return update.run
