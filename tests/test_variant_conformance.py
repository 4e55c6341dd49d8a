"""Every registered variant (vidgen.models.VARIANTS) through the same checks, so a new one is checked
by registering it: forward shape, backward into every parameter, a safetensors save/load round trip,
a few sampling steps through the public sampler, and its declarations (the attention calls the cost
model sums, the token-wide attention layers supervision and the probes read) against what a forward
pass does."""
from __future__ import annotations

import collections
import dataclasses

import pytest
import torch

from vidgen import checkpoint as ckpt
from vidgen.diffusion.sampler import iter_denoise
from vidgen.diffusion.schedule import DiffusionConfig, NoiseSchedule
from vidgen.evaluation.cost import attention_cost, counted_gflops
from vidgen.models import VARIANTS, build_model, variant_class, variants_with_attention
from vidgen.models.attention_calls import MAP_KINDS, AttentionCall
from vidgen.models.base import SPACE_TIME_KINDS, VideoDenoiser
from vidgen.models.config import ModelConfig
from vidgen.models.layers import Attention
from vidgen.presets import get_preset
from vidgen.training.attention_supervision import AttentionSupervision

NAMES = list(VARIANTS)
# variant-specific fields the other variants ignore: a second shape per variant, to catch a declaration
# that holds at one depth or placement only
OTHER_SHAPE = {"depth": 3, "heads": 4, "rope": False, "text_placement": "both", "latent_groups": 1, "latents_per_group": 4,
               "latent_layers": 1}


def tiny(name: str, **fields) -> ModelConfig:
    """The tiny preset's network (64 tokens, width 32, 2 blocks) as variant `name`."""
    return dataclasses.replace(get_preset("tiny").model, variant=name, **fields)


def inputs(cfg: ModelConfig, batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, cfg.frames, cfg.height, cfg.width), generator=g)  # (B, T, H, W)
    t = torch.randint(0, 1000, (batch,), generator=g)
    ids = torch.randint(2, 38, (batch, cfg.prompt_len), generator=g)  # (B, L) symbols, no NULL or PAD
    return x, t, ids


def perturbed(cfg: ModelConfig) -> VideoDenoiser:
    """A model whose zero-initialised layers are drawn too, so every path carries signal and gradient."""
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.1)
    return model


def test_the_registry_names_classes_that_declare_what_they_must():
    for name, cls in VARIANTS.items():
        assert issubclass(cls, VideoDenoiser) and variant_class(name) is cls
        cls.attention_calls(tiny(name))  # declared: VideoDenoiser's raises NotImplementedError
        assert set(cls.ATTENTION_MAPS) <= set(MAP_KINDS) and cls.COMPARED[0] == ""
        assert cls.SPACE_TIME in SPACE_TIME_KINDS  # the comparison's findings read its rows by it
        output = build_model(tiny(name)).get_submodule(cls.OUTPUT_LAYER)  # a path that names a zeroed layer
        assert getattr(output, "zero_init", False) and not output.weight.any()
    with pytest.raises(ValueError, match="known variants: " + ", ".join(VARIANTS)):
        variant_class("unet")


@pytest.mark.parametrize("layout", ["none", "glyph"])
@pytest.mark.parametrize("name", NAMES)
def test_forward_shape_and_identity_start(name, layout):
    cfg = tiny(name, layout=layout)
    torch.manual_seed(0)
    model = build_model(cfg)
    x, t, ids = inputs(cfg)
    with torch.no_grad():
        out = model(x, t, ids)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not out.any()  # zero-initialised output layers: every variant starts as DiT's identity blocks
    out = perturbed(cfg).eval()(x, t, ids)
    assert out.shape == x.shape and torch.isfinite(out).all() and out.abs().mean() > 0


@pytest.mark.parametrize("layout", ["none", "glyph"])
@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name, layout):
    """A training step's loss (guidance dropout on one sample) gives every parameter a finite, nonzero
    gradient: no layer is built and left out of the forward pass."""
    cfg = tiny(name, layout=layout)
    model = perturbed(cfg).train()
    x, t, ids = inputs(cfg)
    out = model(x, t, ids, drop=torch.tensor([False, True]))
    (out - x).pow(2).mean().backward()
    starved = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not starved, f"{name}: no gradient reaches {starved}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip_gives_identical_outputs(name, tmp_path):
    cfg = tiny(name, layout="glyph")
    model = perturbed(cfg).eval()
    ckpt.write_set(tmp_path, {ckpt.EMA_NAME: ckpt.tensor_bytes(model.state_dict()),
                              ckpt.CONFIG_NAME: ckpt.json_bytes(ckpt.config_dict(cfg, DiffusionConfig(), None))})
    loaded, _, _ = ckpt.load_model(tmp_path)
    assert type(loaded) is type(model) and loaded.cfg == cfg
    x, t, ids = inputs(cfg, seed=1)
    with torch.no_grad():
        assert torch.equal(loaded(x, t, ids), model(x, t, ids))


@pytest.mark.parametrize("name", NAMES)
def test_sampling_a_few_steps(name):
    """Three guided steps through the public sampler: a step per yield, the video's shape, and the same
    seed the same video (whatever a variant carries between steps starts afresh per trajectory)."""
    cfg = tiny(name)
    model, schedule = perturbed(cfg).eval(), NoiseSchedule(DiffusionConfig())
    _, _, ids = inputs(cfg, batch=1)

    def run(seed):
        with torch.no_grad():
            return list(iter_denoise(model, schedule, ids, steps=3, guidance_scale=2.0, seed=seed))

    first, again, other = run(3), run(3), run(4)
    assert len(first) == 3 and [s.index for s in first] == [0, 1, 2]
    assert first[-1].x_t.shape == (1, cfg.frames, cfg.height, cfg.width) and torch.isfinite(first[-1].x_t).all()
    assert torch.equal(first[-1].x_t, again[-1].x_t) and not torch.equal(first[-1].x_t, other[-1].x_t)


def recorded_calls(model: VideoDenoiser, cfg: ModelConfig) -> list[tuple]:
    """The attention calls one forward pass for one video makes, outside the prompt encoder, as hooks see
    them: (queries, keys, dim, sequences, self-attention?, heads)."""
    calls, hooks = [], []

    def record(module, args, kwargs):
        x = args[0]
        context = kwargs.get("context", args[1] if len(args) > 1 else None)
        keys = x.shape[1] if context is None else context.shape[1]
        calls.append((x.shape[1], keys, module.to_q.out_features, x.shape[0], context is None, module.heads))

    for name, module in model.named_modules():
        if isinstance(module, Attention) and not name.startswith("prompt_encoder"):
            hooks.append(module.register_forward_pre_hook(record, with_kwargs=True))
    x, t, _ = inputs(cfg, batch=1)
    with torch.no_grad():
        model.eval()(x, t, model.null_prompt(1))
    for h in hooks:
        h.remove()
    return calls


@pytest.mark.parametrize("shape", ["tiny", "other"])
@pytest.mark.parametrize("name", NAMES)
def test_declared_attention_calls_are_the_forward_pass(name, shape):
    """`attention_calls` lists the calls a forward pass makes (hooks count them), and the cost model's FLOPs
    from it are what torch's FLOP counter sees on the explicit attention path, less the fused one."""
    cfg = tiny(name, **(OTHER_SHAPE if shape == "other" else {}))
    model = build_model(cfg)
    declared = variant_class(name).attention_calls(cfg)
    assert all(isinstance(c, AttentionCall) for c in declared)
    recorded = recorded_calls(model, cfg)
    as_declared = [(c.queries, c.keys, c.dim, c.sequences, c.kind == "self") for c in declared]
    assert collections.Counter(as_declared) == collections.Counter(r[:5] for r in recorded)
    cost = attention_cost(cfg)
    assert cost["score_entries_m"] * 1e6 == pytest.approx(sum(q * k * s * h for q, k, _, s, _, h in recorded), rel=1e-12)
    video_attention = [m for n, m in model.named_modules() if isinstance(m, Attention) and not n.startswith("prompt_encoder")]
    fused = counted_gflops(model)
    for m in video_attention:
        m.store_attention = True
    explicit = counted_gflops(model)
    assert explicit - fused == pytest.approx(cost["self_attn_gflops"] + cost["cross_attn_gflops"], rel=1e-9)


def test_a_wrong_declaration_fails_the_check(monkeypatch):
    """The check above is not vacuous: a variant that forgets a block's calls is caught."""
    cls = VARIANTS[NAMES[0]]
    honest = cls.attention_calls.__func__
    monkeypatch.setattr(cls, "attention_calls", classmethod(lambda c, cfg: honest(c, cfg)[1:]))
    with pytest.raises(AssertionError):
        test_declared_attention_calls_are_the_forward_pass(NAMES[0], "tiny")


def test_attention_supervision_names_the_variants_that_declare_cross_attention(monkeypatch):
    """variants_with_attention reads ATTENTION_MAPS from the registry: a variant registered under a new name
    that declares "cross" is listed (and named in attention supervision's refusal), one without it is not."""
    monkeypatch.setitem(VARIANTS, "conv3d-cross", type("CrossConv", (variant_class("conv3d"),), {"ATTENTION_MAPS": ("cross",)}))
    monkeypatch.setitem(VARIANTS, "full-blind", type("BlindDiT", (variant_class("full"),), {"ATTENTION_MAPS": ()}))
    assert "conv3d-cross" in variants_with_attention("cross") and "conv3d-cross" not in variants_with_attention("self")
    assert "full-blind" not in variants_with_attention("cross") and "full" in variants_with_attention("self")
    with pytest.raises(ValueError, match=r"attention supervision needs .*conv3d-cross\)"):
        AttentionSupervision(build_model(tiny("conv3d")))


@pytest.mark.parametrize("name", NAMES)
def test_declared_attention_layers_span_every_token(name):
    """ATTENTION_MAPS names the kinds `attention_layers` returns, one layer per block, whose recorded
    weights are (B, heads, N, L) for "cross" and (B, heads, N, N) for "self"; attention supervision
    accepts exactly the variants with "cross"."""
    cfg = tiny(name)
    cls, model = variant_class(name), build_model(cfg).eval()
    keys = {"cross": cfg.prompt_len, "self": cfg.num_tokens}
    x, t, ids = inputs(cfg)
    for kind in MAP_KINDS:
        layers = model.attention_layers(kind)
        assert bool(layers) == (kind in cls.ATTENTION_MAPS)
        if not layers:
            continue
        assert len(layers) == cfg.depth and all(isinstance(m, Attention) for m in layers)
        for m in layers:
            m.store_attention = True
        with torch.no_grad():
            model(x, t, ids)
        assert all(m.last_attention.shape == (2, cfg.heads, cfg.num_tokens, keys[kind]) for m in layers)
    with pytest.raises(ValueError, match="kind"):
        model.attention_layers("temporal")
    if "cross" in cls.ATTENTION_MAPS:
        assert AttentionSupervision(model).layers == model.attention_layers("cross")
    else:
        with pytest.raises(ValueError, match="attention supervision needs"):
            AttentionSupervision(model)
