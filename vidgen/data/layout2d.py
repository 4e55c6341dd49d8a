"""The glyph layout in two dimensions, at any size: which prompt symbol covers every frame and pixel of a
video whose text moves along a `vidgen.data.world.Motion`, and where inside that glyph the pixel lies.

What a model of the motion world is told (ModelConfig.layout = "glyph2d"), as the scroll world's models
are told their per-column layout (vidgen.data.layout). Geometry, in strip pixels at font size s:
    the prompt is drawn once as a strip (`world.render_strip_at`), pen origin at (TEXT_X, 0); glyph i
    begins at TEXT_X + its pen origin (`layout.pen_starts` at size s: kerning included; with pen="drawn", the
    pixel the renderer draws it at, `layout.drawn_starts`: the ink then sits where the layout says); the spans
    [start_i, start_{i+1}) touch, the first opening at 0 and the last closing at the strip's width,
    and every span covers the strip's rows [0, strip height);
    in frame f the strip's top-left corner is at screen pixel (xs[f], ys[f]).
A covered pixel's in-glyph coordinates (u, v) are its centre's distance from the glyph's pen origin,
across and down, in pixels of the FONT_SIZE font (scaled by FONT_SIZE / s), so one glyph template
serves every size.

Motions as tensors: (B, T, 3) int64, per frame the strip's x, y and the font size (`motion_tensor`).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from . import tokenizer as tok
from .layout import EMPTY, FONT_SIZE, TEXT_X, drawn_starts, ids_to_text, pen_starts
from .shape import HEIGHT, WIDTH
from .world import Motion, font_at, render_strip_at, scroll_motion

MOTION_FIELDS = ("x", "y", "size")  # the last axis of a motion tensor
PENS = ("advance", "drawn")  # where a glyph begins: its pen position as the font's advances add up (fractional:
# every model before 2026-12-05), or the pixel the renderer draws it at (ModelConfig.layout_pen)


def check_pen(pen: str) -> str:
    if pen not in PENS:
        raise ValueError(f"unknown pen {pen!r}; known: {', '.join(PENS)}")
    return pen


def motion_tensor(motions: list[Motion]) -> torch.Tensor:
    """Motions -> (B, T, 3) int64: per frame the strip's x, y and the font size."""
    return torch.tensor([[(x, y, m.size) for x, y in zip(m.xs, m.ys)] for m in motions], dtype=torch.long)


@functools.lru_cache(maxsize=65536)
def strip_columns(text: str, size: int, pen: str = "advance") -> tuple[np.ndarray, np.ndarray, int]:
    """Slot and in-glyph offset of every column of the strip of `text` at font `size` (pixels of that
    size), and the strip's height: (slot (Ws,) int64, offset (Ws,) float32, Hs). '?' is a spare token.
    `pen` (PENS): glyph i begins at its fractional pen position or at the pixel the renderer draws it at."""
    strip = render_strip_at(text.replace("?", ""), size)  # (Hs, Ws) the renderer's strip (a spare token draws nothing)
    starts = TEXT_X + (pen_starts if check_pen(pen) == "advance" else drawn_starts)(text, font_at(size))  # (n+1,)
    width = max(strip.shape[1], int(np.ceil(starts[-1] - TEXT_X)) + 2 * TEXT_X)
    edges = starts.copy()
    edges[0], edges[-1] = 0.0, float(width)
    centres = np.arange(width) + 0.5  # (Ws,)
    slot = np.searchsorted(edges[1:-1], centres, side="right").astype(np.int64)  # (Ws,) in [0, n)
    offset = (centres - starts[slot]).astype(np.float32)
    for a in (slot, offset):
        a.flags.writeable = False  # shared through the cache
    return slot, offset, strip.shape[0]


def frame_layout(text: str, xs, ys, size: int, pen: str = "advance") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The layout of `text` ('' = the empty layout of the null prompt) with its strip's corner at
    (xs[f], ys[f]) in frame f, drawn at font `size` -> (slot (T, H, W) int64, EMPTY where no glyph is;
    u, v (T, H, W) float32 in-glyph coordinates in FONT_SIZE pixels, 0 where empty)."""
    xs, ys = np.asarray(xs, dtype=np.int64), np.asarray(ys, dtype=np.int64)  # (T,)
    frames = len(xs)
    if not text:
        zeros = np.zeros((frames, HEIGHT, WIDTH), dtype=np.float32)
        return np.full((frames, HEIGHT, WIDTH), EMPTY, dtype=np.int64), zeros, zeros.copy()
    strip_slot, strip_offset, hs = strip_columns(text, int(size), pen)
    ws = len(strip_slot)
    cols = np.arange(WIDTH)[None, :] - xs[:, None]  # (T, W) strip column under each screen column
    rows = np.arange(HEIGHT)[None, :] - ys[:, None]  # (T, H) strip row under each screen row
    in_cols = (cols >= 0) & (cols < ws)
    in_rows = (rows >= 0) & (rows < hs)
    c = np.clip(cols, 0, ws - 1)
    covered = in_rows[:, :, None] & in_cols[:, None, :]  # (T, H, W)
    slot = np.where(covered, strip_slot[c][:, None, :], EMPTY)
    scale = FONT_SIZE / float(size)
    u = np.where(covered, strip_offset[c][:, None, :] * scale, 0.0).astype(np.float32)
    v = np.where(covered, (rows[:, :, None] + 0.5) * scale, 0.0).astype(np.float32)
    return slot, u, v


def layout_batch_2d(ids: torch.Tensor, motion: torch.Tensor, pen: str = "advance") -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, L) and motions (B, T, 3) -> (symbol (B, T, H, W) int64: the token id of the glyph
    covering each frame and pixel, PAD where none does (everywhere for the null prompt); uv (B, T, H, W, 2)
    float32 in-glyph coordinates), on ids' device."""
    rows = ids.detach().cpu().numpy()
    placed = motion.detach().cpu().numpy()  # (B, T, 3)
    symbols, uvs = [], []
    for row, m in zip(rows, placed):
        text = ids_to_text(row)
        slot, u, v = frame_layout(text, m[:, 0], m[:, 1], int(m[0, 2]), pen)
        kept = [int(i) for i in row if i != tok.PAD_ID] if text else []
        table = np.asarray([tok.PAD_ID] + kept, dtype=np.int64)  # slot -> token id, EMPTY -> PAD
        symbols.append(table[slot + 1])
        uvs.append(np.stack([u, v], axis=-1))
    return torch.from_numpy(np.stack(symbols)).to(ids.device), torch.from_numpy(np.stack(uvs)).to(ids.device)


def scroll_motions(ids: torch.Tensor) -> torch.Tensor:
    """Token ids (B, L) -> each prompt's scroll-world motion (B, T, 3) on ids' device (the null prompt's
    is the empty prompt's: it has no glyphs, so any would do)."""
    motions = [scroll_motion(ids_to_text(row)) for row in ids.detach().cpu().numpy()]
    return motion_tensor(motions).to(ids.device)
