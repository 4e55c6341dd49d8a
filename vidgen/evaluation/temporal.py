"""Seed 004's motion KPIs, measured against the motion world's truth (issue 34, section 3).

Seed 004 ("Video Diffusion: The Fourth Dimension", Act III) scores motion with warping error ("how much
the image tears when objects move"), a flow consistency score ("do the motion vectors match the laws
of physics") and a temporal FID ("the distribution of changes between frames against real footage").
In this world the truth is exact: the text translates rigidly by an integer step each frame
(`Motion.velocities`) over a static black background, so the true flow of a frame pair is one vector.

- `warping_errors` / `warping_error`: frame f moved by the true step against frame f+1, mean squared
  error over the pixels frame f saw (Lai et al. 2018, "Learning Blind Video Temporal Consistency", E_warp:
  the L2 error of the flow-warped frame on non-occluded pixels); `mawe`: the same over the mean squared flow.
- `flicker`: VBench's temporal flickering score (Huang et al. 2024, Vchitect/VBench
  `vbench/temporal_flickering.py`, `cal_score`): (255 - mean absolute frame difference) / 255.
- `flow_errors` / `flow_consistency`: each pair's step measured from the pixels (the tracker's exhaustive
  integer shift search, vidgen.evaluation.tracking) against the true step, end-point error in pixels.
- `TemporalEncoder` and `temporal_features` / `frechet_distance`: a temporal FID of this world, the
  Frechet distance between features of frame differences from a small CNN trained on true videos to
  name each pair's step and to spot clips whose frames were swapped (its training is
  vidgen.training.temporal_encoder: `python -m vidgen train-temporal-encoder`).
- `swap_two_frames`, `separation`, `frechet_separation`: what the issue asks of every KPI, that it tells
  true videos from the same videos with two frames swapped (and by what margin).

Layouts: a video is uint8 (T, H, W) in [0, 255] (float input is taken as already in [0, 1]); errors are in
[0, 1] intensity units squared, flows in pixels (dx, dy) with y down; clips are (B, CLIP_FRAMES, H, W) float
in [0, 1]; features (N, D) float64.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from ..checkpoint import CONFIG_NAME, CheckpointError, atomic_write_json, load_tensors, read_json, save_tensors
from ..data.shape import HEIGHT, WIDTH
from ..data.world import Motion
from ..paths import CHECKPOINTS_DIR
from .metrics import frechet_distance  # the one FD of vidgen: ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))
from .tracking import track

__all__ = [
    "warping_errors", "warping_error", "mawe", "flicker", "flow_errors", "flow_consistency",
    "TemporalEncoderConfig", "TemporalEncoder", "save_temporal_encoder", "load_temporal_encoder", "clip_features",
    "temporal_features", "frechet_distance",
    "swap_frames", "swap_two_frames", "separation", "frechet_separation",
]

MIN_MEAN_SQUARED_FLOW = 1.0  # px^2: MAWE's denominator floor, so a still video scores its plain warping error
CLIP_FRAMES = 4  # frames the temporal encoder sees at once: 3 frame differences
TEMPORAL_FORMAT = "vidgen-temporal-encoder-1"  # config.json "format" of a saved encoder
WEIGHTS_NAME = "temporal_encoder.safetensors"  # beside its CONFIG_NAME
DEFAULT_DIR = CHECKPOINTS_DIR / "temporal-encoder"


def _unit(video) -> np.ndarray:
    """A video (T, H, W), uint8 or float in [0, 1] -> float64 in [0, 1]."""
    v = np.asarray(video)
    if v.ndim != 3 or v.shape[0] < 2:
        raise ValueError(f"expected one video (T >= 2, H, W), got shape {v.shape}")
    return v.astype(np.float64) / 255.0 if v.dtype == np.uint8 else v.astype(np.float64)


def _true_steps(video: np.ndarray, motion: Motion) -> np.ndarray:
    """(T-1, 2) the true integer step (dx, dy) of each frame pair, after checking the lengths agree."""
    if motion.frames != len(video):
        raise ValueError(f"the motion has {motion.frames} frames but the video {len(video)}")
    return motion.velocities


# ----------------------------------------------------------------------------- warping error


def warping_errors(video, motion: Motion) -> np.ndarray:
    """Per frame pair: frame f moved by the true step d_f, mean squared error against frame f+1 -> (T-1,).

    warp(x_f)(p) = x_f(p - d_f); pixels p whose source p - d_f lies outside the frame were never seen by
    frame f (text entering), so they are masked out. A pair with no valid pixel (|d_f| >= the frame) is NaN.
    In [0, 1] intensity units squared; a true render of the motion scores exactly 0 on every pair.
    """
    v = _unit(video)  # (T, H, W)
    steps = _true_steps(v, motion)  # (T-1, 2)
    _, h, w = v.shape
    out = np.full(len(steps), np.nan)
    for f, (dx, dy) in enumerate(steps):
        y0, y1, x0, x1 = max(dy, 0), min(h, h + dy), max(dx, 0), min(w, w + dx)  # target pixels with a source
        if y1 <= y0 or x1 <= x0:
            continue
        target = v[f + 1, y0:y1, x0:x1]
        warped = v[f, y0 - dy : y1 - dy, x0 - dx : x1 - dx]
        out[f] = float(np.mean((warped - target) ** 2))
    return out


def warping_error(video, motion: Motion) -> float:
    """Mean of `warping_errors` over the pairs that have valid pixels (NaN if none has)."""
    e = warping_errors(video, motion)
    return float(np.nanmean(e)) if np.isfinite(e).any() else float("nan")


def mawe(video, motion: Motion) -> float:
    """Motion-adjusted warping error: warping error / max(mean_f |d_f|^2, MIN_MEAN_SQUARED_FLOW).

    d_f is the true step of pair f in pixels; the mean runs over the pairs the warping error counts. The
    same tear costs more when the text barely moves (a near-still model cannot hide behind low motion).
    Zero flow is not divided by: the denominator is floored at 1 px^2, so a still video scores its plain
    warping error (the smallest non-zero integer step has |d|^2 = 1, so moving videos are never floored
    pair by pair, only ones that stand still most of the time).
    """
    v = _unit(video)
    e = warping_errors(v, motion)
    ok = np.isfinite(e)
    if not ok.any():
        return float("nan")
    steps = _true_steps(v, motion)[ok].astype(np.float64)  # (P, 2)
    mean_sq_flow = float((steps ** 2).sum(axis=1).mean())
    return float(e[ok].mean() / max(mean_sq_flow, MIN_MEAN_SQUARED_FLOW))


# ----------------------------------------------------------------------------- flicker


def flicker(video) -> float:
    """VBench's temporal flickering score in [0, 1], higher = less change between frames.

    VBench (Vchitect/VBench, vbench/temporal_flickering.py, `cal_score`) takes the mean absolute
    difference of consecutive frames in 0..255 units, MAE_f = mean_p |x_{f+1}(p) - x_f(p)|, and scores
    (255 - mean_f MAE_f) / 255. Here on the grayscale frame (VBench reads 3 equal channels of it, the same
    mean). VBench meant it for static scenes ("please ensure the video is static"): in this world the text's
    own motion counts as change, so compare a video with its truth rather than with 1.
    """
    v = _unit(video)  # (T, H, W) in [0, 1]: 1 - mean MAE / 255 in VBench's units
    return float(1.0 - np.abs(np.diff(v, axis=0)).mean(axis=(1, 2)).mean())


# ----------------------------------------------------------------------------- flow consistency


def flow_errors(video, motion: Motion) -> np.ndarray:
    """Per frame pair: |measured step - true step| in pixels (end-point error) -> (T-1,), NaN where the
    text is not visible in both frames.

    The measured step is the tracker's (vidgen.evaluation.tracking.track: every integer shift within
    +-MAX_SHIFT pixels, scored by the ink both frames share minus their squared difference where both
    see); "visible" is the tracker's: a frame with at least EMPTY_INK of the video's inkiest frame's ink.
    """
    v = _unit(video)
    steps = _true_steps(v, motion).astype(np.float64)  # (T-1, 2)
    trk = track(v[None].astype(np.float32))
    pos, shows = trk.positions[0], trk.shows[0]  # (T, 2), (T,)
    both = shows[:-1] & shows[1:]  # (T-1,)
    measured = np.diff(pos, axis=0)  # (T-1, 2): NaN where either frame shows no text
    out = np.full(len(steps), np.nan)
    out[both] = np.linalg.norm(measured[both] - steps[both], axis=1)
    return out


def flow_consistency(video, motion: Motion) -> float:
    """Mean end-point error in pixels of the measured frame-to-frame steps against the true motion (0 for
    a true video), over the pairs with text in both frames (NaN if there is none)."""
    e = flow_errors(video, motion)
    return float(np.nanmean(e)) if np.isfinite(e).any() else float("nan")


# ----------------------------------------------------------------------------- the temporal encoder


@dataclass(frozen=True)
class TemporalEncoderConfig:
    """Shape of the frame-difference encoder; stored as config.json beside the weights."""

    channels: tuple[int, int, int] = (32, 64, 96)  # conv widths at 32, 16 and 8 pixels
    feature_dim: int = 64  # D: the Frechet distance's feature width
    max_shift: int = 8  # steps are classified in [-R, R] per axis; larger ones fall in the end bins

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))  # lists from JSON
        if len(self.channels) != 3 or min(self.channels) < 1 or self.feature_dim < 1 or self.max_shift < 1:
            raise ValueError(f"need 3 positive channel widths, feature_dim >= 1 and max_shift >= 1, got "
                             f"{self.channels}, {self.feature_dim}, {self.max_shift}")

    @property
    def step_classes(self) -> int:
        return 2 * self.max_shift + 1


class TemporalEncoder(nn.Module):
    """Clips of CLIP_FRAMES frames -> a feature of their frame differences, plus the heads it is trained by:
    each pair's step (dx and dy, binned) and whether the clip's frames were swapped."""

    def __init__(self, cfg: TemporalEncoderConfig = TemporalEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.meta: dict = {}  # training facts and provenance when loaded (`load_temporal_encoder`)
        c1, c2, c3 = cfg.channels
        pairs = CLIP_FRAMES - 1
        self.convs = nn.Sequential(
            nn.Conv2d(pairs, c1, 3, padding=1), nn.GELU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.GELU(),  # 16 x 16
            nn.Conv2d(c2, c3, 3, stride=2, padding=1), nn.GELU(),  # 8 x 8
            nn.Conv2d(c3, c3, 3, padding=1), nn.GELU(),  # receptive field 23 px: a step of 8 px and its text
        )
        self.to_feature = nn.Linear(c3, cfg.feature_dim)
        self.step_head = nn.Linear(cfg.feature_dim, pairs * 2 * cfg.step_classes)
        self.swap_head = nn.Linear(cfg.feature_dim, 1)

    def embed(self, clips: torch.Tensor) -> torch.Tensor:
        """clips (B, CLIP_FRAMES, H, W) in [0, 1] -> features (B, D)."""
        diffs = clips[:, 1:] - clips[:, :-1]  # (B, K-1, H, W): the change between frames, in [-1, 1]
        x = self.convs(diffs)  # (B, c3, H/4, W/4)
        return self.to_feature(x.mean(dim=(2, 3)))  # (B, D)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (features (B, D), step logits (B, K-1, 2, 2R+1) over dx and dy, swap logit (B,))."""
        feats = self.embed(clips)
        steps = rearrange(self.step_head(F.gelu(feats)), "b (p a k) -> b p a k", p=CLIP_FRAMES - 1, a=2)
        return feats, steps, self.swap_head(F.gelu(feats))[:, 0]


def swap_frames(array: np.ndarray, i: int, j: int) -> np.ndarray:
    """A copy of `array` with its entries i and j along the first axis swapped (frames of a video, or positions)."""
    out = np.array(array, copy=True)
    out[[i, j]] = out[[j, i]]
    return out


def swap_two_frames(video, rng: np.random.Generator) -> np.ndarray:
    """A copy of `video` (T, H, W) with two distinct frames, drawn uniformly, swapped (the input is unchanged)."""
    v = np.asarray(video)
    if v.ndim != 3 or len(v) < 2:
        raise ValueError(f"expected one video (T >= 2, H, W), got shape {v.shape}")
    i, j = rng.choice(len(v), size=2, replace=False)
    return swap_frames(v, int(i), int(j))


def save_temporal_encoder(model: TemporalEncoder, out_dir, meta: dict | None = None) -> Path:
    """Weights as safetensors, config (and the training facts in `model.meta` and `meta`) as JSON; no pickle."""
    out = Path(out_dir)
    save_tensors(out / WEIGHTS_NAME, model.state_dict())
    facts = {k: v for k, v in {**model.meta, **(meta or {})}.items() if k not in ("path", "weights_sha256")}
    atomic_write_json(out / CONFIG_NAME, {**facts, "format": TEMPORAL_FORMAT, "model": asdict(model.cfg)})
    return out


def load_temporal_encoder(path=None) -> TemporalEncoder:
    """Rebuild an encoder from its config.json and load its weights (checkpoints/temporal-encoder unless
    `path`), in eval mode; `.meta` holds the JSON's other facts, the path and the weights' sha256."""
    d = DEFAULT_DIR if path is None else Path(path)
    raw = read_json(d / CONFIG_NAME)
    if raw.get("format") != TEMPORAL_FORMAT:
        raise CheckpointError(f"{d / CONFIG_NAME} is not a temporal encoder config (format={raw.get('format')!r})")
    try:
        cfg = TemporalEncoderConfig(**raw["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{d / CONFIG_NAME}: bad model section: {e}") from e
    model = TemporalEncoder(cfg)
    try:
        model.load_state_dict(load_tensors(d / WEIGHTS_NAME), strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{d / WEIGHTS_NAME} does not match its config: {e}") from e
    model.meta = {k: v for k, v in raw.items() if k not in ("model", "format")}
    model.meta.update(path=str(d), weights_sha256=hashlib.sha256((d / WEIGHTS_NAME).read_bytes()).hexdigest())
    return model.eval()


@torch.no_grad()
def clip_features(encoder: TemporalEncoder, video, batch_size: int = 256) -> np.ndarray:
    """Every run of CLIP_FRAMES consecutive frames of one video (T, H, W) -> features (T-K+1, D) float64."""
    v = _unit(video)
    if len(v) < CLIP_FRAMES or v.shape[1:] != (HEIGHT, WIDTH):
        raise ValueError(f"expected a video of at least {CLIP_FRAMES} frames of {HEIGHT}x{WIDTH}, got {v.shape}")
    clips = np.lib.stride_tricks.sliding_window_view(v, CLIP_FRAMES, axis=0)  # (C, H, W, K)
    clips = torch.from_numpy(np.ascontiguousarray(rearrange(clips, "c h w k -> c k h w"))).float()  # (C, K, H, W)
    feats = [encoder.embed(clips[lo : lo + batch_size]) for lo in range(0, len(clips), batch_size)]
    return torch.cat(feats).numpy().astype(np.float64)


def temporal_features(encoder: TemporalEncoder, videos) -> np.ndarray:
    """Videos (N, T, H, W), or a sequence of (T_i, H, W) of any lengths -> (N, D): each video's mean clip
    feature, the temporal FID's sample."""
    encoder.eval()
    return np.stack([clip_features(encoder, v).mean(axis=0) for v in videos])


# ----------------------------------------------------------------------------- separation


def separation(metric_fn: Callable[[np.ndarray, Motion], float], videos, motions: Sequence[Motion],
               rng: np.random.Generator, higher_is_better: bool = False) -> dict:
    """A per-video KPI on true videos against the same videos with two frames swapped (`swap_two_frames`).

    metric_fn(video, motion) -> float (wrap a video-only one: `lambda v, m: flicker(v)`). Returns the
    means "true" and "swapped", "margin" = how much better the true videos score on average (swapped -
    true for an error, true - swapped when higher_is_better; positive means the KPI prefers the truth),
    and "separated", the share of videos that score strictly better than their own swapped copy.
    """
    if len(videos) != len(motions) or not len(videos):
        raise ValueError(f"need one motion per video and at least one video, got {len(videos)} and {len(motions)}")
    true = np.array([metric_fn(v, m) for v, m in zip(videos, motions)])
    swapped = np.array([metric_fn(swap_two_frames(v, rng), m) for v, m in zip(videos, motions)])
    sign = 1.0 if higher_is_better else -1.0
    gain = sign * (true - swapped)  # (N,) > 0 where the true video scores better
    return {"true": float(np.nanmean(true)), "swapped": float(np.nanmean(swapped)),
            "margin": float(np.nanmean(gain)), "separated": float(np.mean(gain > 0)), "n": len(true)}


def frechet_separation(encoder: TemporalEncoder, videos, reference, rng: np.random.Generator) -> dict:
    """The temporal FID of true videos and of the same videos with two frames swapped, each against a
    `reference` set of other true videos: {"true", "swapped", "margin" = swapped - true}."""
    ref = temporal_features(encoder, reference)
    fd_true = frechet_distance(temporal_features(encoder, videos), ref)
    fd_swapped = frechet_distance(temporal_features(encoder, [swap_two_frames(v, rng) for v in videos]), ref)
    return {"true": fd_true, "swapped": fd_swapped, "margin": fd_swapped - fd_true, "n": len(videos)}
