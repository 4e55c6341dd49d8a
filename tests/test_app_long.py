"""The Generate tab's long videos (issue 34): the length control, a long video streamed chunk by chunk through the
page's own generate function, the step viewer's window and levels bar, and the refusals (tiny untrained models)."""
from __future__ import annotations

import base64
import dataclasses
import io
import re

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from vidgen.app import requests
from vidgen.app.long_panels import CONTEXT_RGB, mark_context
from vidgen.app.long_streaming import ChunkGate, LongRun
from vidgen.app.served import Served
from vidgen.app.server import build_demo
from vidgen.app.settings import Settings
from vidgen.app.streaming import Run
from vidgen.models import build_model
from vidgen.pipeline import Pipeline
from vidgen.presets import PRESETS

RANDOM = "Random (the seed picks)"  # the motion controls' values after the request widgets and the length
MOTION_VALUES = [RANDOM, 180, 3, 20, ""]


def tiny_pipe(preset: str) -> Pipeline:
    p = PRESETS[preset]
    return Pipeline(build_model(p.model), p.diffusion, {"train": dataclasses.asdict(p.train)}, bf16=False)


def generate_fn(demo, api_name: str = "generate_ui"):
    """What the Generate button calls (its event, api_name "generate_ui"), or the scriptable endpoint's ("generate")."""
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return next(b.fn for b in fns if b.api_name == api_name)


@pytest.fixture(scope="module")
def served_demo():
    """A short motion-world model as the release and a long-video model as "long", untrained (no checkpoint)."""
    pipes = {"release": tiny_pipe("tiny-motion"), "long": tiny_pipe("tiny-motion-long")}
    return pipes, build_demo(pipes, Settings(cache_examples="off"))


@pytest.fixture(scope="module")
def served(served_demo):
    pipes, demo = served_demo
    return pipes, generate_fn(demo)


def test_the_scriptable_endpoint_makes_long_videos_call_by_call(served_demo):
    """/generate with frames=32: one update per model call of the long model, the files last, a 32-frame video."""
    pipes, demo = served_demo
    api = generate_fn(demo, "generate")
    updates = list(api("HELLO WORLD", None, 0.0, 3.0, 4, None, "release", "random", 32))
    infos = [u[0] for u in updates]
    assert [i["call"] for i in infos] == list(range(1, infos[0]["num_calls"] + 1)) and infos[0]["num_calls"] > 1
    assert all(u[1] is None for u in updates[:-1]) and updates[-1][1].endswith(".gif") and updates[-1][2].endswith(".mp4")
    assert infos[-1]["frames_done"] == infos[-1]["frames"] == 32 and infos[-1]["method"] == pipes["long"].default_long[0]
    assert [i["frames_done"] for i in infos] == sorted(i["frames_done"] for i in infos)  # the clean frames only grow
    gif = Image.open(updates[-1][1])
    assert gif.n_frames == 32
    again = list(api("HELLO WORLD", None, 0.0, 3.0, 4, None, "release", "random", 32))
    assert np.array_equal(np.asarray(Image.open(again[-1][1])), np.asarray(gif))  # the same seed, the same video
    with pytest.raises(gr.Error, match="frames must be a whole number"):
        list(api("HELLO", None, 0.0, 3.0, 0, None, "release", "random", 200))


def values(prompt, frames, steps=2, seed=0, model="release"):
    return [prompt, steps, 0.0, 3.0, seed, "ddim", model, frames, *MOTION_VALUES]


def sprite_frames(html: str) -> list[int]:
    """The frame count of every animated panel of a preview (its sprite's width / 32)."""
    return [Image.open(io.BytesIO(base64.b64decode(b))).size[0] // 32 for b in re.findall(r"base64,([A-Za-z0-9+/=]+)\)", html)]


@pytest.fixture(scope="module")
def long_outputs(served):
    _, generate = served
    return list(generate(*values("hello world 2026", 64, seed=3)))


def test_a_long_request_makes_a_video_of_its_length_with_the_files(served, long_outputs):
    pipes, _ = served
    run = next(o[4] for o in long_outputs if isinstance(o[4], LongRun))
    assert run.video.shape == (64, 32, 32) and run.request.prompt == "HELLO WORLD 2026" and run.request.frames == 64
    motion = pipes["long"].sample_motion("HELLO WORLD 2026", 3, frames=64)
    np.testing.assert_array_equal(run.video, pipes["long"].generate("HELLO WORLD 2026", frames=64, seed=3, motion=motion,
                                                                    guidance_scale=3.0))
    gif = next(o[2] for o in long_outputs if isinstance(o[2], str))
    mp4 = next(o[3] for o in long_outputs if isinstance(o[3], str))
    im = Image.open(gif)
    assert im.n_frames == 64 and im.size == (256, 256) and "64f" in gif
    with open(mp4, "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"


def test_the_preview_grows_chunk_by_chunk(long_outputs):
    previews = [o[0] for o in long_outputs if isinstance(o[0], str)]
    grown = [sprite_frames(p)[0] if "the video so far" in p else 0 for p in previews]  # the first panel: the clean frames
    assert grown == sorted(grown) and grown[0] < 64 and grown[-1] == 64
    assert len(set(grown) - {0}) >= 5  # splice: 16 frames, then 12 more a chunk: every chunk's frames were shown
    statuses = [o[1] for o in long_outputs if isinstance(o[1], str)]
    assert "Making the long video" in statuses[0] and "Done" in statuses[-1] and "64 of 64 frames clean" in statuses[-1]


def test_the_chunk_gate_draws_every_chunk_not_every_call():
    gate = ChunkGate()
    done = [0, 0, 0, 16, 16, 16, 28, 28, 28, 40]
    shown = [i for i, d in enumerate(done) if gate(i, len(done), d)]
    assert shown == [0, 3, 6, 9]


def test_the_step_viewer_shows_the_window_its_context_and_where_it_sits(served, long_outputs):
    run = next(o[4] for o in long_outputs if isinstance(o[4], LongRun))
    slider, html = next((o[5], o[6]) for o in long_outputs if isinstance(o[6], str))
    assert slider.maximum == run.trajectory.num_steps == len(run.calls) == 30  # splice: 5 chunks of 6 calls
    assert run.trajectory.x_t.shape == (30, 16, 32, 32)
    i = next(k for k, c in enumerate(run.calls) if c.context)  # the second chunk's first call
    shown = Served(served[0], Settings(cache_examples="off")).viewer_html(run, i + 1)
    call = run.calls[i]
    assert f"frames {call.start + 1}-{call.start + 16}" in shown and f"first {call.context} frames (green)" in shown
    assert shown.count('title="frame ') == 64 and sprite_frames(shown) == [run.done[i], 16, 16]
    marked = mark_context(run.trajectory.x_t[i], call.context)
    assert tuple(marked[0, 0, 0]) == CONTEXT_RGB and tuple(marked[call.context, 0, 0]) != CONTEXT_RGB


@pytest.mark.parametrize("prompt, frames, message", [
    ("HELLO", 200, "frames must be a whole number from 16 to 128, got 200"),
    ("HELLO", 20.5, "frames must be a whole number"),
    ("HELLO WORLD 2026", 16, r"long-video prompt.*set Length \(frames\) above 16"),
    ("ABCDEFGHIJ", 16, "at most 8"),
    ("THE QUICK BROWN FOX JUMP", 32, "too long for 32 frames.*35 frames or more"),
    ("HELLO, WORLD", 64, "outside the allowed symbols"),
])
def test_bad_frames_or_prompts_get_one_clear_message(served, prompt, frames, message):
    _, generate = served
    with pytest.raises(gr.Error, match=message):
        next(generate(*values(prompt, frames)))
    with pytest.raises(ValueError, match=message):
        requests.check_request(prompt, frames=frames)


def test_without_the_long_model_a_long_request_says_so_and_short_ones_work(monkeypatch, tmp_path):
    import vidgen.pipeline

    monkeypatch.setattr(vidgen.pipeline, "resolve_model_path", lambda name: tmp_path / "long")  # no checkpoint there
    short = tiny_pipe("tiny-motion")
    generate = generate_fn(build_demo({"release": short}, Settings(cache_examples="off")))
    with pytest.raises(gr.Error, match="needs the long-video model, which is missing"):
        next(generate(*values("HELLO WORLD 2026", 64)))
    outputs = list(generate(*values("AB", 16)))
    assert isinstance(outputs[-2][4], Run) and outputs[-2][4].trajectory.video.shape == (16, 32, 32)


def test_a_short_request_is_made_as_before(served):
    pipes, generate = served
    outputs = list(generate(*values("ab", 16, steps=3, seed=2)))
    run = next(o[4] for o in outputs if isinstance(o[4], Run))
    motion = requests.check_request("AB", seed=2).motion_of(pipes["release"])
    np.testing.assert_array_equal(run.trajectory.video, pipes["release"].generate("AB", motion=motion, steps=3, seed=2,
                                                                                 guidance_scale=3.0, sampler="ddim"))
    assert run.trajectory.num_steps == 3 and "step 3 / 3" in outputs[-2][1]
    assert Image.open(outputs[-2][2]).n_frames == 16


def test_the_request_carries_frames():
    r = requests.check_request("hello  world", frames=64.0, seed=1)
    assert (r.prompt, r.frames) == ("HELLO WORLD", 64) and isinstance(r.frames, int) and r.note is None
    assert "· 64 frames ·" in r.label() and requests.file_stem(r).startswith("HELLO-WORLD_64f_")
    short = requests.check_request("AB")
    assert short.frames == 16 and "frames" not in short.label() and requests.file_stem(short) == requests.file_stem(
        requests.check_request("AB", frames=16))
    assert requests.check_request("HELLO WORLD", model="long").is_long() and not short.is_long()


def test_the_examples_include_a_sentence_at_64_frames(served, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "cache"))
    for name in ("release", "long"):  # the directories the example cache is keyed on (these models have no files)
        (tmp_path / name).mkdir()
    settings = Settings(checkpoint=str(tmp_path / "release"), long_checkpoint=str(tmp_path / "long"), cache_examples="lazy")
    demo = build_demo(served[0], settings)
    samples = [s for b in demo.blocks.values() if isinstance(b, gr.Dataset) for s in b.samples]
    assert any(s[0] == "HELLO WORLD 2026" and s[-1] == 64 for s in samples)
