"""Long videos (vidgen.long, issue 34): the world at any length, a timestep per frame, causal attention and
its cache, every method, the pipeline's API and its refusals. Tiny untrained networks: shapes and maths,
not quality (tests/test_shipped.py reads back the shipped long model's videos)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vidgen.data import tokenizer as tok
from vidgen.data.layout2d import motion_tensor
from vidgen.data.prompts import SplitConfig, make_world_batch, sample_train_prompts, sentence_prompts
from vidgen.data.world import (MIN_VISIBLE_FRAMES, Motion, WorldConfig, empty_frames, min_frames, render_motion, sample_motion,
                               visible_frames)
from vidgen.diffusion.schedule import NoiseSchedule
from vidgen.long.engine import iter_long
from vidgen.long.methods import METHODS, num_calls
from vidgen.models import build_model
from vidgen.pipeline import Pipeline
from vidgen.presets import PRESETS
from vidgen.training.frame_noise import forcing_timesteps

MOTION = WorldConfig(name="motion")


@pytest.fixture(scope="module")
def tiny_long():
    """A tiny long-capable pipeline with random (non-zero) weights, so that every input changes the output."""
    preset = PRESETS["tiny-motion-long"]
    torch.manual_seed(0)
    model = build_model(preset.model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return Pipeline(model, preset.diffusion, {"train": dataclasses.asdict(preset.train)}, bf16=False)


# ----------------------------------------------------------------------------- the world at any length


def test_a_16_frame_motion_is_drawn_as_before_the_long_world():
    """Today's checkpoints see today's world: the draw of a fixed seed, as the code before long videos made it."""
    m = sample_motion("HELLO", MOTION, np.random.default_rng(7))
    assert m.xs == (-51, -46, -40, -35, -30, -24, -19, -13, -8, -3, 3, 8, 13, 19, 24, 29)
    assert m.ys == (-5, -5, -5, -4, -4, -4, -4, -4, -4, -3, -3, -3, -3, -3, -3, -2) and (m.size, m.shape) == (18, "line")


@pytest.mark.parametrize("frames", [33, 64, 128])
def test_long_motions_show_every_glyph_twice_and_text_in_every_frame(frames):
    for i, prompt in enumerate(sentence_prompts(n=6)):
        need = min_frames(prompt, MOTION)
        if need is None or need > frames:
            with pytest.raises(ValueError, match=f"too long for {frames} frames"):
                sample_motion(prompt, MOTION, np.random.default_rng(i), frames=frames)
            continue
        m = sample_motion(prompt, MOTION, np.random.default_rng(i), frames=frames)
        assert m.frames == frames and render_motion(prompt, m).shape == (frames, 32, 32)
        assert (visible_frames(prompt, m) >= MIN_VISIBLE_FRAMES).all() and empty_frames(prompt, m) == 0


def test_a_space_is_a_word_gap_with_no_ink():
    m = sample_motion("HELLO WORLD", MOTION, np.random.default_rng(0), frames=48)
    with_space, without = render_motion("HELLO WORLD", m), render_motion("HELLOWORLD", m)
    assert not np.array_equal(with_space, without)  # the gap moves WORLD along the strip
    assert tok.decode(tok.encode("hello  world", 24, words=True)) == "HELLO WORLD"
    with pytest.raises(ValueError, match="long-video model"):
        tok.normalize_prompt("HELLO WORLD")  # a short model's prompt takes no space


def test_the_frames_a_prompt_needs_are_exact_and_enough():
    """min_frames is the fewest frames, not a rounded figure: a request of exactly that many is made."""
    for prompt in ("ABCDEFGHIJKLMNOPQRSTUVWX", "WWWWWWWWWWWW", "HELLO WORLD 2026"):
        need = min_frames(prompt, MOTION)
        m = sample_motion(prompt, MOTION, np.random.default_rng(0), frames=need)
        assert (visible_frames(prompt, m) >= MIN_VISIBLE_FRAMES).all()
        with pytest.raises(ValueError, match=f"only in {need} frames or more"):
            sample_motion(prompt, MOTION, np.random.default_rng(0), frames=need - 1)


def test_a_shorter_sentence_split_is_the_start_of_a_longer_one():
    """What training keeps out (the first SENTENCE_VAL sentences) holds every shorter split measured."""
    from vidgen.data.prompts import SENTENCE_VAL

    assert sentence_prompts(n=48) == sentence_prompts(n=SENTENCE_VAL)[:48]
    assert sorted({len(p) for p in sentence_prompts(n=48)}) == list(range(12, 25))


def test_a_prompt_too_long_for_its_frames_says_how_many_it_needs():
    with pytest.raises(ValueError, match=r"too long for 16 frames.*only in \d+ frames or more"):
        sample_motion("HELLO WORLD 2026", MOTION, np.random.default_rng(0), frames=16)
    for bad in (15, 129, 40.0, True):
        with pytest.raises(ValueError, match="frames must be a whole number"):
            sample_motion("HELLO", MOTION, np.random.default_rng(0), frames=bad)


def test_training_windows_come_from_long_videos_and_sentences():
    world = dataclasses.replace(MOTION, frames=(16, 128))
    split = SplitConfig(sentences=0.5)
    prompts = sample_train_prompts(split, 0, 3, 16)
    assert any(" " in p for p in prompts) and not set(prompts) & set(sentence_prompts(n=48))
    x0, ids, motion = make_world_batch(prompts, world, np.random.default_rng(3), slots=24)
    assert x0.shape == (16, 16, 32, 32) and ids.shape == (16, 24) and motion.shape == (16, 16, 3)
    assert (ids == tok.SPACE_ID).any()


# ----------------------------------------------------------------------------- the network


def test_forcing_timesteps_are_per_token_and_draw_every_pattern():
    g = torch.Generator().manual_seed(0)
    t = forcing_timesteps(400, 8, 2, 1000, g)  # (B, 16)
    assert t.shape == (400, 16) and t.min() >= 0 and t.max() < 1000
    tokens = t[:, ::2]
    assert torch.equal(tokens.repeat_interleave(2, dim=1), t)
    shared = (tokens == tokens[:, :1]).all(dim=1)
    rising = (tokens[:, 1:] >= tokens[:, :-1]).all(dim=1)
    clean_front = tokens[:, 0] < 100
    assert shared.float().mean() > 0.2 and (rising & ~shared).any() and (clean_front & ~rising).any()


def test_a_timestep_per_frame_equals_one_per_video_when_they_agree(tiny_long):
    model = tiny_long.model
    x = torch.randn(2, 16, 32, 32)
    ids = torch.from_numpy(tok.encode_batch(["AB", "HELLO WORLD"], 24, words=True))
    motion = motion_tensor([sample_motion(p, MOTION, np.random.default_rng(1)) for p in ("AB", "HELLO")] )
    t = torch.tensor([300, 700])
    with torch.no_grad():
        one = model(x, t, ids, motion=motion)
        per_frame = model(x, t[:, None].repeat(1, 16), ids, motion=motion)
    assert torch.allclose(one, per_frame, atol=1e-5)
    with pytest.raises(ValueError, match="equal within each temporal patch"):
        model(x, torch.arange(16)[None].repeat(2, 1), ids, motion=motion)


def test_causal_attention_keeps_earlier_frames_blind_to_later_ones(tiny_long):
    model = tiny_long.model
    x = torch.randn(1, 16, 32, 32)
    ids = torch.from_numpy(tok.encode_batch(["HELLO"], 24, words=True))
    motion = motion_tensor([sample_motion("HELLO", MOTION, np.random.default_rng(2))])
    t = torch.full((1, 16), 500)
    with torch.no_grad():
        a = model(x, t, ids, motion=motion)
        x2 = x.clone()
        x2[:, 8:] = torch.randn(1, 8, 32, 32)
        b = model(x2, t, ids, motion=motion)
    assert torch.equal(a[:, :8], b[:, :8]) and not torch.allclose(a[:, 8:], b[:, 8:])


# ----------------------------------------------------------------------------- the methods


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_makes_the_whole_video_clean_and_deterministic(tiny_long, method):
    steps = 3
    videos = [tiny_long.generate("HELLO WORLD", frames=40, seed=5, method=method, steps=steps) for _ in range(2)]
    assert videos[0].shape == (40, 32, 32) and videos[0].dtype == np.uint8 and np.array_equal(*videos)
    other = tiny_long.generate("HELLO WORLD", frames=40, seed=6, method=method, steps=steps)
    assert not np.array_equal(videos[0], other)
    steps_seen = list(tiny_long.iter_long_steps("HELLO WORLD", frames=40, seed=5, method=method, steps=steps))
    assert len(steps_seen) == num_calls(method, 40, 16, 4, steps) and (steps_seen[-1].levels == 0).all()
    assert (steps_seen[-1].made_by >= 0).all() and [s.done for s in steps_seen] == sorted(s.done for s in steps_seen)


def test_independent_chunks_have_their_boundaries_every_window(tiny_long):
    last = list(tiny_long.iter_long_steps("HELLO WORLD", frames=48, method="independent", steps=2))[-1]
    boundaries = np.nonzero(np.diff(last.made_by))[0] + 1
    assert boundaries.tolist() == [16, 32]


@pytest.mark.parametrize("method", ["stream", "splice"])
def test_the_key_value_cache_changes_nothing(tiny_long, method):
    """A cached method computes its clean context's keys and values once per chunk or token and runs the frames it
    moves alone: the video is the uncached one (40 frames: splice's last chunk holds 12 frames of context)."""
    model, sched = tiny_long.model, tiny_long.schedule
    ids = torch.from_numpy(tok.encode_batch(["HELLO WORLD"], 24, words=True))
    motion = motion_tensor([sample_motion("HELLO WORLD", MOTION, np.random.default_rng(0), frames=40)])
    runs = [list(iter_long(model, sched, ids, motion, method=method, steps=3, guidance_scale=3.0, seed=1, cache=c))[-1].x
            for c in (True, False)]
    assert torch.allclose(runs[0], runs[1], atol=1e-5)
    assert not torch.allclose(runs[0], list(iter_long(model, sched, ids, motion, method=method, steps=3, guidance_scale=3.0,
                                                      seed=2))[-1].x, atol=1e-3)  # another seed: another video


def test_an_odd_length_is_made_a_patch_longer_and_cut(tiny_long):
    assert tiny_long.generate("HELLO WORLD", frames=33, steps=2).shape == (33, 32, 32)
    motion = tiny_long.sample_motion("HELLO WORLD", 3, frames=37)
    assert tiny_long.generate("HELLO WORLD", motion=motion, steps=2).shape == (37, 32, 32)


def test_bad_long_requests_get_one_clear_line(tiny_long):
    motion = tiny_long.sample_motion("HELLO WORLD", 0, frames=64)
    cases = [
        (dict(frames=200), "frames must be a whole number from 16 to 128"),
        (dict(frames=32, motion=motion), "the motion has 64 frames but frames=32"),
        (dict(frames=16, prompt="HELLO WORLD 2026"), "too long for 16 frames"),
        (dict(frames=64, prompt="HELLO_WORLD"), "outside the allowed symbols"),
        (dict(frames=64, prompt="HELLO WORLD AND A LOT MORE"), "at most 24 are allowed"),
        (dict(frames=64, steps=0), "steps per frame"),
        (dict(frames=64, method="fifo"), "unknown long-video method"),
        (dict(frames=64, seed=-1), "seed must be"),
    ]
    for kwargs, message in cases:
        prompt = kwargs.pop("prompt", "HELLO WORLD")
        with pytest.raises(ValueError, match=message):
            tiny_long.generate(prompt, **kwargs)
    for kwargs in (dict(sampler="dpm++2m"), dict(eta=0.5), dict(clip_x0=False), dict(ids=torch.zeros(1, 24, dtype=torch.long))):
        with pytest.raises(ValueError, match="per-frame DDIM from prompts"):  # refused, not silently dropped
            tiny_long.generate("HELLO WORLD", frames=64, **kwargs)
    hidden = Motion(motion.xs[:1] * 64, motion.ys[:1] * 64, motion.size)  # stands still: most glyphs never whole
    with pytest.raises(ValueError, match="wholly on screen"):
        tiny_long.generate("HELLO WORLD", motion=hidden)


def test_a_long_model_trains_with_forcing_noise_and_the_temporal_term(tmp_path):
    """Two steps of the tiny long recipe: per-frame levels, sentences, windows of long videos, and seed 004's
    temporal term logged beside the denoising loss; a negative weight is refused."""
    from vidgen.training.config import TrainConfig
    from vidgen.training.trainer import Trainer

    preset = PRESETS["tiny-motion-long"]
    cfg = dataclasses.replace(preset.train, temporal_loss=0.5, bf16=False)
    trainer = Trainer(preset.model, preset.diffusion, cfg, tmp_path, preset_name="tiny-motion-long")
    out = trainer.train_step()
    assert np.isfinite(out["loss"]) and out["aux"]["temporal"] > 0 and out["t"].shape == (cfg.batch_size,)
    with pytest.raises(ValueError, match="temporal_loss is a weight"):
        TrainConfig(temporal_loss=-1.0)
