"""The scrolling-text renderer: a prompt drawn in Comic Neue and scrolled across the frames.

Video layout everywhere in vidgen: (T, H, W) = (16, 32, 32); uint8 in [0, 255] on disk and in
`render_video`, float in [-1, 1] as model input, batched as (B, T, H, W).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import tokenizer as tok
from .layout import TEXT_X, font, glyph_layout, paste_strip
from .shape import HEIGHT

_CAP_TOP, _CAP_BOTTOM = 5, 21  # rows the capitals cover when drawn at y=0 (measured for FONT_SIZE)


@functools.lru_cache(maxsize=65536)
def render_strip(prompt: str) -> np.ndarray:
    """The prompt drawn once as a horizontal strip: uint8 (H, strip width), white on black.

    Its width and the text's origin come from the prompt's glyph layout (vidgen.data.layout)."""
    layout = glyph_layout(prompt)
    img = Image.new("L", (layout.strip_width, HEIGHT), 0)
    y = (HEIGHT - (_CAP_BOTTOM - _CAP_TOP)) // 2 - _CAP_TOP  # centre the capital band vertically
    ImageDraw.Draw(img).text((TEXT_X, y), prompt, fill=255, font=font())
    strip = np.asarray(img, dtype=np.uint8)
    strip.flags.writeable = False
    return strip


def render_video(text: str, max_len: int = tok.PROMPT_SLOTS) -> np.ndarray:
    """Ground-truth video for a prompt: uint8 (16, 32, 32), white text on black. Deterministic."""
    prompt = tok.normalize_prompt(text, max_len=max_len)
    return paste_strip(render_strip(prompt), glyph_layout(prompt).offsets)  # (T, H, W)


def to_model_space(video_u8) -> torch.Tensor:
    """uint8 (..., T, H, W) -> float32 in [-1, 1]."""
    return torch.as_tensor(np.asarray(video_u8), dtype=torch.float32) / 127.5 - 1.0


def as_unit_float(videos) -> torch.Tensor:
    """uint8 (..., T, H, W) numpy/tensor -> float32 in [0, 1]; float input is taken as already in [0, 1]."""
    v = torch.as_tensor(np.asarray(videos)) if not torch.is_tensor(videos) else videos
    if v.dtype == torch.uint8:
        return v.float() / 255.0
    return v.float()


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """float in [-1, 1] (..., T, H, W) -> uint8 numpy, clipped."""
    x = ((video.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round()
    return x.to(torch.uint8).numpy()
