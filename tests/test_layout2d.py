"""The motion world's 2D glyph layout and tracker: the layout covers every inked pixel with the right
glyph, a predicted layout with the renderer's widths is the true layout, the tracker recovers every
drawn motion exactly from the pixels, and the models of the motion world are refused where they cannot work."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from vidgen.data import tokenizer as tok
from vidgen.data.layout import EMPTY, FONT_SIZE, TEXT_X, drawn_starts, pen_starts
from vidgen.data.layout2d import frame_layout, layout_batch_2d, motion_tensor, strip_columns
from vidgen.data.prompts import long_prompts, validation_prompts
from vidgen.data.world import PATH_SHAPES, WorldConfig, font_at, render_motion, render_strip_at, sample_motion
from vidgen.evaluation.tracking import position_errors, stitch, track
from vidgen.models.aligner2d import LayoutPredictor2D
from vidgen.presets import get_preset
from vidgen.training.trainer import Trainer

MOTION = WorldConfig(name="motion")
EVERY_SHAPE = tuple(PATH_SHAPES)


def _drawn(n: int, seed: int):
    rng = np.random.default_rng(seed)
    prompts = list(validation_prompts()[::40][:n]) + list(long_prompts(4))
    return prompts, [sample_motion(p, MOTION, rng, EVERY_SHAPE) for p in prompts]


def test_every_inked_pixel_is_covered_by_its_own_glyph():
    prompts, motions = _drawn(30, 0)
    for p, m in zip(prompts, motions):
        video = render_motion(p, m)
        slot, u, v = frame_layout(p, m.xs, m.ys, m.size)
        assert not ((video > 0) & (slot == EMPTY)).any(), p
        # each glyph drawn alone lands inside its own slot (kerning neighbours may touch by a pixel)
        for i, ch in enumerate(p):
            alone = render_strip_at(p, m.size).copy()
            starts = 1 + pen_starts(p, font_at(m.size))
            keep = np.zeros(alone.shape[1], dtype=bool)
            keep[int(np.ceil(starts[i])) + 1 : int(starts[i + 1]) - 1] = True
            alone[:, ~keep] = 0
            cols = np.flatnonzero(alone.any(axis=0))
            strip_slot, _, _ = strip_columns(p, m.size)
            assert (strip_slot[cols] == i).all(), (p, ch)
        assert (u[slot == EMPTY] == 0).all() and (v[slot == EMPTY] == 0).all()


def _glyphs_alone(prompt: str, size: int, starts: np.ndarray, shape) -> np.ndarray:
    """Each glyph of `prompt` drawn by itself with its pen at TEXT_X + starts[i] (whole pixels): (n, Hs, Ws)."""
    out = []
    for i, ch in enumerate(prompt):
        img = Image.new("L", shape[::-1], 0)
        ImageDraw.Draw(img).text((TEXT_X + int(starts[i]), 0), ch, fill=255, font=font_at(size))
        out.append(np.asarray(img))
    return np.stack(out)


def test_the_drawn_pen_is_where_the_renderer_draws_each_glyph():
    """The renderer draws each glyph at its pen position rounded to the pixel: in every column that one glyph
    inks alone, the strip is that glyph drawn by itself at `drawn_starts` (and not at the pen position cut down)."""
    rng = np.random.default_rng(5)
    drawn_matches, cut_matches, glyphs = 0, 0, 0
    for k in range(24):
        size = int(rng.integers(16, 25))
        prompt = "".join(rng.choice(list(tok.SYMBOLS.replace(tok.SPACE, "")), 6))
        strip = render_strip_at(prompt, size)
        pens = pen_starts(prompt, font_at(size))
        for starts, name in ((drawn_starts(prompt, font_at(size)), "drawn"), (np.floor(pens), "cut")):
            alone = _glyphs_alone(prompt, size, starts, strip.shape)  # (n, Hs, Ws)
            owner = (alone > 0).any(axis=1)  # (n, Ws) the columns each glyph inks
            for i in range(len(prompt)):
                cols = owner[i] & (owner.sum(axis=0) == 1)  # (Ws,) the columns glyph i inks alone
                assert cols.sum() >= 2, (prompt, i)
                same = np.array_equal(strip[:, cols], alone[i][:, cols])
                if name == "drawn":
                    drawn_matches += same
                    glyphs += 1
                else:
                    cut_matches += same
    assert drawn_matches == glyphs  # every glyph of every strip
    assert cut_matches < glyphs * 0.8  # the fractional pen cut down misplaces many by a pixel


def test_a_drawn_layout_agrees_with_the_pixel_grid():
    """With layout_pen "drawn", every covered pixel's centre lies a whole number of pixels and a half from its
    glyph's start, at every size; with "advance" it does not."""
    prompts, motions = _drawn(12, 4)
    fractions = {}
    for pen in ("advance", "drawn"):
        parts = []
        for p, m in zip(prompts, motions):
            slot, u, _ = frame_layout(p, m.xs, m.ys, m.size, pen)
            parts.append((u[slot != EMPTY] * m.size / FONT_SIZE) % 1.0)
        fractions[pen] = np.concatenate(parts)
    np.testing.assert_allclose(fractions["drawn"], 0.5, atol=1e-3)
    assert np.abs(fractions["advance"] - 0.5).max() > 0.3
    with pytest.raises(ValueError, match="unknown pen"):
        strip_columns("AB", 20, "rounded")


def test_the_layout_batch_names_each_glyph_by_its_token():
    prompts, motions = _drawn(8, 1)
    ids = torch.from_numpy(tok.encode_batch(prompts))
    symbol, uv = layout_batch_2d(ids, motion_tensor(motions))
    assert symbol.shape == (len(prompts), 16, 32, 32) and uv.shape == (*symbol.shape, 2)
    for b, (p, m) in enumerate(zip(prompts, motions)):
        slot, _, _ = frame_layout(p, m.xs, m.ys, m.size)
        table = np.asarray([tok.PAD_ID] + [tok.encode_batch([p])[0][i] for i in range(len(p))])
        np.testing.assert_array_equal(symbol[b].numpy(), table[slot + 1])
    null = torch.from_numpy(tok.encode_batch(["A"])).clone()
    null[0, 0] = tok.NULL_ID
    assert (layout_batch_2d(null, motion_tensor(motions[:1]))[0] == tok.PAD_ID).all()  # the null prompt has no layout


def test_a_predicted_layout_with_the_renderers_widths_is_the_true_layout(monkeypatch):
    prompts, motions = _drawn(12, 2)
    ids = torch.from_numpy(tok.encode_batch(prompts))
    motion = motion_tensor(motions)
    predictor = LayoutPredictor2D(tok.VOCAB_SIZE, 8, 16, 32, 32)

    def true_advances(ids_, size=None):
        adv = torch.zeros(ids_.shape)
        for b, p in enumerate(prompts):
            adv[b, : len(p)] = torch.from_numpy(np.diff(pen_starts(p, font_at(int(size[b]))))).float()
        return adv

    monkeypatch.setattr(predictor, "advances", true_advances)
    monkeypatch.setattr(predictor, "heights", lambda size: torch.tensor([float(strip_columns(p, int(s))[2])
                                                                         for p, s in zip(prompts, size)]))
    symbol, uv = predictor.layout(ids, motion)
    true_symbol, true_uv = layout_batch_2d(ids, motion)
    assert (symbol == true_symbol).float().mean() > 0.999  # a float sum may round a glyph edge by a column
    close = (uv - true_uv).abs().amax(-1) < 1e-3
    assert close[symbol == true_symbol].float().mean() > 0.999


def test_the_tracker_recovers_every_drawn_motion_from_the_pixels():
    prompts, motions = _drawn(60, 3)
    videos = np.stack([render_motion(p, m) for p, m in zip(prompts, motions)])
    trk = track(videos)
    for i, m in enumerate(motions):
        shows = np.flatnonzero(trk.shows[i])
        truth = np.stack([m.xs, m.ys], axis=1)[shows].astype(float)
        np.testing.assert_array_equal(trk.positions[i, shows], truth - truth[0])
    assert np.nanmax(position_errors(videos, videos)) == 0
    shifted = np.roll(videos, 2, axis=3)  # two pixels to the right, every frame
    err = position_errors(shifted, videos)
    assert np.nanmedian(err) == pytest.approx(2.0, abs=0.3)
    canvas = stitch(videos, trk)
    assert canvas.shape == (len(prompts), 32, 192) and float(canvas.max()) > 0.9


def test_motion_world_models_are_refused_where_they_cannot_work(tmp_path):
    p = get_preset("tiny-motion")
    with pytest.raises(ValueError, match="glyph2d"):
        Trainer(get_preset("tiny-template").model, p.diffusion, p.train, tmp_path / "a")  # a per-column layout
    with pytest.raises(ValueError, match="motion world"):
        Trainer(get_preset("tiny-motion-learned").model, p.diffusion, get_preset("tiny").train, tmp_path / "b")
