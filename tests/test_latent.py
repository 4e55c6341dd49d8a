"""Latent video: the autoencoders (shapes, causality, determinism, exact resume) and a tiny latent pipeline end to end."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from vidgen import checkpoint as ckpt
from vidgen.cli.main import main as cli
from vidgen.latent.config import VAE_PRESETS, VAEConfig
from vidgen.latent.release import VAE_NAME, load_vae, vae_files, vae_section
from vidgen.latent.vae import VideoVAE
from vidgen.pipeline import describe_precision, load_pipeline
from vidgen.presets import get_preset
from vidgen.training.trainer import Trainer
from vidgen.training.vae_trainer import VAERun, VAETrainConfig, export_vae

TINY_FRAME = VAEConfig(kind="frame", latent_channels=4, widths=(4, 8, 8))
TINY_CAUSAL = VAEConfig(kind="causal", latent_channels=4, widths=(4, 8, 8), time_downs=2)


def _video(seed=0, batch=2, size=32):
    return torch.rand(batch, 16, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("cfg", [TINY_FRAME, TINY_CAUSAL, *VAE_PRESETS.values()])
def test_vae_round_trip_shapes(cfg):
    torch.manual_seed(0)
    vae = VideoVAE(cfg).eval()
    x = _video(size=cfg.height)
    mean, logvar = vae.encode(x)
    assert tuple(mean.shape) == (2, *cfg.latent_shape) == tuple(logvar.shape)
    assert tuple(vae.decode(mean).shape) == (2, 16, cfg.height, cfg.width)
    assert tuple(vae.from_latent(vae.to_latent(x)).shape) == (2, 16, cfg.height, cfg.width)


def test_causal_vae_latent_frames():
    assert TINY_CAUSAL.latent_shape == (4, 5, 8, 8)  # frame 0 alone, then four groups of four
    assert TINY_FRAME.latent_shape == (4, 16, 8, 8)


@pytest.mark.parametrize("k", [0, 3, 4, 9, 15])
def test_causal_vae_changing_frame_k_changes_no_earlier_latent(k):
    torch.manual_seed(1)
    vae = VideoVAE(TINY_CAUSAL).eval()
    x = _video()
    y = x.clone()
    y[:, k] = -y[:, k]
    with torch.no_grad():
        a, b = vae.encode(x)[0], vae.encode(y)[0]
    changed = [(a[:, :, j] - b[:, :, j]).abs().max().item() > 0 for j in range(a.shape[2])]
    first = 0 if k == 0 else 1 + k // 4  # latent frame j >= 1 codes frames 4j-4 .. 4j-1
    assert changed == [j >= first for j in range(a.shape[2])]


def test_causal_vae_decoder_is_causal():
    torch.manual_seed(2)
    vae = VideoVAE(TINY_CAUSAL).eval()
    z = torch.randn(1, *TINY_CAUSAL.latent_shape)
    z2 = z.clone()
    z2[:, :, 3] += 1.0  # latent frame 3 decodes to frames 8..11
    with torch.no_grad():
        a, b = vae.decode(z), vae.decode(z2)
    changed = [(a[:, f] - b[:, f]).abs().max().item() > 0 for f in range(16)]
    assert changed == [f >= 8 for f in range(16)]


def test_frame_vae_codes_each_frame_alone():
    torch.manual_seed(3)
    vae = VideoVAE(TINY_FRAME).eval()
    x = _video()
    y = x.clone()
    y[:, 5] = -y[:, 5]
    with torch.no_grad():
        a, b = vae.encode(x)[0], vae.encode(y)[0]
    changed = [(a[:, :, j] - b[:, :, j]).abs().max().item() > 0 for j in range(16)]
    assert changed == [j == 5 for j in range(16)]


def test_vae_is_deterministic_and_refuses_other_shapes():
    torch.manual_seed(4)
    vae = VideoVAE(TINY_CAUSAL).eval()
    x = _video()
    assert torch.equal(vae.to_latent(x), vae.to_latent(x))
    with pytest.raises(ValueError, match=r"codes videos \(B, 16, 32, 32\)"):
        vae.encode(torch.zeros(1, 15, 32, 32))


@pytest.mark.parametrize("fields, message", [
    (dict(kind="spatial"), "unknown VAE kind"),
    (dict(kind="frame", time_downs=1), "does not compress time"),
    (dict(kind="causal", time_downs=3), "time_downs must be in"),
    (dict(widths=(8,)), "two or more"),
    (dict(height=30), "do not halve"),
    (dict(kind="causal", time_downs=2, frames=18), "groups of 4"),
])
def test_vae_config_refuses_bad_shapes(fields, message):
    with pytest.raises(ValueError, match=message):
        VAEConfig(**fields)


def _vae_run(out, steps):
    return VAERun(out, TINY_FRAME, VAETrainConfig(steps=steps, ckpt_every=2, log_every=1, val_videos=2, warmup_steps=2))


def test_vae_training_resumes_exactly(tmp_path):
    _vae_run(tmp_path / "a", 4).train(progress=False)
    first = _vae_run(tmp_path / "b", 4)
    first.train(minutes=1e-6, progress=False)  # one step, then out of time: checkpointed
    assert 0 < first.step < 4
    VAERun(tmp_path / "b", resume=True).train(progress=False)
    a = ckpt.load_tensors(tmp_path / "a" / ckpt.EMA_NAME)
    b = ckpt.load_tensors(tmp_path / "b" / ckpt.EMA_NAME)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_vae_training_lowers_the_loss_and_exports(tmp_path):
    run = _vae_run(tmp_path / "run", 30)
    run.train(progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / ckpt.LOG_NAME).read_text().splitlines()]
    assert log[-1]["l1"] < log[0]["l1"]
    raw = export_vae(tmp_path / "run", tmp_path / "release")
    vae, _ = load_vae(tmp_path / "release")
    assert raw["step"] == 30 and len(raw["latent_stats"]["std"]) == 4
    assert torch.allclose(vae.latent_std, torch.tensor(raw["latent_stats"]["std"]))


def _tiny_vae_release(out, cfg=TINY_FRAME):
    torch.manual_seed(5)
    vae = VideoVAE(cfg)
    vae.measure_latents(_video(batch=4, size=cfg.height))
    ckpt.write_set(out, {**vae_files(vae), ckpt.CONFIG_NAME: ckpt.json_bytes({"format": "vidgen-vae-1", **vae_section(vae)})})
    return out


def test_a_read_vae_is_channels_last_and_decodes_as_the_standard_layout(tmp_path):
    vae, _ = load_vae(_tiny_vae_release(tmp_path / "vae"))
    conv = vae.decoder.conv_in.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    standard = VideoVAE(vae.cfg).eval()
    standard.load_state_dict(vae.state_dict())
    z = torch.randn(2, *vae.cfg.latent_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(vae.from_latent(z), standard.from_latent(z), atol=1e-5)


@pytest.fixture(scope="module")
def tiny_latent_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("latent")
    vae_dir = _tiny_vae_release(root / "vae")
    p = get_preset("tiny-motion-latent")
    train = dataclasses.replace(p.train, vae=str(vae_dir))
    Trainer(p.model, p.diffusion, train, root / "run", preset_name="tiny-motion-latent").fit(max_steps=6, progress=False)
    ckpt.export_release(root / "run", root / "release")
    return root


def test_tiny_latent_pipeline_end_to_end(tiny_latent_release):
    pipe = load_pipeline(tiny_latent_release / "release", precision="fp32")
    assert pipe.vae is not None and pipe.model.cfg.sample_shape == (4, 16, 8, 8)
    video = pipe.generate("AB", seed=3, steps=3, sampler="ddim")
    assert video.shape == (16, 32, 32) and video.dtype == np.uint8
    assert np.array_equal(video, pipe.generate("AB", seed=3, steps=3, sampler="ddim"))
    steps = list(pipe.iter_steps("AB", seed=3, steps=3, sampler="ddim"))
    assert tuple(steps[-1].x_t.shape) == (1, 16, 32, 32) and tuple(steps[-1].latent_x_t.shape) == (1, 4, 16, 8, 8)
    noise = np.zeros((4, 16, 8, 8), dtype=np.float32)
    assert pipe.generate("AB", motion=pipe.sample_motion("AB", 1), noise=noise, steps=2, sampler="ddim").shape == (16, 32, 32)


def test_the_decoders_precision_follows_a_forced_one_and_is_timed_under_auto(tiny_latent_release, tmp_path, monkeypatch):
    release = tiny_latent_release / "release"
    assert load_pipeline(release, precision="fp32").decode_bf16 is False
    forced = load_pipeline(release, precision="bf16")
    assert forced.decode_bf16 is True and forced.decode_precision_info["how"] == "forced"
    monkeypatch.setenv("VIDGEN_CACHE_DIR", str(tmp_path))
    auto = load_pipeline(release)
    timed = []
    monkeypatch.setattr(auto, "time_decode", lambda vae, bf16: timed.append(bf16) or (1.0 if bf16 else 2.0))
    assert auto.decode_bf16 is True and set(timed) == {False, True}  # bf16 timed faster here, so kept
    assert "its VAE decodes in bf16, measured" in describe_precision(auto)
    z = torch.randn(1, *auto.model.cfg.sample_shape, generator=torch.Generator().manual_seed(0))
    assert auto.to_video(z).dtype == torch.float32


def test_a_latent_model_distils_in_its_latent_and_its_students_keep_its_vae(tiny_latent_release, tmp_path):
    """Guidance then progressive distillation of a latent release: batches are the VAE's latents, the DDIM steps leave
    x_0 unclipped (a latent has no [-1, 1] range), and each exported student loads and decodes with the same VAE."""
    from vidgen.training.distill import DistillConfig, Distiller

    release = tiny_latent_release / "release"
    guided = Distiller(release, tmp_path / "g", DistillConfig(steps=2, batch_size=2))
    x_t, t, ids, motion, s = guided.batch(0)
    assert tuple(x_t.shape) == (2, 4, 16, 8, 8) and np.isfinite(guided.loss(x_t, t, ids, motion, s).item())
    guided.fit(progress=False)
    ckpt.export_release(tmp_path / "g", tmp_path / "g-release")
    two = Distiller(tmp_path / "g-release", tmp_path / "p", DistillConfig(kind="progressive", student_steps=2, steps=2, batch_size=2))
    x_t, t, *_ = two.batch(0)
    out = 3 * torch.randn(x_t.shape, generator=torch.Generator().manual_seed(0))
    landed = two._ddim(x_t, t, torch.full_like(t, -1), out)  # one step to the data: x_0 itself
    assert torch.equal(landed, two.schedule.split_prediction(out, x_t, t)[0]) and landed.abs().max() > 1
    two.fit(progress=False)
    ckpt.export_release(tmp_path / "p", tmp_path / "p-release")
    pipe = load_pipeline(tmp_path / "p-release", precision="fp32")
    teacher_vae = ckpt.load_tensors(release / VAE_NAME)
    assert all(torch.equal(v, teacher_vae[k]) for k, v in ckpt.load_tensors(tmp_path / "p-release" / VAE_NAME).items())
    assert pipe.vae is not None and pipe.generate("AB", seed=1).shape == (16, 32, 32)
    assert len(list(pipe.iter_steps("AB", seed=1))) == 2  # sampled its own way: 2 DDIM steps


def test_the_probes_run_on_a_latent_model_in_world_pixels(tiny_latent_release, tmp_path):
    """Every probe runs on the latent model's token grid: a token covers patch x cell world pixels (the symbols it shows
    are counted there) and the probes on data denoise the VAE's latents of the renders, never the raw pixels."""
    from vidgen.probes import analysis
    from vidgen.probes.report import write_report

    pipe = load_pipeline(tiny_latent_release / "release", precision="fp32")
    assert pipe.model.cfg.world_patch == (4, 8, 8)  # patch (4, 2, 2) on a latent of cell 4
    x0, ids = analysis.probe_batch(pipe, ["AB", "C7"], "cpu")
    assert tuple(x0.shape) == (2, *pipe.model.cfg.sample_shape) and tuple(ids.shape[:1]) == (2,)
    with pytest.raises(ValueError, match="need its VAE"):
        analysis.probe_batch(pipe.model, ["AB"], "cpu")
    summary = write_report(pipe, tmp_path / "probe", prompt="AB", steps=2, loss_prompts=2, loss_timesteps=2,
                           align_prompts=2, align_timesteps=2, log=lambda *a: None)
    assert {"kinematics", "attention", "loss_by_noise"} <= set(summary), summary.get("skipped")
    assert all(row["queries"] > 0 for row in summary["kinematics"]["by_motion"].values())  # inked tokens found
    assert summary["attention"]["data"]["patches"] > 0 and np.isfinite(summary["loss_by_noise"]["x0_mse"]).all()


def test_the_fidelity_breakdown_measures_each_stage(tiny_latent_release):
    from vidgen.evaluation.fidelity import measure_fidelity, parse_setting
    from vidgen.evaluation.metrics import PSNR_CAP

    pipe = load_pipeline(tiny_latent_release / "release", precision="fp32")
    out = measure_fidelity(pipe, n=2, timesteps=(0, 999), batch=2)
    figures = [out["ceiling_db"], out["sampled_db"], *out["one_step_db"].values()]
    assert np.isfinite(figures).all() and out["ceiling_db"] < PSNR_CAP and set(out["one_step_db"]) == {"0", "999"}
    assert out == measure_fidelity(pipe, n=2, timesteps=(0, 999), batch=2)  # deterministic
    with pytest.raises(ValueError, match="timesteps must be in"):
        measure_fidelity(pipe, n=2, timesteps=(1000,))
    swept = measure_fidelity(pipe, n=2, timesteps=(999,), batch=2, settings=(parse_setting("ddim:1:1", batch=2),))
    assert set(swept["sampled_by_setting"]) == {"ddim:1:1"} and np.isfinite(swept["sampled_by_setting"]["ddim:1:1"])
    for bad in ("ddim:4", "ddim:0:1", "euler:4:1"):
        with pytest.raises(ValueError):
            parse_setting(bad)


def test_latent_release_refuses_a_missing_or_mismatched_vae(tiny_latent_release, tmp_path):
    import shutil

    broken = tmp_path / "no_vae"
    shutil.copytree(tiny_latent_release / "release", broken)
    (broken / VAE_NAME).unlink()
    with pytest.raises(ckpt.CheckpointError, match="lacks its VAE's weights"):
        load_pipeline(broken)
    other = tmp_path / "other_vae"
    shutil.copytree(tiny_latent_release / "release", other)
    raw = json.loads((other / ckpt.CONFIG_NAME).read_text())
    _tiny_vae_release(tmp_path / "causal", TINY_CAUSAL)
    shutil.copy(tmp_path / "causal" / VAE_NAME, other / VAE_NAME)
    raw["vae"] = json.loads((tmp_path / "causal" / ckpt.CONFIG_NAME).read_text())["vae"]
    (other / ckpt.CONFIG_NAME).write_text(json.dumps(raw))
    with pytest.raises(ckpt.CheckpointError, match=r"the VAE codes latents \(4, 5, 8, 8\)"):
        load_pipeline(other)


def test_pixel_presets_refuse_a_vae_and_latent_presets_need_one(tmp_path):
    assert cli(["train", "--preset", "tiny-motion", "--out", str(tmp_path / "a"), "--vae", "x", "--max-steps", "1"]) == 2
    p = get_preset("tiny-motion-latent")
    with pytest.raises(ValueError, match="trains with a VAE"):
        Trainer(p.model, p.diffusion, dataclasses.replace(p.train, vae=""), tmp_path / "b")


def test_only_latent_ready_variants_take_channels():
    from vidgen.models import build_model

    cfg = get_preset("tiny-motion-latent").model
    with pytest.raises(ValueError, match="denoises pixels only"):
        build_model(dataclasses.replace(cfg, variant="conv3d"))


def test_the_64_world_draws_the_32_world_at_twice_the_size():
    from vidgen.data.world import WorldConfig, downscale, render_motion, sample_motion

    world = WorldConfig(name="motion", scale=2)
    motion = sample_motion("HELLO", world, np.random.default_rng(0))
    small, large = render_motion("HELLO", motion), render_motion("HELLO", motion, 2)
    assert large.shape == (16, 64, 64) and world.video_size == (64, 64)
    assert np.abs(downscale(large, 2).astype(int) - small).mean() < 12  # the same text, antialiased at another size
    assert (large > 128).sum() > 3 * (small > 128).sum()  # four times the ink, give or take the strokes' edges
    with pytest.raises(ValueError, match="scale must be one of"):
        WorldConfig(name="scroll", scale=2)


def test_a_latent_model_of_the_64_world_makes_64x64_videos(tmp_path):
    tiny64 = VAEConfig(kind="frame", latent_channels=8, widths=(4, 4, 8, 8), height=64, width=64)
    vae_dir = _tiny_vae_release(tmp_path / "vae64", tiny64)
    p = get_preset("motion-latent-64")
    model = dataclasses.replace(get_preset("tiny-motion-latent").model, channels=8)
    train = dataclasses.replace(get_preset("tiny-motion-latent").train, vae=str(vae_dir), world=p.train.world)
    Trainer(model, p.diffusion, train, tmp_path / "run").fit(max_steps=2, progress=False)
    ckpt.export_release(tmp_path / "run", tmp_path / "release")
    pipe = load_pipeline(tmp_path / "release", precision="fp32")
    motion = pipe.sample_motion("HI", 2)
    assert pipe.render("HI", motion).shape == (16, 64, 64)
    assert pipe.generate("HI", motion=motion, steps=2, sampler="ddim").shape == (16, 64, 64)
    assert p.model.num_tokens == get_preset("motion-template").model.num_tokens  # 4x the pixels, the release's tokens


def test_the_cli_samples_a_latent_release_and_the_page_refuses_it(tiny_latent_release, tmp_path):
    release = str(tiny_latent_release / "release")
    out = tmp_path / "a.npy"
    assert cli(["sample", "--checkpoint", release, "--prompt", "AB", "--out", str(out), "--steps", "2", "--sampler", "ddim"]) == 0
    assert np.load(out).shape == (16, 32, 32)
    assert cli(["export-onnx", "--model", release, "--out", str(tmp_path / "web")]) == 2
