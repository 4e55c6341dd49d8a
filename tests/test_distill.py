"""Guidance distillation: the student's interface, its start, its training and its resume."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from vidgen import checkpoint as ckpt
from vidgen.app.model_choices import model_kind
from vidgen.cli.main import main as cli
from vidgen.diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, GUIDANCE_RANGE
from vidgen.models.config import ModelConfig
from vidgen.pipeline import load_pipeline
from vidgen.training.distill import DistillConfig, Distiller


def test_guidance_range_is_checked_and_survives_json():
    with pytest.raises(ValueError, match="guidance_range"):
        ModelConfig(guidance_range=(3.0, 1.0))
    with pytest.raises(ValueError, match="guidance_range"):
        ModelConfig(guidance_range="wide")
    cfg = ModelConfig(guidance_range=[1, 7])  # as JSON hands it back
    assert cfg.guidance_range == (1.0, 7.0)
    assert ModelConfig().guidance_range is None


@pytest.fixture(scope="module")
def distiller(tiny_motion_checkpoint, tmp_path_factory):
    return Distiller(tiny_motion_checkpoint, tmp_path_factory.mktemp("distill"), DistillConfig(steps=6, batch_size=4))


def test_the_student_starts_as_its_teachers_conditional_model(distiller):
    x_t, t, ids, motion, _ = distiller.batch(0)
    with torch.no_grad():
        teacher = distiller.teacher(x_t, t, ids, motion=motion)
        for s in (1.0, 4.0, 7.0):
            student = distiller.student.eval()(x_t, t, ids, motion=motion, guidance=torch.full((len(ids),), s))
            torch.testing.assert_close(student, teacher)
    distiller.student.train()


def test_the_student_needs_the_scale_and_refuses_one_outside_its_range(distiller):
    x_t, t, ids, motion, _ = distiller.batch(0)
    student = distiller.student.eval()
    with pytest.raises(ValueError, match="guidance scale as an input"):
        student(x_t, t, ids, motion=motion)
    cond = student.encode_for_guidance(ids, 3.0, motion=motion)
    assert cond.batch == len(ids)  # one pass: no null-prompt rows
    with pytest.raises(ValueError, match=r"trained for guidance scales in \[1, 7\]"):
        student.forward_with_guidance(x_t, t, None, 9.0, cond=cond)
    distiller.student.train()


def test_a_step_is_a_function_of_the_step(distiller):
    a, b = distiller.batch(3), distiller.batch(3)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert not torch.equal(distiller.batch(4)[0], a[0])
    lo, hi = distiller.cfg.guidance_range
    assert ((a[4] >= lo) & (a[4] <= hi)).all()


def test_distillation_learns_the_guided_output_and_resumes_exactly(tiny_motion_checkpoint, tmp_path):
    cfg = DistillConfig(steps=30, batch_size=4, lr=1e-3, save_every=10)
    whole = Distiller(tiny_motion_checkpoint, tmp_path / "whole", cfg)

    def gap(d):  # the student's error against the teacher's guided output on a fixed batch
        x_t, t, ids, motion, s = d.batch(10_000)
        with torch.no_grad():
            null = d.teacher.null_prompt(len(ids))
            both = d.teacher(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([ids, null]), motion=torch.cat([motion, motion]))
            c, u = both.chunk(2)
            target = u + s[:, None, None, None] * (c - u)
            return torch.nn.functional.mse_loss(d.student(x_t, t, ids, motion=motion, guidance=s), target).item()

    before = gap(whole)
    whole.fit(progress=False)
    assert gap(whole) < 0.7 * before
    # the same run stopped after 10 steps and resumed in a new process-like object ends bit-identical
    part = Distiller(tiny_motion_checkpoint, tmp_path / "part", dataclasses.replace(cfg, steps=10))
    part.fit(progress=False)
    raw = ckpt.read_json(tmp_path / "part" / ckpt.CONFIG_NAME)
    raw["distill"]["config"]["steps"] = 30
    ckpt.atomic_write_json(tmp_path / "part" / ckpt.CONFIG_NAME, raw)
    with open(tmp_path / "part" / ckpt.LOG_NAME, "a") as f:  # a run stopped past its checkpoint, mid-line
        f.write(json.dumps({"step": 20, "loss": 9.0}) + "\n" + '{"step": 2')
    resumed = Distiller(None, tmp_path / "part", resume=True)
    assert resumed.step == 10
    resumed.fit(progress=False)
    for (k, v), w in zip(whole.student.state_dict().items(), resumed.student.state_dict().values()):
        assert torch.equal(v, w), k
    logged = [json.loads(line) for line in (tmp_path / "part" / ckpt.LOG_NAME).read_text().splitlines()]
    assert [r["step"] for r in logged] == [10, 20, 30] and logged[1]["loss"] != 9.0  # each step once, as the run logged it


def test_an_exported_student_samples_in_one_pass_a_step(distiller, tmp_path):
    distiller.fit(progress=False)
    out = ckpt.export_release(distiller.out, tmp_path / "release-fast")
    pipe = load_pipeline(out, precision="fp32")
    assert pipe.model.cfg.guidance_range == (1.0, 7.0)
    calls = []
    hook = pipe.model.register_forward_hook(lambda m, args, kw_out: calls.append(args[0].shape[0]))
    try:
        video = pipe.generate("HI", steps=3, seed=0, guidance_scale=3.0)
    finally:
        hook.remove()
    assert video.shape == (16, 32, 32) and calls == [1, 1, 1]  # one row a step, not two
    assert np.array_equal(video, pipe.generate("HI", steps=3, seed=0, guidance_scale=3.0))
    with pytest.raises(ValueError, match="guidance scales in"):
        pipe.generate("HI", steps=2, guidance_scale=12.0)
    raw = json.loads((out / ckpt.CONFIG_NAME).read_text())
    assert raw["distill"]["steps"] == distiller.step and raw["distill"]["teacher_weights_sha256"]


def test_the_cli_distils_and_refuses_a_second_run_in_one_directory(tiny_motion_checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["distill", "--teacher", str(tiny_motion_checkpoint), "--out", str(out), "--steps", "2", "--precision", "fp32",
                "--no-progress"]) == 0
    assert (out / ckpt.EMA_NAME).is_file()
    assert cli(["distill", "--teacher", str(tiny_motion_checkpoint), "--out", str(out), "--steps", "2", "--no-progress"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert cli(["distill", "--teacher", str(out), "--out", str(tmp_path / "again"), "--steps", "2", "--precision", "fp32",
                "--no-progress"]) == 2  # a student is not a teacher
    assert "already guidance-distilled" in capsys.readouterr().err
    assert cli(["distill", "--out", str(tiny_motion_checkpoint), "--resume", "--no-progress"]) == 2  # a training run
    assert "not a distillation run" in capsys.readouterr().err


@pytest.fixture(scope="module")
def guidance_student(tiny_motion_checkpoint, tmp_path_factory):
    d = Distiller(tiny_motion_checkpoint, tmp_path_factory.mktemp("gstudent"), DistillConfig(steps=4, batch_size=4))
    d.fit(progress=False)
    return ckpt.export_release(d.out, tmp_path_factory.mktemp("gstudent_release") / "release")


def test_progressive_distillation_needs_a_guidance_distilled_teacher_and_nesting_grids(tiny_motion_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="not guidance-distilled"):
        Distiller(tiny_motion_checkpoint, tmp_path / "p", DistillConfig(kind="progressive"))
    for bad in (4, 6, 1):
        with pytest.raises(ValueError, match="2\\^k \\+ 1"):
            DistillConfig(kind="progressive", student_steps=bad)


def test_the_progressive_target_is_where_one_ddim_step_must_land(guidance_student, tmp_path):
    d = Distiller(guidance_student, tmp_path / "p", DistillConfig(kind="progressive", student_steps=3, steps=2, batch_size=4))
    assert d.cfg.guidance_range == (1.0, 7.0)  # the teacher's
    x_t, t, *_ = d.batch(0)
    assert set(t.tolist()) <= {999, 500, 0}
    t_mid, t_next = d._teacher_steps(torch.tensor([999, 500, 0]))
    assert t_mid.tolist() == [749, 250, 0] and t_next.tolist() == [500, 0, -1]  # the teacher's grid of 5 steps
    g = torch.Generator().manual_seed(0)
    x_next = torch.randn(x_t.shape, generator=g)
    t_to = torch.full_like(t, 250)
    t_from = torch.full_like(t, 749)
    x0 = d.x0_target(x_t, t_from, x_next, t_to)
    a_t, a_n = d._abar(t_from, x_t.ndim), d._abar(t_to, x_t.ndim)
    eps = (x_t - a_t.sqrt() * x0) / (1 - a_t).sqrt()
    torch.testing.assert_close(a_n.sqrt() * x0 + (1 - a_n).sqrt() * eps, x_next, rtol=1e-4, atol=1e-4)


def test_progressive_distillation_learns_and_records_how_to_sample(guidance_student, tmp_path):
    cfg = DistillConfig(kind="progressive", student_steps=3, steps=25, batch_size=4, lr=1e-3)
    d = Distiller(guidance_student, tmp_path / "p", cfg)
    fixed = d.batch(10_000)
    with torch.no_grad():
        before = d.loss(*fixed).item()
    d.fit(progress=False)
    with torch.no_grad():
        assert d.loss(*fixed).item() < before
    raw = ckpt.read_json(tmp_path / "p" / ckpt.CONFIG_NAME)
    assert raw["default_sampling"] == {"sampler": "ddim", "steps": 3} and raw["distill"]["kind"] == "progressive"


def test_a_progressive_student_is_sampled_its_own_way_by_default(guidance_student, tmp_path):
    d = Distiller(guidance_student, tmp_path / "p", DistillConfig(kind="progressive", student_steps=3, steps=1, batch_size=2))
    d.fit(progress=False)
    pipe = load_pipeline(ckpt.export_release(d.out, tmp_path / "release-pd"), precision="fp32")
    assert pipe.default_sampling == ("ddim", 3)
    steps = list(pipe.iter_steps("HI", seed=0))
    assert len(steps) == 3
    assert np.array_equal(pipe.generate("HI", seed=0), pipe.generate("HI", seed=0, sampler="ddim", steps=3))
    out = tmp_path / "release-pd"
    assert cli(["sample", "--checkpoint", str(out), "--prompt", "HI", "--out", str(tmp_path / "hi.npy"),
                "--steps-out", str(tmp_path / "steps"), "--precision", "fp32"]) == 0  # the CLI samples it its own way too
    assert np.load(tmp_path / "steps" / "x_t.npy").shape[0] == 3
    assert np.array_equal(np.load(tmp_path / "hi.npy"), pipe.generate("HI", seed=0))
    assert load_pipeline(guidance_student, precision="fp32").default_sampling == (DEFAULT_SAMPLER, DEFAULT_STEPS)
    # the app says which kind of trajectory its step viewer shows
    assert "progressively distilled to 3 DDIM steps" in model_kind(pipe) and "one pass a step" in model_kind(pipe)
    assert "progressively" not in model_kind(load_pipeline(guidance_student, precision="fp32"))


def test_the_app_refuses_a_scale_a_distilled_model_was_not_trained_for(distiller, tmp_path):
    import gradio as gr

    from vidgen.app.requests import GenerationRequest
    from vidgen.app.served import Served
    from vidgen.app.settings import Settings

    distiller.fit(progress=False)  # (a no-op once the module's other tests have run it)
    out = ckpt.export_release(distiller.out, tmp_path / "fast")
    served = Served({"release-fast": load_pipeline(out, precision="fp32")}, Settings())
    assert served.checked(GenerationRequest(prompt="HI", steps=4, guidance_scale=3.0, model="release-fast")).guidance_scale == 3.0
    with pytest.raises(gr.Error, match="guidance-distilled for scales 1-7"):
        served.checked(GenerationRequest(prompt="HI", steps=4, guidance_scale=9.0, model="release-fast"))


@pytest.fixture(scope="module")
def progressive_student(guidance_student, tmp_path_factory):
    """A tiny 3-step progressive student of the guidance student, exported as a release."""
    d = Distiller(guidance_student, tmp_path_factory.mktemp("pstudent"),
                  DistillConfig(kind="progressive", student_steps=3, steps=1, batch_size=2))
    d.fit(progress=False)
    return ckpt.export_release(d.out, tmp_path_factory.mktemp("pstudent_release") / "release-pd")


def test_the_app_defaults_to_the_2_step_student_at_its_own_steps_else_its_teacher(guidance_student, progressive_student,
                                                                                  tiny_motion_checkpoint):
    """Served as release-2step, a progressive student is the page's and the API's default, sampled its own way;
    the release (its teacher) is one choice away and the Compare tab's base; without the student, the release."""
    from app_server import running_app
    from gradio_client import Client

    from vidgen.app.model_choices import guidance_bounds, trajectory_note
    from vidgen.app.served import Served
    from vidgen.app.settings import Settings
    from vidgen.shipped import served_default

    with running_app(guidance_student, two_step_checkpoint=progressive_student) as u:
        client = Client(u, verbose=False)
        progress, gif, mp4 = client.predict("HI", api_name="/generate")
        assert (progress["model"], progress["num_steps"]) == ("release-2step", 3) and gif and mp4
        progress, *_ = client.predict("HI", None, 0.0, 3.0, 0, None, "release", api_name="/generate")
        assert (progress["model"], progress["num_steps"]) == ("release", DEFAULT_STEPS)
    pipes = {"release": load_pipeline(guidance_student, precision="fp32"),
             "release-2step": load_pipeline(progressive_student, precision="fp32")}
    served = Served(pipes, Settings())
    assert (served.model0, served.teacher0, served.steps0) == ("release-2step", "release", 3)
    assert "own 3 DDIM steps" in trajectory_note(pipes["release-2step"], "release-2step")  # the page says what its steps are
    assert "denoising trajectory" in trajectory_note(pipes["release"], "release")
    # its guidance slider spans the scales it was distilled for; a model with guidance as two passes, any
    assert guidance_bounds(pipes["release-2step"]) == (1.0, 7.0)
    assert guidance_bounds(load_pipeline(tiny_motion_checkpoint, precision="fp32")) == GUIDANCE_RANGE
    assert served_default({"release": 1, "blog": 1}) == "release" and served_default({"blog": 1}) == "release-2step"
    del pipes["release-2step"]
    fallback = Served(pipes, Settings())
    assert (fallback.model0, fallback.teacher0) == ("release", "release")


def test_the_world_report_samples_a_progressive_student_its_own_way(guidance_student, progressive_student):
    """Its follow, variety and slider figures come from its own few DDIM steps, not 10 DPM-Solver++ steps."""
    from vidgen.evaluation.recognizer import MOTION_DIR, load_recognizer
    from vidgen.evaluation.world_report import SLIDER_SAMPLING, measure_world, slider_sampling

    report = measure_world(progressive_student, load_recognizer(MOTION_DIR), {"val": 2}, progress=False, precision="fp32",
                           log=lambda *_: None, sliders=False)
    assert (report["sampling"]["sampler"], report["sampling"]["steps"]) == ("ddim", 3)
    assert slider_sampling(load_pipeline(progressive_student, precision="fp32")) == ("ddim", 3)
    assert slider_sampling(load_pipeline(guidance_student, precision="fp32")) == SLIDER_SAMPLING
