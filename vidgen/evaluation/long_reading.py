"""Reading a long video's text (16-128 frames, a sentence of up to 24 symbols) with the true motion given.

Two judges, as for short videos, each scaled to a sentence:

- `long_reads`, the motion reader (checkpoints/recognizer-motion) over the stitched canvas. The reader was
  trained on canvases of at most 8 symbols that its tracker stitched from 16 frames; a sentence is three
  times wider than its window. So the frames are laid back onto the strip with the TRUE motion (each strip
  pixel: the mean, or median, of the frames that show it: `motion_canvas`), the canvas is cut between words
  (with the true glyph boxes, a small margin each side; a word wider than the reader's window, such as a
  prompt with no space, is cut between two of its glyphs: a whole word of 9 reads better than two halves), and each piece is laid out as the tracker's `stitch` lays a canvas (rows
  centred on the ink, its first ink column 2 px from the left) and read on its own. The sentence's reading
  is the pieces' readings joined by single spaces (a piece within a word joins its neighbour without one).
- `long_nearest_reads`, the nearest render, which learned nothing: among the prompt and every prompt one
  edit away with the spaces where they are (`word_edits`), the one whose render along the motion is closest
  to the video, each frame allowed 1 px of slack (the strip placed up to +-1 px off in x and y, the best of
  the 9 per frame per candidate). A neighbour whose render differs from the prompt's in too few visible
  pixels is no rival (nearest_render's rule). The 9 errors of every candidate in a frame come from two matrix
  products (`_frame_errors`): a 23-symbol prompt (~1600 candidates) over 128 frames takes 2-3 s on one thread,
  half of it drawing the candidates' strips.

Layouts: a long video uint8 (N, H, W) (or float in [0, 1]), N = its motion's frames; a canvas float (Hs, Ws)
in [0, 1] in the strip's pixels (`render_strip_at(prompt, motion.size)`); reader inputs (B, H, width) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import tokenizer as tok
from ..data.render import as_unit_float
from ..data.shape import HEIGHT, WIDTH
from ..data.world import Motion, glyph_boxes, render_strip_at, world_prompt
from .nearest_render import MIN_VISIBLE_PIXELS, VISIBLE_DIFFERENCE
from .recognizer import MOTION_DIR, TextReader, ctc_greedy_decode, default_reader
from .tracking import INK_FLOOR

CANVAS_REDUCERS = ("mean", "median")  # how the frames that show a strip pixel make its value
WORD_MARGIN = 2  # strip pixels kept either side of a word's ink (never past halfway to the next word's)
STITCH_LEFT = 2  # columns of background before the first ink column, as tracking.stitch lays a canvas
SLACK = 1  # pixels: how far off its true place the nearest render may put the strip in each frame


# ----------------------------------------------------------------------------- inputs


def check_long_inputs(videos, prompts, motions) -> list[tuple[torch.Tensor, str, Motion]]:
    """Pair each video with its prompt (as the world draws it) and motion, or raise ValueError saying which
    video does not fit: -> [(video float (N, H, W) in [0, 1], prompt, motion)]."""
    videos, prompts, motions = list(videos), list(prompts), list(motions)
    if not len(videos) == len(prompts) == len(motions):
        raise ValueError(f"need one prompt and one motion per video, got {len(videos)} videos, {len(prompts)} prompts "
                         f"and {len(motions)} motions")
    out = []
    for i, (video, prompt, motion) in enumerate(zip(videos, prompts, motions)):
        if not isinstance(motion, Motion):
            raise ValueError(f"video {i}: expected a vidgen.data.world.Motion, got {type(motion).__name__}")
        v = as_unit_float(video)
        if v.ndim != 3 or tuple(v.shape[1:]) != (HEIGHT, WIDTH):
            raise ValueError(f"video {i}: expected frames of shape (N, {HEIGHT}, {WIDTH}), got {tuple(v.shape)}")
        if v.shape[0] != motion.frames:
            raise ValueError(f"video {i} has {v.shape[0]} frames but its motion has {motion.frames}: give the motion "
                             "the video was made along")
        out.append((v, world_prompt(prompt), motion))
    return out


# ----------------------------------------------------------------------------- judge 1: the motion reader


def motion_canvas(video, prompt: str, motion: Motion, reduce: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """Lay every frame back onto the prompt's strip with the true motion: -> (canvas (Hs, Ws) float in
    [0, 1], seen (Hs, Ws) bool), each strip pixel the mean (or median) of the frames that show it, 0 if none."""
    if reduce not in CANVAS_REDUCERS:
        raise ValueError(f"unknown canvas reducer {reduce!r}; known: {', '.join(CANVAS_REDUCERS)}")
    v = as_unit_float(video)  # (F, H, W)
    hs, ws = render_strip_at(world_prompt(prompt), motion.size).shape
    # frame f shows strip pixel (r - ys[f], c - xs[f]) at its pixel (r, c)
    sy = torch.arange(HEIGHT)[None, :, None] - torch.tensor(motion.ys)[:, None, None]  # (F, H, 1)
    sx = torch.arange(WIDTH)[None, None, :] - torch.tensor(motion.xs)[:, None, None]  # (F, 1, W)
    inside = (sy >= 0) & (sy < hs) & (sx >= 0) & (sx < ws)  # (F, H, W)
    where = (sy * ws + sx)[inside]  # (K,) flat strip pixel of each frame pixel that shows the strip
    values = v[inside]  # (K,)
    count = torch.bincount(where, minlength=hs * ws)  # (Hs*Ws,)
    if reduce == "mean":
        flat = torch.bincount(where, weights=values.double(), minlength=hs * ws).float() / count.clamp(min=1)
    else:  # sort by (pixel, value): a pixel's values are then one run, its median in the run's middle
        order = torch.argsort(where.double() * 2 + values.double())  # values in [0, 1] keep the pixels apart
        sorted_values = values[order]
        start = torch.cumsum(count, 0) - count  # (Hs*Ws,) where each pixel's run begins
        lo = start + (count - 1).clamp(min=0) // 2
        hi = start + count // 2
        seen_flat = count > 0
        flat = torch.zeros(hs * ws)
        flat[seen_flat] = (sorted_values[lo[seen_flat]] + sorted_values[hi[seen_flat]]) / 2
    return flat.reshape(hs, ws), (count > 0).reshape(hs, ws)


def reader_pieces(prompt: str, size: int, max_width: int) -> list[tuple[int, int, int, int]]:
    """Where to cut the canvas of `prompt` at font `size` into pieces the reader reads: each word, a word whose
    ink is wider than `max_width` split into the fewest near-equal runs of glyphs that fit -> [(first symbol,
    end symbol, first column, end column)] in strip columns, WORD_MARGIN beyond the ink but never past
    halfway to the next piece's ink."""
    boxes = glyph_boxes(prompt, size)  # (n, 4) [left, top, right, bottom)

    def fits(a: int, b: int) -> bool:
        return int(boxes[a:b, 2].max() - boxes[a:b, 0].min()) <= max_width

    runs = []
    start = 0
    for word in prompt.split(tok.SPACE):
        for parts in range(1, len(word) + 1):  # a whole word reads best: the reader never learned a cut glyph
            cuts = [start + len(word) * k // parts for k in range(parts + 1)]
            if all(fits(a, b) for a, b in zip(cuts[:-1], cuts[1:])):
                break
        runs += list(zip(cuts[:-1], cuts[1:]))
        start += len(word) + 1
    ink = [(int(boxes[a:b, 0].min()), int(boxes[a:b, 2].max())) for a, b in runs]
    pieces = []
    for k, ((a, b), (lo, hi)) in enumerate(zip(runs, ink)):
        left = lo - WORD_MARGIN if k == 0 else max(lo - WORD_MARGIN, (ink[k - 1][1] + lo + 1) // 2)
        right = hi + WORD_MARGIN if k == len(runs) - 1 else min(hi + WORD_MARGIN, (hi + ink[k + 1][0] + 1) // 2)
        pieces.append((a, b, max(left, 0), right))
    return pieces


def reader_window(piece: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A piece of canvas (Hs, w) laid out as the tracker's stitch lays a canvas for the reader: rows centred
    on the ink (its mass-weighted mean row), the first ink column STITCH_LEFT from the left -> (height, width)."""
    out = torch.zeros(height, width)
    mass = piece * (piece > INK_FLOOR)
    if mass.sum() <= 0:
        return out
    rows = torch.arange(piece.shape[0], dtype=torch.float32)
    centre = int(round(float((mass.sum(1) * rows).sum() / mass.sum())))
    left = max(int(torch.nonzero(mass.sum(0) > 0).min()) - STITCH_LEFT, 0)
    top = centre - height // 2
    src = piece[max(top, 0) : top + height, left : left + width]
    out[max(-top, 0) : max(-top, 0) + src.shape[0], : src.shape[1]] = src
    return out


@torch.no_grad()
def long_reads(videos, prompts, motions, reader: TextReader | None = None, reduce: str = "mean",
               batch_size: int = 128) -> list[str]:
    """Long videos (each (N, H, W)) of `prompts` along their true `motions` -> what the motion reader reads in
    each: the words of its stitched canvas read one by one, joined by single spaces."""
    reader = default_reader(str(MOTION_DIR)) if reader is None else reader
    cfg = reader.model.cfg
    if cfg.reads != "motion":
        raise ValueError(f"long_reads needs a reader of moving text (reads='motion'), got one that reads {cfg.reads!r}")
    max_width = cfg.width - 2 * STITCH_LEFT  # a piece's ink with background either side, as the reader learned
    windows, joins = [], []  # per piece: its reader input, and what goes before its text
    for v, prompt, motion in check_long_inputs(videos, prompts, motions):
        canvas, _ = motion_canvas(v, prompt, motion, reduce)  # (Hs, Ws)
        for k, (a, _, left, right) in enumerate(reader_pieces(prompt, motion.size, max_width)):
            windows.append(reader_window(canvas[:, left:right], HEIGHT, cfg.width))
            joins.append(None if k == 0 else (tok.SPACE if prompt[a - 1] == tok.SPACE else ""))
    texts = []
    for lo in range(0, len(windows), batch_size):
        texts += ctc_greedy_decode(reader.model(torch.stack(windows[lo : lo + batch_size]))[0])  # (P, L, classes) logits
    out: list[str] = []
    for join, text in zip(joins, texts):
        if join is None:
            out.append(text)
        else:
            out[-1] += join + text
    return out


# ----------------------------------------------------------------------------- judge 2: the nearest render


def word_edits(prompt: str, max_len: int = tok.LONG_PROMPT_SLOTS) -> list[str]:
    """Every prompt one edit away from `prompt` with its spaces where they are: each symbol replaced by each
    other symbol, each symbol of a word of 2+ dropped, each symbol inserted anywhere (at most `max_len`
    symbols) -> without repeats and without `prompt`."""
    out: dict[str, None] = {}
    for i, ch in enumerate(prompt):
        if ch == tok.SPACE:
            continue
        for s in tok.SYMBOLS:
            out[prompt[:i] + s + prompt[i + 1 :]] = None
        alone = (i == 0 or prompt[i - 1] == tok.SPACE) and (i == len(prompt) - 1 or prompt[i + 1] == tok.SPACE)
        if not alone:  # dropping a one-symbol word would join two spaces
            out[prompt[:i] + prompt[i + 1 :]] = None
    if len(prompt) < max_len:
        for i in range(len(prompt) + 1):
            for s in tok.SYMBOLS:
                out[prompt[:i] + s + prompt[i:]] = None
    out.pop(prompt, None)
    return list(out)


def _strip_stack(candidates: list[str], size: int, rows: tuple[int, int], cols: tuple[int, int]) -> torch.Tensor:
    """Every candidate's strip at `size` on one grid of strip pixels rows [r0, r1) x cols [c0, c1) (zero where a
    strip has no pixel): uint8 (C, r1 - r0, c1 - c0)."""
    (r0, r1), (c0, c1) = rows, cols
    out = torch.zeros(len(candidates), r1 - r0, c1 - c0, dtype=torch.uint8)
    for k, c in enumerate(candidates):
        strip = render_strip_at.__wrapped__(c, size)  # uncached: ~1700 neighbours per prompt would flood the shared cache
        h, w = min(strip.shape[0], r1) - max(r0, 0), min(strip.shape[1], c1) - max(c0, 0)
        if h > 0 and w > 0:
            out[k, max(r0, 0) - r0 : max(r0, 0) - r0 + h, max(c0, 0) - c0 : max(c0, 0) - c0 + w] = torch.tensor(
                strip[max(r0, 0) : max(r0, 0) + h, max(c0, 0) : max(c0, 0) + w])
    return out


@dataclass
class NearestRead:
    """What the nearest render makes of one long video."""

    text: str  # the closest candidate
    margin: float  # the closest rival's error minus the prompt's: mean squared error per pixel, in 255^2 units
    candidates: int  # how many candidates were rivals (the prompt counted)


def _frame_errors(crops: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """crops (C, H+2s, W+2s) float: each candidate's strip around a frame's true place; frame (H, W) float ->
    (C,) the least squared error over the (2s+1)^2 placements, from two products:
    |strip_d - frame|^2 = <crop^2, box_d> - 2 <crop, frame placed at d> + |frame|^2."""
    span = 2 * SLACK + 1
    h, w = frame.shape
    boxes = torch.zeros(span * span, h + 2 * SLACK, w + 2 * SLACK)  # (D, H+2s, W+2s) the window at each placement
    placed = torch.zeros_like(boxes)  # the frame at each placement
    for d in range(span * span):
        oy, ox = divmod(d, span)
        boxes[d, oy : oy + h, ox : ox + w] = 1
        placed[d, oy : oy + h, ox : ox + w] = frame
    energy = crops.square().flatten(1) @ boxes.flatten(1).T  # (C, D)
    shared = crops.flatten(1) @ placed.flatten(1).T  # (C, D)
    return (energy - 2 * shared).amin(dim=1) + frame.square().sum()  # (C,)


@torch.no_grad()
def nearest_long_render(video, prompt: str, motion: Motion) -> NearestRead:
    """A long video (N, H, W) -> the closest of `prompt` and its `word_edits` rendered along `motion` (each
    frame with SLACK px of play), with the margin the prompt wins or loses by."""
    ((v, prompt, motion),) = check_long_inputs([video], [prompt], [motion])
    frames = v * 255.0  # (F, H, W) in 255 units, as the renders
    candidates = [prompt] + word_edits(prompt)
    xs, ys = np.asarray(motion.xs), np.asarray(motion.ys)
    # the strip pixels any frame may show at any placement: frame f's window starts at (-ys[f], -xs[f]) +- SLACK
    rows = (int((-ys).min()) - SLACK, int((-ys).max()) + HEIGHT + SLACK)
    cols = (int((-xs).min()) - SLACK, int((-xs).max()) + WIDTH + SLACK)
    strips = _strip_stack(candidates, motion.size, rows, cols)  # (C, R, K) uint8
    err = torch.zeros(len(candidates), dtype=torch.float64)  # (C,) summed over frames
    visible = torch.zeros(len(candidates), dtype=torch.int64)  # (C,) pixels where a render differs from the prompt's
    for f in range(motion.frames):
        r, c = -int(ys[f]) - SLACK - rows[0], -int(xs[f]) - SLACK - cols[0]
        crops = strips[:, r : r + HEIGHT + 2 * SLACK, c : c + WIDTH + 2 * SLACK].float()  # (C, H+2s, W+2s)
        err += _frame_errors(crops, frames[f]).double()
        centre = crops[:, SLACK : SLACK + HEIGHT, SLACK : SLACK + WIDTH]  # (C, H, W) the renders at the true place
        visible += ((centre - centre[0]).abs() > VISIBLE_DIFFERENCE).sum(dim=(1, 2))
    err /= motion.frames * HEIGHT * WIDTH
    rival = visible >= MIN_VISIBLE_PIXELS
    rival[0] = True
    err[~rival] = float("inf")  # a neighbour nobody could tell from the prompt is no rival
    best = int(torch.argmin(err))
    return NearestRead(candidates[best], float(err[1:].min() - err[0]), int(rival.sum()))


def long_nearest_reads(videos, prompts, motions) -> list[str]:
    """Long videos (each (N, H, W)) of `prompts` along their true `motions` -> what each reads as by the
    nearest render."""
    checked = check_long_inputs(videos, prompts, motions)
    return [nearest_long_render(v, p, m).text for v, p, m in checked]
