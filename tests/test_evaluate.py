"""The evaluation harness and the experiments, end to end on the tiny checkpoint, and their inputs."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vidgen.cli.main import main
from vidgen.data.prompts import SplitConfig, validation_prompts
from vidgen.data.render import render_video
from vidgen.evaluation.harness import (
    aggregate,
    load_prompts_file,
    score_videos,
    split_prompts,
)
from vidgen.evaluation.metrics import FD_NAME, PSNR_CAP
from vidgen.evaluation.recognizer import default_reader


def test_truth_scores_perfectly_through_the_harness():
    prompts = ["AS", "HELLO", "Q", "XY12Z9", "ABCDEFGH"]
    truths = np.stack([render_video(p) for p in prompts])
    records, fd = score_videos(truths, prompts, default_reader())
    agg = aggregate(records)["overall"]
    assert agg["exact"] == 1.0 and agg["cer"] == 0.0 and agg["psnr"] == PSNR_CAP and agg["ssim"] == pytest.approx(1.0)
    assert agg["flicker"] == 0.0 and agg["speed_abs_error"] < 0.2
    assert fd["name"] == FD_NAME and fd["value"] == pytest.approx(0.0, abs=1e-3)
    # a wrong video for each prompt is scored as wrong
    records, fd = score_videos(truths[::-1].copy(), prompts, default_reader())
    assert aggregate(records)["overall"]["exact"] == 0.2  # only the middle one ('Q') stays in place
    assert fd["value"] == pytest.approx(0.0, abs=1e-3)  # same set of videos: same distribution
    assert set(aggregate(records)["by_length"]) == {"1", "2", "5", "6", "8"}


def test_eval_end_to_end_on_tiny(tiny_checkpoint, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a comment\nas\n\nHELLO\nq7\n")
    out = tmp_path / "eval"
    rc = main(["eval", "--checkpoint", str(tiny_checkpoint), "--prompts", str(prompts), "--steps", "2",
               "--batch-size", "2", "--out", str(out), "--no-progress"])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert [r["prompt"] for r in report["per_prompt"]] == ["AS", "HELLO", "Q7"]
    assert report["settings"]["steps"] == 2 and report["settings"]["batch_size"] == 2
    sha = hashlib.sha256((tiny_checkpoint / "ema.safetensors").read_bytes()).hexdigest()
    assert report["checkpoint"]["weights_sha256"] == sha
    assert report["fd_recognizer"]["name"] == FD_NAME and report["fd_recognizer"]["truth_read_accuracy"] == 1.0
    assert set(report["aggregate"]["by_length"]) == {"2", "5"} and report["aggregate"]["overall"]["n"] == 3
    for key in ("exact", "cer", "ned", "psnr", "ssim", "speed_abs_error", "flicker"):
        assert all(key in r for r in report["per_prompt"])
    md = (out / "report.md").read_text()
    assert "| length |" in md and FD_NAME in md and "grid.png" in md
    assert (out / "grid.png").stat().st_size > 0 and np.load(out / "videos.npy").shape == (3, 16, 32, 32)


def test_experiments_end_to_end_on_tiny(tiny_checkpoint, tmp_path):
    out = tmp_path / "exp"
    rc = main(["experiments", "--checkpoint", str(tiny_checkpoint), "--n", "2", "--steps", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    report = json.loads((out / "experiments.json").read_text())
    ex = report["experiments"]
    assert set(ex) == {"never_seen", "single_letters", "out_of_vocabulary", "longer_than_training"}
    assert ex["never_seen"]["AS"]["prompt"] == "AS"
    assert ex["single_letters"]["holdout_single"] is False and "WAS trained" in ex["single_letters"]["note"]
    assert ex["single_letters"]["aggregate"]["overall"]["n"] == 36
    assert ex["out_of_vocabulary"]["oov"]["per_prompt"][0]["prompt"] == "W?RD"
    assert {r["length"] for r in ex["longer_than_training"]["longer"]["per_prompt"]} == {7, 8}
    for e in ex.values():
        assert (out / e["figure"]).stat().st_size > 0
    assert "## 4. Longer than training" in (out / "experiments.md").read_text()


def test_prompt_sources(tmp_path):
    split = SplitConfig()
    val = split_prompts("val", 12, split)
    assert len(val) == 12 and set(val) <= set(validation_prompts(split)) and {len(p) for p in val} == set(range(1, 7))
    held = split_prompts("heldout", 10, split)
    assert len(held) == 10 and all(split.is_heldout(p) for p in held)
    f = tmp_path / "bad.txt"
    f.write_text("AB\nA-B\n")
    with pytest.raises(ValueError, match="bad.txt:2"):
        load_prompts_file(f)
    with pytest.raises(ValueError):
        split_prompts("test", 3, split)


@pytest.mark.parametrize("args", [
    ["eval", "--checkpoint", "/nonexistent/run", "--out", "OUT"],
    ["eval", "--checkpoint", "CKPT", "--steps", "0", "--out", "OUT"],
    ["eval", "--checkpoint", "CKPT", "--n", "0", "--out", "OUT"],
    ["eval", "--checkpoint", "CKPT", "--batch-size", "0", "--out", "OUT"],
    ["eval", "--checkpoint", "CKPT", "--prompts", "/nonexistent/prompts.txt", "--out", "OUT"],
    ["eval", "--checkpoint", "CKPT", "--recognizer", "/nonexistent/rec", "--out", "OUT"],
    ["experiments", "--checkpoint", "CKPT", "--n", "1", "--out", "OUT"],
])
def test_bad_arguments_exit_2(args, tiny_checkpoint, tmp_path, capsys):
    args = [str(tiny_checkpoint) if a == "CKPT" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "report.json").exists()


def test_unknown_split_is_an_argparse_error(tiny_checkpoint, capsys):
    assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--split", "test", "--out", "x"]) == 2
    assert "argument --split: invalid choice" in capsys.readouterr().err


def test_the_cli_reads_a_motion_world_model_with_the_motion_reader(tiny_motion_checkpoint, tmp_path):
    out = tmp_path / "exp"
    rc = main(["experiments", "--checkpoint", str(tiny_motion_checkpoint), "--n", "2", "--steps", "1", "--out", str(out),
               "--only", "single_letters", "--no-progress"])
    assert rc == 0
    report = json.loads((out / "experiments.json").read_text())
    assert Path(report["recognizer"]["path"]).name == "recognizer-motion"
