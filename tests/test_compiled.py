"""torch.compile where it pays: a compiled twin for sampling, checked against the eager model and timed."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vidgen import compiled
from vidgen.models import build_model
from vidgen.pipeline import load_pipeline
from vidgen.presets import get_preset


@pytest.fixture
def model():
    torch.manual_seed(0)
    net = build_model(get_preset("tiny").model).eval()
    with torch.no_grad():  # no zero-initialised output layer: every weight counts in the output
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    return net


def no_compile(twin):  # a stand-in compiler: the twin stays an eager copy
    return None


def fake_timer(eager: float, twin: float, model):
    def timer(m, bf16):
        return eager if m is model else twin
    return timer


@pytest.mark.parametrize("eager, twin, used", [(1.0, 0.5, True), (1.0, 0.95, False), (0.5, 1.0, False)])
def test_the_twin_is_used_only_when_measurably_faster(model, eager, twin, used):
    got, info = compiled.compile_twin(model, False, compiler=no_compile, timer=fake_timer(eager, twin, model))
    assert (got is not None) == used == info["compiled"]
    assert info["timings_ms"] == {"eager": 1000 * eager, "compiled": 1000 * twin} and info["max_diff"] == 0.0
    assert got is not model and "measured" in info["how"]


def test_with_both_precisions_the_faster_compiled_one_is_kept(model):
    """The compiled pass's best precision need not be the eager pass's: timed both ways, bf16 wins here."""
    def timer(m, bf16):
        return 1.0 if m is model else (0.4 if bf16 else 0.8)

    got, info = compiled.compile_twin(model, False, compiler=no_compile, timer=timer, both_precisions=True)
    assert got is not None and info["bf16"] is True and info["how"] == "measured: faster, in bf16"
    assert info["timings_ms"] == {"eager": 1000.0, "compiled": 400.0, "compiled fp32": 800.0, "compiled bf16": 400.0}
    got, info = compiled.compile_twin(model, False, compiler=no_compile, timer=timer)  # one precision: as asked
    assert got is not None and info["bf16"] is False and info["timings_ms"]["compiled"] == 800.0


def test_a_failed_compile_keeps_the_eager_model_and_says_why(model):
    def broken(twin):
        raise RuntimeError("Compiler: cc not found\nmore detail")

    got, info = compiled.compile_twin(model, False, compiler=broken, timer=fake_timer(1.0, 0.1, model))
    assert got is None and not info["compiled"] and info["how"] == "compile failed (RuntimeError: Compiler: cc not found)"
    assert "eager" in compiled.describe_compile(info)


@pytest.mark.parametrize("bf16", [False, True])
def test_a_twin_that_disagrees_with_the_model_is_not_used(model, bf16):
    def wrong(twin):
        with torch.no_grad():
            for p in twin.parameters():
                p.mul_(1.5)

    got, info = compiled.compile_twin(model, bf16, compiler=wrong, timer=fake_timer(1.0, 0.1, model))
    assert got is None and "differs from the eager one" in info["how"] and info["max_diff"] > compiled.AGREE[bf16]


def inductor_compiler() -> str | None:
    """The C++ compiler torch.compile's inductor would run here ($CXX, else g++: torch._inductor.config.cpp.cxx),
    or None when there is none on the PATH."""
    from torch._inductor import config

    names = config.cpp.cxx if isinstance(config.cpp.cxx, (list, tuple)) else (config.cpp.cxx,)
    return next((shutil.which(n) for n in names if n and shutil.which(n)), None)  # None there: conda, if asked


@pytest.mark.slow
@pytest.mark.skipif(inductor_compiler() is None,
                    reason="no C++ compiler ($CXX, else g++): torch.compile's inductor needs one (apt-get install g++)")
def test_a_pipeline_samples_the_same_videos_with_its_compiled_twin(tiny_checkpoint):
    """A real torch.compile (inductor) of a small trained network: the twin agrees with the eager pass and
    the videos are the eager ones to within a grey level, whether or not it was found faster here."""
    pipe = load_pipeline(tiny_checkpoint, precision="fp32")
    prompts = ["HI", "AB7"]
    eager = pipe.generate(prompts, seed=3, steps=4)
    info = pipe.compile()
    assert "compile failed" not in info["how"] and info["max_diff"] <= compiled.AGREE[False], info
    again = pipe.generate(prompts, seed=3, steps=4)
    assert np.abs(again.astype(int) - eager.astype(int)).max() <= 1
    assert (pipe.sampling_model is not pipe.model) == info["compiled"]
