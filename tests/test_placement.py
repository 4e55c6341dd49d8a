"""The glyph placement measure and the outside reader, on videos whose right answers are known."""
from __future__ import annotations

import numpy as np
import pytest

from vidgen.data.world import Motion, WorldConfig, render_motion, sample_motion
from vidgen.evaluation.outside_reader import canonical, outside_reads, reads_right
from vidgen.evaluation.placement import REACH, glyph_offsets, placement_errors, placement_summary

WORLD = WorldConfig(name="motion")


def _motion(prompt: str, seed: int) -> Motion:
    return sample_motion(prompt, WORLD, np.random.default_rng(seed))


@pytest.mark.parametrize("prompt,seed", [("HELLO", 1), ("B8", 2), ("WMZ2E", 3)])
def test_the_truth_stands_where_the_renderer_puts_it(prompt, seed):
    m = _motion(prompt, seed)
    offsets = glyph_offsets(render_motion(prompt, m), prompt, m)
    assert offsets.shape == (len(prompt), 2) and np.abs(offsets).max() < 0.1


@pytest.mark.parametrize("dx,dy", [(1, 0), (-2, 0), (0, 1), (2, -1)])
def test_a_shifted_video_measures_its_shift(dx, dy):
    prompt, m = "HELLO", _motion("HELLO", 4)
    moved = Motion(tuple(x + dx for x in m.xs), tuple(y + dy for y in m.ys), m.size)
    offsets = glyph_offsets(render_motion(prompt, moved), prompt, m)
    seen = ~np.isnan(offsets[:, 0])
    assert seen.any()
    np.testing.assert_allclose(offsets[seen], np.tile([dx, dy], (seen.sum(), 1)), atol=0.15)


def test_one_glyph_off_is_the_only_one_measured_off():
    """Shift the last glyph's columns of the truth by two pixels: it alone stands off."""
    prompt, m = "HOME", _motion("HOME", 5)
    from vidgen.data.world import glyph_boxes

    video = render_motion(prompt, m)
    left, _, right, _ = glyph_boxes(prompt, m.size)[-1]
    out = video.copy()
    for f, x in enumerate(m.xs):
        lo, hi = max(x + left - 1, 0), min(x + right + 1, 32)
        if hi > lo:
            band = video[f, :, lo:hi].copy()
            out[f, :, lo:hi] = 0
            shifted = np.zeros((32, 32), dtype=video.dtype)
            shifted[:, lo:hi] = band
            out[f] = np.maximum(out[f], np.roll(shifted, 2, axis=1) * (np.arange(32) >= lo + 2))
    offsets = glyph_offsets(out, prompt, m)
    assert abs(offsets[-1, 0] - 2) < 0.5 and np.abs(offsets[:-2]).max() < 0.3
    summary = placement_summary([offsets])
    assert summary["glyphs"] == 4 and summary["within_1px"] == pytest.approx(0.75) and summary["max_px"] > 1.5


def test_offsets_are_limited_to_the_reach_and_a_space_is_skipped():
    prompt = "AB CD"  # a sentence: the world draws it over 32 frames
    m = sample_motion(prompt, WORLD, np.random.default_rng(6), frames=32)
    offsets = glyph_offsets(np.zeros((32, 32, 32), dtype=np.uint8), prompt, m)
    assert np.isnan(offsets[2]).all()
    assert np.nanmax(np.abs(offsets)) <= REACH + 0.5
    assert len(placement_errors([render_motion(prompt, m)], [prompt], [m])) == 1


def test_the_outside_reader_reads_true_renders_and_not_blank_frames():
    prompts = ["HELLO", "WMZ2E", "B8S5"]
    motions = [_motion(p, 10 + i) for i, p in enumerate(prompts)]
    truths = [render_motion(p, m) for p, m in zip(prompts, motions)]
    assert reads_right(outside_reads(truths, prompts, motions), prompts) == 1.0
    blank = [np.zeros_like(t) for t in truths]
    assert reads_right(outside_reads(blank, prompts, motions), prompts) == 0.0


def test_canonical_keeps_the_worlds_symbols():
    assert canonical(" he1lo, w0rld! ") == "HE1LO W0RLD"
