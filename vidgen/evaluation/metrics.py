"""Scores for generated videos against the deterministic ground truth of their prompts.

Readability: sentence accuracy, character error rate (CER) and normalised edit distance (NED) of the
recognizer's reading. Fidelity: PSNR (the standard definition: one MSE over the whole video; the mean
of per-frame PSNRs is kept apart, named `psnr_per_frame`, because matching blank frames lift it) and
per-frame SSIM. Temporal consistency: per-frame horizontal
shift by phase correlation against the true scroll speed, and flicker (motion-compensated frame
difference). Distribution: a Frechet distance between feature sets, used on the recognizer's
features as "FD-recognizer (local stand-in for FVD, not comparable with published FVD)".

Videos are uint8 (T, H, W) numpy arrays unless a function says otherwise. numpy/torch only (no scipy).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from ..data.layout import scroll_offsets
from ..data.render import render_strip

FD_NAME = "FD-recognizer (local stand-in for FVD, not comparable with published FVD)"
PSNR_CAP = 60.0  # dB: a video (or, per frame, a frame) identical to the truth counts as 60 dB, not infinity
MIN_SHARED_COLUMNS = 8  # a frame pair's shift is measured only if the truth shares this many text columns


# ----------------------------------------------------------------------------- readability


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, each costing 1."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def character_error_rate(pred: str, target: str) -> float:
    """edit_distance / len(target): can exceed 1 when the reading is much longer than the target."""
    if not target:
        raise ValueError("character error rate needs a non-empty target")
    return edit_distance(pred, target) / len(target)


def normalized_edit_distance(pred: str, target: str) -> float:
    """edit_distance / max(len): in [0, 1], 0 for an exact read (AnyText reports 1 - this as 'NED')."""
    n = max(len(pred), len(target))
    return edit_distance(pred, target) / n if n else 0.0


def sentence_accuracy(preds: list[str], targets: list[str]) -> float:
    """Share of readings that equal the whole prompt."""
    if len(preds) != len(targets) or not targets:
        raise ValueError(f"need as many readings as targets (>= 1), got {len(preds)} and {len(targets)}")
    return float(np.mean([p == t for p, t in zip(preds, targets)]))


# ----------------------------------------------------------------------------- fidelity


def psnr_frames(video: np.ndarray, truth: np.ndarray, cap: float | None = PSNR_CAP) -> np.ndarray:
    """Per-frame PSNR in dB for uint8 (T, H, W) videos -> (T,); identical frames give `cap` (inf if None)."""
    _check_pair(video, truth)
    mse = ((video.astype(np.float64) - truth.astype(np.float64)) ** 2).mean(axis=(1, 2))  # (T,)
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(255.0**2 / mse)
    return np.minimum(out, cap) if cap is not None else out


def psnr_video(video: np.ndarray, truth: np.ndarray, cap: float | None = PSNR_CAP) -> float:
    """PSNR in dB of uint8 (T, H, W) videos with one MSE over every pixel of every frame (the standard
    definition); identical videos give `cap` (inf if None)."""
    _check_pair(video, truth)
    mse = float(((video.astype(np.float64) - truth.astype(np.float64)) ** 2).mean())
    out = float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
    return min(out, cap) if cap is not None else out


@functools.lru_cache(maxsize=4)
def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    g = torch.exp(-0.5 * ((torch.arange(size, dtype=torch.float64) - (size - 1) / 2) / sigma) ** 2)
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # (1, 1, k, k)


def ssim_frames(video: np.ndarray, truth: np.ndarray, window: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Per-frame SSIM (Wang et al. 2004: 11x11 Gaussian window, K1=0.01, K2=0.03, valid region) -> (T,)."""
    _check_pair(video, truth)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x = torch.from_numpy(video.astype(np.float64))[:, None]  # (T, 1, H, W)
    y = torch.from_numpy(truth.astype(np.float64))[:, None]
    w = _gaussian_window(window, sigma)
    mx, my = F.conv2d(x, w), F.conv2d(y, w)
    vx, vy = F.conv2d(x * x, w) - mx**2, F.conv2d(y * y, w) - my**2
    cxy = F.conv2d(x * y, w) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))  # (T, 1, H', W')
    return s.mean(dim=(1, 2, 3)).numpy()


def _check_pair(video: np.ndarray, truth: np.ndarray) -> None:
    if video.shape != truth.shape or video.ndim != 3:
        raise ValueError(f"need two (T, H, W) videos of one shape, got {video.shape} and {truth.shape}")


# ----------------------------------------------------------------------------- temporal consistency


def phase_correlation_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Translation (dy, dx) that moves image `a` onto image `b`, by phase correlation with a sub-pixel peak.

    Returns (nan, nan) when either image is flat (nothing to correlate).
    """
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    if not a.any() or not b.any():
        return float("nan"), float("nan")
    cross = np.fft.fft2(b) * np.conj(np.fft.fft2(a))
    corr = np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-12)).real  # (H, W), peak at the shift
    h, w = corr.shape
    py, px = np.unravel_index(np.argmax(corr), corr.shape)

    def refine(c_minus, c0, c_plus):  # parabola through the peak and its neighbours
        denom = c_minus - 2 * c0 + c_plus
        return 0.0 if denom == 0 else 0.5 * (c_minus - c_plus) / denom

    dy = py + refine(corr[(py - 1) % h, px], corr[py, px], corr[(py + 1) % h, px])
    dx = px + refine(corr[py, (px - 1) % w], corr[py, px], corr[py, (px + 1) % w])
    wrap = lambda d, n: d - n if d > n / 2 else d  # noqa: E731
    return float(wrap(dy, h)), float(wrap(dx, w))


def true_frame_shifts(prompt: str, frames: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The truth's per-pair horizontal shift (T-1,) and whether it is measurable (enough shared text)."""
    ws = render_strip(prompt).shape[1]
    x = scroll_offsets(ws, frames, width)  # (T,) left edge of the strip per frame
    lo, hi = np.maximum(-x, 0), np.minimum(width - x, ws)  # visible strip columns per frame
    shared = np.minimum(hi[:-1], hi[1:]) - np.maximum(lo[:-1], lo[1:])
    return np.diff(x).astype(np.float64), shared >= MIN_SHARED_COLUMNS


def frame_shifts(video: np.ndarray) -> np.ndarray:
    """Horizontal shift between consecutive frames by phase correlation -> (T-1,) px, nan where flat."""
    return np.array([phase_correlation_shift(video[f], video[f + 1])[1] for f in range(len(video) - 1)])


def scroll_speed_error(video: np.ndarray, prompt: str) -> dict:
    """Estimated vs true horizontal shift per frame pair, over the pairs where the truth shares text.

    A flat (empty) generated frame counts as the worst case: an error equal to the true speed.
    """
    true, measurable = true_frame_shifts(prompt, video.shape[0], video.shape[2])
    est = frame_shifts(video)
    err = np.abs(np.where(np.isnan(est), 0.0, est) - true)[measurable]
    return {
        "true_speed": float(-true[measurable].mean()),  # px/frame, leftwards positive
        "est_speed": float(-np.nanmedian(est[measurable])) if np.isfinite(est[measurable]).any() else float("nan"),
        "speed_abs_error": float(err.mean()),  # px/frame
        "speed_within_1px": float((err <= 1.0).mean()),  # share of frame pairs
    }


def _shift_left(frame: np.ndarray, d: int) -> np.ndarray:
    """Move a (H, W) frame d >= 0 pixels left, zero fill on the right."""
    out = np.zeros_like(frame)
    out[:, : frame.shape[1] - d] = frame[:, d:]
    return out


def flicker(video: np.ndarray, prompt: str) -> float:
    """Mean |x_{f+1} - warp(x_f)| over frame pairs, warped by the truth's shift, on pixels seen in both.

    Columns that enter the frame on the right have no earlier view and are left out, so the ground
    truth scores exactly 0 and any value above it is flicker, drift or a wrong speed. In [0, 255].
    """
    true, _ = true_frame_shifts(prompt, video.shape[0], video.shape[2])
    v = video.astype(np.float64)
    diffs = []
    for f, d in enumerate(-true.astype(np.int64)):
        keep = v.shape[2] - d  # columns of frame f+1 that frame f also showed
        if keep <= 0:
            continue
        diffs.append(np.abs(v[f + 1][:, :keep] - _shift_left(v[f], d)[:, :keep]).mean())
    return float(np.mean(diffs)) if diffs else 0.0


# ----------------------------------------------------------------------------- distribution


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (N, D) feature sets.

    Tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric PSD
    matrix, so symmetric eigendecompositions suffice.
    """
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two (N >= 2, D) feature arrays of one width, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ev, vecs = np.linalg.eigh(s_a)
    root_a = (vecs * np.sqrt(np.clip(ev, 0, None))) @ vecs.T  # S_a^(1/2)
    inner = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    tr_sqrt = np.sqrt(np.clip(inner, 0, None)).sum()
    fd = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * tr_sqrt
    return float(max(fd, 0.0))  # rank-deficient covariances can round a true 0 slightly below it


# ----------------------------------------------------------------------------- one video


def video_scores(video: np.ndarray, truth: np.ndarray, prompt: str) -> dict:
    """Every per-video figure that needs no recognizer: PSNR (whole video, and the per-frame mean apart),
    SSIM, scroll speed and flicker."""
    return {
        "psnr": psnr_video(video, truth),
        "psnr_per_frame": float(psnr_frames(video, truth).mean()),
        "ssim": float(ssim_frames(video, truth).mean()),
        **scroll_speed_error(video, prompt),
        "flicker": flicker(video, prompt),
        "flicker_truth": flicker(truth, prompt),
    }


def motion_video_scores(video: np.ndarray, truth: np.ndarray) -> dict:
    """The motion world's per-video figures: PSNR (whole video, and the per-frame mean apart), SSIM, and the
    mean distance in pixels between where the text is and where the truth has it (`tracking.position_errors`)."""
    from .tracking import position_errors

    return {
        "psnr": psnr_video(video, truth),
        "psnr_per_frame": float(psnr_frames(video, truth).mean()),
        "ssim": float(ssim_frames(video, truth).mean()),
        "position_error": float(np.nanmean(position_errors(video[None], truth[None]))),
    }


def reading_scores(reading: str, prompt: str) -> dict:
    """Per-video readability figures for one reading."""
    return {
        "read": reading,
        "exact": reading == prompt,
        "cer": character_error_rate(reading, prompt),
        "ned": normalized_edit_distance(reading, prompt),
    }
