"""The two judges of a long video's text: the motion reader over the stitched canvas, and the nearest render."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidgen.data import tokenizer as tok
from vidgen.data.prompts import sentence_prompts
from vidgen.data.world import WorldConfig, glyph_boxes, render_motion, render_strip_at, sample_motion
from vidgen.evaluation.long_reading import (
    WORD_MARGIN,
    check_long_inputs,
    long_nearest_reads,
    long_reads,
    motion_canvas,
    nearest_long_render,
    reader_pieces,
    word_edits,
)

WORLD = WorldConfig(name="motion")
FRAMES = 64


@pytest.fixture(scope="module")
def long_truths():
    """Two sentences never trained on (12 and 18 symbols) as true renders of 64 frames."""
    prompts = [p for p in sentence_prompts(n=48) if len(p) in (12, 18)][::2][:2]
    rng = np.random.default_rng(5)
    motions = [sample_motion(p, WORLD, rng, frames=FRAMES) for p in prompts]
    return prompts, motions, [render_motion(p, m) for p, m in zip(prompts, motions)]


def test_word_edits_keep_the_spaces_where_they_are():
    n = len(tok.SYMBOLS)
    edits = word_edits("AB C")
    assert "AB C" not in edits and len(edits) == len(set(edits))
    assert {"XB C", "A C", "ABX C", "AB CX", "AB X", "XAB C", "AB XC"} <= set(edits)
    assert "AB " not in edits and "ABC" not in edits and "AB  C" not in edits  # no space dropped, moved or doubled
    assert all(e.split(" ")[0] and e.split(" ")[1] and e.count(" ") == 1 for e in edits)
    # 3 symbols x (n - 1) substitutions, 2 deletions (not the lone C), 5 places x n insertions less the repeats
    # (AAB, ABB, CC counted once each from two places)
    assert len(edits) == 3 * (n - 1) + 2 + 5 * n - 3
    full = "ABCDEFG HIJKLMN OPQRSTUV"  # 24 symbols: no room for an insertion
    assert len(full) == tok.LONG_PROMPT_SLOTS
    assert all(len(e) <= len(full) for e in word_edits(full))


def test_the_canvas_of_a_true_render_is_the_strip(long_truths):
    prompts, motions, videos = long_truths
    for p, m, v in zip(prompts, motions, videos):
        strip = torch.from_numpy(render_strip_at(p, m.size).astype(np.float32) / 255)
        for reduce in ("mean", "median"):
            canvas, seen = motion_canvas(v, p, m, reduce)
            assert canvas.shape == strip.shape and seen.any()
            assert torch.allclose(canvas[seen], strip[seen], atol=1e-6)
            assert (canvas[~seen] == 0).all()
    with pytest.raises(ValueError, match="unknown canvas reducer"):
        motion_canvas(videos[0], prompts[0], motions[0], "max")


def test_reader_pieces_are_the_words_and_a_word_too_wide_is_cut_in_two():
    assert len(reader_pieces("HELLO ABCDEFGHI 42", 20, max_width=188)) == 3  # a word of 9 that fits: whole
    prompt = "HELLO ABCDEFGHIJKLMNOP 42"  # the long word's ink is 191 px wide at size 20, each half under 100
    pieces = reader_pieces(prompt, 20, max_width=188)
    assert [prompt[a:b] for a, b, _, _ in pieces] == ["HELLO", "ABCDEFGH", "IJKLMNOP", "42"]
    boxes = glyph_boxes(prompt, 20)
    spaced = f" {prompt} "  # spaced[a] is the symbol before symbol a, spaced[b + 1] the one after symbol b - 1
    for (a, b, left, right), nxt in zip(pieces, pieces[1:] + [None]):
        assert right - left <= 188 + 2 * WORD_MARGIN
        assert left <= boxes[a:b, 0].min() or spaced[a] != " "  # a word's piece holds its ink (two glyphs within
        assert right >= boxes[a:b, 2].max() or spaced[b + 1] != " "  # a word may share a column: cut between them)
        if nxt is not None:
            assert right <= nxt[2]  # and reaches at most halfway to the next piece's ink


def test_both_judges_read_true_long_renders(long_truths):
    prompts, motions, videos = long_truths
    assert long_reads(videos, prompts, motions) == prompts
    assert long_reads(videos, prompts, motions, reduce="median") == prompts
    assert long_nearest_reads(videos, prompts, motions) == prompts


def test_a_video_with_one_glyph_replaced_reads_as_that_neighbour(long_truths):
    prompts, motions, _ = long_truths
    prompt, motion = prompts[0], motions[0]
    i = next(k for k in range(len(prompt) // 2, len(prompt)) if prompt[k] != " ")  # a glyph in the middle
    wrong = prompt[:i] + ("X" if prompt[i] != "X" else "K") + prompt[i + 1 :]
    read = nearest_long_render(render_motion(wrong, motion), prompt, motion)
    assert read.text == wrong and read.margin < 0  # the prompt loses to the neighbour the video shows
    truth = nearest_long_render(render_motion(prompt, motion), prompt, motion)
    assert truth.text == prompt and truth.margin > 0


def test_a_motion_of_another_length_is_refused(long_truths):
    prompts, motions, videos = long_truths
    short = motions[0].window(0, 32)
    with pytest.raises(ValueError, match="video 0 has 64 frames but its motion has 32"):
        long_reads(videos[:1], prompts[:1], [short])
    with pytest.raises(ValueError, match="video 0 has 64 frames but its motion has 32"):
        long_nearest_reads(videos[:1], prompts[:1], [short])
    with pytest.raises(ValueError, match="one prompt and one motion per video"):
        check_long_inputs(videos, prompts[:1], motions)
    with pytest.raises(ValueError, match=r"frames of shape \(N, 32, 32\)"):
        check_long_inputs([videos[0][:, :16]], prompts[:1], motions[:1])
