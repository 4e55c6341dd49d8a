"""The glyph layout: where each prompt symbol stands in the scrolling strip and in every frame.

One source of truth for the renderer (`vidgen.data.render.render_strip` / `render_video` take the strip's
width, the text's origin and the per-frame scroll offsets from here) and for the layout-conditioned
models, which are told, for every frame and pixel column, which prompt symbol covers it and how far
into that glyph the column lies.

Geometry, in strip pixels (x grows to the right):
    the text is drawn with its pen origin at x = TEXT_X, and the strip is ceil(text length) + 2 wide;
    glyph i starts at TEXT_X + origin_i, where origin_i is the pen position after the glyphs before
    it, kerning included (the font's advance widths, as Pillow's text layout places them);
    glyph i's span is [start_i, start_{i+1}), the first one opening at 0 and the last closing at the
    strip's right edge, so the spans are ordered, touch, and cover every column of the strip;
    in frame f the strip's left edge is at screen column offsets[f] (longer prompts scroll faster).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import torch
from PIL import ImageFont

from ..paths import ASSETS_DIR
from . import tokenizer as tok
from .shape import FRAMES, WIDTH

FONT_PATH = ASSETS_DIR / "ComicNeue-Bold.otf"
FONT_SIZE = 22  # capitals are 16 px tall at this size
TEXT_X = 1  # pen origin of the text in the strip: a 1 px margin on the left (and on the right)
EMPTY = -1  # slot index of a column that no glyph covers


@functools.lru_cache(maxsize=1)
def font() -> ImageFont.FreeTypeFont:
    """The shipped Comic Neue Bold at FONT_SIZE."""
    if not FONT_PATH.exists():
        raise FileNotFoundError(f"font file missing: {FONT_PATH} (it ships in assets/)")
    return ImageFont.truetype(str(FONT_PATH), FONT_SIZE)


@functools.lru_cache(maxsize=1)
def spare_advance() -> float:
    """Width given to a spare (out-of-vocabulary) token, which has no glyph: the mean symbol advance."""
    return float(np.mean([font().getlength(s) for s in tok.SYMBOLS]))


def scroll_offsets(strip_width: int, frames: int = FRAMES, width: int = WIDTH) -> np.ndarray:
    """Left edge of the strip in each frame (F,): from fully off-screen right to fully off-screen left.

    Longer prompts travel further in the same number of frames, so they scroll faster.
    """
    return np.rint(np.linspace(width, -strip_width, frames)).astype(np.int64)


def paste_strip(strip: np.ndarray, offsets: np.ndarray, width: int = WIDTH, fill=0) -> np.ndarray:
    """Scroll a strip across the frames: strip (..., Ws) with its left edge at screen column offsets[f]
    in frame f -> (F, ..., width), `fill` where the strip does not reach. The one pasting loop of the
    renderer, the layout's per-frame columns and the recognizer's off-speed videos."""
    ws = strip.shape[-1]
    frames = np.full((len(offsets), *strip.shape[:-1], width), fill, dtype=strip.dtype)  # (F, ..., W)
    for f, x in enumerate(offsets):
        lo, hi = max(int(x), 0), min(int(x) + ws, width)  # visible screen columns
        if hi > lo:
            frames[f, ..., lo:hi] = strip[..., lo - x : hi - x]
    return frames


@dataclass(frozen=True)
class GlyphLayout:
    """Where a prompt's glyphs are: per glyph in the strip, and per frame on the screen."""

    text: str  # the symbols ('?' for a spare token)
    starts: np.ndarray  # (n+1,) float: strip x where glyph i begins (TEXT_X + pen origin); starts[n] = pen end
    strip_width: int  # columns of the strip
    offsets: np.ndarray  # (F,) int: screen column of the strip's left edge in each frame

    @property
    def spans(self) -> np.ndarray:
        """(n, 2) float [left, right) of each glyph in strip columns: ordered, touching, covering the strip."""
        edges = self.starts.copy()
        edges[0], edges[-1] = 0.0, float(self.strip_width)
        return np.stack([edges[:-1], edges[1:]], axis=1)

    def strip_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Slot and in-glyph offset of every strip column: (slot (Ws,) int64, offset (Ws,) float32).

        A column's centre x + 0.5 lies in exactly one span; the offset is measured from the glyph's
        pen origin (so it is slightly negative in the left margin of the first glyph)."""
        if not self.text:
            return np.full(self.strip_width, EMPTY, dtype=np.int64), np.zeros(self.strip_width, dtype=np.float32)
        centres = np.arange(self.strip_width) + 0.5  # (Ws,)
        slot = np.searchsorted(self.spans[1:, 0], centres, side="right")  # (Ws,) in [0, n)
        return slot.astype(np.int64), (centres - self.starts[slot]).astype(np.float32)

    def frame_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Slot and in-glyph offset of every frame and screen column: (slot (F, W) int64, EMPTY where
        no glyph is; offset (F, W) float32, 0 where empty)."""
        if not self.text:
            return (np.full((len(self.offsets), WIDTH), EMPTY, dtype=np.int64),
                    np.zeros((len(self.offsets), WIDTH), dtype=np.float32))
        strip_slot, strip_offset = self.strip_columns()  # (Ws,) each
        return paste_strip(strip_slot, self.offsets, fill=EMPTY), paste_strip(strip_offset, self.offsets)


def pen_starts(text: str, f: ImageFont.FreeTypeFont | None = None) -> np.ndarray:
    """Pen position where each glyph begins, and after the last: (n+1,) float, kerning included.

    Pillow does not expose glyph positions, so they come from the lengths it lays out: glyph i ends
    where the prefix ending with it ends, and begins its own advance before that (a kerning
    adjustment sits in the advance of the pair's first glyph, so it belongs to the prefix). A spare
    token ('?') has no glyph: it takes a typical width and the text on either side is measured apart.
    `f` is the font (size) to lay out with; the shipped one at FONT_SIZE by default.
    """
    f = font() if f is None else f
    spare = spare_advance() * f.size / FONT_SIZE
    ends, advances, spare_width = [], [], 0.0
    for i, ch in enumerate(text):
        advance = spare if ch == "?" else f.getlength(ch)
        if ch == "?":
            spare_width += advance
        glyphs = text[: i + 1].replace("?", "")
        ends.append(spare_width + (f.getlength(glyphs) if glyphs else 0.0))
        advances.append(advance)
    ends = np.asarray(ends)  # (n,)
    return np.concatenate([ends - np.asarray(advances), ends[-1:]])


def drawn_starts(text: str, f: ImageFont.FreeTypeFont | None = None) -> np.ndarray:
    """Where the renderer draws each glyph, and the end: `pen_starts` rounded half up to the pixel (n+1,) float.

    FreeType places each glyph's bitmap at its pen position rounded to a whole pixel, so a glyph's ink sits up
    to half a pixel off its fractional pen position (checked against Pillow's strips in tests/test_layout2d.py).
    Positions are multiples of 1/64 px, so floor(x + 1/2) is the rounding exactly, ties included."""
    return np.floor(pen_starts(text, f) + 0.5)


@functools.lru_cache(maxsize=65536)
def glyph_layout(text: str) -> GlyphLayout:
    """The layout of a prompt of symbols from A-Z0-9 (and '?' for a spare token); '' is the empty
    layout of the null prompt. Deterministic and cached."""
    bad = set(text) - set(tok.SYMBOLS) - {"?"}
    if bad:
        raise ValueError(f"layout of {text!r}: characters {''.join(sorted(bad))!r} are not symbols")
    starts = TEXT_X + pen_starts(text) if text else np.zeros(1)  # (n+1,)
    strip_width = int(np.ceil(starts[-1] - TEXT_X)) + 2 * TEXT_X if text else 0
    offsets = scroll_offsets(strip_width)
    for a in (starts, offsets):
        a.flags.writeable = False  # shared through the cache
    return GlyphLayout(text, starts, strip_width, offsets)


# ----------------------------------------------------------------------------- for the models


def ids_to_text(ids) -> str:
    """One prompt's token ids -> its layout text: symbols as themselves, spare ids as '?', PAD
    dropped; a NULL anywhere makes it the null prompt (''), whose layout is empty."""
    ids = np.asarray(ids).tolist()
    if tok.NULL_ID in ids:
        return ""
    return tok.decode(ids)


@functools.lru_cache(maxsize=65536)
def _frame_tensors(text: str, token_ids: tuple[int, ...], offsets: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    layout = glyph_layout(text)
    if offsets is not None and text:  # the strip placed where a given horizontal motion puts it
        layout = dataclasses.replace(layout, offsets=np.asarray(offsets, dtype=np.int64))
    slot, offset = layout.frame_columns()  # (F, W) each
    table = np.asarray((tok.PAD_ID,) + token_ids, dtype=np.int64)  # slot -> token id, EMPTY -> PAD
    return torch.from_numpy(table[slot + 1]), torch.from_numpy(offset)


def _kept_ids(row: np.ndarray) -> tuple[str, tuple[int, ...]]:
    """One prompt's ids -> (layout text, the ids of its glyphs in order)."""
    text = ids_to_text(row)
    return text, (tuple(int(i) for i in row if i != tok.PAD_ID) if text else ())


def layout_batch(ids: torch.Tensor, offsets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, L) -> (symbol (B, F, W) int64: the token id of the glyph covering each frame and
    column, PAD where none does; offset (B, F, W) float32: the column's distance in pixels from that
    glyph's pen origin, 0 where empty), on ids' device.

    The token id, not the slot, is what a model sees: a symbol reaches the pixels the same way
    wherever it stands in the prompt. `offsets` (B, F) int, if given, places each prompt's strip at
    those screen columns instead of the scroll's (a horizontal motion)."""
    strip_x = None if offsets is None else offsets.detach().cpu().numpy().astype(np.int64)  # (B, F)
    symbols, columns = [], []
    for b, row in enumerate(ids.detach().cpu().numpy()):
        s, o = _frame_tensors(*_kept_ids(row), None if strip_x is None else tuple(int(x) for x in strip_x[b]))
        symbols.append(s)
        columns.append(o)
    return torch.stack(symbols).to(ids.device), torch.stack(columns).to(ids.device)


def slot_batch(ids: torch.Tensor) -> torch.Tensor:
    """Token ids (B, L) -> the prompt slot of the glyph covering each frame and column (B, F, W) int64,
    EMPTY where none does (and everywhere for the null prompt): the renderer's free per-pixel labels."""
    slots = []
    for row in ids.detach().cpu().numpy():
        text = ids_to_text(row)
        slot, _ = glyph_layout(text).frame_columns()  # (F, W) index into the kept glyphs
        where = np.flatnonzero(row != tok.PAD_ID) if text else np.zeros(0, dtype=np.int64)  # kept glyph -> slot
        table = np.concatenate([[EMPTY], where]).astype(np.int64)
        slots.append(torch.from_numpy(table[slot + 1]))
    return torch.stack(slots).to(ids.device)


def alignment_targets(ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """What a model that predicts its own layout is trained to predict, per prompt of ids (B, L):
    `advance` (B, L) float: the pen advance of the glyph in each slot, kerning with the next glyph
    included (0 for PAD); `real` (B, L) bool: slots holding a glyph; `strip_width` (B,) float;
    `offsets` (B, F) float: the strip's left edge in each frame. The null prompt has no glyphs and
    `has_text` (B,) False."""
    b, length = ids.shape
    advance = torch.zeros(b, length)
    strip = torch.zeros(b)
    offsets = torch.zeros(b, FRAMES)
    has_text = torch.zeros(b, dtype=torch.bool)
    rows = ids.detach().cpu().numpy()
    for i, row in enumerate(rows):
        text = ids_to_text(row)
        if not text:
            continue
        layout = glyph_layout(text)
        where = np.flatnonzero(row != tok.PAD_ID)
        advance[i, torch.from_numpy(where)] = torch.from_numpy(np.diff(layout.starts)).float()
        strip[i], has_text[i] = layout.strip_width, True
        offsets[i] = torch.tensor(layout.offsets, dtype=torch.float32)
    real = torch.from_numpy(rows != tok.PAD_ID) & has_text[:, None]
    return {k: v.to(ids.device) for k, v in
            {"advance": advance, "real": real, "strip_width": strip, "offsets": offsets, "has_text": has_text}.items()}
