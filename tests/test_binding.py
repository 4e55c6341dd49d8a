"""The blog's interface learning its own layout (docs/binding.md): the layout predictor and the model
that reads it, attention supervision, the short-prompts-first curriculum."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_model import _perturbed  # a model with every weight nudged off its zero init

from vidgen.data import tokenizer as tok
from vidgen.data.layout import EMPTY, alignment_targets, glyph_layout, layout_batch, slot_batch
from vidgen.data.prompts import SplitConfig, curriculum_lengths, sample_train_prompts, validation_prompts
from vidgen.models import build_model
from vidgen.models.aligner import LayoutPredictor
from vidgen.presets import get_preset
from vidgen.training.attention_supervision import AttentionSupervision
from vidgen.training.trainer import Trainer


def _ids(prompts) -> torch.Tensor:
    return torch.from_numpy(tok.encode_batch(list(prompts)))


def _prompts(n_per_length: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=length))
            for length in range(1, tok.PROMPT_SLOTS + 1) for _ in range(n_per_length)]


# ----------------------------------------------------------------------------- the renderer's labels


def test_slot_batch_and_alignment_targets_agree_with_the_layout():
    prompts = _prompts(25)
    ids = _ids(prompts)
    slots, target = slot_batch(ids), alignment_targets(ids)
    symbol, _ = layout_batch(ids)
    for i, p in enumerate(prompts):
        layout = glyph_layout(p)
        np.testing.assert_array_equal(slots[i].numpy(), layout.frame_columns()[0])
        n = len(p)
        np.testing.assert_allclose(target["advance"][i, :n].numpy().cumsum(), layout.starts[1:] - layout.starts[0], atol=1e-3)
        assert (target["advance"][i, n:] == 0).all() and target["real"][i].sum() == n
        assert target["strip_width"][i] == layout.strip_width
        np.testing.assert_array_equal(target["offsets"][i].numpy(), layout.offsets)
    # the slot labels name the token the models are shown
    covered = slots >= 0
    assert torch.equal(ids.gather(1, slots.clamp_min(0).flatten(1)).view_as(slots)[covered], symbol[covered])
    null = build_model(get_preset("tiny").model).null_prompt(2)
    assert (slot_batch(null) == EMPTY).all() and not alignment_targets(null)["has_text"].any()


# ----------------------------------------------------------------------------- the layout predictor


def _exact(predictor: LayoutPredictor) -> LayoutPredictor:
    """The predictor with its heads replaced by the renderer's numbers: its geometry alone is tested."""
    predictor.advances = lambda ids: alignment_targets(ids)["advance"]
    width, frames = 32.0, 16
    f = torch.arange(frames, dtype=torch.float32)
    predictor.offsets = lambda strip: width - (width + strip[:, None]) * f / (frames - 1)  # the renderer's linspace
    return predictor


def test_the_predicted_layout_with_the_true_widths_is_the_true_layout():
    """2400 prompts of every length: the predictor's geometry (pen origins, strip width, rounding,
    span edges) lays the glyphs out exactly as the renderer does."""
    predictor = _exact(LayoutPredictor(tok.VOCAB_SIZE, 8, 16, 32))
    ids = _ids(_prompts(300))
    symbol, offset = predictor.layout(ids)
    true_symbol, true_offset = layout_batch(ids)
    assert torch.equal(symbol, true_symbol)
    torch.testing.assert_close(offset, true_offset, atol=1e-3, rtol=0)
    null = build_model(get_preset("tiny").model).null_prompt(3)
    assert (predictor.layout(null)[0] == tok.PAD_ID).all() and (predictor.slots(null)[0] == EMPTY).all()


def test_the_predictor_learns_the_renderers_layout():
    """Trained alone on its loss (as inside a model, at its learning rate), it places almost every
    column's glyph right on validation prompts it never saw; an untrained one does not."""
    torch.manual_seed(0)
    predictor = LayoutPredictor(tok.VOCAB_SIZE, 32, 16, 32)
    ids = _ids(list(validation_prompts(SplitConfig()))[:200])
    true_symbol, _ = layout_batch(ids)
    before = (predictor.layout(ids)[0] == true_symbol).float().mean()
    opt = torch.optim.AdamW(predictor.parameters(), lr=1e-3 * LayoutPredictor.LR_SCALE, betas=(0.9, 0.99))
    steps = 800
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 1e-3 * LayoutPredictor.LR_SCALE * max(0.02, 1 - step / steps)
        loss = predictor.loss(_ids(sample_train_prompts(SplitConfig(), 0, step, 16)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = (predictor.layout(ids)[0] == true_symbol).float().mean()
    assert before < 0.8 and after > 0.99, (before, after)


def test_the_predictor_works_in_float32_under_bf16_autocast():
    """Sampling runs under bf16 autocast; bf16's three digits would move glyph edges by a column."""
    torch.manual_seed(0)
    predictor = LayoutPredictor(tok.VOCAB_SIZE, 32, 16, 32)
    ids = _ids(_prompts(100))
    plain = predictor.layout(ids)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = predictor.layout(ids)
        assert predictor.advances(ids).dtype == predictor.offsets(torch.tensor([50.0])).dtype == torch.float32
    assert torch.equal(plain[0], mixed[0]) and torch.equal(plain[1], mixed[1])


def test_a_learned_layout_model_reads_the_true_layout_while_training_and_its_own_when_sampling():
    model = _perturbed(get_preset("tiny-learned").model)
    ids = _ids(["HELLO", "AV"])
    true = model.glyph_layout(ids)
    model.layout_predictor = _exact(model.layout_predictor)
    model.eval()
    torch.testing.assert_close(model.layout_features(ids), true)  # exact widths: the same features
    model.layout_predictor.advances = lambda ids: alignment_targets(ids)["advance"] * 1.5  # wrong widths
    assert not torch.allclose(model.layout_features(ids), true)  # sampling reads the prediction...
    model.train()
    torch.testing.assert_close(model.layout_features(ids), true)  # ...training the truth (teacher forcing)


def test_a_learned_layout_model_is_prompt_only_and_guidance_works():
    model = _perturbed(get_preset("tiny-learned").model).eval()
    assert model.layout_predictor is not None and model.prompt_encoder.pos_embed is None
    x, t = torch.randn(2, 16, 32, 32), torch.tensor([100, 700])
    ids, null = _ids(["AB", "CD"]), model.null_prompt(2)
    with torch.no_grad():
        cond, uncond = model(x, t, ids), model(x, t, null)
        torch.testing.assert_close(model.forward_with_guidance(x, t, ids, 3.0), uncond + 3.0 * (cond - uncond), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(model(x, t, _ids(["AB"]).repeat(2, 1)), model(x, t, _ids(["BA"]).repeat(2, 1)))
    out, aux = model(x, t, ids, aux=True)
    assert set(aux) == {"alignment"} and aux["alignment"] > 0
    assert build_model(get_preset("tiny").model)(x, t, ids, aux=True)[1] == {}
    with pytest.raises(ValueError, match="does not predict"):
        build_model(get_preset("tiny-template").model).predicted_layout(ids)


def test_the_layout_predictor_trains_at_its_own_rate_and_is_logged(tmp_path):
    p = get_preset("tiny-learned")
    tr = Trainer(p.model, p.diffusion, p.train, tmp_path / "run")
    groups = tr.opt.param_groups
    assert len(groups) == 2 and groups[1]["lr_scale"] == LayoutPredictor.LR_SCALE
    assert {id(q) for q in groups[1]["params"]} == {id(q) for q in tr.model.layout_predictor.parameters()}
    tr.fit(max_steps=20, progress=False)
    assert groups[1]["lr"] == pytest.approx(groups[0]["lr"] * LayoutPredictor.LR_SCALE)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all("alignment_loss" in row for row in log)
    assert log[-1]["alignment_loss"] < log[0]["alignment_loss"]


# ----------------------------------------------------------------------------- attention supervision


def test_attention_targets_label_each_token_with_the_glyphs_under_it():
    model = build_model(get_preset("tiny").model)  # patch (4, 8, 8): a token spans 4 frames x 8 columns
    sup = AttentionSupervision(model)
    ids = _ids(["HELLO", "W"])
    target, labelled = sup.targets(ids)
    t, h, w = model.cfg.grid
    assert target.shape == (2, t * h * w, tok.PROMPT_SLOTS) and labelled.shape == (2, t * h * w)
    torch.testing.assert_close(target[labelled].sum(-1), torch.ones(int(labelled.sum())))
    slots = slot_batch(ids)[0]  # (F, W)
    token = 0 * h * w + 0 * w + 2  # frame block 0, row 0, columns 16-23
    block = slots[0:4, 16:24]
    share = torch.stack([(block == s).float().mean() for s in range(5)])
    assert labelled[0, token] == (share.sum() >= 0.5)
    if labelled[0, token]:
        torch.testing.assert_close(target[0, token, :5], share / share.sum())
    assert torch.equal(target[:, token], target[:, token + w])  # every row of a column gets the label
    assert not sup.targets(model.null_prompt(1))[1].any()


def test_attention_supervision_pulls_the_cross_attention_and_leaves_sampling_alone():
    model = _perturbed(get_preset("tiny").model)
    ids, x, t = _ids(["HELLO", "AB"]), torch.randn(2, 16, 32, 32), torch.tensor([300, 600])
    with torch.no_grad():
        before = model(x, t, ids)
    sup = AttentionSupervision(model)
    model(x, t, ids)
    loss = sup.loss(ids)
    loss.backward()
    assert loss > 0 and model.blocks[0].cross_attn.to_q.weight.grad.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, ids), before, rtol=1e-4, atol=1e-5)  # the same function
    with pytest.raises(ValueError, match="attention supervision needs"):
        AttentionSupervision(build_model(get_preset("tiny-latte").model))


# ----------------------------------------------------------------------------- curriculum


def test_the_curriculum_starts_short_and_reaches_every_length():
    split = SplitConfig()
    every = split.train_lengths()
    assert curriculum_lengths(split, 0, 0) == every == curriculum_lengths(split, 1500, 1500)
    assert curriculum_lengths(split, 0, 1500) == every[:1]
    assert curriculum_lengths(split, 750, 1500) == [n for n in every if n <= every[0] + (every[-1] - every[0]) // 2]
    assert {len(p) for p in sample_train_prompts(split, 0, 0, 64, curriculum_steps=1500)} == set(every[:1])
    assert sample_train_prompts(split, 0, 9, 16) == sample_train_prompts(split, 0, 9, 16, curriculum_steps=5)


def test_the_shipped_blog_model_predicts_its_own_layout():
    """checkpoints/scroll-blog is given the prompt tokens only and works out where each glyph goes: nearly
    every column of 500 validation prompts, every 4th of the set (which is sorted by length, so every
    length 1-6 is in), is assigned the right glyph, and so is every length on its own (docs/binding.md)."""
    from vidgen.pipeline import load_pipeline
    from vidgen.shipped import SHIPPED_MODELS

    pipe = load_pipeline(SHIPPED_MODELS["scroll-blog"].directory)
    assert pipe.model.cfg.layout == "learned"
    prompts = list(validation_prompts(SplitConfig()))[::4]
    assert {len(p) for p in prompts} == set(range(1, 7)) and len(prompts) == 500
    ids = _ids(prompts)
    slot, _ = pipe.model.predicted_layout(ids)
    right = (slot == slot_batch(ids)).float().mean(dim=(1, 2))  # (B,) share of right cells per prompt
    assert right.mean() > 0.99
    lengths = torch.tensor([len(p) for p in prompts])
    for n in range(1, 7):
        assert right[lengths == n].mean() > 0.98, f"length {n}: {right[lengths == n].mean():.4f}"
