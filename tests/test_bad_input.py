"""Property-based bad input: whatever a user types, passes or hands over as a checkpoint ends in a
valid result or the documented clear error (ValueError / CheckpointError / exit code 2 with one
line), never another exception. Hypothesis draws the inputs; the seeds are derandomized so the run
is deterministic."""
from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidgen import checkpoint as ckpt
from vidgen.app.requests import MAX_SEED, check_request
from vidgen.checkpoint import CONFIG_NAME, EMA_NAME, CheckpointError
from vidgen.cli.main import main
from vidgen.data import tokenizer as tok
from vidgen.data.tokenizer import PROMPT_SLOTS, SYMBOLS
from vidgen.data.world import WORLDS, Motion, WorldConfig, check_motion, motion_from_spec
from vidgen.diffusion.sampler import GUIDANCE_RANGE, SAMPLERS
from vidgen.pipeline import load_pipeline
from vidgen.presets import get_preset
from vidgen.shipped import SHIPPED_MODELS
from vidgen.training.trainer import Trainer

SETTINGS = settings(derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# the soak (python -m benchmarks.soak) runs this file with VIDGEN_HYPOTHESIS_SCALE=10: ten times the cases
SCALE = max(1, int(os.environ.get("VIDGEN_HYPOTHESIS_SCALE", "1")))


def examples(n: int) -> settings:
    return settings(SETTINGS, max_examples=n * SCALE)

# text a user could type or send: any unicode (control characters, combining marks, very long),
# and strings near the valid ones
TEXT = st.one_of(st.text(max_size=300), st.text(alphabet=SYMBOLS + SYMBOLS.lower() + " \t\n?!é\u0301\x00", max_size=12))
# numbers a widget or a JSON client could send where a number belongs
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70),
                   st.booleans(), st.none(), st.text(max_size=5),
                   st.integers(-1, 1001), st.floats(-0.5, 21.0))  # and around the valid ranges, so some requests pass


@examples(100)
@given(TEXT)
def test_any_prompt_text_is_a_prompt_or_a_value_error(text):
    try:
        prompt = tok.normalize_prompt(text)
    except ValueError:
        return
    assert 1 <= len(prompt) <= PROMPT_SLOTS and set(prompt) <= set(SYMBOLS)
    assert tok.decode(tok.encode(prompt)) == prompt


@examples(100)
@given(prompt=TEXT, steps=NUMBER, eta=NUMBER, guidance=NUMBER, seed=NUMBER,
       sampler=st.one_of(st.sampled_from(SAMPLERS), st.text(max_size=8)),
       model=st.one_of(st.sampled_from(tuple(SHIPPED_MODELS)), st.text(max_size=8), st.none()))
def test_any_request_is_checked_or_refused_with_a_value_error(prompt, steps, eta, guidance, seed, sampler, model):
    try:
        request = check_request(prompt, steps=steps, eta=eta, guidance_scale=guidance, seed=seed, sampler=sampler, model=model)
    except ValueError as e:
        assert str(e)  # a message to show
        return
    assert 1 <= request.steps <= 1000 and 0 <= request.eta <= 1 and 0 <= request.seed <= MAX_SEED
    assert GUIDANCE_RANGE[0] <= request.guidance_scale <= GUIDANCE_RANGE[1] and math.isfinite(request.guidance_scale)
    assert request.sampler in SAMPLERS and request.model in tuple(SHIPPED_MODELS)


@examples(60)
@given(prompt=TEXT, suffix=st.sampled_from([".npy", ".gif", ".txt", "", ".NPY"]))
def test_cli_render_any_prompt_writes_a_video_or_exits_2(prompt, suffix, capsys):
    out = Path(tempfile.mkdtemp()) / f"v{suffix}"
    try:
        code = main(["render", "--prompt", prompt, "--out", str(out)])
    except SystemExit as e:  # argparse: a prompt that looks like an option
        code = e.code
    finally:
        err = capsys.readouterr().err
    if code == 0:
        assert out.is_file() and (suffix.lower() != ".npy" or np.load(out).shape == (16, 32, 32))
    else:
        assert code == 2 and err.startswith("error:") and "Traceback" not in err
    shutil.rmtree(out.parent)


@examples(40)
@given(args=st.lists(st.sampled_from(["--steps", "--eta", "--guidance", "--seed", "--sampler", "--n", "--batch-size"]),
                     min_size=1, max_size=4),
       values=st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["nan", "inf", "-1", "0", "1e9", "2.5", "True", "5"])),
                       min_size=4, max_size=4))
def test_cli_eval_any_numbers_end_in_one_line_and_exit_2(args, values, capsys):
    """eval with any values for its numbers (the checkpoint does not exist, so a valid set of
    numbers stops there): a one-line error, exit 2, no traceback, nothing written."""
    out = Path(tempfile.mkdtemp()) / "report"
    argv = ["eval", "--checkpoint", str(out.parent / "no-such-run"), "--out", str(out), "--n", "1"]
    for flag, value in zip(args, values):
        argv += [flag, value]
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists()
    shutil.rmtree(out.parent)


CORRUPTIONS = {  # what may become of each file: random bytes, a truncation of the real file, and for the config wrong shapes
    CONFIG_NAME: st.one_of(st.binary(max_size=300), st.integers(0, 400),
                           st.sampled_from([b"[]", b"null", b"{}", b'{"model": 3}', b'{"model": {"dim": -1}}',
                                            b'{"model": {}, "diffusion": {"num_timesteps": 1e9}}'])),
    EMA_NAME: st.one_of(st.binary(max_size=300), st.integers(0, 400)),
}


@pytest.fixture(scope="module")
def release_copy(tiny_checkpoint):
    d = Path(tempfile.mkdtemp()) / "release"
    d.mkdir()
    for name in (CONFIG_NAME, EMA_NAME):
        shutil.copy(tiny_checkpoint / name, d / name)
    return d


@pytest.mark.parametrize("name", [CONFIG_NAME, EMA_NAME])
@examples(30)
@given(data=st.data())
def test_a_corrupt_checkpoint_is_a_checkpoint_error(release_copy, name, data):
    corruption = data.draw(CORRUPTIONS[name])
    d = Path(tempfile.mkdtemp()) / "ckpt"
    shutil.copytree(release_copy, d)
    raw = (d / name).read_bytes()
    (d / name).write_bytes(raw[: min(corruption, len(raw) - 1)] if isinstance(corruption, int) else corruption)
    try:
        pipe = load_pipeline(d)
    except CheckpointError as e:
        assert str(e)
    else:  # a corruption that still loads must still be a working model
        assert pipe.generate("AB", steps=1).shape == (16, 32, 32)
    shutil.rmtree(d.parent)


def test_render_to_an_upper_case_npy_writes_that_file(tmp_path):
    """Found by the render property above: np.save(path) added .npy to 'v.NPY' and the CLI named a file it had not written."""
    assert main(["render", "--prompt", "AB", "--out", str(tmp_path / "v.NPY")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["v.NPY"]
    assert np.load(tmp_path / "v.NPY").shape == (16, 32, 32)


# ----------------------------------------------------------------------------- every CLI subcommand's numbers

# subcommand -> (arguments that make it stop at a missing run or checkpoint once its numbers pass, its number flags)
CLI_NUMBERS = {
    "sample": (["--checkpoint", "{missing}", "--prompt", "AB", "--out", "{out}.gif"],
               ["--steps", "--eta", "--guidance", "--seed", "--sampler"]),
    "experiments": (["--checkpoint", "{missing}", "--out", "{out}"],
                    ["--steps", "--eta", "--guidance", "--seed", "--batch-size", "--n", "--sampler"]),
    "probe": (["--checkpoint", "{missing}", "--out", "{out}"],
              ["--steps", "--guidance", "--seed", "--loss-prompts", "--loss-timesteps", "--align-prompts", "--align-timesteps"]),
    "train": (["--resume", "--out", "{missing}", "--preset", "tiny"],
              ["--max-steps", "--time-budget", "--batch-size", "--lr", "--lr-decay-steps", "--seed", "--ckpt-every"]),
    "export": (["--checkpoint", "{missing}", "--out", "{out}"], ["--guidance"]),
}
VALUES = st.one_of(st.text(max_size=6), st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e9", "2.5", "True", "5", "1e400", "0x10"]))


@pytest.mark.parametrize("command", sorted(CLI_NUMBERS))
@examples(25)
@given(data=st.data())
def test_every_subcommand_refuses_bad_numbers_in_one_line(command, data, capsys):
    base, flags = CLI_NUMBERS[command]
    chosen = data.draw(st.lists(st.sampled_from(flags), min_size=1, max_size=4))
    tmp = Path(tempfile.mkdtemp())
    argv = [command] + [a.format(missing=tmp / "no-such-run", out=tmp / "out") for a in base]
    for flag in chosen:
        argv += [flag, data.draw(VALUES)]
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in tmp.iterdir()) == []  # nothing written, not even a run directory
    shutil.rmtree(tmp)


# ----------------------------------------------------------------------------- the Python API

@pytest.fixture(scope="module")
def tiny_pipe(tiny_checkpoint):
    return load_pipeline(tiny_checkpoint)


@examples(40)
@given(prompt=st.one_of(TEXT, st.lists(TEXT, max_size=3)), steps=NUMBER, eta=NUMBER, guidance=NUMBER, seed=NUMBER,
       sampler=st.one_of(st.sampled_from(SAMPLERS), st.text(max_size=8)))
def test_pipeline_takes_any_arguments_or_raises_a_value_error(tiny_pipe, prompt, steps, eta, guidance, seed, sampler):
    """Pipeline.iter_steps (what generate runs): the first steps come out finite, or a ValueError
    says what is wrong before any sampling."""
    try:
        first = list(itertools.islice(tiny_pipe.iter_steps(prompt, steps=steps, eta=eta, guidance_scale=guidance,
                                                           seed=seed, sampler=sampler), 2))
    except ValueError as e:
        assert str(e)
        return
    assert first and all(torch.isfinite(s.x_t).all() for s in first)


# ----------------------------------------------------------------------------- a run directory's other files

RUN_FILES = [ckpt.MODEL_NAME, ckpt.STATE_NAME, ckpt.STATE_JSON, ckpt.BEST_JSON, ckpt.BEST_EMA_NAME]


@pytest.fixture(scope="module")
def tiny_run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run_for_corruption")
    p = get_preset("tiny")
    Trainer(p.model, p.diffusion, p.train, out, preset_name="tiny").fit(max_steps=p.train.val_every, progress=False)  # best.json too
    assert all((out / n).is_file() for n in RUN_FILES)
    return out


@pytest.mark.parametrize("name", RUN_FILES)
@examples(10)
@given(corruption=st.one_of(st.binary(max_size=200), st.integers(0, 300),
                            st.sampled_from([b"{}", b"[]", b'{"step": "x", "val_loss": 1}', b'{"step": 3}'])))
def test_a_corrupt_run_file_stops_resume_and_export_with_a_clear_error(tiny_run_dir, name, corruption, capsys):
    """resume reads model, optimizer state and its JSON; export --best reads best.json and the best
    EMA. A corrupt one is a CheckpointError (exit 2 from the CLI), and nothing else in the run changes."""
    d = Path(tempfile.mkdtemp()) / "run"
    shutil.copytree(tiny_run_dir, d)
    raw = (d / name).read_bytes()
    (d / name).write_bytes(raw[: min(corruption, len(raw) - 1)] if isinstance(corruption, int) else corruption)
    before = {f.name: f.read_bytes() for f in d.iterdir() if f.is_file()}
    p = get_preset("tiny")
    command = (["train", "--preset", "tiny", "--out", str(d), "--resume", "--max-steps", "51", "--no-progress"]
               if name in (ckpt.MODEL_NAME, ckpt.STATE_NAME, ckpt.STATE_JSON)
               else ["export", "--checkpoint", str(d), "--out", str(d.parent / "rel"), "--best"])
    try:
        code = main(command)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    if code == 0:  # a corruption that still parses (e.g. '{}' optimizer meta with tensors intact) must still resume or export
        if command[0] == "train":
            assert ckpt.read_json(d / ckpt.STATE_JSON)["step"] == 51  # it resumed and trained on to --max-steps
            ckpt.load_model(d)
        else:
            _, _, raw = ckpt.load_model(d.parent / "rel")  # a whole release of the run's best EMA
            assert raw["step"] == ckpt.read_best(d)["step"]
        return shutil.rmtree(d.parent)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err, err
    assert {f.name: f.read_bytes() for f in d.iterdir() if f.is_file()} == before
    if name in (ckpt.MODEL_NAME, ckpt.STATE_NAME, ckpt.STATE_JSON):
        with pytest.raises(ckpt.CheckpointError):
            Trainer(p.model, p.diffusion, p.train, d, resume=True, preset_name="tiny")
    shutil.rmtree(d.parent)


# ----------------------------------------------------------------------------- motions: strings, drawn paths, random

# number-like text where a motion takes numbers: useful ones (directions, speeds, sizes, path points) and nonsense
MOTION_NUMBER = st.one_of(st.integers(-20, 40).map(str), st.integers(-400, 400).map(str), st.floats(-10, 40).map(lambda v: f"{v:.2f}"),
                          st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["", "a", "1e9", "-0", " 3", "0x10"]))
MOTION_SPEC = st.one_of(
    st.sampled_from(["random", "RANDOM", " line:0,4 ", "line:90,2,18", "path:4,16;28,16", "path:6,6;26,26;6,26@18", "line:0",
                     "line:0,99", "path:1,2", "line:a,b", "line:", "path:", "spiral", ""]),
    st.builds(lambda d, s, size: f"line:{d},{s}" + ("" if size is None else f",{size}"), MOTION_NUMBER, MOTION_NUMBER,
              st.one_of(st.none(), MOTION_NUMBER)),
    st.builds(lambda pts, size: "path:" + ";".join(f"{x},{y}" for x, y in pts) + ("" if size is None else f"@{size}"),
              st.lists(st.tuples(MOTION_NUMBER, MOTION_NUMBER), max_size=5), st.one_of(st.none(), MOTION_NUMBER)),
    st.text(max_size=20),
)
SHORT_PROMPT = st.one_of(st.text(alphabet=SYMBOLS, min_size=1, max_size=8), TEXT)


@examples(100)
@given(spec=MOTION_SPEC, prompt=SHORT_PROMPT, world=st.sampled_from(WORLDS), seed=st.integers(0, 2**32 - 1))
def test_any_motion_text_is_a_motion_the_prompt_shows_or_a_value_error(spec, prompt, world, seed):
    """motion_from_spec (the CLI's --motion, the app's motion argument): a Motion that shows every glyph whole
    in enough frames, or a ValueError with a message."""
    try:
        motion = motion_from_spec(spec, prompt, WorldConfig(name=world), seed)
    except ValueError as e:
        assert str(e)
        return
    assert isinstance(motion, Motion) and len(motion.xs) == len(motion.ys) == 16
    check_motion(tok.normalize_prompt(prompt), motion)  # the invariant holds for what came out


@examples(40)
@given(spec=MOTION_SPEC, prompt=st.text(alphabet=SYMBOLS, min_size=1, max_size=5))
def test_cli_render_any_motion_writes_a_video_or_exits_2(spec, prompt, capsys):
    out = Path(tempfile.mkdtemp()) / "v.npy"
    try:
        code = main(["render", "--prompt", prompt, "--world", "motion", "--motion", spec, "--out", str(out)])
    except SystemExit as e:  # argparse: a motion that looks like an option
        code = e.code
    err = capsys.readouterr().err
    if code == 0:
        assert np.load(out).shape == (16, 32, 32)
    else:
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, err
    shutil.rmtree(out.parent)


class ReachedTheModel(Exception):
    """Raised in place of loading a model: every argument before it passed."""


@pytest.mark.parametrize("model", ["release", "scroll-release"])  # told its motion in 2D; the scroll world's, horizontal only
@examples(25)
@given(spec=MOTION_SPEC)
def test_cli_sample_any_motion_is_one_line_before_loading_or_a_motion_the_model_follows(model, spec, capsys):
    """sample --motion: a bad motion, or one the model cannot follow, is one line and exit 2 before any load
    (the checks read config.json only); a motion that reaches the load is one its Pipeline accepts."""
    import vidgen.pipeline

    out = Path(tempfile.mkdtemp()) / "v.gif"
    argv = ["sample", "--checkpoint", model, "--prompt", "AB", "--motion", spec, "--out", str(out)]
    original = vidgen.pipeline.load_pipeline
    vidgen.pipeline.load_pipeline = lambda *a, **k: (_ for _ in ()).throw(ReachedTheModel())
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    except ReachedTheModel:
        code = None
    finally:
        vidgen.pipeline.load_pipeline = original
    err = capsys.readouterr().err
    if code is None:  # the arguments passed: the real pipeline takes the motion too
        pipe = load_pipeline(model, precision="fp32")
        assert pipe.motions(["AB"], motion_from_spec(spec, "AB", pipe.world, 0), 0)
    else:
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists()
    shutil.rmtree(out.parent)


@pytest.fixture(scope="module")
def tiny_motion_pipe(tiny_motion_checkpoint):
    return load_pipeline(tiny_motion_checkpoint, precision="fp32")


MOTION_ARG = st.one_of(  # what a library caller may pass as motion=: ("motion", fields of a Motion), ("spec", text), or anything
    st.tuples(st.just("motion"), st.tuples(st.lists(st.integers(-300, 300), min_size=15, max_size=17),
                                           st.lists(st.integers(-300, 300), min_size=15, max_size=17), st.integers(0, 40))),
    st.tuples(st.just("motion"), st.tuples(st.integers(-40, 40).map(lambda x: [x] * 16), st.integers(-40, 40).map(lambda y: [y] * 16),
                                           st.integers(8, 28))),
    st.tuples(st.just("spec"), MOTION_SPEC),
    MOTION_SPEC, st.none(), st.integers(), st.lists(st.none(), max_size=2))


@examples(40)
@given(prompt=st.text(alphabet=SYMBOLS, min_size=1, max_size=4), motion=MOTION_ARG, seed=st.integers(0, 2**32 - 1))
def test_pipeline_takes_any_motion_or_raises_a_value_error(tiny_motion_pipe, prompt, motion, seed):
    """Pipeline.iter_steps(motion=...) with a Motion (any positions and size), a parsed spec, or anything else: the
    first step comes out finite, or a ValueError says what is wrong before any sampling."""
    try:
        if isinstance(motion, tuple) and motion[0] == "motion":
            motion = Motion(*motion[1])
        elif isinstance(motion, tuple) and motion[0] == "spec":
            motion = motion_from_spec(motion[1], prompt, tiny_motion_pipe.world, seed)
        first = next(tiny_motion_pipe.iter_steps(prompt, steps=2, seed=seed, motion=motion))
    except ValueError as e:
        assert str(e)
        return
    assert torch.isfinite(first.x_t).all()


def test_the_cli_takes_the_seeds_the_app_takes():
    from vidgen.cli.common import seed_int

    assert (seed_int.lo, seed_int.hi) == (0, MAX_SEED)
