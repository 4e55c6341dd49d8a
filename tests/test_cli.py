"""The command line as a user runs it: real subprocesses, exit codes, one-line errors."""
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "vidgen", *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_render_all_formats(tmp_path):
    for name in ("v.gif", "v.mp4", "v.npy"):
        res = run("render", "--prompt", "noise", "--out", tmp_path / name)
        assert res.returncode == 0, res.stderr
    video = np.load(tmp_path / "v.npy")
    assert video.shape == (16, 32, 32) and video.dtype == np.uint8
    assert iio.imread(tmp_path / "v.gif", index=None).shape[0] == 16
    assert (tmp_path / "v.mp4").read_bytes()[4:8] == b"ftyp"


def test_sample_same_seed_same_output(tiny_checkpoint, tmp_path):
    outs = []
    for i, seed in enumerate((5, 5, 6)):
        out = tmp_path / f"s{i}.npy"
        res = run("sample", "--checkpoint", tiny_checkpoint, "--prompt", "AB", "--steps", 5, "--seed", seed,
                  "--eta", 0.5, "--out", out, *(["--steps-out", tmp_path / "steps"] if i == 0 else []))
        assert res.returncode == 0, res.stderr
        outs.append(np.load(out))
    assert np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])
    assert np.load(tmp_path / "steps" / "x_t.npy").shape == (5, 16, 32, 32)
    assert (tmp_path / "steps" / "steps_grid.png").exists()


def test_sample_without_a_checkpoint_is_the_default_model_at_its_own_two_steps(tmp_path):
    res = run("sample", "--prompt", "HI", "--precision", "fp32", "--out", tmp_path / "hi.npy", "--steps-out", tmp_path / "steps")
    assert res.returncode == 0, res.stderr
    assert "model: release-2step (the default" in res.stderr and "--checkpoint release" in res.stderr
    assert np.load(tmp_path / "steps" / "x_t.npy").shape == (2, 16, 32, 32)  # its own 2 DDIM steps
    from vidgen.pipeline import load_pipeline

    expected = load_pipeline("release-2step", precision="fp32").generate("HI", seed=0)
    assert np.abs(np.load(tmp_path / "hi.npy").astype(int) - expected).max() <= 1  # (one thread there, two here)


@pytest.mark.parametrize(
    "args",
    [
        ("render", "--prompt", "hi!", "--out", "x.gif"),
        ("render", "--prompt", "ABCDEFGHIJKLMNOPQRSTUVWXY", "--out", "x.gif"),
        ("render", "--prompt", "THE QUICK BROWN FOX JUMP", "--out", "x.gif"),
        ("render", "--prompt", "AB", "--out", "x.avi"),
        ("sample", "--checkpoint", "/nonexistent", "--prompt", "AB", "--out", "x.gif"),
        ("train", "--preset", "giant", "--out", "/tmp/never"),
        ("train", "--preset", "tiny", "--out", "/tmp/vidgen-no-such-run", "--resume"),
        ("train", "--preset", "tiny", "--out", "/tmp/never", "--max-steps", "0"),
        ("train", "--preset", "tiny", "--out", ROOT / "checkpoints" / "release", "--resume", "--batch-size", "4"),
        ("train", "--preset", "tiny", "--out", "/tmp/vidgen-no-such-run", "--init-from", "/nonexistent"),
        ("train", "--preset", "tiny", "--out", "/tmp/never", "--init-from", "release"),  # another network's weights
        ("sample", "--prompt", "AB", "--out", "x.gif", "--device", "cuda:7"),
        ("frobnicate",),
    ],
)
def test_bad_arguments_exit_with_one_line(args):
    res = run(*args)
    assert res.returncode == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr


def test_sample_bad_settings(tiny_checkpoint, tmp_path):
    for extra in (("--steps", "0"), ("--eta", "2"), ("--guidance", "-3"), ("--prompt", "a_b")):
        res = run("sample", "--checkpoint", tiny_checkpoint, "--prompt", "AB", "--out", tmp_path / "x.gif", *extra)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr


# ----------------------------------------------------------------------------- a bad argument costs one line, no load

# The CLI with every weight read refused: safetensors' load_file (all checkpoints and readers go through it) exits 3
# with a marker, so an argument checked only after a load ends in code 3, not 2.
LOAD_GUARD = """
import sys
import safetensors.torch
def refuse(*args, **kwargs):
    sys.stderr.write("MODEL LOAD\\n")
    sys.exit(3)
safetensors.torch.load_file = refuse
from vidgen.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_guarded(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", LOAD_GUARD, *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


SAMPLE = ("sample", "--prompt", "HI", "--out", "/tmp/vidgen-never.gif")
EVAL = ("eval", "--checkpoint", "release", "--out", "/tmp/vidgen-never")
BAD_ARGUMENTS = [  # (command line, the flag its one line must name)
    (SAMPLE + ("--steps", "0"), "--steps"),
    (SAMPLE + ("--steps", "100000"), "--steps"),  # above the default model's T, read from its config.json
    (SAMPLE + ("--eta", "1.5"), "--eta"),
    (SAMPLE + ("--guidance", "-2"), "--guidance"),
    (SAMPLE + ("--guidance", "9"), "--guidance"),  # outside the default (guidance-distilled) model's range [1, 7]
    (SAMPLE + ("--guidance", "nan"), "--guidance"),
    (SAMPLE + ("--seed", "-1"), "--seed"),
    (SAMPLE + ("--sampler", "euler"), "--sampler"),
    (SAMPLE + ("--motion", "line:0"), "--motion"),
    (SAMPLE + ("--motion", "line:0,99"), "--motion"),
    (SAMPLE + ("--motion", "path:1,2"), "--motion"),
    (SAMPLE + ("--motion", "line:a,b"), "--motion"),
    (SAMPLE + ("--motion", "spiral"), "--motion"),
    (SAMPLE + ("--motion", "line:0,0.5,40"), "--motion"),  # a font size the frame cannot hold
    (("sample", "--checkpoint", "scroll-release", "--prompt", "HI", "--out", "/tmp/vidgen-never.gif",
      "--motion", "line:90,2"), "--motion"),  # the scroll world's model follows horizontal motions only
    (SAMPLE + ("--checkpoint", "/nonexistent"), "--checkpoint"),
    (EVAL + ("--steps", "1001"), "--steps"),
    (EVAL + ("--batch-size", "0"), "--batch-size"),
    (EVAL + ("--recognizer", "/nonexistent"), "--recognizer"),
    (("experiments", "--checkpoint", "release", "--out", "/tmp/vidgen-never", "--n", "0"), "--n"),
    (("probe", "--out", "/tmp/vidgen-never", "--steps", "2000"), "--steps"),
    (("probe", "--out", "/tmp/vidgen-never", "--ref", "99", "0", "0"), "--ref"),
    (("world-report", "--model", "scroll-release"), "--model"),
    (("world-report", "--recognizer", "checkpoints/recognizer"), "--recognizer"),  # a scroll reader
    (("report", "--models", "release,nope"), "--models"),
    (("train", "--preset", "giant", "--out", "/tmp/vidgen-never"), "--preset"),
    (("train", "--preset", "tiny", "--out", "/tmp/vidgen-never", "--lr", "-1"), "--lr"),
    (("train", "--preset", "tiny", "--out", ROOT / "checkpoints" / "release"), "--out"),
    (("distill", "--teacher", "release-2step", "--out", "/tmp/vidgen-never"), "--teacher"),  # already distilled
    (("distill", "--teacher", "release", "--out", "/tmp/vidgen-never", "--time-budget", "0"), "--time-budget"),
    (("export", "--checkpoint", "release-2step", "--out", "/tmp/vidgen-never", "--guidance", "9"), "--guidance"),
    (("export", "--checkpoint", ROOT / "checkpoints" / "release", "--out", "/tmp/vidgen-never", "--best"), "--best"),
    (("render", "--prompt", "HI", "--out", "/tmp/vidgen-never.gif", "--motion", "path:1,2"), "--motion"),
    (("compare", "--budget", "0", "--out", "/tmp/vidgen-never"), "--budget"),
]


@pytest.mark.parametrize("args,flag", BAD_ARGUMENTS, ids=[" ".join(map(str, a[1:]))[:60] for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_before_anything_loads(args, flag):
    """Exit 2, one line on stderr naming the flag, nothing on stdout, and no weights read (the guard's exit 3)."""
    res = run_guarded(*args)
    assert "MODEL LOAD" not in res.stderr and res.returncode == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr
    assert not Path("/tmp/vidgen-never").exists() and not Path("/tmp/vidgen-never.gif").exists()


@pytest.mark.parametrize("args", [SAMPLE + ("--motion", "line:0,4"), SAMPLE + ("--motion", "path:4,16;28,16@18"),
                                  SAMPLE + ("--motion", "random"), EVAL + ("--n", "2")])
def test_the_load_guard_sees_the_load_of_good_arguments(args):
    """The guard above is real: with every argument good the same commands reach the weights."""
    res = run_guarded(*args)
    assert res.returncode == 3 and res.stderr.splitlines()[-1] == "MODEL LOAD", res.stderr


def test_bad_arguments_cost_no_time_after_imports(monkeypatch, capsys):
    """In-process: the checks (config.json read, motion parsed) take well under a second of CPU once the
    modules are imported (the first run of each command imports them)."""
    import time

    import vidgen.checkpoint as ckpt
    from vidgen.cli.main import main

    monkeypatch.setattr(ckpt, "load_tensors", lambda *a, **k: pytest.fail("weights read"))
    for args, _ in BAD_ARGUMENTS:
        if args[0] in ("sample", "eval", "probe", "export"):
            for _ in range(2):
                t0 = time.process_time()
                try:
                    code = main([str(a) for a in args])
                except SystemExit as e:
                    code = e.code
                seconds = time.process_time() - t0
            assert code == 2 and seconds < 0.5, (args, seconds)
            capsys.readouterr()
