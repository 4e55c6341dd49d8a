"""Pictures of the prompt's glyph layout, and the one palette that tells a prompt's symbols apart."""
from __future__ import annotations

import numpy as np

from ..data.layout import EMPTY, glyph_layout
from ..data.shape import HEIGHT

# one colour per prompt slot (RGB), in the order of the glyphs; every picture and chart of vidgen that
# tells the prompt's symbols apart uses it
SLOT_COLOURS = np.array([(230, 85, 80), (245, 170, 60), (240, 225, 80), (110, 200, 100),
                         (80, 190, 220), (100, 120, 235), (180, 110, 225), (235, 120, 190)], dtype=np.float32)


def layout_picture(text: str, columns: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """What a layout model is told, as a video: uint8 (F, H, W, 3). Each column takes the colour of
    the glyph's slot covering it (black where none does), brightening from the glyph's start to its
    end to show the in-glyph offset. The model gets the same value down a whole column.

    `columns` = (slot (F, W), offset (F, W)) draws another layout of the same text instead of the
    true one (what a model that predicts its own layout worked out, `VideoDenoiser.predicted_layout`)."""
    layout = glyph_layout(text)
    slot, offset = layout.frame_columns() if columns is None else (np.asarray(columns[0]), np.asarray(columns[1]))  # (F, W)
    widths = np.diff(layout.spans, axis=1)[:, 0] if text else np.ones(1)  # (n,)
    ramp = np.clip(offset / widths[np.maximum(slot, 0)], 0, 1)  # (F, W) 0 at the glyph's start, 1 at its end
    colour = SLOT_COLOURS[np.maximum(slot, 0) % len(SLOT_COLOURS)] * (0.35 + 0.65 * ramp)[..., None]  # (F, W, 3)
    colour[slot == EMPTY] = 0
    return np.repeat(colour[:, None].round().astype(np.uint8), HEIGHT, axis=1)  # (F, H, W, 3)


WIDEST_GLYPH = 20.0  # FONT_SIZE pixels: the in-glyph coordinate where a 2D layout picture's ramp ends


def layout_picture_2d(slot: np.ndarray, u: np.ndarray) -> np.ndarray:
    """What a motion-world model is told (or works out), as a video: slot (F, H, W) int, EMPTY where no
    glyph is, and u (F, H, W) the in-glyph coordinate across -> uint8 (F, H, W, 3): each pixel in its
    glyph's colour, brightening across the glyph (black where none is)."""
    slot, u = np.asarray(slot), np.asarray(u)
    ramp = np.clip(u / WIDEST_GLYPH, 0, 1)
    colour = SLOT_COLOURS[np.maximum(slot, 0) % len(SLOT_COLOURS)] * (0.35 + 0.65 * ramp)[..., None]  # (F, H, W, 3)
    colour[slot == EMPTY] = 0
    return colour.round().astype(np.uint8)


def slot_colour_hex(slot: int) -> str:
    """'#rrggbb' of a slot's colour, for captions and plotly traces."""
    r, g, b = SLOT_COLOURS[slot % len(SLOT_COLOURS)].astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"
