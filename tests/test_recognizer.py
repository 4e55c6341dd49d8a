"""The recognizer: strip reconstruction, decoding, checkpoint round trip, and its calibration.

The calibration tests are what make the readability metric trustworthy: the shipped reader must read
clean renders, must not read a video as a prompt it does not show, and must degrade with noise.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidgen.checkpoint import CheckpointError, atomic_write_json
from vidgen.data.prompts import SplitConfig, heldout_prompts, validation_prompts
from vidgen.data.render import render_strip, render_video
from vidgen.evaluation.recognizer import (
    DEFAULT_DIR,
    NUM_CLASSES,
    Recognizer,
    RecognizerConfig,
    ctc_greedy_decode,
    default_reader,
    fit_strip,
    load_recognizer,
    save_recognizer,
)
from vidgen.training.recognizer import (
    RecognizerTrainConfig,
    augment,
    random_prompts,
    render_slow,
)


def _videos(prompts):
    return np.stack([render_video(p) for p in prompts])


@pytest.fixture(scope="module")
def reader():
    return default_reader()


def _accuracy(reader, videos, prompts) -> float:
    return float(np.mean([t == p for t, p in zip(reader.read(videos).texts, prompts)]))


def test_fit_strip_recovers_the_rendered_strip_exactly():
    prompts = ["I", "AS", "HELLO", "WWWWWWWW", "1I1I1I"]
    fit = fit_strip(_videos(prompts))
    for i, p in enumerate(prompts):
        strip = render_strip(p) / 255.0
        assert int(fit.widths[i]) == strip.shape[1]
        np.testing.assert_allclose(fit.strips[i, :, : strip.shape[1]].numpy(), strip, atol=1e-6)
        assert float(fit.strips[i, :, strip.shape[1]:].abs().max()) == 0.0
    assert float(fit.residual.max()) < 1e-5


def test_fit_strip_finds_a_slower_scroll():
    fit = fit_strip(render_slow("HELLO", 9)[None])
    assert int(fit.widths[0]) == render_strip("HELLO").shape[1] + 9


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks():
    seq = [1, 1, 0, 1, 2, 2, 0, 0, 36]  # A A _ A B B _ _ 9
    logits = torch.full((1, len(seq), NUM_CLASSES), -10.0)
    logits[0, torch.arange(len(seq)), torch.tensor(seq)] = 10.0
    assert ctc_greedy_decode(logits) == ["AAB9"]


def test_augment_is_seeded_in_range_and_can_be_off():
    v = torch.from_numpy(_videos(random_prompts(np.random.default_rng(0), 8, 8))).float() / 255
    cfg = RecognizerTrainConfig(clean_fraction=0.0)
    a = augment(v, torch.Generator().manual_seed(1), cfg)
    b = augment(v, torch.Generator().manual_seed(1), cfg)
    assert torch.equal(a, b) and a.shape == v.shape and a.min() >= 0 and a.max() <= 1 and not torch.equal(a, v)
    assert torch.equal(augment(v, torch.Generator().manual_seed(1), RecognizerTrainConfig(clean_fraction=1.0)), v)


def test_save_load_round_trip_and_corrupt_checkpoints(tmp_path):
    torch.manual_seed(0)
    model = Recognizer(RecognizerConfig(channels=(4, 4, 8, 8), feature_dim=8)).eval()
    save_recognizer(model, tmp_path / "r", {"note": "test"})
    loaded = load_recognizer(tmp_path / "r")
    strips = fit_strip(_videos(["AB", "C"])).strips
    torch.testing.assert_close(loaded.model(strips)[0], model(strips)[0])
    assert loaded.meta["note"] == "test" and len(loaded.meta["weights_sha256"]) == 64
    atomic_write_json(tmp_path / "r" / "config.json", {"format": "vidgen-recognizer-1", "model": {"feature_dim": 9}})
    with pytest.raises(CheckpointError, match="does not match"):
        load_recognizer(tmp_path / "r")
    atomic_write_json(tmp_path / "r" / "config.json", {"format": "something-else"})
    with pytest.raises(CheckpointError, match="not a recognizer"):
        load_recognizer(tmp_path / "r")
    with pytest.raises(CheckpointError):
        load_recognizer(tmp_path / "nowhere")
    with pytest.raises(ValueError):
        RecognizerConfig(rows=(0, 30))


def test_shipped_weights_are_small_safetensors():
    files = {p.name: p.stat().st_size for p in DEFAULT_DIR.iterdir()}
    assert set(files) == {"recognizer.safetensors", "config.json"}
    assert sum(files.values()) < 5 * 2**20


def test_reader_rejects_wrong_shapes(reader):
    with pytest.raises(ValueError):
        reader.read(np.zeros((2, 16, 32, 31), np.uint8))


# ----------------------------------------------------------------------------- calibration


def test_calibration_clean_validation_prompts(reader):
    prompts = list(validation_prompts(SplitConfig()))[::7][:300]
    assert len({len(p) for p in prompts}) == 6
    assert _accuracy(reader, _videos(prompts), prompts) >= 0.995


def test_calibration_clean_heldout_and_longer_prompts(reader):
    prompts = list(heldout_prompts(SplitConfig(), n=300, seed=123))
    assert all(SplitConfig().is_heldout(p) for p in prompts)
    assert _accuracy(reader, _videos(prompts), prompts) >= 0.995
    longer = random_prompts(np.random.default_rng(5), 400, 8)
    longer = [p for p in longer if len(p) >= 7][:80]
    assert _accuracy(reader, _videos(longer), longer) >= 0.975


def test_calibration_video_of_another_prompt_is_not_read_as_this_one(reader):
    prompts = list(validation_prompts(SplitConfig()))[::7][:300]
    shifted = prompts[1:] + prompts[:1]  # each video shows the next prompt
    assert _accuracy(reader, _videos(shifted), prompts) <= 0.01
    assert _accuracy(reader, np.zeros((4, 16, 32, 32), np.uint8), ["A"] * 4) == 0.0  # blank video reads nothing


def test_calibration_accuracy_falls_steadily_with_noise(reader):
    prompts = list(validation_prompts(SplitConfig()))[::13][:150]
    clean = _videos(prompts).astype(np.float32) / 255
    rng = np.random.default_rng(0)
    sigmas = (0.0, 0.3, 0.375, 0.45, 0.525, 0.6, 0.8)  # Gaussian std in [0, 1] pixel units (x2 in model space)
    acc = []
    for s in sigmas:
        noisy = np.clip(clean + rng.normal(0, s, clean.shape), 0, 1)
        acc.append(_accuracy(reader, np.round(noisy * 255).astype(np.uint8), prompts))
    print("accuracy by noise std", dict(zip(sigmas, acc)))
    assert acc[0] >= 0.99 and acc[-1] <= 0.2, acc
    assert all(b <= a + 0.02 for a, b in zip(acc, acc[1:])), acc  # non-increasing up to sampling noise
    assert acc[1] - acc[-1] >= 0.5, acc


@pytest.mark.parametrize("reads, directory", [("scroll", "recognizer"), ("motion", "recognizer-motion")])
def test_train_recognizer_writes_the_reader_it_trains_by_default(monkeypatch, reads, directory):
    """`train-recognizer --reads motion` without --out must not overwrite the scroll reader (and the reverse)."""
    import vidgen.training.recognizer as training
    from vidgen.cli.main import main

    written = []
    monkeypatch.setattr(training, "train_recognizer", lambda out, cfg, model_cfg, progress: written.append((out, model_cfg.reads)) or {})
    assert main(["train-recognizer", "--reads", reads, "--steps", "1"]) == 0
    (out, what), = written
    assert (Path(out).name, what) == (directory, reads)
