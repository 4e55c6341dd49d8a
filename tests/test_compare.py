"""`compare`: the wiring from training to the report, with the evaluation harness replaced by fixed
figures (the harness has its own tests), resuming, the findings, and bad arguments."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vidgen.evaluation.compare as cmp
import vidgen.evaluation.compare_report as report
import vidgen.evaluation.recognizer
import vidgen.training.variant_comparison as runs

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {"full": (0.25, 0.5, 14.0, 0.6, 0.8, 20.0), "latte": (0.5, 0.3, 15.0, 0.7, 0.4, 12.0)}


def _fake_eval(run_dir, eval_dir, settings, reader, progress):
    exact, cer, psnr, ssim, speed, flicker = FIGURES[Path(run_dir).name]
    return {"n": settings.eval_n, "exact": exact, "cer": cer, "psnr": psnr, "ssim": ssim, "speed_abs_error": speed,
            "flicker": flicker, "flicker_truth": 0.0, "fd_recognizer": None, "generate_seconds": 0.0, "grid": str(eval_dir / "grid.png")}


@pytest.mark.slow
def test_compare_trains_times_reports_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(vidgen.evaluation.recognizer, "default_reader", lambda path=None: None)
    monkeypatch.setattr(runs, "evaluate_variant", _fake_eval)
    settings = cmp.CompareSettings(budget=1.0, size="tiny", eval_n=2, eval_steps=2, timing_steps=2, cost_measure_up_to=0)
    doc = tmp_path / "docs" / "variants.md"
    results = runs.compare(["full", "latte"], settings, tmp_path / "cmp", doc_path=doc, progress=False, log=lambda *_: None)
    for v in ("full", "latte"):
        r = results["variants"][v]
        assert r["steps"] >= 1 and r["samples_per_s"] > 0 and r["train_seconds"] >= 0.5 and r["sample_ms_per_step"] > 0 and r["params"] > 0
        assert (tmp_path / "cmp" / "runs" / v / "config.json").is_file()
    assert {row["variant"] for row in results["cost"]} == {"full", "latte"}
    assert all(row["forward_ms"] is None for row in results["cost"])  # analytic only
    text = doc.read_text()
    assert "| latte | `tiny-latte` |" in text and "factorising helped" in text and "## Cost as the video grows" in text
    # a second call reuses what is done instead of training again
    monkeypatch.setattr(runs, "train_variant", lambda *a, **k: pytest.fail("trained again"))
    again = runs.compare(["full", "latte"], settings, tmp_path / "cmp", progress=False, log=lambda *_: None)
    assert again["variants"] == json.loads(json.dumps(results["variants"]))
    with pytest.raises(ValueError, match="other settings"):
        runs.compare(["full"], cmp.CompareSettings(budget=2.0, size="tiny"), tmp_path / "cmp", progress=False)


def test_findings_follow_the_numbers():
    base = {"preset": "small", "params": 1, "steps": 1, "samples_seen": 10, "train_seconds": 1.0, "samples_per_s": 10.0,
            "sample_ms_per_step": 1.0, "val_loss": 0.1}
    rows = {v: {**base, **dict(zip(("exact", "cer", "psnr", "ssim", "speed_abs_error", "flicker"), FIGURES[v]))} for v in FIGURES}
    rows["latte"]["preset"] = "small-latte"
    text = " ".join(report.findings({"variants": rows}))
    assert "Most readable: **latte** (sentence accuracy 50.0%" in text and "factorising helped" in text
    rows["full"]["exact"] = 0.9
    assert "factorising did not help" in " ".join(report.findings({"variants": rows}))
    for r in rows.values():
        r["exact"] = 0.0
    text = " ".join(report.findings({"variants": rows}))
    assert "No variant reads a single prompt" in text and "Most readable" not in text


def test_findings_pick_rows_by_what_the_class_declares(monkeypatch):
    """The findings select rows by the class's SPACE_TIME, not by name: a registered variant under another
    name that mixes space and time jointly is read as the reference the factorised ones are held against."""
    from vidgen.models import VARIANTS, FullDiT

    base = {"preset": "small", "params": 1, "steps": 1, "samples_seen": 10, "train_seconds": 1.0, "samples_per_s": 10.0,
            "sample_ms_per_step": 1.0, "val_loss": 0.1}
    rows = {v: {**base, **dict(zip(("exact", "cer", "psnr", "ssim", "speed_abs_error", "flicker"), FIGURES[v]))} for v in FIGURES}
    rows["joint"] = rows.pop("full")
    monkeypatch.setitem(VARIANTS, "joint", type("Joint", (FullDiT,), {}))
    assert "factorising helped" in " ".join(report.findings({"variants": rows}))
    monkeypatch.setattr(VARIANTS["joint"], "SPACE_TIME", "convolution")
    text = " ".join(report.findings({"variants": rows}))
    assert "factorising" not in text and "The factorised-convolution U-Net" in text


def test_layout_comparison_uses_the_layout_presets():
    assert cmp.preset_for("full", "small", layout=True) == "small-layout"
    assert cmp.preset_for("latte-both", "tiny", layout=True) == "tiny-latte-both-layout"
    assert cmp.preset_for("full", "small", template=True) == "small-template"
    assert cmp.preset_for("snapvideo", "tiny", layout=True, template=True) == "tiny-snapvideo-template"
    assert cmp.preset_for("conv3d", "small") == "small-conv3d"


def test_compared_names_resolve_whole(monkeypatch):
    """A compared name is a registered name plus one of its class's COMPARED suffixes, matched whole: a
    registered name may contain "-", and a registered name with a suffix its class does not declare is unknown."""
    from vidgen.models import VARIANTS, FullDiT, compared_variant_class

    monkeypatch.setitem(VARIANTS, "dit-joint", type("JointDiT", (FullDiT,), {}))  # by size alone, like `full`
    assert cmp.preset_for("dit-joint", "small") == "small" and compared_variant_class("dit-joint") is VARIANTS["dit-joint"]
    assert compared_variant_class("latte-between") is VARIANTS["latte"]
    with pytest.raises(ValueError, match="known variants: .*latte-between, latte-both, .*dit-joint"):
        compared_variant_class("dit")


def test_unknown_variant_names_raise(tmp_path):
    with pytest.raises(ValueError, match="known variants: full, "):
        cmp.preset_for("unet", "small")
    with pytest.raises(ValueError, match="known variants: full, "):  # a suffix Latte's COMPARED does not name
        cmp.preset_for("latte-nowhere", "small")
    with pytest.raises(ValueError, match="known presets"):  # a known variant without that size's preset
        cmp.preset_for("latte", "medium")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "vidgen", "compare", "--variants", "full,unet", "--budget", "1", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert res.returncode == 2 and "--variants: unknown ['unet']" in res.stderr
    assert not any(tmp_path.iterdir())


def test_the_cost_table_grows_layout_models_too():
    """The layout is defined for the dataset's 16x32x32 video only: a grown layout model is costed
    without it (the layout comparison once crashed here after training every variant)."""
    from vidgen.evaluation.cost import cost_table, grown
    from vidgen.presets import get_preset

    cfg = get_preset("tiny-template").model
    assert grown(cfg, cfg.frames, cfg.width) == cfg  # the dataset's size keeps its layout
    assert grown(cfg, 32, 32).layout == "none" and grown(cfg, 32, 32).frames == 32
    rows = cost_table({"full": cfg}, [(16, 32), (32, 32)], measure_up_to=0)
    assert [r["frames"] for r in rows] == [16, 32] and rows[1]["tokens"] == 2 * rows[0]["tokens"]
