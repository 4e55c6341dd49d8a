"""Variations: one prompt, N seeds, every other setting the same, side by side, so the distribution a
model samples from is there to see (the motion each seed chose, and how the glyphs vary)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..data.world import Motion
from ..pipeline import Pipeline
from .panels import animated_panels_html
from .requests import MAX_SEED, GenerationRequest

NUM_VARIATIONS = 8


def short_motion(motion: Motion | None) -> str:
    """'arc, 3.2 px/frame, size 18' (or 'its scroll' for a scroll-world model)."""
    if motion is None:
        return "its scroll"
    speed = float(np.linalg.norm(motion.velocities, axis=1).mean())
    return f"{motion.shape}, {speed:.1f} px/frame, size {motion.size}"


def variation_requests(request: GenerationRequest, n: int = NUM_VARIATIONS) -> list[GenerationRequest]:
    """The request at seeds seed, seed + 1, ..., seed + n - 1 (wrapping at MAX_SEED)."""
    return [replace(request, seed=(request.seed + k) % (MAX_SEED + 1)) for k in range(n)]


def variations(pipe: Pipeline, request: GenerationRequest, n: int = NUM_VARIATIONS) -> list[tuple[str, np.ndarray]]:
    """(caption, video (T, H, W) uint8) for n seeds of the request, each generated with its own motion
    (`GenerationRequest.motion_of`: the seed's, unless the request gives one)."""
    out = []
    for r in variation_requests(request, n):
        motion = r.motion_of(pipe)
        video = pipe.generate(r.prompt, motion=motion, **r.sampling_kwargs())
        out.append((f"seed {r.seed}: {short_motion(motion)}", video))
    return out


def variations_html(panels: list[tuple[str, np.ndarray]]) -> str:
    return animated_panels_html(panels)
