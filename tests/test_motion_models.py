"""Models of the motion world through the API a script uses: the world is stored in the checkpoint, a
told-layout model draws its motion from the world by the seed when none is given, a learned-layout model
draws it from its learned prior, both follow a given motion, and the same seed gives the same video."""
from __future__ import annotations

import json

import numpy as np
import pytest

import vidgen
from vidgen.data.world import Motion, line_motion, render_motion
from vidgen.presets import get_preset
from vidgen.training.trainer import Trainer


RUNS: dict = {}  # pipeline -> its run directory


@pytest.fixture(scope="module", params=["tiny-motion", "tiny-motion-learned"])
def pipe(request, tmp_path_factory):
    p = get_preset(request.param)
    out = tmp_path_factory.mktemp(request.param)
    Trainer(p.model, p.diffusion, p.train, out, preset_name=request.param).fit(max_steps=12, progress=False)
    loaded = vidgen.load_pipeline(out, precision="fp32")
    RUNS[id(loaded)] = out
    return loaded


def pipe_dir(pipe):
    return RUNS[id(pipe)]


def test_the_world_is_stored_in_the_checkpoint(pipe):
    assert pipe.world.name == "motion"
    saved = json.loads(json.dumps(pipe.config))  # the checkpoint's config.json as loaded
    assert saved["train"]["world"]["name"] == "motion" and "zigzag" in saved["train"]["world"]["heldout_shapes"]


def test_with_no_motion_the_seed_chooses_one(pipe):
    drawn = [pipe.motions(["HELLO"], None, seed)[0] for seed in range(6)]
    assert all(isinstance(m, Motion) for m in drawn)
    assert len({(m.xs, m.ys, m.size) for m in drawn}) >= 5  # the seed changes the motion
    assert pipe.motions(["HELLO"], None, 3) == [drawn[3]]  # and the same seed gives the same one
    if pipe.model.cfg.layout == "glyph2d":
        assert drawn[0] == pipe.sample_motion("HELLO", 0)  # drawn from the world
    else:
        assert {m.shape for m in drawn} == {"learned"}  # drawn by the model's own prior
    a = pipe.generate("HELLO", seed=4, steps=3)
    np.testing.assert_array_equal(a, pipe.generate("HELLO", seed=4, steps=3))
    assert not np.array_equal(a, pipe.generate("HELLO", seed=5, steps=3))


def test_a_given_motion_is_followed_and_a_bad_one_refused(pipe):
    down = line_motion("HI", 90, 2.0, size=18)
    assert pipe.motions(["HI"], down) == [down]
    assert pipe.render("HI", down).shape == (16, 32, 32)
    np.testing.assert_array_equal(pipe.render("HI", down), render_motion("HI", down))
    video = pipe.generate(["HI", "AB"], motion=[down, line_motion("AB", 0, 3.0)], steps=2)
    assert video.shape == (2, 16, 32, 32) and video.dtype == np.uint8
    with pytest.raises(ValueError, match="wholly on screen"):
        pipe.generate("ABCDEFGH", motion=Motion((0,) * 16, (-40,) * 16, 22), steps=2)
    with pytest.raises(ValueError, match="motions for"):
        pipe.generate(["HI", "AB"], motion=[down], steps=2)


def test_eval_and_the_blogs_experiments_run_in_the_motion_world(pipe, tmp_path):
    """A motion-world checkpoint is generated along motions drawn from its world, read by the motion reader
    and scored by position error (not the scroll's speed)."""
    from vidgen.evaluation.experiments import run_experiments
    from vidgen.evaluation.harness import EvalSettings, evaluate

    settings = EvalSettings(steps=2, batch_size=8)
    report = evaluate(pipe_dir(pipe), ["HI", "AB3"], tmp_path / "eval", settings, progress=False)
    overall = report["aggregate"]["overall"]
    assert overall["position_error"] is not None and overall["speed_abs_error"] is None
    assert report["recognizer"]["path"].endswith("recognizer-motion")
    ex = run_experiments(pipe_dir(pipe), tmp_path / "ex", settings, n=2, progress=False)
    assert set(ex["experiments"]) == {"never_seen", "single_letters", "out_of_vocabulary", "longer_than_training"}
    assert "position error" in (tmp_path / "ex" / "experiments.md").read_text()
