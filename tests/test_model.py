"""The network: shapes, patcher inverse, conditioning, guidance, presets."""
import dataclasses

import pytest
import torch

from vidgen.data import tokenizer as tok
from vidgen.models import build_model
from vidgen.models.config import ModelConfig
from vidgen.models.layers import Patcher, rope_tables
from vidgen.presets import PRESETS, get_preset

TINY = get_preset("tiny").model


def test_patcher_is_exactly_invertible():
    p = Patcher(16, 32, 32, (2, 4, 4))
    x = torch.randn(2, 16, 32, 32)
    seq = p.patchify(x)
    assert seq.shape == (2, 512, 32)
    assert torch.equal(p.unpatchify(seq), x)
    # token 0 is the top-left patch of the first two frames
    assert torch.equal(seq[0, 0].reshape(2, 4, 4), x[0, :2, :4, :4])


def test_forward_shapes_and_zero_init():
    model = build_model(TINY)
    x = torch.randn(3, 16, 32, 32)
    t = torch.tensor([0, 500, 999])
    ids = torch.from_numpy(tok.encode_batch(["A", "BC", "DEF"]))
    out = model(x, t, ids)
    assert out.shape == x.shape
    assert torch.all(out == 0)  # adaLN-Zero and the zero output layer: the untrained model predicts 0


def _perturbed(cfg):
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_prompt_and_timestep_reach_the_output():
    model = _perturbed(TINY)
    x = torch.randn(1, 16, 32, 32)
    ids_a = torch.from_numpy(tok.encode_batch(["AB"]))
    ids_b = torch.from_numpy(tok.encode_batch(["XY"]))
    t = torch.tensor([300])
    assert not torch.allclose(model(x, t, ids_a), model(x, t, ids_b))
    assert not torch.allclose(model(x, t, ids_a), model(x, torch.tensor([900]), ids_a))


def test_padding_slots_are_masked_out():
    """Whatever the PAD embedding holds must not change the output: pads are masked everywhere."""
    model = _perturbed(TINY)
    x = torch.randn(1, 16, 32, 32)
    t = torch.tensor([300])
    ids = torch.from_numpy(tok.encode_batch(["AB"]))
    out = model(x, t, ids)
    with torch.no_grad():
        model.prompt_encoder.token_embed.weight[tok.PAD_ID].normal_()
    torch.testing.assert_close(model(x, t, ids), out)
    ids2 = ids.clone()
    ids2[0, 1] = int(tok.encode("C")[0])
    assert not torch.allclose(out, model(x, t, ids2))


def test_guidance_dropout_and_cfg():
    model = _perturbed(TINY)
    x = torch.randn(2, 16, 32, 32)
    t = torch.tensor([100, 700])
    ids = torch.from_numpy(tok.encode_batch(["AB", "CD"]))
    null = model.null_prompt(2)
    assert null[0].tolist() == [tok.NULL_ID] + [tok.PAD_ID] * 7
    dropped = model(x, t, ids, drop=torch.tensor([True, False]))
    torch.testing.assert_close(dropped[0], model(x[:1], t[:1], null[:1])[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dropped[1], model(x[1:], t[1:], ids[1:])[0], rtol=1e-4, atol=1e-5)
    cond, uncond = model(x, t, ids), model(x, t, null)
    for s in (0.0, 1.0, 3.5):
        torch.testing.assert_close(model.forward_with_guidance(x, t, ids, s), uncond + s * (cond - uncond), rtol=1e-4, atol=1e-5)


def test_rope_tables_are_relative():
    cos, sin = rope_tables((8, 8, 8), 32)
    assert cos.shape == (512, 16)
    # rotation angles are linear in the coordinates: neighbours along w differ by a constant
    ang = torch.atan2(sin, cos)
    assert torch.allclose(ang[1] - ang[0], ang[2] - ang[1], atol=1e-5)


def test_presets_registry():
    assert {"tiny", "small", "base"} <= set(PRESETS)
    small = get_preset("small").model
    assert small.dim == 128 and small.depth == 6 and small.num_tokens == 512
    with pytest.raises(ValueError, match="known presets"):
        get_preset("huge")
    with pytest.raises(ValueError, match="known variants"):
        build_model(dataclasses.replace(TINY, variant="nope"))


@pytest.mark.parametrize("bad", [dict(patch=(3, 4, 4)), dict(dim=30, heads=4), dict(patch=(2, 4)), dict(depth=0)])
def test_bad_model_configs_raise(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_wrong_prompt_slots_raise():
    model = build_model(TINY)
    with pytest.raises(ValueError, match="slots"):
        model(torch.randn(1, 16, 32, 32), torch.tensor([1]), torch.zeros(1, 5, dtype=torch.long))


def test_qk_norm_makes_attention_blind_to_the_scale_of_queries_and_keys():
    """With ModelConfig.qk_norm every attention layer RMS-normalises q and k per head: scaling the
    query and key projections leaves the output unchanged (without it, it changes)."""
    import dataclasses

    from vidgen.models import build_model
    from vidgen.models.layers import Attention
    from vidgen.presets import get_preset

    x, t = torch.randn(1, 16, 32, 32), torch.tensor([300])
    for qk_norm in (True, False):
        torch.manual_seed(0)
        model = build_model(dataclasses.replace(get_preset("tiny-template").model, qk_norm=qk_norm)).eval()
        for p in model.parameters():  # leave the zero-initialised identity start, so attention matters
            p.data.add_(0.02 * torch.randn_like(p))
        ids = model.null_prompt(1)
        with torch.no_grad():
            before = model(x, t, ids)
            for m in model.modules():
                if isinstance(m, Attention):
                    m.to_q.weight.mul_(8.0)
                    m.to_q.bias.mul_(8.0)
            after = model(x, t, ids)
        assert sum(isinstance(m, Attention) and m.q_norm is not None for m in model.modules()) == (
            sum(isinstance(m, Attention) for m in model.modules()) if qk_norm else 0)
        assert torch.allclose(before, after, atol=1e-4) == qk_norm
