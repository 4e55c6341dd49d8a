"""What a long video (vidgen.long) is measured by (docs/long.md): its text, its seams and its drift.

- readability of the whole video by two judges: the motion reader over the canvas stitched along the true
  motion, word by word, and the nearest render among one-symbol edits (vidgen.evaluation.long_reading);
- seams: at every pair of neighbouring frames, the generated frame-to-frame change against the truth's
  (mean squared difference of the two changes, intensities in [0, 1]); pairs whose frames were made by
  different chunks (LongStep.made_by) are boundaries, the rest inside; the figure is boundary / inside
  (1 = a boundary is no worse than any other pair; an independent chunk's boundary is far above);
- drift: PSNR against the truth by window of FRAMES frames, the last against the first;
- seed 004's motion KPIs on the generated video and on the truth (vidgen.evaluation.temporal).
"""
from __future__ import annotations

import numpy as np

from ..data.shape import FRAMES
from .metrics import psnr_video
from .temporal import flicker, flow_consistency, warping_error


def _unit(video: np.ndarray) -> np.ndarray:
    return np.asarray(video, dtype=np.float64) / 255.0


def pair_errors(video: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(N-1,) per pair of neighbouring frames: mean over pixels of (generated change - true change)^2, uint8 videos (N, H, W)."""
    if video.shape != truth.shape:
        raise ValueError(f"video {video.shape} and truth {truth.shape} differ in shape")
    g, r = _unit(video), _unit(truth)
    return ((np.diff(g, axis=0) - np.diff(r, axis=0)) ** 2).mean(axis=(1, 2))


def seams(video: np.ndarray, truth: np.ndarray, made_by: np.ndarray) -> dict:
    """The temporal error at chunk boundaries against inside chunks (see the module's docstring)."""
    made_by = np.asarray(made_by)[: len(video)]
    errors = pair_errors(video, truth)  # (N-1,)
    boundary = made_by[1:] != made_by[:-1]  # (N-1,)
    inside = errors[~boundary].mean() if (~boundary).any() else float("nan")
    at = errors[boundary].mean() if boundary.any() else float("nan")
    return {"boundary": float(at), "inside": float(inside), "pairs_at_boundaries": int(boundary.sum()),
            "ratio": float(at / inside) if boundary.any() and inside > 0 else float("nan")}


def window_psnr(video: np.ndarray, truth: np.ndarray, window: int = FRAMES) -> list[float]:
    """PSNR against the truth of each run of `window` frames from the start (the last run may be shorter)."""
    return [psnr_video(video[s : s + window], truth[s : s + window]) for s in range(0, len(video), window)]


def motion_kpis(video: np.ndarray, motion) -> dict:
    """Seed 004's motion KPIs of one video along its true motion."""
    return {"warping_error": warping_error(video, motion), "flicker": flicker(video), "flow_error_px": flow_consistency(video, motion)}
