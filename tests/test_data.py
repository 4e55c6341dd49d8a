"""Tokenizer, renderer and splits."""
import numpy as np
import pytest

from vidgen import data
from vidgen.data import tokenizer as tok


def test_encode_pads_and_uppercases():
    ids = tok.encode("ab1")
    assert ids.shape == (tok.PROMPT_SLOTS,) and ids.dtype == np.int64
    assert ids.tolist() == [2, 3, 29, 0, 0, 0, 0, 0]
    assert tok.decode(ids) == "AB1"
    assert tok.VOCAB_SIZE == 48 and len(tok.SPARE_IDS) == 9 and tok.SPACE_ID == 47  # the last spare slot is the space


@pytest.mark.parametrize("bad", ["", "   ", "A B", "é", "HELLO!", "ABCDEFGHI", 5])
def test_bad_prompts_raise_with_the_rules(bad):
    with pytest.raises(ValueError) as e:
        tok.encode(bad)
    msg = str(e.value)
    assert "A-Z" in msg or "at most" in msg or "string" in msg


def test_render_video_shape_and_determinism():
    v = data.render_video("NOISE")
    assert v.shape == (16, 32, 32) and v.dtype == np.uint8
    assert np.array_equal(v, data.render_video("noise"))
    assert v.max() == 255 and v.min() == 0


def test_scroll_enters_right_and_leaves_left():
    v = data.render_video("HELLO")
    assert v[0].max() == 0 and v[-1].max() == 0  # fully off-screen at both ends
    cols = [np.nonzero(f.max(0))[0] for f in v[1:-1]]
    assert all(len(c) for c in cols)
    # the text enters from the right edge and leaves at the left edge
    assert cols[0].max() == 31 and cols[-1].min() == 0


def test_longer_prompts_scroll_faster():
    w1 = data.render_strip("A").shape[1]
    w6 = data.render_strip("ABCDEF").shape[1]
    s1 = -np.diff(data.scroll_offsets(w1)).mean()
    s6 = -np.diff(data.scroll_offsets(w6)).mean()
    assert s6 > 2 * s1


def test_text_is_vertically_centred():
    v = data.render_video("HE")
    rows = np.nonzero(v.max(axis=(0, 2)))[0]
    centre = (rows.min() + rows.max()) / 2
    assert abs(centre - 15.5) <= 1.5


def test_validation_set_is_fixed_balanced_and_disjoint_from_heldout():
    split = data.SplitConfig()
    val = data.validation_prompts(split)
    assert val == data.validation_prompts(data.SplitConfig())
    assert 1900 <= len(val) <= 2000 and len(set(val)) == len(val)
    counts = {n: sum(len(p) == n for p in val) for n in range(1, 7)}
    assert counts[1] <= 2 and counts[2] <= 0.05 * 35 * 35 + 1  # short lengths capped by their combinations
    assert max(counts[n] for n in range(3, 7)) - min(counts[n] for n in range(3, 7)) <= 1
    assert not any(split.is_heldout(p) for p in val)


def test_training_prompts_are_reproducible_and_leak_free():
    split = data.SplitConfig()
    a = data.sample_train_prompts(split, seed=3, step=17, batch_size=64)
    assert a == data.sample_train_prompts(split, seed=3, step=17, batch_size=64)
    assert a != data.sample_train_prompts(split, seed=3, step=18, batch_size=64)
    assert a != data.sample_train_prompts(split, seed=3, step=17, batch_size=64, rank=1)
    val = set(data.validation_prompts(split))
    many = [p for s in range(200) for p in data.sample_train_prompts(split, 0, s, 64)]
    assert not val & set(many)
    assert not any(p[0] == "A" or (len(p) > 1 and p[1] == "S") for p in many)
    assert {len(p) for p in many} == set(range(1, 7))


def test_holdout_single_and_heldout_prompts():
    split = data.SplitConfig(holdout_single=True)
    many = [p for s in range(50) for p in data.sample_train_prompts(split, 0, s, 64)]
    assert min(map(len, many)) == 2
    held = data.heldout_prompts(data.SplitConfig(), n=50)
    assert len(held) == 50 and all(data.SplitConfig().is_heldout(p) for p in held)


def test_split_config_validates():
    with pytest.raises(ValueError):
        data.SplitConfig(min_len=0)
    with pytest.raises(ValueError):
        data.SplitConfig(heldout_first="a!")


def test_make_batch_range():
    x, ids = data.make_batch(["AB", "XYZ"])
    assert x.shape == (2, 16, 32, 32) and ids.shape == (2, 8)
    assert x.min() >= -1 and x.max() <= 1
