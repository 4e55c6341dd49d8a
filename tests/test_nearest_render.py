"""The nearest-render judge: its candidates, and that it tells a prompt from its neighbours."""
from __future__ import annotations

import numpy as np

from vidgen.data import tokenizer as tok
from vidgen.data.world import WorldConfig, render_motion, sample_motion
from vidgen.evaluation.nearest_render import nearest_render, nearest_render_reads, one_edit_neighbours

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
