"""Every registered layout kind (vidgen.models.conditioning.LAYOUT_KINDS) through the same checks: what it
declares about the data, the denoiser, the pipeline and the app is what a model of that kind does."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from vidgen.app.model_choices import model_kind
from vidgen.app.panels import layout_panel
from vidgen.data.layout2d import motion_tensor
from vidgen.data.tokenizer import encode_batch
from vidgen.data.world import WORLDS, Motion, WorldConfig, line_motion, sample_motion, scroll_motion
from vidgen.models import build_model
from vidgen.models.conditioning import LAYOUT_KINDS, MOTION_SOURCES, LayoutKind, layout_kind
from vidgen.models.config import LAYOUTS, ModelConfig
from vidgen.pipeline import Pipeline
from vidgen.presets import TINY_TRAIN, get_preset, tiny
from vidgen.training.trainer import Trainer, check_world

KINDS = list(LAYOUT_KINDS)
DIFFUSION = get_preset("tiny").diffusion


def tiny_config(name: str, template_dim: int = 4) -> ModelConfig:
    return tiny(layout=name, template_dim=template_dim if layout_kind(name).reads_layout else 0)


def tiny_model(name: str, template_dim: int = 4, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(tiny_config(name, template_dim))


def pipeline(name: str, world: str) -> Pipeline:
    return Pipeline(tiny_model(name), DIFFUSION, config={"train": {"world": {"name": world}}}, precision="fp32")


def given_motion(world: str, prompt: str = "HI") -> Motion:
    """A motion a model of `world` can follow: the scroll itself, or text moving down at size 18."""
    return scroll_motion(prompt) if world == "scroll" else line_motion(prompt, 90, 2.0, size=18)


# ----------------------------------------------------------------------------- the registry


def test_the_registry_is_keyed_by_the_config_strings_and_refuses_unknown_ones():
    assert tuple(LAYOUT_KINDS) == LAYOUTS  # checkpoint configs keep their strings
    for name, kind in LAYOUT_KINDS.items():
        assert isinstance(kind, LayoutKind) and kind.name == name and kind.label and kind.panel_caption
        assert kind.draws_motion in MOTION_SOURCES and kind.worlds and set(kind.worlds) <= set(WORLDS)
        assert bool(kind.world_refusal) == (set(kind.worlds) != set(WORLDS))  # a refused world says why
        assert not (kind.per_pixel or kind.predicts_layout) or kind.reads_layout
        assert kind.draws_motion is None or kind.follows_motion  # a drawn motion is one it is then told
    with pytest.raises(ValueError, match="unknown layout 'boxes'; known: none, glyph, learned, glyph2d, learned2d"):
        layout_kind("boxes")
    with pytest.raises(ValueError, match="unknown layout 'boxes'"):
        tiny(layout="boxes")


def test_a_kind_with_an_unknown_motion_source_is_refused_when_its_class_is_defined():
    with pytest.raises(TypeError, match="draws_motion must be one of"):
        class Sky(LayoutKind):  # noqa: F841 (defining it is the test)
            draws_motion = "sky"
    class FromTheWorld(LayoutKind):  # every declared source defines
        draws_motion = "world"
    assert FromTheWorld.draws_motion == "world"


def test_template_dim_without_a_layout_names_every_kind_that_reads_one():
    readers = [name for name, kind in LAYOUT_KINDS.items() if kind.reads_layout]
    assert readers == ["glyph", "learned", "glyph2d", "learned2d"]
    with pytest.raises(ValueError, match=r"needs a layout \('glyph', 'learned', 'glyph2d', 'learned2d'\)"):
        tiny(layout="none", template_dim=4)


@pytest.mark.parametrize("name", KINDS)
def test_a_model_chooses_its_kind_once_and_its_copies_share_it(name):
    model = tiny_model(name)
    assert model.layout_kind is LAYOUT_KINDS[name] is model.cfg.layout_kind
    assert copy.deepcopy(model).layout_kind is model.layout_kind  # the EMA's copy
    assert (model.glyph_layout is not None) == model.layout_kind.reads_layout
    assert (model.layout_predictor is not None) == model.layout_kind.predicts_layout
    # the prompt encoder keeps its slot positions only where no layout tells it the symbols' order
    assert (model.prompt_encoder.pos_embed is None) == model.layout_kind.reads_layout
    assert model.cfg.pixel_layout == model.layout_kind.per_pixel


# ----------------------------------------------------------------------------- the denoiser


@pytest.mark.parametrize("template_dim", [0, 4])
@pytest.mark.parametrize("name", KINDS)
def test_the_features_have_the_declared_shape_in_training_and_sampling(name, template_dim):
    model = tiny_model(name, template_dim)
    kind = model.layout_kind
    ids = model.null_prompt(3)
    ids[:2, :2] = torch.tensor([[5, 6], [7, 8]])  # two prompts and the null one
    for training in (True, False):
        model.train(training)
        feats = model.layout_features(ids)
        if not kind.reads_layout:
            assert feats is None and kind.feature_shape(model, 3) is None
            continue
        assert tuple(feats.shape) == kind.feature_shape(model, 3)
        assert feats.shape[2] == (model.cfg.height if kind.per_pixel else model.template_rows(model.cfg) if template_dim else 1)
        assert torch.isfinite(feats).all()


@pytest.mark.parametrize("name", KINDS)
def test_the_features_feed_the_denoiser(name):
    """With every weight drawn at random (the output layer starts at zero), the prediction changes when
    the layout features' weights do, exactly for the kinds that say they read a layout."""
    model = tiny_model(name).train()  # the true layout (a learned kind's prediction: the shape test)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    x = torch.randn(2, model.cfg.frames, model.cfg.height, model.cfg.width, generator=g)
    t, ids = torch.tensor([10, 500]), torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0], [8, 9, 0, 0, 0, 0, 0, 0]])
    ids = torch.where(ids == 0, model.null_prompt(2), ids)
    before = model(x, t, ids)
    assert before.shape == x.shape
    if not model.layout_kind.reads_layout:
        return
    with torch.no_grad():
        model.glyph_layout.symbol_embed.weight.add_(1.0)
    assert not torch.allclose(model(x, t, ids), before)


@pytest.mark.parametrize("name", KINDS)
def test_the_auxiliary_losses_are_the_layout_predictors(name):
    model = tiny_model(name).train()
    ids = torch.tensor([[5, 6, 0, 0, 0, 0, 0, 0]])
    ids = torch.where(ids == 0, model.null_prompt(1), ids)
    aux = model.auxiliary_losses(ids)
    assert set(aux) == ({"alignment"} if model.layout_kind.predicts_layout else set())
    assert all(v.ndim == 0 and torch.isfinite(v) and v.requires_grad for v in aux.values())
    if not model.layout_kind.predicts_layout:
        with pytest.raises(ValueError, match="does not predict a layout"):
            model.predicted_layout(ids)


# ----------------------------------------------------------------------------- the data


@pytest.mark.parametrize("name", KINDS)
def test_training_supplies_what_the_kind_needs_in_every_world_it_learns_in(name, tmp_path):
    """A training step and a validation pass in each world the kind declares (with the motion world's
    batches carrying motions it may not read), and a clear refusal in the others."""
    kind = layout_kind(name)
    for world in WORLDS:
        train = dataclasses.replace(TINY_TRAIN, batch_size=2, val_size=2, world=WorldConfig(name=world),
                                    prior_motions=1 if kind.draws_motion == "prior" else 0)
        if world not in kind.worlds:
            with pytest.raises(ValueError, match=f"layout={name!r}"):
                check_world(tiny_config(name), train)
            continue
        tr = Trainer(tiny_config(name), DIFFUSION, train, tmp_path / world)
        log = tr.train_step()
        assert np.isfinite(log["loss"])
        expected = ({"alignment"} if kind.predicts_layout else set()) | ({"prior"} if kind.draws_motion == "prior" else set())
        assert set(log["aux"]) == expected
        assert np.isfinite(tr.validation_loss()["val_loss"])


@pytest.mark.parametrize("name", KINDS)
def test_world_losses_draw_from_the_world_only_for_a_motion_prior(name):
    """Only a kind that draws its motions from a prior learns from more of the world (n draws per prompt,
    from the trainer's rng); the others add nothing and leave the rng untouched, so training is unchanged."""
    kind = layout_kind(name)
    model = tiny_model(name)
    prompts = ["HI", "ABC"]
    ids = torch.from_numpy(encode_batch(prompts, model.cfg.prompt_len))  # (B, L)
    world = WorldConfig(name=kind.worlds[-1])
    for n in (0, 1, 2):
        rng, untouched = np.random.default_rng(5), np.random.default_rng(5)
        losses = kind.world_losses(model, ids, prompts, world, rng, n)
        drew = rng.random() != untouched.random()
        if n and kind.draws_motion == "prior":
            assert set(losses) == {"prior"} and losses["prior"].ndim == 0 and torch.isfinite(losses["prior"]) and drew
        else:
            assert losses == {} and not drew


# ----------------------------------------------------------------------------- the pipeline and the app


@pytest.mark.parametrize("name", KINDS)
def test_the_pipeline_follows_a_motion_exactly_when_the_kind_says_it_can(name):
    kind = layout_kind(name)
    world = kind.worlds[-1]
    pipe = pipeline(name, world)
    given = given_motion(world)
    motion = motion_tensor([given])
    ids = pipe.encode(["HI"])
    if not kind.follows_motion:
        with pytest.raises(ValueError, match="cannot be told a motion"):
            pipe.motions(["HI"], given)
        with pytest.raises(ValueError, match="cannot be told a motion"):
            pipe.model.layout_features(ids, motion)
        with pytest.raises(ValueError, match="cannot be told a motion"):
            pipe.generate("HI", motion=given, steps=1)
        return
    assert pipe.motions(["HI"], given) == [given]
    assert pipe.generate("HI", motion=given, steps=1).shape == (16, 32, 32)
    # what it is told changes what it reads: the text elsewhere in every frame
    elsewhere = motion.clone()
    elsewhere[..., 0] += 3
    assert not torch.equal(pipe.model.layout_features(ids, motion), pipe.model.layout_features(ids, elsewhere))


@pytest.mark.parametrize("name", KINDS)
def test_with_no_motion_given_it_comes_from_where_the_kind_says(name):
    kind = layout_kind(name)
    world = kind.worlds[-1]
    pipe = pipeline(name, world)
    drawn = pipe.motions(["HI", "ABC"], None, seed=3)
    if kind.draws_motion is None:
        assert drawn is None
    elif kind.draws_motion == "world":
        assert drawn == [sample_motion(p, pipe.world, np.random.default_rng(3)) for p in ("HI", "ABC")]
        assert drawn == [pipe.sample_motion(p, 3) for p in ("HI", "ABC")]  # one draw, whoever asks
    else:  # "prior": the model's own, the same for the same seed
        assert {m.shape for m in drawn} == {"learned"} and drawn == pipe.motions(["HI", "ABC"], None, seed=3)
    assert pipe.generate("HI", steps=1, seed=3).shape == (16, 32, 32)


@pytest.mark.parametrize("name", KINDS)
def test_the_app_labels_the_kind_and_draws_its_layout_panel(name):
    kind = layout_kind(name)
    world = kind.worlds[-1]
    pipe = pipeline(name, world)
    assert model_kind(pipe).startswith(kind.label)
    motion = (pipe.motions(["HELLO"], None, seed=0) or [None])[0]
    caption, picture = layout_panel(pipe, "HELLO", motion)
    assert caption.startswith("glyph layout: ") and (kind.draws_motion == "prior" or caption == kind.panel_caption)
    assert picture.shape == (16, 32, 32, 3) and picture.dtype == np.uint8 and picture.std() > 0
