"""Prompt tokenizer: 36 symbols, a padding token, a null token for guidance and spare slots.

Token ids (vocab_size = 48):
    0        PAD   fills the prompt slots after the last symbol
    1        NULL  the "no prompt" condition used by classifier-free guidance
    2..27    A..Z
    28..37   0..9
    38..46   spare slots, never produced by `encode`; the out-of-vocabulary experiment feeds them
    47       SPACE the gap between words of a long prompt (`normalize_prompt(..., words=True)`): it has no ink,
             only an advance; the short-prompt models never saw it and refuse it
"""
from __future__ import annotations

import string

import numpy as np

SYMBOLS = string.ascii_uppercase + string.digits  # the 36 symbols a prompt may hold
PAD_ID = 0
NULL_ID = 1
FIRST_SYMBOL_ID = 2
NUM_SPARE = 10
VOCAB_SIZE = FIRST_SYMBOL_ID + len(SYMBOLS) + NUM_SPARE  # 48
SPACE = " "
SPACE_ID = VOCAB_SIZE - 1  # the last spare slot: the ones before keep their ids for the out-of-vocabulary experiment
SPARE_IDS = tuple(range(FIRST_SYMBOL_ID + len(SYMBOLS), SPACE_ID))
PROMPT_SLOTS = 8  # positions in the prompt tensor of a short-video model: its longest prompt (training uses fewer)
LONG_PROMPT_SLOTS = 24  # a long-video model's prompt slots: a sentence of up to 24 symbols, the spaces counted

_SYMBOL_TO_ID = {s: FIRST_SYMBOL_ID + i for i, s in enumerate(SYMBOLS)}


def normalize_prompt(text: str, max_len: int = PROMPT_SLOTS, words: bool = False) -> str:
    """Upper-case `text` and check it: 1..max_len symbols from A-Z0-9, else ValueError. With words=True (a
    long-video model) single spaces may separate words: runs of spaces become one, and they count as symbols."""
    if not isinstance(text, str):
        raise ValueError(f"prompt must be a string, got {type(text).__name__}")
    prompt = " ".join(text.split()).upper() if words else text.strip().upper()
    if not prompt:
        raise ValueError(f"prompt is empty: give 1 to {max_len} symbols from A-Z and 0-9")
    allowed = _SYMBOL_TO_ID.keys() | ({SPACE} if words else set())
    bad = sorted({c for c in prompt if c not in allowed})
    if bad:
        shown = "a space" if bad == [SPACE] else repr("".join(bad))
        where = ("A-Z, 0-9 and the space between words" if words else
                 "A-Z and 0-9 (spaces between words need a long-video model: vidgen.load_pipeline() or 'long')")
        raise ValueError(f"prompt {text!r} has {shown} outside the allowed symbols {where} (lower case is read as upper case)")
    if len(prompt) > max_len:
        raise ValueError(f"prompt {text!r} has {len(prompt)} symbols; at most {max_len} are allowed")
    return prompt


def encode(text: str, slots: int = PROMPT_SLOTS, words: bool = False) -> np.ndarray:
    """Prompt text -> int64 token ids of shape (slots,), padded with PAD_ID (words: see normalize_prompt)."""
    prompt = normalize_prompt(text, max_len=slots, words=words)
    ids = np.full(slots, PAD_ID, dtype=np.int64)
    ids[: len(prompt)] = [SPACE_ID if c == SPACE else _SYMBOL_TO_ID[c] for c in prompt]
    return ids


def encode_batch(texts: list[str] | tuple[str, ...], slots: int = PROMPT_SLOTS, words: bool = False) -> np.ndarray:
    """List of prompts -> (B, slots) int64 token ids."""
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 0:
        raise ValueError("no prompts given")
    return np.stack([encode(t, slots, words) for t in texts])


def decode(ids) -> str:
    """Token ids -> text; PAD/NULL are dropped and spare slots shown as '?'."""
    out = []
    for i in np.asarray(ids).tolist():
        if i in (PAD_ID, NULL_ID):
            continue
        if FIRST_SYMBOL_ID <= i < FIRST_SYMBOL_ID + len(SYMBOLS):
            out.append(SYMBOLS[i - FIRST_SYMBOL_ID])
        elif i == SPACE_ID:
            out.append(SPACE)
        else:
            out.append("?")
    return "".join(out)
