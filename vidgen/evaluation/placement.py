"""Where each glyph of a generated video stands, against where the renderer puts it along the same motion.

For glyph i of a prompt moving along a motion, its window in frame f is its ink box (`glyph_boxes`, at the
motion's size, moved by the frame's strip corner) grown by REACH pixels, in the frames where that box lies
wholly on screen. The glyph's offset is the shift (dx, dy) of the true render that best matches the video
over those windows (least squared error over whole-pixel shifts within REACH, refined to a fraction of a
pixel by a parabola through the best shift and its neighbours, per axis). Neighbouring glyphs move with
the shift, and a window holds mostly its own glyph, so the figure is the glyph's own. A glyph the model
draws where the truth has it scores (0, 0); one that stands off by the widths a model added up scores
that distance. Glyphs never wholly on screen (impossible along a motion that keeps the world's
invariant) and spaces are skipped.
"""
from __future__ import annotations

import numpy as np

from ..data.shape import HEIGHT, WIDTH
from ..data.world import Motion, glyph_boxes, inked, render_motion, world_prompt

REACH = 3  # pixels: the largest offset measured either way, and the margin around each glyph's window


def _shifted(video: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """video (T, H, W) moved by (dx, dy) pixels, zeros where nothing moves in."""
    out = np.zeros_like(video)
    h, w = video.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = video[:, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    return out


def _refine(e_minus: float, e0: float, e_plus: float) -> float:
    """Sub-pixel offset of a minimum from three errors at -1, 0, +1 (a parabola's vertex, within half a pixel)."""
    curve = e_minus - 2 * e0 + e_plus
    return 0.0 if curve <= 0 else float(np.clip(0.5 * (e_minus - e_plus) / curve, -0.5, 0.5))


def glyph_offsets(video: np.ndarray, prompt: str, motion: Motion) -> np.ndarray:
    """uint8 (T, H, W) video of `prompt` along `motion` -> (n, 2) float offset (dx, dy) in pixels of each
    glyph from where the renderer puts it (NaN for a space or a glyph never wholly on screen)."""
    prompt = world_prompt(prompt)
    truth = render_motion(prompt, motion).astype(np.float32)
    video = np.asarray(video, dtype=np.float32)
    boxes = glyph_boxes(prompt, motion.size)  # (n, 4) strip pixels
    shifts = [(dx, dy) for dy in range(-REACH, REACH + 1) for dx in range(-REACH, REACH + 1)]
    moved = {s: _shifted(truth, *s) for s in shifts}
    out = np.full((len(prompt), 2), np.nan)
    xs, ys = np.asarray(motion.xs), np.asarray(motion.ys)
    for i, (left, top, right, bottom) in enumerate(boxes):
        if not inked(boxes[i : i + 1])[0]:
            continue
        mask = np.zeros(video.shape, dtype=bool)
        for f, (x, y) in enumerate(zip(xs, ys)):
            if x + left >= 0 and x + right <= WIDTH and y + top >= 0 and y + bottom <= HEIGHT:
                mask[f, max(y + top - REACH, 0) : y + bottom + REACH, max(x + left - REACH, 0) : x + right + REACH] = True
        if not mask.any():
            continue
        err = {s: float(((moved[s] - video)[mask] ** 2).sum()) for s in shifts}
        dx, dy = min(err, key=err.get)
        fx = _refine(err[(dx - 1, dy)], err[(dx, dy)], err[(dx + 1, dy)]) if abs(dx) < REACH else 0.0
        fy = _refine(err[(dx, dy - 1)], err[(dx, dy)], err[(dx, dy + 1)]) if abs(dy) < REACH else 0.0
        out[i] = (dx + fx, dy + fy)
    return out


def placement_errors(videos, prompts: list[str], motions: list[Motion]) -> list[np.ndarray]:
    """Each video's glyph offsets (`glyph_offsets`): a list of (n_i, 2) arrays, one per video."""
    return [glyph_offsets(v, p, m) for v, p, m in zip(videos, prompts, motions)]


def placement_summary(offsets: list[np.ndarray]) -> dict:
    """The distance of each glyph from its place, pooled: mean, 99th percentile, largest, the share within
    1 px, and the mean by where the glyph stands along the strip (first, inner, last)."""
    dist = [np.hypot(o[:, 0], o[:, 1]) for o in offsets]
    pooled = np.concatenate([d[~np.isnan(d)] for d in dist]) if dist else np.zeros(0)
    if not len(pooled):
        return {"glyphs": 0}

    def mean_at(pick) -> float | None:
        vals = [v for d in dist for v in pick(d) if not np.isnan(v)]
        return round(float(np.mean(vals)), 3) if vals else None

    return {"glyphs": int(len(pooled)), "mean_px": round(float(pooled.mean()), 3),
            "p99_px": round(float(np.percentile(pooled, 99)), 3), "max_px": round(float(pooled.max()), 3),
            "within_1px": round(float((pooled <= 1.0).mean()), 4),
            "mean_px_first": mean_at(lambda d: d[:1]), "mean_px_inner": mean_at(lambda d: d[1:-1]),
            "mean_px_last": mean_at(lambda d: d[-1:] if len(d) > 1 else [])}
