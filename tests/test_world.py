"""The world: motions drawn per sample keep every glyph on screen, the scroll world is today's data
exactly, user motions are followed or refused with a reason, and the renderer puts ink where the
motion says."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vidgen.data.prompts import long_prompts, validation_prompts
from vidgen.data.render import render_video
from vidgen.data.world import (
    MIN_VISIBLE_FRAMES,
    Motion,
    WorldConfig,
    glyph_boxes,
    line_motion,
    path_motion,
    render_motion,
    sample_motion,
    scroll_motion,
    visible_frames,
)
from vidgen.jsonconfig import config_from_dict, to_dict

MOTION = WorldConfig(name="motion")


def test_the_scroll_world_is_todays_data_exactly():
    for p in list(validation_prompts()[::25]) + list(long_prompts(8)):
        np.testing.assert_array_equal(render_motion(p, scroll_motion(p)), render_video(p))
    assert sample_motion("HELLO", WorldConfig(), np.random.default_rng(1)) == scroll_motion("HELLO")  # one motion a prompt


@pytest.mark.parametrize("length", range(1, 9))
def test_drawn_motions_show_every_glyph_whole_in_two_frames(length):
    rng = np.random.default_rng(length)
    prompts = [p for p in list(validation_prompts()) + list(long_prompts(16)) if len(p) == length][:6]
    for p in prompts:
        for _ in range(4):
            m = sample_motion(p, MOTION, rng)
            assert (visible_frames(p, m) >= MIN_VISIBLE_FRAMES).all() and m.shape in MOTION.shapes
            assert MOTION.sizes[0] <= m.size <= MOTION.sizes[1]


def test_a_prompt_has_many_right_videos():
    """32 seeds of one prompt: directions in every quarter of the circle, speeds over a 3x range, several
    sizes and every training path shape; the same seed gives the same motion."""
    motions = [sample_motion("HI", MOTION, np.random.default_rng(s)) for s in range(32)]
    assert sample_motion("HI", MOTION, np.random.default_rng(5)) == motions[5]
    net = np.array([[m.xs[-1] - m.xs[0], m.ys[-1] - m.ys[0]] for m in motions], dtype=float)
    quarters = {int((math.degrees(math.atan2(dy, dx)) % 360) // 90) for dx, dy in net}
    assert quarters == {0, 1, 2, 3}
    speeds = np.array([np.linalg.norm(m.velocities, axis=1).mean() for m in motions])  # path length a frame
    assert speeds.max() > 3 * speeds.min()
    assert len({m.size for m in motions}) >= 4 and {m.shape for m in motions} == set(MOTION.shapes)
    assert len({render_motion("HI", m).tobytes() for m in motions}) == 32


def test_held_out_path_shapes_are_drawn_only_when_asked():
    rng = np.random.default_rng(0)
    assert all(sample_motion("AB", MOTION, rng).shape != "zigzag" for _ in range(40))
    zig = sample_motion("AB", MOTION, rng, shapes=MOTION.heldout_shapes)
    assert zig.shape == "zigzag" and (visible_frames("AB", zig) >= MIN_VISIBLE_FRAMES).all()


def test_the_ink_is_where_the_motion_says():
    m = sample_motion("W", MOTION, np.random.default_rng(2))
    video = render_motion("W", m)
    left, top, right, bottom = glyph_boxes("W", m.size)[0]
    for f, (x, y) in enumerate(zip(m.xs, m.ys)):
        ys, xs = np.nonzero(video[f] > 127)
        if len(xs):
            assert xs.min() >= x + left - 1 and xs.max() <= x + right and ys.min() >= y + top - 1 and ys.max() <= y + bottom


def test_user_motions_are_followed_or_refused_with_the_reason():
    m = line_motion("HI", 0, 2.0)  # rightwards, 2 px a frame
    assert set(np.diff(m.xs)) <= {2} and len(set(m.ys)) == 1
    down = line_motion("A", 90, 1.0, size=16)
    assert len(set(down.xs)) == 1 and all(np.diff(down.ys) == 1)
    with pytest.raises(ValueError, match="does not show 'H'.*wholly on screen"):
        line_motion("HELLOWOR", 90, 1.0)  # eight symbols going down: most glyphs never fit the frame
    p = path_motion("AB", [(8, 16), (24, 16), (16, 4)])
    assert len(p.xs) == 16 and p.shape == "path"
    for bad in ([(1, 2)], [(0, 0), (float("nan"), 1)], [[1, 2, 3], [4, 5, 6]]):
        with pytest.raises(ValueError, match="at least two finite"):
            path_motion("AB", bad)
    with pytest.raises(ValueError, match="one position per frame"):
        Motion((0,) * 3, (0,) * 3)


def test_the_world_is_a_json_config():
    assert config_from_dict(WorldConfig, to_dict(MOTION), "world") == MOTION  # tuples survive the JSON lists
    for bad, message in (({"name": "space"}, "unknown world"), ({"sizes": (8, 40)}, "sizes"),
                         ({"shapes": ("line", "spiral")}, "unknown path shapes"),
                         ({"shapes": ("line", "zigzag")}, "both drawn and held out"), ({"speeds": (0, 2)}, "speeds")):
        with pytest.raises(ValueError, match=message):
            WorldConfig(**{"name": "motion", **bad})
