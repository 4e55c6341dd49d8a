"""Refitting the blog interface's layout predictor (vidgen.training.layout_refit) and the "placed" motion prior."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from vidgen import checkpoint as ckpt
from vidgen.data import tokenizer as tok
from vidgen.data.world import MIN_VISIBLE_FRAMES, visible_frames
from vidgen.models.aligner2d import LayoutPredictor2D
from vidgen.models.config import ModelConfig
from vidgen.models.motion_prior import MotionPrior
from vidgen.pipeline import load_pipeline
from vidgen.shipped import resolve_model_path
from vidgen.training.layout_refit import PREDICTOR, RefitConfig, refit_layout


def test_config_refuses_a_prior_or_kerning_without_the_blogs_interface():
    with pytest.raises(ValueError, match="unknown motion_prior"):
        ModelConfig(layout="learned2d", motion_prior="sideways")
    with pytest.raises(ValueError, match="needs layout='learned2d'"):
        ModelConfig(layout="glyph2d", motion_prior="placed")
    with pytest.raises(ValueError, match="pair_kerning needs"):
        ModelConfig(layout="none", pair_kerning=True)
    for bad in ({"steps": 0}, {"batch_size": 0}, {"lr": 0.0}, {"motion_prior": "x"}, {"ema_decay": 1.0}):
        with pytest.raises(ValueError):
            RefitConfig(**bad)


def test_a_placed_prior_writes_paths_without_their_start():
    prior = MotionPrior(16, hidden=32, learns_start=False)
    motion = torch.tensor([[[5 + 2 * f, -3 + f, 20] for f in range(16)]])
    z = prior.encode(motion)
    assert z.shape == (1, 2 * 16 - 1) == (1, prior.dim)
    back = prior.decode(z)
    assert back[0, 0, :2].tolist() == [0, 0] and torch.equal(back[..., :2] + motion[:, :1, :2], motion[..., :2])
    assert torch.equal(back[..., 2], motion[..., 2])


def test_placements_start_every_path_where_the_predicted_boxes_show_every_glyph_twice():
    """With boxes that match the renderer's (set by hand here), every placed path keeps the world's invariant by
    the true boxes, and the starts vary with the draw."""
    torch.manual_seed(0)
    lp = LayoutPredictor2D(tok.VOCAB_SIZE, 8, 16, 32, 32, placed=True)
    prompt = "HELLO"
    ids = torch.from_numpy(tok.encode_batch([prompt]))
    from vidgen.data.world import glyph_boxes

    true = glyph_boxes(prompt, 20)  # (n, 4) at size 20
    lp.ink_boxes = lambda ids_, size: torch.from_numpy(true).float().expand(ids_.shape[0], -1, -1)  # (K, n, 4)
    steps = torch.tensor([[[-5 * f, f // 3, 20] for f in range(16)]] * 8)  # leftwards, drifting down
    ids = ids[:, : len(prompt)]  # no empty slots
    ok, placed, least = lp.placements(ids, steps, np.random.default_rng(0))
    assert ok.all() and (least >= MIN_VISIBLE_FRAMES).all()
    from vidgen.data.world import Motion

    for m in placed:
        motion = Motion(m[:, 0].tolist(), m[:, 1].tolist(), 20)
        assert (visible_frames(prompt, motion) >= MIN_VISIBLE_FRAMES).all()
    assert len({tuple(m[0, :2].tolist()) for m in placed}) > 1  # drawn, not one fixed start
    null = torch.full((1, 8), tok.PAD_ID)
    null[0, 0] = tok.NULL_ID  # guidance's unconditional half: nothing to show, any start will do
    fresh = LayoutPredictor2D(tok.VOCAB_SIZE, 8, 16, 32, 32, placed=True)
    ok, same, _ = fresh.placements(null, steps, np.random.default_rng(0))
    assert ok.all() and torch.equal(same, steps)
    hopeless = torch.tensor([[[0, 0, 20]] * 16])  # never moves: HELLO at size 20 is wider than the frame
    ok, _, least = lp.placements(ids, hopeless, np.random.default_rng(0))
    assert not ok.any() and int(least[0]) < MIN_VISIBLE_FRAMES


def test_a_refit_keeps_the_denoiser_and_writes_a_loadable_release(tmp_path):
    source = resolve_model_path("blog")
    cfg = RefitConfig(steps=3, batch_size=8, log_every=1)
    record = refit_layout(source, tmp_path / "refit", cfg, progress=False, log=lambda line: None, source_name="blog")
    before, after = ckpt.load_tensors(source / ckpt.EMA_NAME), ckpt.load_tensors(tmp_path / "refit" / ckpt.EMA_NAME)
    denoiser = [k for k in before if not k.startswith(PREDICTOR)]
    assert denoiser and all(torch.equal(before[k], after[k]) for k in denoiser)
    raw = json.loads((tmp_path / "refit" / ckpt.CONFIG_NAME).read_text())
    assert raw["model"]["motion_prior"] == "placed" and raw["model"]["pair_kerning"] is True
    assert raw["refit"]["source"] == "blog" and raw["refit"]["config"] == dataclasses.asdict(cfg) == record["config"]
    assert len((tmp_path / "refit" / "refit_log.jsonl").read_text().splitlines()) == 3
    pipe = load_pipeline(tmp_path / "refit", precision="fp32")
    m = pipe.motions(["HI"], None, seed=1)[0]
    assert m.frames == 16


def test_refit_layout_refuses_a_model_without_a_layout_predictor(tmp_path):
    from vidgen.cli.main import main

    assert main(["refit-layout", "--model", "release", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
