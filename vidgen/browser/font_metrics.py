"""The font's geometry as tables a browser can lay out text with, exactly as the library does.

The library measures text with Pillow (`font.getlength`, `font.getbbox`, vidgen.data.world and
vidgen.data.layout); a page has no Pillow and no font rasteriser that would agree with it to the pixel. But
every quantity the glyph layout (vidgen.data.layout2d) and the world's invariant need comes from three
per-size tables of the 36 symbols, because Pillow's basic layout adds up advances and pair kerning:

    getlength(text)   = sum_i advance[c_i] + sum_i kerning[c_i, c_i+1]
    getbbox(c)        = (left, top, right, bottom) of one symbol's ink, from its pen origin
    strip height      = max_i bbox[c_i].bottom + 1    (render_strip_at: getbbox(text)[3] + 1)

Two pen positions are in use: the layout's glyph spans start at `layout.pen_starts` (a pair's kerning counted in
the first glyph's advance: end of the prefix through glyph i, less its advance), the world's glyph boxes at the
length of the prefix before glyph i (`world.glyph_boxes`). A page must use each where the library does.

`font_tables` builds them for every font size a motion may use and `check_font_tables` proves them: every
prefix length, strip height and glyph box of `prompts` recomputed from the tables equals the library's (to
1e-9 px), or it raises. Lengths are floats in pixels (Pillow's 26.6 fixed point / 64).

Layouts: advance (S,) float, kerning (S, S) float [first, second], bbox (S, 4) int, S = len(tok.SYMBOLS),
per size; as JSON {size: {"advance": [...], "kerning": [[...]], "bbox": [[l, t, r, b], ...]}}.
"""
from __future__ import annotations

import math

import numpy as np

from ..data import tokenizer as tok
from ..data.layout import TEXT_X, pen_starts
from ..data.world import FONT_SIZES, font_at, glyph_boxes, render_strip_at

SIZES = FONT_SIZES  # every font size a motion may ask for
TOLERANCE_PX = 1e-9


def font_tables(sizes=SIZES) -> dict[str, dict]:
    """{str(size): {"advance", "kerning", "bbox"}} of the 36 symbols at every size (see the module's docstring)."""
    out = {}
    for size in sizes:
        f = font_at(size)
        advance = np.array([f.getlength(c) for c in tok.SYMBOLS])  # (S,)
        pairs = np.array([[f.getlength(a + b) for b in tok.SYMBOLS] for a in tok.SYMBOLS])  # (S, S)
        kerning = pairs - advance[:, None] - advance[None, :]  # (S, S)
        bbox = [list(map(int, f.getbbox(c))) for c in tok.SYMBOLS]  # (S, 4)
        out[str(size)] = {"advance": advance.tolist(), "kerning": kerning.tolist(), "bbox": bbox}
    return out


def _index(text: str) -> list[int]:
    return [tok.SYMBOLS.index(c) for c in text]


def text_length(tables: dict, text: str, size: int) -> float:
    """Pillow's getlength of `text` at `size`, from the tables."""
    t, idx = tables[str(size)], _index(text)
    return (sum(t["advance"][i] for i in idx) + sum(t["kerning"][a][b] for a, b in zip(idx, idx[1:]))) if idx else 0.0


def layout_geometry(tables: dict, text: str, size: int) -> tuple[np.ndarray, int, int]:
    """(pen starts (n+1,) as layout.pen_starts + TEXT_X, strip width, strip height) of `text` at `size` from the
    tables: what vidgen.data.layout2d.strip_columns reads from Pillow."""
    t = tables[str(size)]
    idx = _index(text)
    ends = np.array([text_length(tables, text[: i + 1], size) for i in range(len(text))])  # (n,)
    advances = np.array([t["advance"][i] for i in idx])
    starts = TEXT_X + np.concatenate([ends - advances, ends[-1:]])  # (n+1,)
    width = int(math.ceil(ends[-1])) + 2 * TEXT_X
    height = max(t["bbox"][i][3] for i in idx) + 1
    return starts, width, height


def check_font_tables(tables: dict, prompts, sizes=SIZES) -> int:
    """Recompute every prompt's pen starts, strip size and glyph boxes at every size from the tables and compare with
    the library's; raise ValueError at the first difference. -> how many (prompt, size) pairs were checked."""
    checked = 0
    for size in sizes:
        f = font_at(size)
        for p in prompts:
            starts, width, height = layout_geometry(tables, p, size)
            want = TEXT_X + pen_starts(p, f)
            strip = render_strip_at(p, size)
            if np.abs(starts - want).max() > TOLERANCE_PX or (height, width) != strip.shape:
                raise ValueError(f"the font tables do not reproduce Pillow's layout of {p!r} at size {size}: pen starts "
                                 f"{starts.tolist()} vs {want.tolist()}, strip {(height, width)} vs {strip.shape}")
            t = tables[str(size)]
            pens = [TEXT_X + text_length(tables, p[:k], size) for k in range(len(p))]  # glyph_boxes: the prefix's length
            boxes = [[math.floor(s + t["bbox"][i][0]), t["bbox"][i][1], math.ceil(s + t["bbox"][i][2]), t["bbox"][i][3]]
                     for s, i in zip(pens, _index(p))]
            if not np.array_equal(np.array(boxes), glyph_boxes(p, size)):
                raise ValueError(f"the font tables do not reproduce the glyph boxes of {p!r} at size {size}")
            checked += 1
    return checked
