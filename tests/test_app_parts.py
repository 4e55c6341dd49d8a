"""vidgen.app's parts: request checks, throttling, the trajectory, previews and files, without a server."""
from __future__ import annotations

import base64
import io
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

from vidgen.app import files, panels, requests, streaming
from vidgen.app import model_choices as choices
from vidgen.data import video_io
from vidgen.diffusion import sampler
from vidgen.pipeline import Pipeline, load_pipeline
from vidgen.shipped import DEFAULT_MODEL, SHIPPED_MODELS, served_directory
from vidgen.trajectory import grid_columns


@pytest.fixture(scope="module")
def pipe(tiny_checkpoint):
    return load_pipeline(tiny_checkpoint)


# ----------------------------------------------------------------------------- checkpoint


def test_served_directory_order(tmp_path):
    """The command line's directory, else the model's own environment variable, else the shipped one."""
    release, blog = SHIPPED_MODELS["release"], SHIPPED_MODELS["blog"]
    env = {release.env: str(tmp_path / "env")}
    assert served_directory("release", "cli", env) == pathlib.Path("cli")
    assert served_directory("release", None, env) == tmp_path / "env"
    assert served_directory("release", None, {}) == release.directory
    env[blog.env] = str(tmp_path / "blog_env")
    assert served_directory("blog", None, env) == tmp_path / "blog_env"
    assert served_directory("blog", None, {}) == blog.directory
    assert served_directory("blog", "cli", env) == pathlib.Path("cli")
    with pytest.raises(ValueError, match="unknown model"):
        served_directory("gpt", None, {})


def test_model_choices_say_which_kind(pipe, tiny_layout_checkpoint):
    layout = load_pipeline(tiny_layout_checkpoint)
    assert choices.model_kind(layout) == "layout-guided" and choices.model_kind(pipe) == "prompt only"
    assert choices.model_choices({"release": layout, "blog": pipe}) == [
        ("Release (layout-guided, the default)", "release"), ("The blog's model (prompt only)", "blog")]
    # the 2-step student, where served, is the default and listed first
    assert [name for _, name in choices.model_choices({"release": layout, "blog": pipe, "release-2step": layout})] == [
        "release-2step", "release", "blog"]


def test_missing_checkpoint_message_says_how_to_get_one():
    msg = choices.missing_checkpoint_message("checkpoints/release", ValueError("not found"), "release")
    assert "python -m vidgen train" in msg and SHIPPED_MODELS["release"].env in msg and "--checkpoint" in msg
    msg = choices.missing_checkpoint_message("checkpoints/release-2step", ValueError("not found"))  # the default model's
    assert "python -m vidgen distill --kind progressive" in msg and "--two-step-checkpoint" in msg
    assert SHIPPED_MODELS[DEFAULT_MODEL].env in msg


def test_checkpoint_fingerprint_follows_the_weights(tiny_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, copy)
    assert choices.checkpoint_fingerprint(copy) == choices.checkpoint_fingerprint(tiny_checkpoint)
    (copy / "ema.safetensors").write_bytes((copy / "ema.safetensors").read_bytes()[:-1] + b"x")
    assert choices.checkpoint_fingerprint(copy) != choices.checkpoint_fingerprint(tiny_checkpoint)


# ----------------------------------------------------------------------------- requests


def test_check_request_normalises():
    r = requests.check_request("  hello ", steps=50.0, eta=0, guidance_scale=3, seed=7.0, sampler="DDIM")
    assert (r.prompt, r.steps, r.eta, r.guidance_scale, r.seed, r.sampler, r.note) == ("HELLO", 50, 0.0, 3.0, 7, "ddim", None)
    assert isinstance(r.steps, int) and isinstance(r.seed, int)


def test_a_request_is_built_by_keyword_and_round_trips_the_widgets():
    r = requests.GenerationRequest(prompt="AB", model="release", sampler="ddim", steps=4, eta=0.5, guidance_scale=2.0, seed=3)
    assert r.widget_values() == ["AB", 4, 0.5, 2.0, 3, "ddim", "release"]  # the Generate tab's widget order
    assert requests.GenerationRequest.from_widgets(*r.widget_values()) == r
    with pytest.raises(TypeError):
        requests.GenerationRequest("AB", 4)  # no field by position
    with pytest.raises(ValueError):
        requests.GenerationRequest.from_widgets("AB", 4)  # a widget missing
    assert r.checked() == requests.check_request("AB", model="release", sampler="ddim", steps=4, eta=0.5,
                                                 guidance_scale=2.0, seed=3) == r.checked().checked()


def test_check_request_takes_a_served_model():
    assert requests.check_request("AB").model == DEFAULT_MODEL == "release-2step"
    assert requests.check_request("AB", model="blog").model == "blog"
    with pytest.raises(ValueError, match="this server has: release"):
        requests.check_request("AB", model="blog", models=("release",))


def test_check_request_notes_untrained_lengths():
    assert requests.check_request("ABCDEFG").note and "out of distribution" in requests.check_request("ABCDEFGH").note
    assert requests.check_request("ABCDEF").note is None


def test_check_request_notes_that_dpm_solver_takes_no_eta():
    assert requests.check_request("AB", sampler="dpm++2m").note is None
    assert "eta = 0.5 is not used" in requests.check_request("AB", eta=0.5, sampler="dpm++2m").note
    a, b = requests.comparison_requests(requests.check_request("AB"), "DDIM vs DPM-Solver++ at 10 steps")
    assert (a.sampler, a.steps, b.sampler, b.steps) == ("ddim", 10, "dpm++2m", 10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prompt=""), "empty"),
        (dict(prompt="hi!"), "outside the allowed symbols"),
        (dict(prompt="ABCDEFGHI"), "at most 8"),
        (dict(prompt=None), "must be a string"),
        (dict(steps=0), "steps must be"),
        (dict(steps=1001), "steps must be"),
        (dict(steps=2.5), "whole number"),
        (dict(eta=1.5), "eta must be"),
        (dict(eta="x"), "must be numbers"),
        (dict(guidance_scale=-1), "guidance_scale must be"),
        (dict(seed=-1), "seed must be"),
        (dict(seed=2**40), "seed must be"),
        (dict(sampler="euler"), "unknown sampler"),
        (dict(model="gpt"), "unknown model"),
        (dict(model=None), "unknown model"),
    ],
)
def test_check_request_rejects(kwargs, match):
    args = dict(prompt="AB", steps=10, eta=0.0, guidance_scale=3.0, seed=0, sampler="ddim") | kwargs
    with pytest.raises(ValueError, match=match):
        requests.check_request(**args)


# ----------------------------------------------------------------------------- throttle and stream


def test_throttle_keeps_first_last_and_one_per_interval():
    now = [0.0]
    throttle = streaming.PreviewThrottle(min_interval=0.1, clock=lambda: now[0])
    shown = []
    for i in range(100):  # 100 steps, 10 ms apart
        now[0] = i * 0.01
        if throttle(i, 100):
            shown.append(i)
    assert shown[0] == 0 and shown[-1] == 99
    assert all(b - a >= 10 for a, b in zip(shown, shown[1:-1]))  # at most one per 0.1 s
    assert len(shown) == 11  # 0, 10, ..., 90, and the last


def test_throttle_zero_interval_shows_every_step():
    throttle = streaming.PreviewThrottle(min_interval=0.0)
    assert all(throttle(i, 5) for i in range(5))


def test_stream_generation_matches_generate_and_records_every_step(pipe):
    req = requests.check_request("AB", steps=6, guidance_scale=2.0, seed=3)
    updates = list(streaming.stream_generation(pipe, req, throttle=lambda i, n: i % 2 == 0))
    assert [u.index for u in updates] == list(range(6))
    assert [u.show for u in updates] == [True, False, True, False, True, True]  # the last always shows
    assert all(u.run is None for u in updates[:-1]) and updates[-1].done
    traj = updates[-1].run.trajectory
    assert traj.x_t.shape == traj.pred_x0.shape == (6, 16, 32, 32) and traj.x_t.dtype == np.uint8
    assert traj.timesteps.tolist() == [u.t for u in updates] and traj.timesteps[0] == pipe.num_timesteps - 1
    np.testing.assert_array_equal(traj.video, pipe.generate("AB", steps=6, guidance_scale=2.0, seed=3))
    np.testing.assert_array_equal(streaming.run_generation(pipe, req).trajectory.video, traj.video)


def test_grid_columns_and_trajectory_grid(pipe):
    assert grid_columns(50, 8) == [0, 7, 14, 21, 28, 35, 42, 49]
    assert grid_columns(3, 8) == [0, 1, 2]
    assert grid_columns(1) == [0]
    traj = streaming.run_generation(pipe, requests.check_request("AB", steps=4)).trajectory
    grid = traj.grid([0, 3], "pred_x0", scale=1)
    assert grid.shape == (16 * 33 + 1, 2 * 33 + 1)  # frames as rows, steps as columns, 1 px gaps
    np.testing.assert_array_equal(grid[1:33, 34:66], traj.pred_x0[3, 0])
    with pytest.raises(ValueError, match="unknown trajectory field"):
        traj.frames("eps")


# ----------------------------------------------------------------------------- drawing


def _sprites(html: str) -> list[np.ndarray]:
    return [np.array(Image.open(io.BytesIO(base64.b64decode(b)))) for b in re.findall(r"base64,([A-Za-z0-9+/=]+)\)", html)]


def test_sprite_is_the_frames_side_by_side():
    video = np.random.default_rng(0).integers(0, 256, (16, 32, 32), dtype=np.uint8)
    strip = np.array(Image.open(io.BytesIO(panels.sprite_png(video))))
    assert strip.shape == (32, 16 * 32)
    np.testing.assert_array_equal(strip[:, 5 * 32 : 6 * 32], video[5])


def test_panels_html_carries_both_videos_and_a_continuous_phase():
    a = np.zeros((16, 32, 32), np.uint8)
    b = np.full((16, 32, 32), 255, np.uint8)
    html = panels.step_panels_html(a, b, 4, 50, 900, fps=8, clock=lambda: 1000.5)
    sprites = _sprites(html)
    assert len(sprites) == 2 and sprites[0].max() == 0 and sprites[1].min() == 255
    assert "x_t after step 5" in html and "t = 900" in html
    assert "steps(16)" in html and "animation-duration:2s" in html
    assert "animation-delay:-0.500s" in html  # 1000.5 s mod the 2 s loop: the loop carries on where it was
    assert "x_0: the result" in panels.step_panels_html(a, b, 49, 50, 0)


def test_panels_show_the_layout_and_whether_the_model_is_told_it(pipe, tiny_layout_checkpoint):
    from vidgen.probes.pictures import layout_picture

    a = np.zeros((16, 32, 32), np.uint8)
    told = panels.step_panels_html(a, a, 0, 50, 999, layout=("HELLO", *panels.layout_panel(load_pipeline(tiny_layout_checkpoint), "HELLO")))
    sprites = _sprites(told)
    assert len(sprites) == 3 and sprites[2].shape == (32, 16 * 32, 3)
    np.testing.assert_array_equal(sprites[2][:, 8 * 32 : 9 * 32], layout_picture("HELLO")[8])
    assert "given to this model" in told and "NOT given" not in told
    assert told.count('class="vg-legend"') == 1 and ">H</span>" in told and ">O</span>" in told
    caption, picture = panels.layout_panel(pipe, "HELLO")
    assert caption == "glyph layout: NOT given, this model must learn it"
    np.testing.assert_array_equal(picture, layout_picture("HELLO"))


def test_a_learned_layout_model_shows_the_layout_it_predicted():
    from vidgen.models import build_model
    from vidgen.presets import get_preset
    from vidgen.probes.pictures import layout_picture

    preset = get_preset("tiny-learned")
    learned = Pipeline(build_model(preset.model), preset.diffusion)
    assert choices.model_kind(learned) == "prompt only, learned layout"
    caption, picture = panels.layout_panel(learned, "HELLO")
    assert caption == "glyph layout: predicted by this model from the prompt"
    ids = learned.encode(["HELLO"])
    slot, offset = learned.model.predicted_layout(ids)
    np.testing.assert_array_equal(picture, layout_picture("HELLO", (slot[0].numpy(), offset[0].numpy())))
    # an untrained predictor does not know the widths: what it shows is its own guess, not the truth
    assert not np.array_equal(picture, layout_picture("HELLO"))


def test_status_html():
    s = panels.status_html(9, 50, 800, 1.0)
    assert "step 10 / 50" in s and 'value="10"' in s and "100 ms/step" in s and "Denoising" in s
    assert "Done" in panels.status_html(49, 50, 0, 5.0, note="<b>") and "&lt;b&gt;" in panels.status_html(0, 2, 0, 0.0, note="<b>")


# ----------------------------------------------------------------------------- files and comparisons


def test_output_store_keeps_only_the_newest(tmp_path):
    store = files.OutputStore(tmp_path / "out", keep=3)
    paths = [store.write(bytes([i]), f"f{i}.bin") for i in range(5)]
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(left) == 3 and all(p.exists() for p in paths[-3:]) and not paths[0].exists()
    video = np.random.default_rng(0).integers(0, 256, (16, 32, 32), dtype=np.uint8)
    gif, mp4 = store.save_video(video, "x")
    im = Image.open(gif)
    assert im.n_frames == 16 and im.size == (256, 256)
    assert mp4.read_bytes()[4:8] == b"ftyp"


def test_the_gif_keeps_every_gray_level_exactly():
    """The GIF is written from grayscale frames with their own 256 levels as the palette: nothing quantized."""
    video = np.random.default_rng(1).integers(0, 256, (16, 32, 32), dtype=np.uint8)
    im = Image.open(io.BytesIO(video_io.gif_bytes(video, scale=2)))
    frames = []
    for i in range(im.n_frames):
        im.seek(i)
        frames.append(np.asarray(im.convert("L")))
    np.testing.assert_array_equal(np.stack(frames), video_io.upscale(video, 2))


def test_file_stem_and_comparisons():
    base = requests.check_request("hi", steps=50, eta=0.5, guidance_scale=3.0, seed=1, sampler="ddim", model="release")
    assert requests.file_stem(base) == "HI_release_ddim50_eta0.5_g3_seed1"
    a, b = requests.comparison_requests(base, "10 vs 100 steps")
    assert (a.steps, b.steps, a.prompt, b.seed, a.eta) == (10, 100, "HI", 1, 0.5)
    a, b = requests.comparison_requests(base, "the two shipped models")
    assert (a.model, b.model, a.steps, b.steps) == ("release", "blog", 50, 50)
    with pytest.raises(ValueError, match="known"):
        requests.comparison_requests(base, "nope")


@pytest.mark.parametrize("name", list(requests.COMPARISONS))
def test_every_comparison_changes_what_the_sampler_uses(name):
    """From the app's default request, each preset's two sides differ in something that changes the video
    (eta only counts for a sampler that uses it)."""
    a, b = requests.comparison_requests(requests.check_request("HELLO"), name)
    changed = {k for k in ("steps", "guidance_scale", "seed", "sampler", "model") if getattr(a, k) != getattr(b, k)}
    if a.eta != b.eta:
        assert sampler.SAMPLER_REGISTRY[a.sampler].stochastic and sampler.SAMPLER_REGISTRY[b.sampler].stochastic, f"{name}: eta differs but {a.sampler}/{b.sampler} ignore it"
        changed.add("eta")
    assert changed, f"{name}: both sides are the same request"


def test_generation_defaults_are_valid_and_cheaper_than_the_reference():
    from vidgen.diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, EVAL_SAMPLER, EVAL_STEPS

    request = requests.check_request("HELLO")
    assert (request.sampler, request.steps) == (DEFAULT_SAMPLER, DEFAULT_STEPS)
    assert DEFAULT_SAMPLER in sampler.SAMPLERS and EVAL_SAMPLER in sampler.SAMPLERS and 1 <= DEFAULT_STEPS <= EVAL_STEPS


# ----------------------------------------------------------------------------- motion


def test_motion_controls_make_specs_the_request_checks():
    from vidgen.app.motion_controls import CANVAS_MARGIN, CANVAS_SCALE, add_point, motion_spec, parse_points, path_canvas

    assert motion_spec("Random (the seed picks)", 0, 3, 22, "") == "random"
    assert motion_spec("Direction and speed", 90, 2.5, 18, "") == "line:90,2.5,18"
    assert motion_spec("Path (click points)", 0, 3, 20, "0,16; 32,16") == "path:0,16; 32,16@20"
    points = add_point("", (CANVAS_MARGIN + 4) * CANVAS_SCALE, (CANVAS_MARGIN + 10) * CANVAS_SCALE)
    points = add_point(points, (CANVAS_MARGIN + 28) * CANVAS_SCALE, (CANVAS_MARGIN + 20) * CANVAS_SCALE)
    assert parse_points(points) == [(4.0, 10.0), (28.0, 20.0)] and parse_points("1,2; junk; 3") == [(1.0, 2.0)]
    picture = path_canvas(points)
    assert picture.shape[2] == 3 and picture.std() > 0
    r = requests.check_request("HI", motion=motion_spec("Path (click points)", 0, 3, 18, points))
    assert r.motion.startswith("path:") and "motion path" in r.label() and "path" in requests.file_stem(r)
    for bad, match in (("line:90", "DIRECTION,SPEED"), ("spiral", "expected"), ("line:0,9", "SPEED"),
                       ("path:5,5@30", "font size"), ("line:90,6,24", None)):
        if match is None:  # a valid form may still not show every glyph of a long prompt
            with pytest.raises(ValueError, match="wholly on screen"):
                requests.check_request("ABCDEFGH", motion=bad)
            continue
        with pytest.raises(ValueError, match=match):
            requests.check_request("HI", motion=bad)


def test_a_motion_model_draws_by_the_seed_follows_a_given_motion_and_shows_its_2d_layout(tiny_motion_checkpoint):
    from vidgen.app.variations import short_motion, variations
    from vidgen.data.layout2d import frame_layout
    from vidgen.probes.pictures import layout_picture_2d

    motion_pipe = load_pipeline(tiny_motion_checkpoint)
    assert choices.model_kind(motion_pipe) == "layout-guided, any motion"
    r = requests.check_request("HELLO", steps=2, seed=5)
    drawn = r.motion_of(motion_pipe)
    assert drawn == motion_pipe.sample_motion("HELLO", 5)
    down = requests.check_request("HI", steps=2, motion="line:90,2,18").motion_of(motion_pipe)
    assert down.ys[1] - down.ys[0] == 2 and down.size == 18
    caption, picture = panels.layout_panel(motion_pipe, "HELLO", drawn)
    slot, u, _ = frame_layout("HELLO", drawn.xs, drawn.ys, drawn.size)
    assert "given to this model" in caption
    np.testing.assert_array_equal(picture, layout_picture_2d(slot, u))
    run = streaming.run_generation(motion_pipe, r)
    np.testing.assert_array_equal(run.trajectory.video, motion_pipe.generate("HELLO", motion=drawn, steps=2, seed=5))
    grid = variations(motion_pipe, r, 4)
    assert [c.split(":")[0] for c, _ in grid] == ["seed 5", "seed 6", "seed 7", "seed 8"]
    assert len({c for c, _ in grid}) >= 3 and all(v.shape == (16, 32, 32) for _, v in grid)
    assert short_motion(None) == "its scroll"


def test_a_scroll_model_refuses_what_it_cannot_follow_with_the_reason(tiny_layout_checkpoint):
    scroll = load_pipeline(tiny_layout_checkpoint)
    assert requests.check_request("HI", steps=2).motion_of(scroll) is None  # random: it scrolls as it learned
    with pytest.raises(ValueError, match="scroll world"):
        requests.check_request("HI", steps=2, motion="line:90,2").motion_of(scroll)
    sideways = requests.check_request("HI", steps=2, motion="line:0,3").motion_of(scroll)
    assert set(sideways.ys) == {3}
