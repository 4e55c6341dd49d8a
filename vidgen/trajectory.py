"""One sampling trajectory as uint8 video: what the CLI, the app's step viewer and the probes keep of
a run of `Pipeline.iter_steps`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from einops import rearrange

from .data.render import to_uint8
from .data.video_io import frames_grid
from .diffusion.sampler import StepOutput


@dataclass
class Trajectory:
    """Every step of one sample. x_t[i] is the sample after step i (so x_t[-1] is the result),
    pred_x0[i] the model's guess of the clean video at that step, timesteps[i] the t it started from."""

    timesteps: np.ndarray  # (S,) int64
    x_t: np.ndarray  # (S, T, H, W) uint8
    pred_x0: np.ndarray  # (S, T, H, W) uint8
    seconds: float = 0.0  # sampling wall time, where the recorder was told it
    latent: np.ndarray | None = None  # a latent model's x_t itself, its channels tiled (`latent_tiles`): (S, T, H'', W'') uint8

    @property
    def num_steps(self) -> int:
        return len(self.timesteps)

    @property
    def video(self) -> np.ndarray:
        """The generated video, uint8 (T, H, W)."""
        return self.x_t[-1]

    def frames(self, which: str) -> np.ndarray:
        """'x_t' or 'pred_x0' -> (S, T, H, W)."""
        if which not in ("x_t", "pred_x0"):
            raise ValueError(f"unknown trajectory field {which!r}; known: x_t, pred_x0")
        return self.x_t if which == "x_t" else self.pred_x0

    def grid(self, columns: list[int] | None = None, which: str = "x_t", scale: int = 4) -> np.ndarray:
        """The blog's Figure 1: frames as rows, the chosen steps as columns -> uint8 (H', W')."""
        columns = grid_columns(self.num_steps) if columns is None else columns
        frames = self.frames(which)
        return frames_grid([frames[i] for i in columns], scale=scale)


def grid_columns(num_steps: int, count: int = 8) -> list[int]:
    """`count` step indices spread evenly from the first step to the last (fewer if there are fewer steps)."""
    if num_steps < 1:
        raise ValueError("a trajectory has at least one step")
    return sorted({int(round(i)) for i in np.linspace(0, num_steps - 1, min(count, num_steps))})


LATENT_SPAN = 3.0  # a normalised latent (unit variance per channel) is drawn from -3 (black) to +3 (white)


def latent_tiles(latent) -> np.ndarray:
    """One latent (C, T, H', W') -> uint8 (T, rows * H', cols * W'): its channels as a near-square grid of tiles,
    each from -LATENT_SPAN to +LATENT_SPAN, so a learner sees what a latent model denoises."""
    z = np.asarray(latent.detach().float().cpu() if hasattr(latent, "detach") else latent, dtype=np.float32)
    c = z.shape[0]
    cols = int(np.ceil(np.sqrt(c)))
    rows = -(-c // cols)
    z = np.concatenate([z, np.zeros((rows * cols - c, *z.shape[1:]), np.float32)])  # blank tiles fill the grid
    grid = rearrange(z, "(r k) t h w -> t (r h) (k w)", r=rows, k=cols)
    return np.round((np.clip(grid / LATENT_SPAN, -1, 1) + 1) * 127.5).astype(np.uint8)


class TrajectoryRecorder:
    """Collects one sample's steps from `iter_steps` into a Trajectory; `count` says how many so far."""

    def __init__(self, sample: int = 0):
        self.sample = sample  # which sample of the batch to record
        self.x_t = self.pred_x0 = self.timesteps = None  # (S, T, H, W) uint8, (S, T, H, W) uint8, (S,) int64
        self.latent = None  # (S, T, H'', W'') uint8: a latent model's x_t tiled (latent_tiles), else None
        self.count = 0  # steps recorded so far

    def add(self, out: StepOutput) -> None:
        if self.x_t is None:  # allocate once the number of steps is known
            shape = (out.num_steps, *out.x_t.shape[1:])  # (S, T, H, W)
            self.x_t, self.pred_x0 = np.empty(shape, np.uint8), np.empty(shape, np.uint8)
            self.timesteps = np.empty(out.num_steps, np.int64)
        if out.latent_x_t is not None:
            tiles = latent_tiles(out.latent_x_t[self.sample])
            if self.latent is None:
                self.latent = np.empty((out.num_steps, *tiles.shape), np.uint8)
            self.latent[out.index] = tiles
        self.x_t[out.index] = to_uint8(out.x_t[self.sample])
        self.pred_x0[out.index] = to_uint8(out.pred_x0[self.sample])
        self.timesteps[out.index] = out.t
        self.count = out.index + 1

    def trajectory(self, seconds: float = 0.0) -> Trajectory:
        """The steps recorded so far (all of them once the last step is in)."""
        if self.x_t is None:
            raise ValueError("no step recorded yet")
        n = self.count
        return Trajectory(self.timesteps[:n], self.x_t[:n], self.pred_x0[:n], seconds,
                          None if self.latent is None else self.latent[:n])
