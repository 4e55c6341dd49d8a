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
        ("render", "--prompt", "ABCDEFGHIJ", "--out", "x.gif"),
        ("render", "--prompt", "AB", "--out", "x.avi"),
        ("sample", "--checkpoint", "/nonexistent", "--prompt", "AB", "--out", "x.gif"),
        ("train", "--preset", "giant", "--out", "/tmp/never"),
        ("train", "--preset", "tiny", "--out", "/tmp/vidgen-no-such-run", "--resume"),
        ("train", "--preset", "tiny", "--out", "/tmp/never", "--max-steps", "0"),
        ("train", "--preset", "tiny", "--out", ROOT / "checkpoints" / "release", "--resume", "--batch-size", "4"),
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
