"""The variants' presets on tiny sizes (every registered variant and the siblings its class names for
the comparison, e.g. Latte's text placements): shapes, gradients, checkpoint round trip through
training, sampling, SnapVideo's carried latents, and bad names that must raise. What every variant
must do whatever its preset is in tests/test_variant_conformance.py."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from vidgen.evaluation.compare import preset_for
from vidgen.jsonconfig import config_from_dict, to_dict
from vidgen.models import VARIANTS, build_model, compared_variants
from vidgen.models.config import ModelConfig
from vidgen.pipeline import load_pipeline
from vidgen.presets import PRESETS, get_preset
from vidgen.training.trainer import Trainer

TINY_VARIANTS = [preset_for(v, "tiny") for v in compared_variants()]  # "tiny", "tiny-gentron", ...


def _inputs(cfg: ModelConfig, batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, cfg.frames, cfg.height, cfg.width), generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    ids = torch.randint(1, 40, (batch, cfg.prompt_len), generator=g)
    return x, t, ids


def test_every_variant_has_tiny_and_small_presets():
    for variant, cls in VARIANTS.items():
        for suffix in cls.COMPARED:  # the variant itself ("") and the siblings the comparison trains
            assert get_preset(preset_for(variant + suffix, "tiny")).model.variant == variant
            assert get_preset(preset_for(variant + suffix, "small")).model.variant == variant
    assert {get_preset(f"small-latte{s}").model.text_placement for s in ("", "-between", "-both")} == {"spatial", "between", "both"}


@pytest.mark.parametrize("preset", TINY_VARIANTS + [f"{v}-layout" for v in TINY_VARIANTS])
def test_forward_backward(preset):
    torch.manual_seed(0)
    cfg = get_preset(preset).model
    model = build_model(cfg).train()
    x, t, ids = _inputs(cfg)
    out = model(x, t, ids, drop=torch.tensor([False, True]))
    assert out.shape == x.shape
    # zero-initialised outputs: the untrained network predicts 0 ...
    assert out.abs().max() == 0
    (out - x).pow(2).mean().backward()  # a loss against a target, as in training (out**2 would have no gradient at 0)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # ... and the output layer (the class's OUTPUT_LAYER) gets a gradient, so it can leave zero
    output_layer = model.get_submodule(type(model).OUTPUT_LAYER)
    assert output_layer.weight.grad.abs().max() > 0


@pytest.mark.parametrize("preset", TINY_VARIANTS + ["tiny-layout", "tiny-conv3d-layout"])
def test_one_initialisation_for_every_variant(preset):
    """The base class's initialize_weights serves every variant: the marked zero layers start at zero,
    so a fresh model predicts exactly zero (every block the identity), the other linears are
    xavier-initialised, and the learned positions are small and not zero."""
    from vidgen.models.base import VideoDenoiser

    torch.manual_seed(0)
    model = build_model(get_preset(preset).model)
    assert type(model).initialize_weights is VideoDenoiser.initialize_weights
    zeroed = [m for m in model.modules() if getattr(m, "zero_init", False)]
    assert zeroed and all(not m.weight.any() for m in zeroed)
    x, t, ids = torch.randn(2, 16, 32, 32), torch.tensor([10, 900]), torch.randint(2, 38, (2, 8))
    with torch.no_grad():
        assert not model(x, t, ids).any()
    others = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and not getattr(m, "zero_init", False)]
    for m in others:
        fan_out, fan_in = m.weight.shape
        assert m.weight.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5 + 1e-6 or m in model.t_embedder.modules()
        assert m.bias is None or not m.bias.any()
    for p in model.learned_positions():
        assert 0.005 < p.std() < 0.05


def test_latte_placements_differ_in_structure():
    base = get_preset("tiny-latte").model
    names = {}
    for placement in ("between", "spatial", "both"):
        model = build_model(dataclasses.replace(base, depth=4, text_placement=placement))
        names[placement] = sum("cross_attn" in n for n, _ in model.named_modules() if n.endswith("cross_attn"))
    # depth 4 = two spatial and two temporal blocks
    assert names == {"between": 2, "spatial": 2, "both": 4}


@pytest.mark.parametrize("bad", [{"variant": "unet"}, {"text_placement": "temporal"}, {"variant": "snapvideo", "latent_groups": 3}])
def test_bad_model_fields_raise(bad):
    with pytest.raises(ValueError, match="known|divide"):
        build_model(ModelConfig(**{**to_dict(get_preset("tiny").model), **bad}))


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match="known presets"):
        get_preset("tiny-mamba")


def test_old_configs_still_load():
    # a checkpoint written before the variant fields existed
    old = {k: v for k, v in to_dict(get_preset("small").model).items()
           if k not in ("text_placement", "latent_groups", "latents_per_group", "latent_layers")}
    assert config_from_dict(ModelConfig, old, "model") == PRESETS["small"].model


@pytest.mark.slow
@pytest.mark.parametrize("preset", TINY_VARIANTS[1:] + ["tiny-layout", "tiny-snapvideo-layout", "tiny-conv3d-layout"])
def test_checkpoint_round_trip_and_sampling(preset, tmp_path):
    p = get_preset(preset)
    train = dataclasses.replace(p.train, batch_size=4, val_every=0, ckpt_every=0, log_every=2)
    trainer = Trainer(p.model, p.diffusion, train, tmp_path, preset_name=preset)
    trainer.fit(max_steps=3, progress=False)
    pipe = load_pipeline(tmp_path, bf16=False)
    assert pipe.model.cfg == p.model
    x, t, ids = _inputs(p.model, seed=1)
    with torch.no_grad():
        assert torch.equal(trainer.ema.eval()(x, t, ids), pipe.model(x, t, ids))
    a = pipe.generate(["AB", "7"], steps=3, guidance_scale=2.0, seed=3)
    b = pipe.generate(["AB", "7"], steps=3, guidance_scale=2.0, seed=3)
    assert a.shape == (2, p.model.frames, p.model.height, p.model.width)
    assert (a == b).all()  # sampling state is reset between trajectories


def test_snapvideo_carries_latents_within_a_trajectory_only():
    torch.manual_seed(0)
    cfg = get_preset("tiny-snapvideo").model
    model = build_model(cfg).eval()
    for param in model.parameters():  # zero-initialised layers (output, self-conditioning) would hide the state
        if param.abs().max() == 0:
            torch.nn.init.normal_(param, std=0.2)
    x, _, ids = _inputs(cfg)
    t_hi, t_lo = torch.full((2,), 900), torch.full((2,), 500)
    with torch.no_grad():
        fresh_lo = model(x, t_lo, ids)  # no trajectory: zero latents
        state: dict = {}
        model(x, t_hi, ids, state=state)  # a trajectory's first step leaves its latents in its state
        assert state["latents"].shape == (2, model.num_latents, cfg.dim)
        carried_lo = model(x, t_lo, ids, state=state)  # its next step starts from them
        assert not torch.allclose(carried_lo, fresh_lo)
        assert torch.allclose(model(x, t_lo, ids, state={}), fresh_lo, atol=1e-6)  # a new trajectory starts from zero
        assert torch.allclose(model(x, t_lo, ids), fresh_lo, atol=1e-6)  # and a call outside one leaves nothing behind


@pytest.mark.parametrize("preset", TINY_VARIANTS)
def test_analytic_attention_flops_match_counted(preset):
    """cost.attention_cost against FlopCounterMode, which sees the attention products only on the
    explicit path that stores the weights (the fused kernel is invisible to it)."""
    from vidgen.evaluation.cost import attention_cost, counted_gflops
    from vidgen.models.layers import Attention

    cfg = get_preset(preset).model
    model = build_model(cfg)
    video_attention = [m for n, m in model.named_modules() if isinstance(m, Attention) and not n.startswith("prompt_encoder")]
    fused = counted_gflops(model)
    for m in video_attention:
        m.store_attention = True
    explicit = counted_gflops(model)
    cost = attention_cost(cfg)
    assert explicit - fused == pytest.approx(cost["self_attn_gflops"] + cost["cross_attn_gflops"], rel=1e-9)
