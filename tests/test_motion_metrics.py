"""The motion world's measuring instruments, on stand-in models whose right answers are known: one that
draws the truth, one that draws the wrong glyph, one that never moves the text."""
from __future__ import annotations

import numpy as np
import pytest

from vidgen.data.world import Motion, WorldConfig, render_motion, sample_motion
from vidgen.evaluation.motion_metrics import (
    DIRECTION_BINS,
    direction_histogram,
    followed,
    motion_histogram,
    total_variation,
    variety,
    variety_seeds,
)
from vidgen.evaluation.recognizer import MOTION_DIR, load_recognizer

WORLD = WorldConfig(name="motion")
PROMPTS = ["HI", "B8", "OQ", "EF5"]


class StandIn:
    """What motion_metrics calls of a Pipeline: its world, `motions` and `generate`, drawing renders."""

    def __init__(self, draw=lambda prompt, motion: prompt, still: bool = False):
        self.world, self.draw, self.still = WORLD, draw, still

    def motions(self, prompts, motion=None, seed=0, check=True):
        if motion is not None:
            return motion
        if self.still:
            return [Motion((0,) * 16, (8,) * 16, 20, "line") for _ in prompts]
        return [sample_motion(p, WORLD, np.random.default_rng([seed, i, 7])) for i, p in enumerate(prompts)]

    def generate(self, prompts, motion=None, seed=0, **sampling):
        motions = self.motions(prompts, motion, seed)
        return np.stack([render_motion(self.draw(p, m), m) for p, m in zip(prompts, motions)])


@pytest.fixture(scope="module")
def reader():
    return load_recognizer(MOTION_DIR)


def test_the_truth_reads_back_exactly_where_it_should_be(reader):
    row = followed(StandIn(), PROMPTS, reader)
    assert row["readability"] == 1.0 and row["readability_nearest_render"] == 1.0
    assert row["position_error_px"] == 0.0 and row["psnr_db"] > 40
    assert row["misread"] == [] and row["misread_nearest_render"] == []
    assert row["readability_outside"] == row["truth_outside"] and row["misread_outside"] == []
    assert row["placement"]["within_1px"] == 1.0 and row["placement"]["max_px"] < 0.1


def test_a_wrong_glyph_fails_both_judges(reader):
    swap = {"H": "N", "8": "B", "Q": "O", "5": "S"}
    row = followed(StandIn(lambda p, m: "".join(swap.get(c, c) for c in p)), PROMPTS, reader)
    assert row["readability"] == 0.0 and row["readability_nearest_render"] == 0.0
    assert len(row["misread_nearest_render"]) == len(PROMPTS)


def test_variety_is_near_the_worlds_floor_for_the_world_and_far_from_it_for_still_text(reader):
    moving = variety(StandIn(), PROMPTS, reader, seeds_per_prompt=16)
    still = variety(StandIn(still=True), PROMPTS, reader, seeds_per_prompt=16)
    assert moving["readability"] == 1.0
    assert moving["tv_generated_vs_world"] <= moving["tv_world_vs_world"] + 0.15
    assert moving["tv_direction_generated_vs_world"] <= moving["tv_direction_world_vs_world"] + 0.15
    assert still["still_share"] == 1.0 and still["tv_generated_vs_world"] > 0.9
    assert still["tv_direction_generated_vs_world"] > 0.9


def test_each_prompt_has_its_own_variety_seeds():
    seeds = variety_seeds(3, 48)
    assert [len(s) for s in seeds] == [48, 48, 48] and len({x for s in seeds for x in s}) == 3 * 48


def test_the_direction_histogram_sums_the_speed_bands():
    velocity, speed = np.array([[3.0, 0.0], [6.0, 0.1], [0.0, -3.0], [0.1, 0.0]]), np.array([3.0, 6.0, 3.0, 0.1])
    hist = direction_histogram(velocity, speed)
    assert hist.shape == (1 + DIRECTION_BINS,) and hist.sum() == pytest.approx(1.0)
    assert hist[0] == pytest.approx(0.25) and hist[1] == pytest.approx(0.5)  # still; both rightwards, any speed
    assert hist[1 + 6] == pytest.approx(0.25)  # y down: -3 in y points up, the seventh sector (270 degrees)


def test_total_variation_and_the_bins():
    hist = motion_histogram(np.array([[3.0, 0.0], [0.0, 3.0], [0.1, 0.0]]), np.array([3.0, 3.0, 0.1]))
    assert hist[0] == pytest.approx(1 / 3) and hist.sum() == pytest.approx(1.0)
    assert total_variation(hist, hist) == 0.0
    other = np.zeros_like(hist)
    other[-1] = 1.0
    assert total_variation(hist, other) == pytest.approx(1.0)


def test_path_shape_names_clear_paths_and_matches_the_world_mostly():
    """Clear cases of each shape are named right; on the world's own motions the judge agrees with the shape drawn
    most of the time (it is a lens applied alike to both sides of a comparison, not a perfect classifier)."""
    import math

    from vidgen.data.world import Motion, WorldConfig, path_displacements, sample_motion
    from vidgen.evaluation.motion_metrics import PATH_SHAPE_CLASSES, path_shape, shape_histogram

    def motion(shape, seed=0):
        d = np.rint(path_displacements(shape, 0.3, 4.0, np.random.default_rng(seed)))
        return Motion(d[:, 0], d[:, 1], 20, shape)

    assert path_shape(motion("line")) == "line"
    assert path_shape(motion("stop_go")) == "stop_go"
    arc = np.rint(np.stack([20 * np.cos(np.linspace(0, math.pi, 16)), 20 * np.sin(np.linspace(0, math.pi, 16))], 1))
    assert path_shape(Motion(arc[:, 0], arc[:, 1], 20)) == "arc"
    hop = np.rint(np.stack([np.arange(16) * 4.0, -6 * np.abs(np.sin(math.pi * np.arange(16) / 15))], 1))
    assert path_shape(Motion(hop[:, 0], hop[:, 1], 20)) == "bounce"
    rng = np.random.default_rng(0)
    world = [sample_motion("HELLO", WorldConfig(name="motion"), rng) for _ in range(400)]
    assert np.mean([path_shape(m) == m.shape for m in world]) > 0.85
    hist = shape_histogram(world)
    assert hist.shape == (len(PATH_SHAPE_CLASSES),) and abs(hist.sum() - 1) < 1e-9 and (hist > 0.15).all()
