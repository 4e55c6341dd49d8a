"""Where the text is in a video, measured from its pixels alone: the motion world's tracker.

The text moves rigidly (a translation per frame, one size), so consecutive frames differ by a shift. For
each pair of frames that show text, the shift is the one that best matches them where both see (the
ink they share minus their squared difference, `_match_scores`), searched
exhaustively over [-MAX_SHIFT, MAX_SHIFT]^2 pixels (as one grouped convolution), to whole pixels (a
parabola through the peak would bias the shift of text entering or leaving the frame, and the bias
accumulates along the chain). Frames with almost no ink
(the text not yet in, or gone) are skipped and the shift bridges them. Chaining the shifts gives every
frame's position relative to the first frame with text: `track`.

What the metrics read from a track: the video's mean velocity and path speed (variety, vidgen.evaluation
.motion_metrics), a canvas of the frames laid back onto the text (`stitch`, what the motion reader reads),
and, against a rendered truth, each frame's position error (`position_errors`, adherence).

Layouts: videos (B, T, H, W) uint8 or float in [0, 1]; positions (B, T, 2) float (x, y) in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.render import as_unit_float
from ..data.shape import HEIGHT, WIDTH

MAX_SHIFT = 10  # pixels a frame: the world's fastest paths (6 px a frame, plus a bounce's hop) stay inside
INK_FLOOR = 0.25  # pixel values below this (of 1) are background
EMPTY_INK = 0.05  # a frame with less ink than this share of the video's inkiest frame shows no text


@dataclass
class Track:
    """Per video: positions (B, T, 2) of the text in each frame relative to the first frame with text,
    NaN where a frame shows none; shows (B, T) bool: the frames that show text."""

    positions: np.ndarray
    shows: np.ndarray

    def velocity(self) -> np.ndarray:
        """(B, 2) mean velocity in pixels a frame: from the first to the last frame with text."""
        out = np.zeros((len(self.shows), 2))
        for b, (pos, shows) in enumerate(zip(self.positions, self.shows)):
            idx = np.flatnonzero(shows)
            if len(idx) >= 2:
                out[b] = (pos[idx[-1]] - pos[idx[0]]) / (idx[-1] - idx[0])
        return out

    def path_speed(self) -> np.ndarray:
        """(B,) mean distance travelled a frame along the path (between frames that show text)."""
        out = np.zeros(len(self.shows))
        for b, (pos, shows) in enumerate(zip(self.positions, self.shows)):
            idx = np.flatnonzero(shows)
            if len(idx) >= 2:
                out[b] = np.linalg.norm(np.diff(pos[idx], axis=0), axis=1).sum() / (idx[-1] - idx[0])
        return out


def _correlations(a: torch.Tensor, b: torch.Tensor, reach: int) -> torch.Tensor:
    """a, b (N, H, W) -> (N, 2R+1, 2R+1) cross-correlation: [dy, dx] = sum_p a(p) b(p + (dx, dy))."""
    n = a.shape[0]
    padded = F.pad(b, (reach, reach, reach, reach))[None]  # (1, N, H+2R, W+2R)
    return F.conv2d(padded, a[:, None], groups=n)[0]  # (N, 2R+1, 2R+1)


def _match_scores(a: torch.Tensor, b: torch.Tensor, reach: int) -> torch.Tensor:
    """How well frame b shows frame a's content moved by (dx, dy), comparing only where both frames see:
    the ink they share minus their squared difference there, (N, 2R+1, 2R+1). The shift that brings
    text partly out of (or into) the frame scores its visible part exactly, so text entering or leaving
    is tracked as well as text in the middle."""
    ones = torch.ones_like(a)
    shared = _correlations(a, b, reach)  # sum a(p) b(p + d) over the overlap
    a_seen = _correlations(a * a, ones, reach)  # sum of a^2 where p + d is inside the frame
    b_seen = _correlations(ones, b * b, reach)  # sum of b^2 where q - d is inside the frame
    return 3 * shared - a_seen - b_seen  # = shared - sum (a - b)^2 over the overlap


def _peak(scores: torch.Tensor, reach: int, refine: bool = True) -> np.ndarray:
    """(N, 2R+1, 2R+1) -> (N, 2) (dx, dy) of each map's maximum, refined by a parabola along each axis
    unless refine is False."""
    n, k, _ = scores.shape
    flat = scores.reshape(n, -1).argmax(dim=1)
    iy, ix = (flat // k).numpy(), (flat % k).numpy()
    s = scores.numpy().astype(np.float64)
    out = np.zeros((n, 2))
    for i in range(n):
        y, x = iy[i], ix[i]
        fx = fy = 0.0
        if refine and 0 < x < k - 1:
            l, c, r = s[i, y, x - 1], s[i, y, x], s[i, y, x + 1]
            denom = l - 2 * c + r
            fx = 0.5 * (l - r) / denom if denom < 0 else 0.0
        if refine and 0 < y < k - 1:
            u, c, d = s[i, y - 1, x], s[i, y, x], s[i, y + 1, x]
            denom = u - 2 * c + d
            fy = 0.5 * (u - d) / denom if denom < 0 else 0.0
        out[i] = (x - reach + fx, y - reach + fy)
    return out


def _ink(videos) -> torch.Tensor:
    """Videos -> float in [0, 1] with the faint background (below INK_FLOOR) set to 0, so a generated
    video's grain neither makes an empty frame look like text nor pulls the matches."""
    v = as_unit_float(videos)
    return torch.where(v < INK_FLOOR, torch.zeros_like(v), v)


@torch.no_grad()
def track(videos) -> Track:
    """Videos (B, T, H, W) -> the text's position in every frame (see Track)."""
    v = _ink(videos)  # (B, T, H, W)
    ink = v.sum(dim=(2, 3))  # (B, T)
    shows = (ink > EMPTY_INK * ink.amax(dim=1, keepdim=True).clamp(min=1e-6)).numpy()
    b, frames = shows.shape
    positions = np.full((b, frames, 2), np.nan)
    pairs, where = [], []  # consecutive frames with text: (video, from, to)
    for i in range(b):
        idx = np.flatnonzero(shows[i])
        if len(idx):
            positions[i, idx[0]] = 0.0
        for f0, f1 in zip(idx[:-1], idx[1:]):
            pairs.append((i, f0, f1))
    if pairs:
        for reach in sorted({MAX_SHIFT * int(f1 - f0) for _, f0, f1 in pairs}):  # a gap of k frames: k times the reach
            group = [p for p in pairs if MAX_SHIFT * int(p[2] - p[1]) == reach]
            a = torch.stack([v[i, f0] for i, f0, _ in group])
            c = torch.stack([v[i, f1] for i, _, f1 in group])
            for (i, f0, f1), d in zip(group, _peak(_match_scores(a, c, reach), reach, refine=False)):
                where.append((i, f0, f1, d))
        where.sort(key=lambda w: (w[0], w[1]))
        for i, f0, f1, d in where:
            positions[i, f1] = positions[i, f0] + d
    return Track(positions, shows)


@torch.no_grad()
def stitch(videos, trk: Track, height: int = 32, width: int = 192) -> torch.Tensor:
    """Lay every frame that shows text back onto the text (shifted by minus its tracked position, to whole
    pixels) and average: a still image of the text, cropped to a window of (height, width) pixels whose
    rows are centred on the ink and whose columns start just left of it -> (B, height, width) in [0, 1]."""
    v = as_unit_float(videos)
    b, frames = trk.shows.shape
    out = torch.zeros(b, height, width)
    for i in range(b):
        idx = np.flatnonzero(trk.shows[i])
        if not len(idx):
            continue
        pos = np.rint(trk.positions[i, idx]).astype(np.int64)  # (K, 2)
        lo = pos.min(axis=0)
        span = pos.max(axis=0) - lo
        canvas = torch.zeros(HEIGHT + span[1], WIDTH + span[0])
        count = torch.zeros_like(canvas)
        for f, (x, y) in zip(idx, pos - lo):  # text coordinates: a frame at position p starts at canvas x = span - (p - lo)
            cx, cy = span[0] - x, span[1] - y
            canvas[cy : cy + HEIGHT, cx : cx + WIDTH] += v[i, f]
            count[cy : cy + HEIGHT, cx : cx + WIDTH] += 1
        canvas = canvas / count.clamp(min=1)
        mass = canvas * (canvas > 0.25)
        if mass.sum() <= 0:
            continue
        rows = torch.arange(canvas.shape[0], dtype=torch.float32)
        centre = int(round(float((mass.sum(1) * rows).sum() / mass.sum())))
        cols = torch.nonzero(mass.sum(0) > 0).flatten()
        left = max(int(cols.min()) - 2, 0)
        top = centre - height // 2
        src = canvas[max(top, 0) : top + height, left : left + width]
        out[i, max(-top, 0) : max(-top, 0) + src.shape[0], : src.shape[1]] = src
    return out


@torch.no_grad()
def position_errors(videos, truths) -> np.ndarray:
    """Per frame, how far the text of each video is from where it is in the truth video: (B, T) pixels,
    the length of the shift that best aligns the two frames (NaN where the truth shows no text)."""
    v, t = _ink(videos), _ink(truths)
    b, frames = v.shape[:2]
    ink = t.sum(dim=(2, 3))  # (B, T)
    shows = (ink > EMPTY_INK * ink.amax(dim=1, keepdim=True).clamp(min=1e-6)).flatten().numpy()
    shifts = _peak(_correlations(t.flatten(0, 1), v.flatten(0, 1), MAX_SHIFT), MAX_SHIFT)  # (B*T, 2)
    err = np.linalg.norm(shifts, axis=1)
    err[~shows] = np.nan
    return err.reshape(b, frames)
