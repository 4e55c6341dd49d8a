"""The glyph layout: spans that the renderer's ink respects, kerning, per-frame columns, the batch
the models read, and the layout-conditioned models built on it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_model import _perturbed  # a model with every weight nudged off its zero init

from vidgen import data
from vidgen.data import tokenizer as tok
from vidgen.data.layout import EMPTY, TEXT_X, font, glyph_layout, layout_batch
from vidgen.jsonconfig import config_from_dict, to_dict
from vidgen.models import build_model
from vidgen.models.config import LAYOUTS, ModelConfig
from vidgen.presets import PRESETS, get_preset

INK = 40  # a pixel above this is ink (antialiased edges are fainter)
OVERHANG = 2  # columns a glyph's ink may reach into its neighbour's span


def _prompts(n_per_length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=length))
            for length in range(1, tok.PROMPT_SLOTS + 1) for _ in range(n_per_length)]


def test_every_inked_column_lies_in_a_glyph_span():
    """Over 2400 prompts of every length 1-8: each inked column of each frame is covered by a glyph."""
    for p in _prompts(300):
        video = data.render_video(p)  # (T, H, W)
        slot, _ = glyph_layout(p).frame_columns()  # (T, W)
        inked = video.max(axis=1) > INK  # (T, W)
        assert (slot[inked] != EMPTY).all(), p
        assert slot.max() == len(p) - 1 or not inked.any()


def test_each_glyphs_ink_lies_inside_its_own_span():
    """The ink that glyph i adds to the strip (its prefix drawn with and without it) stays in its
    span, up to OVERHANG columns on either side: a glyph's ink may reach past its advance (F's bar,
    W's arm) by under a pixel, plus a column of antialiasing at a fractional position."""
    for p in _prompts(40, seed=1):
        spans = glyph_layout(p).spans
        for i in range(len(p)):
            with_i = data.render_strip(p[: i + 1]).max(axis=0) > INK  # (Ws_i,)
            before = data.render_strip(p[:i]).max(axis=0) > INK if i else np.zeros(0, bool)
            new = with_i.copy()
            new[: len(before)] &= ~before
            cols = np.nonzero(new)[0]
            assert len(cols), (p, i)
            assert cols.min() >= np.floor(spans[i, 0]) - OVERHANG and cols.max() + 1 <= np.ceil(spans[i, 1]) + OVERHANG, (p, i, cols, spans[i])


@pytest.mark.parametrize("prompt", ["A", "AV", "HELLO", "W1LL", "ZZZZZZZZ"])
def test_spans_are_ordered_touch_and_cover_the_strip(prompt):
    layout = glyph_layout(prompt)
    spans = layout.spans
    assert spans.shape == (len(prompt), 2)
    assert spans[0, 0] == 0 and spans[-1, 1] == layout.strip_width == data.render_strip(prompt).shape[1]
    assert (spans[:, 1] > spans[:, 0]).all()
    np.testing.assert_array_equal(spans[1:, 0], spans[:-1, 1])  # each starts where the previous ends
    assert layout.starts[0] == TEXT_X


def test_kerned_pairs_are_laid_out_as_drawn():
    f = font()
    # Comic Neue kerns A against V: V starts before A's full advance, where the pair's layout puts it
    assert f.getlength("AV") < f.getlength("A") + f.getlength("V")
    starts = glyph_layout("AV").starts
    assert starts[1] == pytest.approx(TEXT_X + f.getlength("AV") - f.getlength("V"))
    assert starts[1] < TEXT_X + f.getlength("A") - 0.5
    assert starts[2] == pytest.approx(TEXT_X + f.getlength("AV"))
    # and V's ink starts at its kerned place: AV's strip right of A's span equals V's own ink
    v_ink = np.nonzero(data.render_strip("V").max(axis=0) > INK)[0]
    av_ink = np.nonzero(data.render_strip("AV").max(axis=0) > INK)[0]
    assert av_ink.max() - v_ink.max() == pytest.approx(starts[1] - TEXT_X, abs=1)


def test_frame_columns_follow_the_scroll():
    layout = glyph_layout("HELLO")
    slot, offset = layout.frame_columns()  # (T, W)
    assert slot.shape == offset.shape == (data.FRAMES, data.WIDTH)
    assert (slot[0] == EMPTY).all() and (slot[-1] == EMPTY).all()  # off-screen at both ends
    for f, x in enumerate(layout.offsets):
        strip_slot, strip_offset = layout.strip_columns()
        for col in range(data.WIDTH):
            j = col - x
            if 0 <= j < layout.strip_width:
                assert slot[f, col] == strip_slot[j] and offset[f, col] == strip_offset[j]
            else:
                assert slot[f, col] == EMPTY and offset[f, col] == 0
    # slots read left to right, and the offset grows by one pixel per column inside a glyph
    visible = slot[8][slot[8] != EMPTY]
    assert (np.diff(visible) >= 0).all()
    same = (slot[8, 1:] == slot[8, :-1]) & (slot[8, 1:] != EMPTY)
    np.testing.assert_allclose(np.diff(offset[8])[same], 1.0)


def test_layout_batch_gives_token_ids_not_slots():
    ids = torch.from_numpy(tok.encode_batch(["AB", "BA", "A"]))
    symbol, offset = layout_batch(ids)  # (3, T, W)
    assert symbol.shape == offset.shape == (3, data.FRAMES, data.WIDTH)
    a, b = int(tok.encode("A")[0]), int(tok.encode("B")[0])
    assert set(symbol[0].unique().tolist()) == {tok.PAD_ID, a, b} == set(symbol[1].unique().tolist())
    assert set(symbol[2].unique().tolist()) == {tok.PAD_ID, a}
    # the same glyph gets the same in-glyph offsets whatever follows it: A alone and A of "AB"
    a_alone, a_first = glyph_layout("A").strip_columns(), glyph_layout("AB").strip_columns()
    cols = a_first[0] == 0  # strip columns of "AB" covered by A
    np.testing.assert_array_equal(a_first[1][cols], a_alone[1][: cols.sum()])
    # B is slot 1 of "AB" and slot 0 of "BA", and the model sees B's id in both
    assert ((symbol[0] == b) == (slot_of("AB") == 1)).all() and ((symbol[1] == b) == (slot_of("BA") == 0)).all()
    assert (offset[symbol == tok.PAD_ID] == 0).all()


def slot_of(prompt: str) -> torch.Tensor:
    return torch.from_numpy(glyph_layout(prompt).frame_columns()[0])


def test_null_prompt_has_an_empty_layout():
    model = build_model(get_preset("tiny-layout").model)
    symbol, offset = layout_batch(model.null_prompt(2))
    assert (symbol == tok.PAD_ID).all() and (offset == 0).all()
    feats = model.layout_features(model.null_prompt(1))
    pad = model.glyph_layout.symbol_embed.weight[tok.PAD_ID]
    assert feats.shape[2] == 1  # no template: one feature for the whole column
    assert torch.equal(feats[0, 3, 0, 5, : pad.numel()], pad) and (feats[..., pad.numel():] == 0).all()


def test_glyph_template_gives_each_row_band_its_own_feature_per_symbol_and_column():
    """With a template, each row band of a column gets the learned vector of (symbol, in-glyph pixel
    column, band); the null prompt gets PAD's, the same in every frame and column."""
    model = build_model(get_preset("tiny-template").model)
    layer = model.glyph_layout
    rows, e, bins = model.cfg.grid[1], model.cfg.template_dim, layer.OFFSET_BINS
    ids = torch.from_numpy(tok.encode_batch(["MW", "WM"]))
    with torch.no_grad():
        feats = model.layout_features(ids)  # (2, T, R, W, F)
    assert feats.shape == (2, model.cfg.frames, rows, model.cfg.width, layer.num_features)
    symbol, offset = layout_batch(ids)  # (2, T, W)
    table = layer.template.weight.detach().reshape(-1, rows, e)  # (V*bins, R, E)
    for b, f, x in [(0, 8, 10), (1, 8, 10), (0, 12, 3), (1, 5, 30)]:
        entry = int(symbol[b, f, x]) * bins + int(offset[b, f, x].floor()) + 1
        torch.testing.assert_close(feats[b, f, :, x, -e:], table[entry])
    m, w = (int(tok.encode(s)[0]) * bins + 5 for s in "MW")
    assert not torch.allclose(table[m], table[w])  # M's column 4 and W's are separate parameters ...
    assert not torch.allclose(table[m, 0], table[m, -1])  # ... and so are its top band and its bottom one
    null = model.layout_features(model.null_prompt(1))[0, ..., -e:]  # (T, R, W, E)
    assert torch.equal(null, null[:1, :, :1].expand_as(null))


def test_spare_tokens_get_a_slot_of_typical_width():
    ids = torch.from_numpy(tok.encode_batch(["WORD"]))
    ids[0, 1] = tok.SPARE_IDS[0]
    symbol, _ = layout_batch(ids)
    assert (symbol == tok.SPARE_IDS[0]).any()
    layout = glyph_layout("W?RD")
    assert len(layout.spans) == 4


def test_layout_of_unknown_characters_raises():
    with pytest.raises(ValueError, match="not symbols"):
        glyph_layout("a!")


# ----------------------------------------------------------------------------- the models


LAYOUT_VARIANTS = ["tiny-layout", "tiny-gentron-layout", "tiny-latte-layout", "tiny-latte-between-layout",
                   "tiny-latte-both-layout", "tiny-snapvideo-layout", "tiny-conv3d-layout",
                   "tiny-template", "tiny-conv3d-template", "tiny-snapvideo-template"]


@pytest.mark.parametrize("preset", LAYOUT_VARIANTS)
def test_every_variant_reads_the_layout(preset):
    """Swapping two symbols keeps the prompt's set of symbols and changes only the layout: a layout
    model's output must change, and its prompt encoder must not see the order at all."""
    cfg = get_preset(preset).model
    assert cfg.layout == "glyph"
    model = _perturbed(cfg)
    x = torch.randn(1, 16, 32, 32)
    t = torch.tensor([400])
    ab, ba = (torch.from_numpy(tok.encode_batch([p])) for p in ("AB", "BA"))
    with torch.no_grad():
        out_ab = model(x, t, ab)
        out_ba = model(x, t, ba)
        assert not torch.allclose(out_ab, out_ba)
        text_ab, _, pooled_ab = model.prompt_encoder(ab)
        text_ba, _, pooled_ba = model.prompt_encoder(ba)
    torch.testing.assert_close(pooled_ab, pooled_ba)  # a set of symbols: the order comes from the layout
    torch.testing.assert_close(text_ab[0, 0], text_ba[0, 1])


def test_layout_model_guidance_and_dropout_work_unchanged():
    model = _perturbed(get_preset("tiny-layout").model)
    x = torch.randn(2, 16, 32, 32)
    t = torch.tensor([100, 700])
    ids = torch.from_numpy(tok.encode_batch(["AB", "CD"]))
    null = model.null_prompt(2)
    dropped = model(x, t, ids, drop=torch.tensor([True, False]))
    torch.testing.assert_close(dropped[0], model(x[:1], t[:1], null[:1])[0], rtol=1e-4, atol=1e-5)
    cond, uncond = model(x, t, ids), model(x, t, null)
    torch.testing.assert_close(model.forward_with_guidance(x, t, ids, 3.0), uncond + 3.0 * (cond - uncond), rtol=1e-4, atol=1e-5)


def test_layout_presets_and_config_field():
    assert LAYOUTS == ("none", "glyph", "learned", "glyph2d", "learned2d")
    assert get_preset("small-layout").model == dataclasses.replace(PRESETS["small"].model, layout="glyph")
    assert get_preset("small").model.layout == "none"
    # a config.json written before the field existed is the blog's kind
    old = {k: v for k, v in to_dict(get_preset("small").model).items() if k not in ("layout", "layout_dim")}
    assert config_from_dict(ModelConfig, old, "model").layout == "none"
    assert "layout" in to_dict(get_preset("small-layout").model)


@pytest.mark.parametrize("bad", ["glyphs", "", "boxes"])
def test_unknown_layout_kind_raises(bad):
    with pytest.raises(ValueError, match="unknown layout"):
        config_from_dict(ModelConfig, {**to_dict(get_preset("tiny").model), "layout": bad}, "model")


def test_a_checkpoint_asking_for_an_unknown_layout_is_a_clear_error(tiny_layout_checkpoint, tmp_path, capsys):
    import json
    import shutil

    from vidgen.checkpoint import CheckpointError
    from vidgen.cli.main import main
    from vidgen.pipeline import load_pipeline

    bad = tmp_path / "ckpt"
    shutil.copytree(tiny_layout_checkpoint, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["layout"] = "boxes"
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unknown layout 'boxes'"):
        load_pipeline(bad)
    assert main(["sample", "--checkpoint", str(bad), "--prompt", "AB", "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert "unknown layout 'boxes'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.gif").exists()


def test_the_conditioning_is_encoded_once_per_generation_not_per_step(tiny_layout_checkpoint, monkeypatch):
    """The prompt encoder and the glyph layout depend on neither x_t nor t: a 6-step guided generation
    encodes them once (cond and uncond in one batch), and a pass that reads that encoding gives what a
    pass that encodes the ids itself gives."""
    from vidgen.models.layers import GlyphLayoutFeatures, PromptEncoder
    from vidgen.pipeline import load_pipeline

    pipe = load_pipeline(tiny_layout_checkpoint, bf16=False)
    ids = pipe.encode(["AB", "Z9Q"])
    x, t = torch.randn(2, 16, 32, 32, generator=torch.Generator().manual_seed(0)), torch.tensor([700, 300])
    with torch.no_grad():
        encoded_each_call = pipe.model.forward_with_guidance(x, t, ids, 2.0)
        encoded_once = pipe.model.forward_with_guidance(x, t, None, 2.0, cond=pipe.model.encode_for_guidance(ids, 2.0))
    torch.testing.assert_close(encoded_once, encoded_each_call, rtol=0, atol=0)

    calls = {"layout": 0, "prompt": 0}
    layout_forward, prompt_forward = GlyphLayoutFeatures.forward, PromptEncoder.forward

    def count(name, forward):
        def wrapped(module, *args, **kwargs):
            calls[name] += 1
            return forward(module, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(GlyphLayoutFeatures, "forward", count("layout", layout_forward))
    monkeypatch.setattr(PromptEncoder, "forward", count("prompt", prompt_forward))
    pipe.generate("AB", steps=6, guidance_scale=2.0, seed=1)
    assert calls == {"layout": 1, "prompt": 1}
