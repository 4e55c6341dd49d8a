"""The nearest-render judge: its candidates, and that it tells a prompt from its neighbours."""
from __future__ import annotations

import numpy as np
import pytest

from vidgen.data import tokenizer as tok
from vidgen.data.world import WorldConfig, render_motion, sample_motion
from vidgen.evaluation.nearest_render import (
    MIN_VISIBLE_PIXELS,
    VISIBLE_DIFFERENCE,
    nearest_render,
    nearest_render_reads,
    one_edit_neighbours,
)

WORLD = WorldConfig(name="motion")


def test_one_edit_neighbours_are_every_substitution_deletion_and_insertion():
    n = len(tok.SYMBOLS)
    hi = one_edit_neighbours("HI")
    assert "HI" not in hi and len(hi) == len(set(hi))
    assert {"I", "H", "HIX", "XHI", "HXI", "HO", "1I"} <= set(hi)
    assert len(hi) == 2 * (n - 1) + 2 + (3 * n - 2)  # substitutions, deletions, insertions (HHI and HII counted once)
    assert all(len(p) <= tok.PROMPT_SLOTS for p in one_edit_neighbours("ABCDEFGH"))  # no 9-symbol prompts
    assert "" not in one_edit_neighbours("A")


def test_a_render_reads_as_its_own_prompt_and_a_neighbours_as_the_neighbour():
    rng = np.random.default_rng(0)
    prompts = ["O0", "B8D", "EF", "IL1"]
    motions = [sample_motion(p, WORLD, rng) for p in prompts]
    truths = np.stack([render_motion(p, m) for p, m in zip(prompts, motions)])
    assert nearest_render_reads(truths, prompts, motions) == prompts
    assert nearest_render(truths[0], prompts[0], motions[0])[1] > 0  # a margin over the runner-up
    swapped = ["OO", "B8B", "E", "IL7"]  # one edit each: what a model that got one glyph wrong would show
    wrong = np.stack([render_motion(s, m) for s, m in zip(swapped, motions)])
    assert nearest_render_reads(wrong, prompts, motions) == swapped


def test_a_neighbour_that_looks_the_same_is_no_rival():
    """A glyph appended where the motion shows no more than a corner of it: even a video that is exactly
    the neighbour's render reads as the prompt, since nobody could tell the two apart."""
    rng = np.random.default_rng(3)
    for _ in range(3000):
        motion = sample_motion("HI", WORLD, rng)
        truth, rival = render_motion("HI", motion), render_motion("HIW", motion)
        diff = np.abs(truth.astype(int) - rival.astype(int))
        if diff.any() and (diff > VISIBLE_DIFFERENCE).sum() < MIN_VISIBLE_PIXELS:
            break
    else:
        pytest.fail("no motion shows only a corner of the appended glyph")
    assert nearest_render(rival, "HI", motion)[0] == "HI"
