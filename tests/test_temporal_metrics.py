"""Seed 004's motion KPIs (vidgen.evaluation.temporal) on renders whose right answers are known: a true
video scores perfectly, the same video with two frames swapped does not, and hand-made videos give the
figures the definitions promise. The temporal encoder (trained by vidgen.training.temporal_encoder) is only
trained for a few steps, for shape, determinism and its checkpoint round trip. Seed 004's temporal loss
(vidgen.training.temporal_loss) on small tensors."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from vidgen.checkpoint import CONFIG_NAME, CheckpointError
from vidgen.data.world import Motion, WorldConfig, render_motion, sample_motion
from vidgen.evaluation.temporal import (
    CLIP_FRAMES,
    TemporalEncoder,
    TemporalEncoderConfig,
    clip_features,
    flicker,
    flow_consistency,
    flow_errors,
    frechet_distance,
    frechet_separation,
    load_temporal_encoder,
    mawe,
    save_temporal_encoder,
    separation,
    swap_frames,
    swap_two_frames,
    temporal_features,
    warping_error,
    warping_errors,
)
from vidgen.training.temporal_encoder import (
    TemporalTrainConfig,
    held_out_accuracy,
    train_temporal_encoder,
    training_clips,
    usable_prompts,
)
from vidgen.training.temporal_loss import temporal_loss

WORLD = WorldConfig(name="motion")
PROMPTS = ["HI", "B8", "OQ", "EF5", "HELLO WORLD"]
TINY = TemporalEncoderConfig(channels=(4, 8, 8), feature_dim=6)
TINY_TRAIN = TemporalTrainConfig(batch_size=4, clips_per_video=2, frames=(16, 24))


@pytest.fixture(scope="module")
def truths():
    """Five true videos of 16 to 48 frames and their motions."""
    rng = np.random.default_rng(3)
    motions = [sample_motion(p, WORLD, rng, frames=f) for p, f in zip(PROMPTS, (16, 16, 24, 32, 48))]
    return [render_motion(p, m) for p, m in zip(PROMPTS, motions)], motions


def _still(frames: int = 16) -> Motion:
    return Motion((0,) * frames, (8,) * frames, 20, "line")


# ----------------------------------------------------------------------------- warping error


def test_a_true_video_warps_exactly_and_a_swap_tears(truths):
    videos, motions = truths
    for v, m in zip(videos, motions):
        e = warping_errors(v, m)
        assert e.shape == (len(v) - 1,)
        assert warping_error(v, m) == 0.0 and mawe(v, m) == 0.0
    row = separation(warping_error, videos, motions, np.random.default_rng(0))
    assert row["true"] == 0.0 and row["swapped"] > 1e-3 and row["margin"] == row["swapped"]
    assert row["separated"] == 1.0 and row["n"] == len(videos)


def test_warping_error_masks_what_enters_and_counts_the_rest():
    """Frame 1 is frame 0 moved 2 px right: the 2 columns that came in from outside are not counted, so a
    bright column entering there costs nothing while a wrong pixel inside costs its squared error."""
    rng = np.random.default_rng(0)
    f0 = rng.integers(0, 256, (32, 32)).astype(np.uint8)
    f1 = np.zeros_like(f0)
    f1[:, 2:] = f0[:, :-2]
    f1[:, :2] = 255  # entering from outside: unknown to frame 0
    m = Motion([0, 2] + [2] * 14, [0] * 16)
    video = np.stack([f0, f1] + [f1] * 14)
    assert warping_errors(video, m)[0] == 0.0
    f1[5, 10] = (int(f1[5, 10]) + 128) % 256  # one wrong pixel among 32 x 30 seen ones
    err = warping_errors(np.stack([f0, f1] + [f1] * 14), m)[0]
    want = ((int(f1[5, 10]) - int(f0[5, 8])) / 255.0) ** 2 / (32 * 30)
    assert err == pytest.approx(want)


def test_mawe_divides_by_mean_squared_flow_and_floors_a_still_video():
    rng = np.random.default_rng(1)
    still = np.repeat(rng.integers(0, 256, (1, 32, 32)).astype(np.uint8), 16, axis=0)
    noisy = still.copy()
    noisy[5] = 255 - noisy[5]
    assert mawe(noisy, _still()) == pytest.approx(warping_error(noisy, _still()))  # no flow: floored at 1 px^2
    steps = Motion(np.arange(16) * 3, [8] * 16)  # 3 px a frame: mean squared flow 9
    moving = np.zeros((16, 32, 32), np.uint8)
    moving[:, 10:20, 10:20] = rng.integers(0, 256, (16, 10, 10))  # nothing follows the flow
    assert mawe(moving, steps) == pytest.approx(warping_error(moving, steps) / 9.0)


def test_bad_inputs_raise(truths):
    videos, motions = truths
    with pytest.raises(ValueError, match="frames"):
        warping_error(videos[0], motions[2])  # 16 frames against a motion of 24
    with pytest.raises(ValueError, match="frames"):
        flow_consistency(videos[2], motions[0])
    with pytest.raises(ValueError, match="video"):
        flicker(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="one motion per video"):
        separation(warping_error, videos, motions[:2], np.random.default_rng(0))


# ----------------------------------------------------------------------------- flicker


def test_flicker_is_vbench_score():
    constant = np.full((16, 32, 32), 77, np.uint8)
    assert flicker(constant) == 1.0
    blinking = np.zeros((16, 32, 32), np.uint8)
    blinking[::2] = 255
    assert flicker(blinking) == pytest.approx(0.0)
    steps = np.zeros((16, 32, 32), np.uint8)
    steps[1::2] = 51  # every consecutive pair differs by 51 everywhere: (255 - 51) / 255
    assert flicker(steps) == pytest.approx(204 / 255)
    assert flicker(steps.astype(np.float64) / 255.0) == pytest.approx(204 / 255)  # float input in [0, 1]


def test_flicker_prefers_true_order(truths):
    videos, motions = truths
    row = separation(lambda v, m: flicker(v), videos, motions, np.random.default_rng(0), higher_is_better=True)
    assert row["margin"] > 0 and row["true"] > row["swapped"]


# ----------------------------------------------------------------------------- flow consistency


def test_a_true_video_flows_as_its_motion_and_a_swap_does_not(truths):
    videos, motions = truths
    for v, m in zip(videos, motions):
        e = flow_errors(v, m)
        assert e.shape == (len(v) - 1,) and np.isfinite(e).any()
        assert flow_consistency(v, m) == pytest.approx(0.0, abs=1e-9)
    row = separation(flow_consistency, videos, motions, np.random.default_rng(0))
    assert row["true"] == pytest.approx(0.0, abs=1e-9) and row["margin"] > 0.5


def test_flow_consistency_counts_a_wrong_speed_and_skips_empty_frames(truths):
    videos, motions = truths
    v, m = videos[0], motions[0]
    wrong = Motion(np.asarray(m.xs) * 2 - m.xs[0], m.ys, m.size)  # twice the true dx each frame
    moved = np.abs(np.diff(m.xs))[np.isfinite(flow_errors(v, m))]
    assert flow_consistency(v, wrong) == pytest.approx(moved.mean())
    empty = v.copy()
    empty[3] = 0  # no text in frame 3: pairs (2, 3) and (3, 4) are not counted
    e = flow_errors(empty, m)
    assert np.isnan(e[2]) and np.isnan(e[3])


# ----------------------------------------------------------------------------- swapping


def test_swap_two_frames_swaps_exactly_two():
    video = np.arange(16, dtype=np.uint8)[:, None, None] * np.ones((1, 4, 4), np.uint8)
    out = swap_two_frames(video, np.random.default_rng(0))
    moved = np.flatnonzero(out[:, 0, 0] != np.arange(16))
    assert len(moved) == 2 and out[moved[0], 0, 0] == moved[1] and out[moved[1], 0, 0] == moved[0]
    assert (video[:, 0, 0] == np.arange(16)).all()  # the input is untouched
    pos = np.arange(10).reshape(5, 2)
    np.testing.assert_array_equal(swap_frames(pos, 1, 3), pos[[0, 3, 2, 1, 4]])
    assert pos[1, 0] == 2  # a copy


# ----------------------------------------------------------------------------- temporal FID


def test_frechet_distance_is_zero_on_itself_and_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 5))
    b = rng.normal(size=(200, 5)) @ np.diag([1, 2, 1, 1, 0.5]) + 0.3
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    fd = frechet_distance(a, b)
    assert fd > 0.5
    linalg = pytest.importorskip("scipy.linalg")
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b).real
    want = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s_a + s_b - 2 * root)
    assert fd == pytest.approx(want, rel=1e-6)


def test_training_batches_are_a_function_of_seed_and_step():
    prompts = ["HI", "OQ"]
    a = training_clips(2, 7, TINY_TRAIN, TINY.max_shift, prompts)
    b = training_clips(2, 7, TINY_TRAIN, TINY.max_shift, prompts)
    c = training_clips(3, 7, TINY_TRAIN, TINY.max_shift, prompts)
    clips, classes, swapped = a
    assert clips.shape == (4, CLIP_FRAMES, 32, 32) and classes.shape == (4, CLIP_FRAMES - 1, 2) and swapped.shape == (4,)
    assert 0 <= int(classes.min()) and int(classes.max()) <= 2 * TINY.max_shift
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and not torch.equal(a[0], c[0])


def test_training_batches_swap_as_asked_and_refuse_a_prompt_too_long():
    prompts = ["HI", "OQ", "EF5"]
    never = dataclasses.replace(TINY_TRAIN, batch_size=8, swapped_share=0.0)
    always = dataclasses.replace(never, swapped_share=1.0)
    for step in range(3):
        assert training_clips(step, 0, never, TINY.max_shift, prompts)[2].sum() == 0
    assert np.mean([training_clips(s, 0, always, TINY.max_shift, prompts)[2].mean() for s in range(3)]) > 0.5
    sentence = "HELLO WORLD ABCDEFGHIJKL"  # needs 40 frames in the motion world
    assert usable_prompts(["HI", sentence], TINY_TRAIN) == ("HI",)
    with pytest.raises(ValueError, match="usable_prompts"):
        training_clips(0, 0, TINY_TRAIN, TINY.max_shift, [sentence])


def test_encoder_trains_deterministically_and_round_trips(tmp_path, truths):
    videos, _ = truths
    before = torch.random.get_rng_state()
    enc, losses = train_temporal_encoder(3, seed=5, cfg=TINY, train=TINY_TRAIN, prompts=PROMPTS[:3])
    assert torch.equal(before, torch.random.get_rng_state())  # the caller's RNG is untouched
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert enc.meta["final_loss"] == pytest.approx(np.mean(losses)) and len(enc.meta["loss_curve"]) == 3
    assert enc.meta["seconds"] >= 0 and enc.meta["prompts"] == 3 and enc.meta["train"]["clips_per_video"] == 2
    assert 0 <= enc.meta["held_out"]["step_accuracy"] <= 1 and enc.meta["held_out"]["clips"] == 4 * TINY_TRAIN.batch_size
    again, losses_again = train_temporal_encoder(3, seed=5, cfg=TINY, train=TINY_TRAIN, prompts=PROMPTS[:3])
    other, _ = train_temporal_encoder(3, seed=6, cfg=TINY, train=TINY_TRAIN, prompts=PROMPTS[:3])
    state, state_again, state_other = enc.state_dict(), again.state_dict(), other.state_dict()
    assert losses == losses_again and all(torch.equal(state[k], state_again[k]) for k in state)
    assert not all(torch.equal(state[k], state_other[k]) for k in state)

    feats = temporal_features(enc, videos)  # videos of 16 to 48 frames
    assert feats.shape == (len(videos), TINY.feature_dim) and feats.dtype == np.float64
    assert clip_features(enc, videos[2]).shape == (len(videos[2]) - CLIP_FRAMES + 1, TINY.feature_dim)

    save_temporal_encoder(enc, tmp_path, meta={"note": "tiny"})
    loaded = load_temporal_encoder(tmp_path)
    assert isinstance(loaded, TemporalEncoder) and loaded.cfg == TINY and not loaded.training
    assert loaded.meta["steps"] == 3 and loaded.meta["seed"] == 5 and loaded.meta["note"] == "tiny"
    assert loaded.meta["final_loss"] == enc.meta["final_loss"] and loaded.meta["held_out"] == enc.meta["held_out"]
    assert len(loaded.meta["weights_sha256"]) == 64
    np.testing.assert_array_equal(temporal_features(loaded, videos), feats)

    raw = json.loads((tmp_path / CONFIG_NAME).read_text())
    raw["model"]["feature_dim"] = 7  # a config the weights do not fit
    (tmp_path / CONFIG_NAME).write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="does not match"):
        load_temporal_encoder(tmp_path)
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a temporal encoder"):
        load_temporal_encoder(tmp_path)


def test_frechet_separation_reports_both_sides(truths):
    videos, _ = truths
    enc, _ = train_temporal_encoder(0, seed=0, cfg=TINY, train=TINY_TRAIN, prompts=PROMPTS)
    assert enc.meta["final_loss"] is None and enc.meta["loss_curve"] == []
    row = frechet_separation(enc, videos[:3], videos[2:], np.random.default_rng(0))
    assert set(row) == {"true", "swapped", "margin", "n"} and row["n"] == 3
    assert row["true"] >= 0 and row["margin"] == pytest.approx(row["swapped"] - row["true"])


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="channel"):
        TemporalEncoderConfig(channels=(4, 8))
    with pytest.raises(ValueError, match="frames"):
        TemporalTrainConfig(frames=(8, 16))
    with pytest.raises(ValueError, match="multiple of clips_per_video"):
        TemporalTrainConfig(batch_size=6, clips_per_video=4)
    with pytest.raises(ValueError, match="steps"):
        train_temporal_encoder(-1)


# ----------------------------------------------------------------------------- seed 004's temporal loss


def _moving_block(b: int = 2, t: int = 6) -> torch.Tensor:
    """(B, T, 8, 8) in [-1, 1]: a bright 2x2 block moving one pixel right a frame."""
    x = -torch.ones(b, t, 8, 8)
    for f in range(t):
        x[:, f, 3:5, f : f + 2] = 1.0
    return x


def test_temporal_loss_is_zero_on_the_truth_and_on_a_steady_error():
    x0 = _moving_block()
    assert torch.equal(temporal_loss(x0.clone(), x0, torch.ones(2)), torch.zeros(2))
    assert temporal_loss(x0 + 0.3, x0, torch.ones(2)) == pytest.approx(torch.zeros(2), abs=1e-12)  # shared by all frames


def test_temporal_loss_punishes_flicker_by_its_size():
    x0 = _moving_block()
    sign = torch.tensor([1.0, -1.0] * 3)[None, :, None, None]  # (1, T, 1, 1) alternating
    flicker = x0 + 0.1 * sign  # the same squared error as a steady 0.1 offset, but changing every frame
    loss = temporal_loss(flicker, x0, torch.ones(2))
    assert loss.shape == (2,) and loss == pytest.approx(torch.full((2,), 4 * 0.1 ** 2))  # (2a)^2 on every pair
    assert (loss > temporal_loss(x0 + 0.1, x0, torch.ones(2))).all()
    np.testing.assert_allclose(temporal_loss(flicker, x0, torch.tensor([2.0, 0.5])), [0.08, 0.02], rtol=1e-5)


def test_temporal_loss_weights_a_pair_by_its_frames_and_passes_gradients():
    x0 = _moving_block(b=1, t=3)
    pred = x0.clone()
    pred[:, 2] += 0.5  # only the last frame is wrong: pair (0, 1) is right, pair (1, 2) is off by 0.5 everywhere
    weight = torch.tensor([[1.0, 1.0, 3.0]])  # (B, T): pair (1, 2) weighs (1 + 3) / 2
    assert temporal_loss(pred, x0, weight).item() == pytest.approx((0 + 2.0 * 0.25) / 2)
    assert temporal_loss(pred, x0).item() == pytest.approx(0.25 / 2)  # no weight: 1
    pred.requires_grad_(True)
    temporal_loss(pred, x0, torch.ones(1)).sum().backward()
    assert pred.grad is not None and pred.grad[:, 2].abs().sum() > 0 and pred.grad[:, 0].abs().sum() == 0


def test_temporal_loss_refuses_bad_shapes():
    x0 = _moving_block()
    with pytest.raises(ValueError, match="one shape"):
        temporal_loss(x0[:, :4], x0, torch.ones(2))
    with pytest.raises(ValueError, match="T >= 2"):
        temporal_loss(x0[:, :1], x0[:, :1], torch.ones(2))
    with pytest.raises(ValueError, match="weight"):
        temporal_loss(x0, x0, torch.ones(2, 5))


def test_the_kpi_benchmark_replaces_only_the_rows_it_measured_again(tmp_path):
    """`benchmarks.motion_kpis --update`: a retrained model's row is replaced, the others and the separations kept,
    and a report measured otherwise (another n, seed or temporal encoder) is refused."""
    from benchmarks.motion_kpis import updated_report

    def report(models, n=48, sha="a"):
        return {"cpu": "X", "threads": 2, "load_average_before": 0.1, "n": n, "seed": 0, "encoder": {"weights_sha256": sha},
                "models": models, "skipped": {}, "separation": {"short": 1}, "seconds": 5.0}

    path = tmp_path / "kpis.json"
    path.write_text(json.dumps(report({"release": {"w": 1}, "latent": {"w": 2}})))
    merged = updated_report(str(path), report({"latent": {"w": 3}}))
    assert merged["models"] == {"release": {"w": 1}, "latent": {"w": 3}} and merged["separation"] == {"short": 1}
    assert set(merged["updated"]) == {"latent"} and merged["updated"]["latent"]["cpu"] == "X"
    for other in (report({"latent": {}}, n=24), report({"latent": {}}, sha="b")):
        with pytest.raises(SystemExit, match="--update"):
            updated_report(str(path), other)
