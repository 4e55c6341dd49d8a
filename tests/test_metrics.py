"""Metric functions on inputs whose answers are known exactly."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vidgen.data.layout import scroll_offsets
from vidgen.data.render import render_strip, render_video
from vidgen.evaluation import metrics


def test_edit_distance_examples():
    assert metrics.edit_distance("", "") == 0
    assert metrics.edit_distance("KITTEN", "SITTING") == 3
    assert metrics.edit_distance("AB", "BA") == 2
    assert metrics.edit_distance("", "ABC") == 3
    assert metrics.character_error_rate("WRD", "WORD") == 0.25
    assert metrics.character_error_rate("WOORDD", "WORD") == 0.5
    assert metrics.normalized_edit_distance("WOORDD", "WORD") == pytest.approx(2 / 6)
    assert metrics.normalized_edit_distance("", "") == 0.0
    assert metrics.sentence_accuracy(["AB", "C", "D"], ["AB", "C", "E"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("bad", [lambda: metrics.character_error_rate("A", ""),
                                 lambda: metrics.sentence_accuracy(["A"], ["A", "B"]),
                                 lambda: metrics.sentence_accuracy([], []),
                                 lambda: metrics.psnr_frames(np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 5), np.uint8)),
                                 lambda: metrics.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        bad()


def test_identical_videos_score_perfectly():
    v = render_video("HELLO")
    assert np.all(metrics.psnr_frames(v, v, cap=None) == np.inf)
    assert np.all(metrics.psnr_frames(v, v) == metrics.PSNR_CAP)
    np.testing.assert_allclose(metrics.ssim_frames(v, v), 1.0, atol=1e-12)
    assert metrics.flicker(v, "HELLO") == 0.0


def test_psnr_known_value_and_ssim_drops():
    a = np.zeros((2, 8, 8), np.uint8)
    b = a.copy()
    b[:, 0, :] = 255  # 8 of 64 pixels fully wrong: mse = 255^2 / 8
    np.testing.assert_allclose(metrics.psnr_frames(b, a), 10 * math.log10(8), rtol=1e-12)
    v, w = render_video("HELLO"), render_video("HELLP")
    ssim = metrics.ssim_frames(w, v)
    assert ssim.min() < 0.9 and ssim.max() == pytest.approx(1.0)  # only frames showing the last letter differ


@pytest.mark.parametrize("dy,dx", [(0, -5), (2, 3), (-1, 7), (0, 12)])
def test_phase_correlation_recovers_known_shift(dy, dx):
    a = np.random.default_rng(0).random((32, 32))
    assert metrics.phase_correlation_shift(a, np.roll(a, (dy, dx), axis=(0, 1))) == pytest.approx((dy, dx), abs=1e-6)
    assert all(math.isnan(x) for x in metrics.phase_correlation_shift(np.zeros((8, 8)), a[:8, :8]))


def test_scroll_speed_of_truth_matches_renderer():
    for p in ("AB", "HELLO", "XY12Z9"):
        s = metrics.scroll_speed_error(render_video(p), p)
        assert s["true_speed"] == pytest.approx(-np.diff(scroll_offsets(render_strip(p).shape[1])).mean(), abs=0.5)
        assert s["speed_abs_error"] < 0.2 and s["speed_within_1px"] == 1.0


def test_frozen_video_has_wrong_speed_and_flicker():
    v = render_video("HELLO")
    frozen = np.repeat(v[7:8], len(v), axis=0)  # text that stops scrolling
    s = metrics.scroll_speed_error(frozen, "HELLO")
    assert s["est_speed"] == pytest.approx(0.0, abs=0.1) and s["speed_abs_error"] > 3
    assert metrics.flicker(frozen, "HELLO") > 10
    blank = np.zeros_like(v)  # nothing to correlate counts as the worst case
    assert metrics.scroll_speed_error(blank, "HELLO")["speed_abs_error"] == pytest.approx(s["true_speed"], rel=1e-6)


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    # same covariance, mean moved by (3, 0, 0, 0): FD = 9 exactly
    assert metrics.frechet_distance(x, x + np.array([3.0, 0, 0, 0])) == pytest.approx(9.0, abs=1e-9)
    # N(0, I) vs N(0, 4I) in d dims: d * (1 + 4 - 2 * 2) = d, up to sampling noise
    y = rng.normal(size=(20000, 4))
    assert metrics.frechet_distance(y, 2 * rng.normal(size=(20000, 4))) == pytest.approx(4.0, rel=0.05)


def test_psnr_is_one_mse_over_the_whole_video_not_the_mean_of_frames():
    """Blank frames that match the truth must not lift the figure: two identical blank frames and one
    frame off by 16 grey levels is 10 log10(255^2 / (16^2 / 3)) dB, not the per-frame mean (which the
    60 dB of each matching frame would push to about 52 dB)."""
    truth = np.zeros((3, 4, 4), np.uint8)
    video = truth.copy()
    video[1] = 16
    expected = 10 * math.log10(255.0**2 / (16.0**2 / 3))
    assert metrics.psnr_video(video, truth) == pytest.approx(expected, rel=1e-12)
    assert metrics.video_scores(render_video("A"), render_video("A"), "A")["psnr"] == metrics.PSNR_CAP  # identical: the cap
    per_frame = float(metrics.psnr_frames(video, truth).mean())
    assert per_frame > expected + 10  # what the old definition reported
    off = render_video("AB").copy()
    off[8] = np.clip(off[8].astype(int) + 16, 0, 255).astype(np.uint8)
    scores = metrics.video_scores(off, render_video("AB"), "AB")
    assert scores["psnr"] == pytest.approx(metrics.psnr_video(off, render_video("AB")))
    assert scores["psnr_per_frame"] > scores["psnr"]
