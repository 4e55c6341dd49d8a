"""The web app as a script would use it: gradio_client against the launched page (tiny checkpoints:
a layout-guided one as the release, a prompt-only one as the blog's model)."""
from __future__ import annotations

import time

import httpx
import pytest
from app_server import running_app
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError, Status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

CRASH = "The upstream Gradio app has raised an exception"  # what a client gets for an unhandled exception


@pytest.fixture(scope="module")
def url(tiny_layout_checkpoint, tiny_checkpoint):
    with running_app(tiny_layout_checkpoint, tiny_checkpoint, queue_size=8) as u:
        yield u


@pytest.fixture(scope="module")
def client(url):
    return Client(url, verbose=False)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_api_lists_generate_with_its_parameters(client):
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/generate" in info
    names = [p["parameter_name"] for p in info["/generate"]["parameters"]]
    assert names == ["prompt", "steps", "eta", "guidance_scale", "seed", "sampler", "model", "motion", "frames"]
    assert "/generate_ui" not in info  # the page's own streaming event is not part of the API


def test_generate_takes_the_model_choice(client):
    release = client.predict("AB", 3, 0.0, 3.0, 0, "ddim", "release", api_name="/generate")
    blog = client.predict("AB", 3, 0.0, 3.0, 0, "ddim", "blog", api_name="/generate")
    default = client.predict("AB", 3, 0.0, 3.0, 0, api_name="/generate")
    assert release[0]["model"] == default[0]["model"] == "release" and blog[0]["model"] == "blog"
    read = [open(r[1], "rb").read() for r in (release, blog, default)]
    assert read[0] == read[2] and read[0] != read[1]  # two different networks, the release by default
    with pytest.raises(AppError, match="unknown model 'gpt'; this server has: release, blog"):
        client.predict("AB", 3, 0.0, 3.0, 0, "ddim", "gpt", api_name="/generate")


def test_generate_streams_one_update_per_step_and_ends_with_a_gif(client):
    job = client.submit("ab12", 6, 0.0, 2.0, 1, api_name="/generate")
    updates = list(job)
    assert [u[0]["step"] for u in updates] == [1, 2, 3, 4, 5, 6]
    assert all(u[0]["num_steps"] == 6 and u[0]["prompt"] == "AB12" for u in updates)
    assert [u[0]["t"] for u in updates][0] == 999 and updates[-1][0]["t"] == 0
    assert all(u[1] is None for u in updates[:-1])
    progress, gif, mp4 = updates[-1]
    im = Image.open(gif)
    assert im.format == "GIF" and im.n_frames == 16 and im.size == (256, 256)
    with open(mp4, "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"


def test_same_seed_same_video(client):
    a = client.predict("XY", 4, 0.0, 3.0, 5, api_name="/generate")
    b = client.predict("XY", 4, 0.0, 3.0, 5, api_name="/generate")
    with open(a[1], "rb") as fa, open(b[1], "rb") as fb:
        assert fa.read() == fb.read()


@pytest.mark.parametrize(
    "args, message",
    [
        (("hi!", 4), "outside the allowed symbols"),
        (("", 4), "empty"),
        (("ABCDEFGHIJ", 4), "at most 8"),
        (("AB", 0), r"steps must be an integer in \[1, 1000\], got 0"),  # the app's checks, with the allowed range
        (("AB", 4, 2.0), r"eta must be in \[0, 1\], got 2"),
        (("AB", "ten"), "steps must be a whole number, got 'ten'"),  # (None: the model's own steps)
        (("AB", 2.5), "steps must be a whole number"),
    ],
)
def test_bad_requests_return_the_error(client, args, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/generate")


def test_long_prompt_runs_with_a_note(client):
    progress, gif, _ = client.predict("ABCDEFG", 2, api_name="/generate")
    assert "out of distribution" in progress["note"] and gif


def test_a_running_generation_can_be_stopped(client):
    job = client.submit("AB", 1000, api_name="/generate")
    while not job.outputs():
        time.sleep(0.02)
    job.cancel()
    t0 = time.perf_counter()
    while not job.done():
        time.sleep(0.02)
    assert job.status().code == Status.CANCELLED
    assert len(job.outputs()) < 1000
    # the sampler slot is free again: a short request does not wait for the 1000 steps
    progress, gif, _ = client.predict("AB", 2, api_name="/generate")
    assert gif and time.perf_counter() - t0 < 5


def test_memory_stays_flat_over_many_generations(client):
    for _ in range(3):
        client.predict("AB", 10, api_name="/generate")
    before = rss_mb()
    for i in range(12):
        client.predict("AB", 10, 0.0, 3.0, i, api_name="/generate")
    grown = rss_mb() - before
    print(f"RSS {before:.0f} MB -> +{grown:.1f} MB over 12 generations")
    assert grown < 30, f"RSS grew by {grown:.0f} MB over 12 generations"


def test_requests_beyond_the_queue_get_the_busy_answer(tiny_checkpoint):
    with running_app(tiny_checkpoint, queue_size=1, concurrency=1) as u:
        client = Client(u, verbose=False)
        running = client.submit("AB", 1000, api_name="/generate")
        while not running.outputs():  # it holds the one sampler slot
            time.sleep(0.02)
        waiting = client.submit("AB", 1000, api_name="/generate")  # fills the queue of 1
        while waiting.status().code != Status.IN_QUEUE:
            time.sleep(0.02)
        with pytest.raises(QueueError, match="Queue is full"):
            client.predict("AB", 2, api_name="/generate")
        waiting.cancel()
        running.cancel()
        while not (running.done() and waiting.done()):
            time.sleep(0.05)
        progress, gif, _ = client.predict("AB", 2, api_name="/generate")  # the server carries on
        assert gif


def test_without_a_checkpoint_the_page_says_how_to_get_one():
    with running_app(None) as u:
        page = httpx.get(u + "config", timeout=10).text
        assert "python -m vidgen train" in page
        with pytest.raises(AppError, match="No model is loaded"):
            Client(u, verbose=False).predict("AB", 2, api_name="/generate")


def test_host_and_port_follow_gradio_variables(monkeypatch):
    from vidgen.app.settings import parse_args

    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    s = parse_args([])
    assert (s.host, s.port, s.queue_size, s.concurrency) == ("0.0.0.0", 7999, 16, 1)
    s = parse_args(["--host", "127.0.0.1", "--port", "7860", "--checkpoint", "x", "--queue-size", "4"])
    assert (s.host, s.port, s.checkpoint, s.queue_size) == ("127.0.0.1", 7860, "x", 4)
    with pytest.raises(SystemExit):
        parse_args(["--queue-size", "0"])


def test_the_app_compiles_its_default_model_in_the_background_unless_told_not_to(capsys):
    """main() hands the default model to a daemon thread that compiles it (vidgen.compiled) and logs how it
    was decided; --no-compile turns that off."""
    from vidgen.app.server import compile_in_background
    from vidgen.app.settings import parse_args

    assert parse_args([]).compile and not parse_args(["--no-compile"]).compile

    class Pipe:
        calls = 0

        def compile(self):
            Pipe.calls += 1
            return {"compiled": True, "how": "measured: faster", "timings_ms": {"eager": 20.0, "compiled": 9.0}, "compile_s": 12.0}

    thread = compile_in_background(Pipe(), "release")
    thread.join(timeout=10)
    assert thread.daemon and Pipe.calls == 1
    assert "release: compiled: measured: faster (a pass: eager 20.0 ms, compiled 9.0 ms)" in capsys.readouterr().out


def test_a_release_that_cannot_be_built_is_an_error_not_a_fallback(tiny_checkpoint, tiny_layout_checkpoint, tmp_path):
    """A release whose config asks for a layout this code lacks: the page says why, requests for the
    release fail with that, and the blog's model still serves; nothing silently swaps models."""
    import json
    import shutil

    bad = tmp_path / "release"
    shutil.copytree(tiny_layout_checkpoint, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["layout"] = "boxes"
    (bad / "config.json").write_text(json.dumps(cfg))
    with running_app(bad, tiny_checkpoint) as u:
        page = httpx.get(u + "config", timeout=10).text
        assert "unknown layout" in page and "boxes" in page
        client = Client(u, verbose=False)
        with pytest.raises(AppError, match="release model could not be loaded"):
            client.predict("AB", 2, 0.0, 3.0, 0, "ddim", "release", api_name="/generate")
        with pytest.raises(AppError, match="release-2step model could not be loaded"):  # the default: neither it nor its teacher
            client.predict("AB", 2, api_name="/generate")
        progress, gif, _ = client.predict("AB", 2, 0.0, 3.0, 0, "ddim", "blog", api_name="/generate")
        assert progress["model"] == "blog" and gif


@settings(derandomize=True, deadline=None, database=None, max_examples=25,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(prompt=st.one_of(st.text(max_size=40), st.sampled_from(["AB", "ab", "A B", "ABCDEFGHI", ""])),
       steps=st.one_of(st.integers(-5, 1005), st.floats(allow_nan=True, allow_infinity=True), st.none(), st.text(max_size=4)),
       eta=st.one_of(st.floats(-1, 2), st.floats(allow_nan=True), st.none()),
       guidance=st.one_of(st.floats(-5, 30), st.floats(allow_nan=True), st.booleans()),
       seed=st.one_of(st.integers(-10, 2**40), st.floats(allow_nan=True)),
       sampler=st.one_of(st.sampled_from(["ddim", "ddpm", "dpm++2m"]), st.text(max_size=6)),
       model=st.sampled_from(["release", "blog", "gpt", ""]),
       motion=st.one_of(st.sampled_from(["random", "line:0,3", "line:90,2,18", "path:0,16;32,16", "line:abc", "path:", "", "line:0,1e9"]),
                        st.text(max_size=10), st.none(), st.integers()))
def test_the_generate_api_answers_anything_with_a_video_or_an_app_error(client, prompt, steps, eta, guidance, seed, sampler, model,
                                                                        motion):
    """Whatever a script sends to /generate: a finished video or an AppError with a message (Gradio's
    own checks or the app's), never a crash (an unhandled exception reaches a client as Gradio's CRASH
    message); the server keeps serving. Valid requests are capped at
    20 steps so that the property stays quick."""
    if isinstance(steps, int) and steps > 20:
        steps = 20 + steps % 7
    try:
        progress, gif, _ = client.predict(prompt, steps, eta, guidance, seed, sampler, model, motion, api_name="/generate")
    except AppError as e:
        assert str(e).strip()
        assert CRASH not in str(e), (f"the app crashed on {prompt!r}, {steps!r}, {eta!r}, {guidance!r}, {seed!r}, {sampler!r}, "
                                     f"{model!r}, {motion!r}")
        return
    except ValueError as e:  # (AppError is a ValueError: it is caught above)
        if "JSON" in str(e):  # NaN or infinity: the client cannot even encode the request
            return
        raise
    assert progress["step"] == progress["num_steps"] and Image.open(gif).n_frames == 16
