"""The scrolling-text data: the prompt tokenizer, the glyph layout, the renderer, the prompt splits and video files."""
from .layout import GlyphLayout, glyph_layout, layout_batch, scroll_offsets
from .prompts import (
           SplitConfig,
           heldout_prompts,
           make_batch,
           sample_train_prompts,
           validation_prompts,
)
from .render import render_strip, render_video, to_model_space, to_uint8
from .shape import FRAMES, HEIGHT, WIDTH

__all__ = ["FRAMES", "HEIGHT", "WIDTH", "SplitConfig", "GlyphLayout", "glyph_layout", "layout_batch", "scroll_offsets",
           "heldout_prompts", "make_batch", "sample_train_prompts", "validation_prompts",
           "render_strip", "render_video", "to_model_space", "to_uint8"]
