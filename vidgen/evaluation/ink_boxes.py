"""A placed blog-interface model's predicted ink boxes against the world's (issue 36, docs/world.md).

A model with a placed motion prior places each path where every glyph's ink box, by its own prediction
(`LayoutPredictor2D.ink_boxes`), lies wholly on screen in two frames. An edge of a predicted box that stands
inside the world's box (`vidgen.data.world.glyph_boxes`) lets a placement count on ink that is off screen.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.world import glyph_boxes


def box_differences(predictor, ids: torch.Tensor, prompts: list[str], size: int) -> list[np.ndarray]:
    """Each prompt's predicted ink boxes minus the world's at font size `size`: (n, 4) per prompt, its n glyphs'
    [left, top, right, bottom) in strip pixels. ids (B, L) are the prompts encoded."""
    with torch.no_grad():
        boxes = predictor.ink_boxes(ids, torch.full((len(prompts),), size)).cpu().numpy()  # (B, L, 4)
    return [row[: len(prompt)] - glyph_boxes(prompt, size) for row, prompt in zip(boxes, prompts)]


def inward_edges(difference: np.ndarray) -> int:
    """How many edges of (n, 4) box differences stand inside the world's box (left or top greater, right or bottom
    smaller)."""
    return int((difference[:, :2] > 0).sum() + (difference[:, 2:] < 0).sum())
