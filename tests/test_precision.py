"""Precision by measurement: the faster of fp32 and bf16 on this machine, never a CPU flag."""
from __future__ import annotations

import json

import pytest

from vidgen import precision
from vidgen.models import build_model
from vidgen.pipeline import Pipeline
from vidgen.presets import get_preset


@pytest.fixture
def model():
    return build_model(get_preset("tiny").model).eval()


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(precision.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(precision.os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # an idle machine unless a test says not


def fake_timer(fp32: float, bf16: float):
    calls = []

    def timer(model, use_bf16):
        calls.append(use_bf16)
        return bf16 if use_bf16 else fp32
    return timer, calls


@pytest.mark.parametrize("fp32, bf16, chosen", [(1.0, 0.5, "bf16"), (0.5, 1.0, "fp32"), (1.0, 0.97, "fp32"), (1.0, 0.90, "bf16")])
def test_the_choice_follows_the_timing(model, fp32, bf16, chosen):
    """bf16 only when it is measurably faster (by more than MARGIN); a tie goes to fp32, the reference."""
    timer, calls = fake_timer(fp32, bf16)
    info = precision.choose_precision(model, "auto", timer=timer)
    assert info["precision"] == chosen and info["how"] == "measured" and sorted(calls) == [False, False, True]
    assert info["timings_ms"] == {"fp32": 1000 * fp32, "bf16": 1000 * bf16}


def test_the_decision_is_cached_per_machine_and_model_and_forcing_skips_the_probe(model):
    timer, calls = fake_timer(1.0, 0.5)
    assert precision.choose_precision(model, "auto", timer=timer)["how"] == "measured"
    again = precision.choose_precision(model, "auto", timer=timer)
    assert again["how"] == "cached" and again["precision"] == "bf16" and len(calls) == 3  # not timed again
    cache = json.loads(precision.cache_file().read_text())
    assert list(cache) == [precision.machine_key(model, __import__("torch").device("cpu"))]
    other = build_model(get_preset("tiny-layout").model)
    assert precision.choose_precision(other, "auto", timer=timer)["how"] == "measured"  # another network, another key
    assert precision.choose_precision(model, "auto", timer=timer, scope="train")["how"] == "measured"  # training apart
    forced = precision.choose_precision(model, "fp32", timer=timer)
    assert forced == {**forced, "precision": "fp32", "how": "forced"} and len(calls) == 9
    with pytest.raises(ValueError, match="unknown precision"):
        precision.choose_precision(model, "fp16")


def test_a_probe_taken_on_a_busy_machine_is_used_but_not_cached(model, monkeypatch):
    seq = iter([1.0, 0.5, 1.4])  # fp32, bf16, fp32 again: the second fp32 run is 40% slower, something else ran
    info = precision.choose_precision(model, "auto", timer=lambda m, b: next(seq))
    assert info["precision"] == "bf16" and info["how"].startswith("measured, not cached (fp32 timed 1000.0 and 1400.0 ms")
    timer, calls = fake_timer(1.0, 0.5)
    assert precision.choose_precision(model, "auto", timer=timer)["how"] == "measured"  # steady now: measured again
    assert precision.choose_precision(model, "auto", timer=timer)["how"] == "cached"
    monkeypatch.setattr(precision.os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    busy = precision.choose_precision(model, "auto", timer=timer, scope="train")
    assert busy["how"].startswith("measured, not cached (load average 64.00")
    assert precision.choose_precision(model, "auto", timer=timer, scope="train")["how"].startswith("measured, not cached")


def test_a_pipeline_decides_by_timing_at_first_use_unless_forced(model, monkeypatch):
    timer, calls = fake_timer(0.5, 1.0)  # bf16 slower, as on a CPU with AVX-512 BF16 but no AMX
    monkeypatch.setattr(precision, "time_guided_pass", timer)
    monkeypatch.setattr("vidgen.pipeline.choose_precision",
                        lambda m, p, d, **kw: precision.choose_precision(m, p, d, **{**kw, "timer": timer}))
    pipe = Pipeline(model, get_preset("tiny").diffusion)
    assert calls == []  # nothing timed at load
    assert pipe.bf16 is False and pipe.precision_info["how"] == "measured"
    assert Pipeline(model, get_preset("tiny").diffusion, precision="bf16").bf16 is True
    assert Pipeline(model, get_preset("tiny").diffusion, bf16=False).precision_info["how"] == "forced"
    with pytest.raises(ValueError, match="unknown precision"):
        Pipeline(model, get_preset("tiny").diffusion, precision="fast")


def test_the_real_probes_time_both_ways(model):
    assert precision.time_guided_pass(model, False, repeats=1) > 0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert precision.time_train_step(model, True, batch=2, repeats=1) > 0
    assert all((v == before[k]).all() for k, v in model.state_dict().items())  # the weights are put back


def test_a_pipeline_times_a_video_s_first_steps_both_ways(monkeypatch):
    import vidgen.pipeline as pipeline_module

    moving = build_model(get_preset("tiny-motion").model).eval()  # told its motion: the probe draws one from its world
    pipe = Pipeline(moving, get_preset("tiny-motion").diffusion)
    seen, real = [], pipeline_module.iter_denoise

    def recording(model, schedule, ids, **kw):
        seen.append((kw["autocast_bf16"], kw["steps"], kw["motion"] is not None, ids.shape[0]))
        return real(model, schedule, ids, **kw)
    monkeypatch.setattr(pipeline_module, "iter_denoise", recording)
    assert pipe.bf16 in (True, False) and pipe.precision_info["how"].startswith("measured")
    assert pipe.precision_info["key"].startswith("video |") and "a video's first steps" in precision.describe(pipe.precision_info)
    runs = 5 + 2  # repeats and warm-ups, each precision timed: fp32, bf16, fp32
    assert [b for b, *_ in seen] == [False] * runs + [True] * runs + [False] * runs
    assert all(steps == min(pipe.default_sampling[1], pipeline_module.PROBE_STEPS) and moved and b == 1 for _, steps, moved, b in seen)
