"""Interpretability probes on models with known structure: embeddings and attention set by hand so the
expected similarities, maps and argmax tokens are exact; then the figures and the command end to end."""
import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from vidgen.cli.main import main
from vidgen.diffusion.schedule import DiffusionConfig, NoiseSchedule
from vidgen.models import build_model
from vidgen.models.config import ModelConfig
from vidgen.models.layers import Attention
from vidgen.pipeline import Pipeline, load_pipeline
from vidgen.probes import analysis as probes
from vidgen.probes import figures as plots
from vidgen.trajectory import Trajectory

CFG = ModelConfig(patch=(4, 8, 8), dim=32, depth=2, heads=2, text_layers=1)  # grid (4, 4, 4), 64 tokens
A, B, C = 0.3, 0.7, 1.1  # angular frequencies of the hand-set embedding along t, h, w


def model_with_known_positions():
    """pos_embed(t, h, w) = [cos At, sin At, cos Bh, sin Bh, cos Cw, sin Cw, 0...] / sqrt(3), so
    cos-sim((t,h,w), (t',h',w')) = (cos A dt + cos B dh + cos C dw) / 3 exactly."""
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    t, h, w = np.meshgrid(*(np.arange(g) for g in CFG.grid), indexing="ij")
    feats = np.stack([np.cos(A * t), np.sin(A * t), np.cos(B * h), np.sin(B * h), np.cos(C * w), np.sin(C * w)], -1).reshape(-1, 6)
    pe = torch.zeros(1, CFG.num_tokens, CFG.dim)
    pe[0, :, :6] = torch.tensor(feats / math.sqrt(3))
    with torch.no_grad():
        model.pos_embed.copy_(pe)
    return model


def expected_similarity(ref, pos):
    dt, dh, dw = (np.asarray(p) - r for p, r in zip(pos, ref))
    return (np.cos(A * dt) + np.cos(B * dh) + np.cos(C * dw)) / 3


def test_similarity_cube_and_matrix_are_exact():
    model = model_with_known_positions()
    grid = np.meshgrid(*(np.arange(g) for g in CFG.grid), indexing="ij")
    for ref in [(0, 0, 0), (1, 2, 3), (3, 3, 1)]:
        cube = probes.position_similarity_cube(model, *ref)
        assert cube.shape == CFG.grid
        np.testing.assert_allclose(cube, expected_similarity(ref, grid), atol=1e-6)
    sim = probes.position_similarity_matrix(model)
    assert sim.shape == (64, 64)
    # token order is (t h w): row token_index(ref) reshaped is the cube
    np.testing.assert_allclose(sim[probes.token_index((1, 2, 3), CFG.grid)].reshape(CFG.grid),
                               probes.position_similarity_cube(model, 1, 2, 3), atol=1e-12)
    # a Pipeline is accepted as well as a model
    pipe = Pipeline(model, DiffusionConfig())
    np.testing.assert_array_equal(probes.position_similarity_matrix(pipe), sim)


def test_similarity_by_distance_is_exact():
    model = model_with_known_positions()
    prof = probes.similarity_by_distance(probes.position_similarity_matrix(model), CFG.grid)
    for name, freq in (("time", A), ("height", B), ("width", C)):
        assert prof[name]["distance"] == [0, 1, 2, 3]
        np.testing.assert_allclose(prof[name]["mean"], (np.cos(freq * np.arange(4)) + 2) / 3, atol=1e-9)
        assert prof[name]["pairs"] == [64, 96, 64, 32]  # 16 lines of 4: 16*4 self pairs, 16*2*3 at distance 1, ...
    assert prof["space"]["distance"][0] == 0 and prof["space"]["mean"][0] == pytest.approx(1.0)
    # within a frame, distance 1 are the 4-neighbours: (cos B + 2)/3 and (cos C + 2)/3 pairs, equally many
    assert prof["space"]["distance"][:3] == [0, 1, 1.414]
    assert prof["space"]["mean"][1] == pytest.approx((np.cos(B) + np.cos(C) + 4) / 6)
    assert prof["space"]["mean"][2] == pytest.approx((np.cos(B) + np.cos(C) + 1) / 3)  # the diagonal neighbours
    summary = probes.position_summary(model)
    assert summary["mean_same_frame"] > summary["mean_other_frames"] or A > 1  # t varies slowest here


def test_prompt_similarity_is_exact():
    model = build_model(CFG)
    pe = torch.zeros(1, 8, CFG.dim)
    pe[0, torch.arange(8), torch.arange(8)] = 1.0  # orthogonal slots
    pe[0, 7] = pe[0, 6] * 3  # slot 8 points the same way as slot 7
    with torch.no_grad():
        model.prompt_encoder.pos_embed.copy_(pe)
    expected = np.eye(8)
    expected[6, 7] = expected[7, 6] = 1.0
    np.testing.assert_allclose(probes.prompt_position_similarity(model), expected, atol=1e-12)


def test_timestep_features_follow_the_formula():
    t = np.array([0, 10, 999])
    feats = probes.timestep_features(t, 8)
    freqs = np.exp(-np.log(10000) * np.arange(4) / 4)
    np.testing.assert_allclose(feats, np.concatenate([np.cos(t[:, None] * freqs), np.sin(t[:, None] * freqs)], 1), atol=1e-5)
    model = build_model(CFG)
    raw = probes.timestep_embedding(model, t)
    assert raw.shape == (3, CFG.freq_dim)
    with torch.no_grad():
        np.testing.assert_allclose(probes.timestep_embedding(model, t, after_mlp=True),
                                   model.t_embedder(torch.tensor(t)).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="even"):
        probes.timestep_features(t, 7)


def test_symbol_ownership_follows_the_drawing():
    labels = probes.symbol_pixels("AB")  # (T, H, W)
    video = probes.render_video("AB")
    assert ((labels >= 0) == (video > probes.INK_THRESHOLD)).all()
    for f in range(labels.shape[0]):  # A is drawn left of B in every frame showing both
        cols_a, cols_b = np.nonzero(labels[f] == 0)[1], np.nonzero(labels[f] == 1)[1]
        if len(cols_a) and len(cols_b):
            assert cols_a.mean() < cols_b.mean()
    own = probes.symbol_ownership("AB", (2, 4, 4))
    assert own.shape == (8, 8, 8) and set(np.unique(own)) == {-1, 0, 1}
    ink = (video > probes.INK_THRESHOLD).reshape(8, 2, 8, 4, 8, 4).sum((1, 3, 5))  # ink pixels per patch
    assert ((own >= 0) == (ink >= probes.MIN_INK_PIXELS)).all()
    assert (labels[0] == -1).all()  # the first frame shows nothing yet
    assert set(np.unique(own[0])) == {-1, 0} and (own[0, :, :7] == -1).all()  # then A enters from the right


def test_alignment_score_on_constructed_attention():
    own = np.array([0, 1, 2, -1, 1, 1])  # 5 scored patches, symbol 1 the majority (3/5)
    aligned = np.eye(3)[np.where(own >= 0, own, 0)] * 0.8 + 0.1  # (6, 3) peaks at the drawn symbol
    shifted = np.eye(3)[(np.where(own >= 0, own, 0) + 1) % 3] * 0.8 + 0.1
    res = probes.alignment_score(np.stack([aligned, shifted]), own)
    np.testing.assert_array_equal(res["rate"], [1.0, 0.0])
    assert res["patches"] == 5 and res["chance"] == pytest.approx(1 / 3) and res["majority"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="patches"):
        probes.alignment_score(aligned[:4], own)


def test_recorded_attention_has_the_expected_argmax():
    """An attention module with identity projections: patch i's query equals token label[i]'s key."""
    dim, n_tokens = 8, 4
    attn = Attention(dim, heads=1)
    with torch.no_grad():
        attn.to_q.weight.copy_(torch.eye(dim)); attn.to_q.bias.zero_()
        attn.to_kv.weight.copy_(torch.cat([torch.eye(dim), torch.eye(dim)])); attn.to_kv.bias.zero_()
    labels = np.array([2, 0, 3, 1, 1, 0])
    context = 4.0 * torch.eye(dim)[:n_tokens][None]  # (1, 4, D)
    x = 4.0 * torch.eye(dim)[labels][None]  # (1, 6, D)
    mask = torch.tensor([[True, True, True, True]])
    with probes.recording_attention([attn]):
        attn(x, context=context, mask=mask)
        weights = attn.last_attention  # (1, 1, 6, 4)
    assert attn.last_attention is None and attn.store_attention is False  # recording stops after the block
    assert weights.shape == (1, 1, 6, 4)
    np.testing.assert_array_equal(weights[0, 0].argmax(-1).numpy(), labels)
    assert probes.alignment_score(weights[0, 0].numpy(), labels)["rate"] == 1.0
    assert probes.alignment_score(weights[0, 0].numpy(), (labels + 1) % 4)["rate"] == 0.0


def test_cross_attention_maps_use_token_order():
    """A trace whose token n (in (t h w) order) puts all its attention on a random symbol: any other
    axis order would move the maps."""
    grid, n, steps = (4, 4, 4), 5, 2
    target = np.random.default_rng(0).integers(0, n, size=64)
    cross = np.zeros((steps, 2, 2, 64, n), np.float32)
    cross[..., np.arange(64), target] = 1.0
    frames = np.zeros((steps, 16, 32, 32), np.uint8)
    trace = probes.AttentionTrace(prompt="ABCDE", grid=grid, patch=(4, 8, 8), trajectory=Trajectory(np.array([999, 0]), frames, frames),
                                  cross=cross, self_steps=(), self_attn=np.zeros(0, np.float16), ownership=target.reshape(grid))
    maps = probes.cross_attention_maps(trace, step=-1, layer=1, head=0)
    assert maps.shape == (n, *grid)
    np.testing.assert_array_equal(maps.argmax(0), target.reshape(grid))
    res = probes.alignment_over_steps(trace)
    assert res["mean"] == [1.0, 1.0] and np.asarray(res["per_layer"]).shape == (steps, 2)
    with pytest.raises(ValueError, match="step"):
        probes.cross_attention_maps(trace, step=2)
    with pytest.raises(ValueError, match="layer"):
        probes.cross_attention_maps(trace, layer=5)
    with pytest.raises(ValueError, match="no self-attention"):
        probes.self_attention_map(trace, (0, 0, 0))


def test_trace_with_zero_queries_is_uniform_over_the_prompt():
    """With to_q zeroed every score is 0, so each patch spreads its attention evenly over the prompt's
    symbols and none on padding; self-attention rows are distributions."""
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.cross_attn.to_q.weight.zero_(); block.cross_attn.to_q.bias.zero_()
    pipe = Pipeline(model, DiffusionConfig(), bf16=False)
    trace = probes.trace_attention(pipe, "HELLO", seed=1, steps=3, guidance_scale=2.0)
    assert trace.cross.shape == (3, 2, 2, 64, 5) and trace.timesteps.tolist() == [999, 500, 0]
    np.testing.assert_allclose(trace.cross, 0.2, atol=1e-6)
    assert trace.self_steps == (0, 1, 2) and trace.self_attn.shape == (3, 2, 2, 64, 64)
    np.testing.assert_allclose(trace.self_attn.astype(np.float32).sum(-1), 1.0, atol=1e-2)
    m = probes.self_attention_map(trace, (1, 2, 3), step=1, layer=0, head=1)
    np.testing.assert_allclose(m.reshape(-1), trace.self_attn[1, 0, 1, probes.token_index((1, 2, 3), CFG.grid)].astype(np.float32))
    assert trace.pred_x0.shape == (3, 16, 32, 32) and trace.pred_x0.dtype == np.uint8
    assert all(m.store_attention is False for m in probes.attention_modules(model, "cross"))


def test_loss_by_noise_level_of_a_zero_output_model():
    """A fresh model outputs exactly 0 (zero-initialised final layer): the v-MSE is the mean of v^2."""
    model = build_model(CFG).eval()
    schedule = NoiseSchedule(DiffusionConfig(prediction="v"))
    prompts = ["AB", "HELLO"]
    res = probes.loss_by_noise_level(model, schedule, [0, 500, 999], prompts, seed=3)
    x0, _ = probes.make_batch(prompts)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))
    for k, t_val in enumerate([0, 500, 999]):
        t = torch.full((2,), t_val)
        assert res["target_mse"][k] == pytest.approx(float(schedule.target(x0, noise, t).pow(2).mean()), rel=1e-5)
        a = float(schedule.sqrt_alphas_cumprod[t_val])
        assert res["x0_mse"][k] == pytest.approx(float((a * schedule.q_sample(x0, t, noise) - x0).pow(2).mean()), rel=1e-5)
    assert res == probes.loss_by_noise_level(model, schedule, [0, 500, 999], prompts, seed=3)  # deterministic
    with pytest.raises(ValueError, match="timesteps"):
        probes.loss_by_noise_level(model, schedule, [1000], prompts)


class NoProbeModel(torch.nn.Module):
    """A denoiser-shaped module without a positional embedding, timestep embedder or attention blocks."""

    def __init__(self):
        super().__init__()
        self.cfg = CFG
        self.proj = torch.nn.Linear(2, 2)


def test_models_lacking_the_probed_parts_raise():
    model = NoProbeModel()
    for probe in (probes.position_similarity_matrix, probes.prompt_position_similarity,
                  lambda m: probes.position_similarity_cube(m, 0, 0, 0), lambda m: probes.timestep_embedding(m, [0]),
                  lambda m: probes.attention_modules(m, "cross")):
        with pytest.raises(ValueError, match="model variant"):
            probe(model)
    with pytest.raises(ValueError, match="Pipeline"):
        probes.trace_attention(model, "AB")
    with pytest.raises(ValueError, match="expected a vidgen model"):
        probes.position_similarity_matrix("not a model")
    good = build_model(CFG)
    with pytest.raises(ValueError, match="outside the token grid"):
        probes.position_similarity_cube(good, 4, 0, 0)
    with pytest.raises(ValueError, match="kind"):
        probes.attention_modules(good, "temporal")


def test_figures_and_html(tiny_checkpoint, tmp_path):
    pipe = load_pipeline(tiny_checkpoint)
    cube = plots.similarity_cube_figure(pipe, 1, 2, 3)
    assert isinstance(cube, go.Figure) and len(cube.frames) == 64 and len(cube.layout.sliders) == 3
    assert [s.active for s in cube.layout.sliders] == [3, 2, 1]  # W, H, T
    static = plots.similarity_cube_figure(pipe.model, 1, 2, 3, sliders=False)
    assert len(static.frames) == 0 and static.data[1].x == (3,)
    assert plots.similarity_matrix_figure(pipe).data[0].z.shape == (64, 64)
    assert plots.prompt_similarity_figure(pipe).data[0].z.shape == (8, 8)
    assert len(plots.timestep_embedding_figure(pipe.model, 1000, t=500).frames) == 101
    assert plots.timestep_embedding_figure(32).data[1].z.shape == (1000, 32)
    trace = probes.trace_attention(pipe, "AB", steps=2)
    cross = plots.cross_attention_figure(trace)
    assert len(cross.frames) == 2 and len(cross.frames[0].data) == 4 * 3  # (video + 2 symbols) x 4 frames
    assert plots.self_attention_figure(trace, (1, 1, 1)).layout.title.text.startswith("Self-attention")
    with pytest.raises(ValueError, match="query"):
        plots.self_attention_figure(trace, (0, 9, 0))
    path = plots.write_html(cube, tmp_path / "cube.html")
    text = path.read_text()
    assert 'src="plotly.min.js"' in text and "cdn.plot.ly" not in text and "linked_sliders" in text
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000


def test_probe_command_end_to_end(tiny_checkpoint, tmp_path):
    out = tmp_path / "probe"
    args = ["probe", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--prompt", "NOISE", "--steps", "3",
            "--loss-prompts", "4", "--loss-timesteps", "3", "--align-prompts", "4", "--align-timesteps", "2"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["skipped"]) == ["kinematics"] and summary["prompt"] == "NOISE" and summary["grid"] == [4, 4, 4]
    assert "motion-world model" in summary["skipped"]["kinematics"]  # a scroll-world model: nothing to ask
    assert summary["layout"] == "none" and (out / "glyph_layout.png").is_file() and "symbol_similarity" not in summary
    for name in ("pos_similarity_cube", "pos_similarity_matrix", "prompt_pos_similarity", "pos_similarity_by_distance",
                 "timestep_embedding", "cross_attention", "self_attention", "alignment", "loss_by_noise"):
        assert (out / f"{name}.html").is_file(), name
        with Image.open(out / f"{name}.png") as im:
            assert im.size[0] <= 1200 and im.size[1] <= 1200, name
    assert (out / "attention_argmax.png").is_file() and (out / "plotly.min.js").is_file() and (out / "index.html").is_file()
    att = summary["attention"]
    assert len(att["sampling"]["mean"]) == 3 and 0 <= att["data_alignment"] <= 1 and 0 < att["data"]["chance"] < 1
    assert len(summary["loss_by_noise"]["x0_mse"]) == 3
    assert summary["positions"]["by_distance"]["time"]["mean"][0] == pytest.approx(1.0)


def test_probe_command_on_a_layout_model(tiny_layout_checkpoint, tmp_path):
    """A glyph-layout model has no prompt-slot embeddings (skipped, with the reason) but draws its
    layout and its learned symbol embeddings."""
    out = tmp_path / "probe"
    args = ["probe", "--checkpoint", str(tiny_layout_checkpoint), "--out", str(out), "--prompt", "AB", "--steps", "2",
            "--loss-prompts", "2", "--loss-timesteps", "2", "--align-prompts", "2", "--align-timesteps", "2"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layout"] == "glyph" and list(summary["skipped"]) == ["kinematics", "prompt_positions"]
    assert "prompt positional embedding" in summary["skipped"]["prompt_positions"]
    assert np.asarray(summary["symbol_similarity"]).shape == (36, 36)
    assert (out / "symbol_similarity.html").is_file() and (out / "symbol_similarity.png").is_file()
    with Image.open(out / "glyph_layout.png") as im:
        assert im.mode == "RGB" and im.size[0] > 16 * 32


@pytest.mark.parametrize("extra, message", [
    (["--steps", "0"], "--steps"),
    (["--ref", "9", "0", "0"], "outside the token grid"),
    (["--query", "0", "0", "-1"], "outside the token grid"),
    (["--prompt", "a-b"], "outside the allowed symbols"),
    (["--loss-prompts", "0"], "--loss-prompts"),
    (["--guidance", "50"], "--guidance"),
])
def test_probe_command_rejects_bad_arguments(tiny_checkpoint, tmp_path, capsys, extra, message):
    out = tmp_path / "probe"
    assert main(["probe", "--checkpoint", str(tiny_checkpoint), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing written before the arguments are checked


def test_probe_command_missing_checkpoint(tmp_path, capsys):
    assert main(["probe", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_the_kinematic_probe_compares_attention_with_the_motion(tiny_motion_checkpoint, tmp_path):
    """For a motion-world model: along each of four straight motions, every inked query patch's attention
    peak in every other token frame is scored against x + v dt and against x; figures are written."""
    from vidgen.data.world import motion_from_spec
    from vidgen.pipeline import load_pipeline
    from vidgen.probes.kinematics import kinematic_attention
    from vidgen.probes.report import KINEMATIC_MOTIONS, FigureFolder, probe_kinematics

    pipe = load_pipeline(tiny_motion_checkpoint)
    out = probe_kinematics(pipe, "HI", 0, FigureFolder(tmp_path))["kinematics"]
    assert set(out["by_motion"]) == set(KINEMATIC_MOTIONS)
    assert all(r["pairs"] > 0 and r["error_to_motion_px"] >= 0 for r in out["by_motion"].values())
    assert len(list(tmp_path.glob("kinematics_*.png"))) == 4
    motion = motion_from_spec("line:0,3", "HI", pipe.world)
    r = kinematic_attention(pipe, "HI", motion, steps=2)
    t = pipe.model.cfg.grid[0]
    # the motion's guess moves with the text: 3 px a frame over the token frames between query and key
    step = pipe.model.cfg.patch[0] * 3
    np.testing.assert_allclose(r.moving[:, 0] - r.static[:, 0], step * r.dt, atol=1.0)
    assert r.attention.shape[:3] == r.attention.shape[3:] == pipe.model.cfg.grid and len(r.dt) <= len(r.queries) * (t - 1)

