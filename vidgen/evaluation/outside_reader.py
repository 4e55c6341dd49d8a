"""A third judge of readability that learned nothing from this project: a general-purpose OCR.

The motion reader (checkpoints/recognizer-motion) was trained on this world's renders, and the nearest
render only tells the prompt from its one-edit neighbours. An outside reader checks both: RapidOCR's
text recognizer (PP-OCR, run by onnxruntime, its weights inside the `rapidocr-onnxruntime` wheel, so
nothing downloads) reads the video's frames laid back along the true motion (`long_reading.motion_canvas`:
each strip pixel the mean of the frames that show it), drawn dark on light, padded and enlarged as a
scanned line of print. It is calibrated on the true renders of the same prompts along the same motions:
what it misreads there (O for 0 in a font without a slashed zero, I for 1) is its own limit, so a model
is judged by the gap between its videos' figure and the truth's.
"""
from __future__ import annotations

import functools

import numpy as np

from ..data import tokenizer as tok
from ..data.world import Motion, world_prompt
from .long_reading import check_long_inputs, motion_canvas

OCR_PACKAGE = "rapidocr_onnxruntime"
SCALE = 3  # the canvas enlarged this many times (a 20 px line of capitals becomes ~50 px, the recognizer's 48 px input)
PAD = 8  # canvas pixels of background around the text before enlarging


@functools.lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise RuntimeError(f"the outside reader needs the {OCR_PACKAGE} package (pip install -r requirements.txt)") from e
    return RapidOCR()


def canonical(text: str) -> str:
    """What an OCR line says in this world's symbols: capitals and digits, spaces between words kept singly."""
    kept = "".join(ch for ch in text.upper() if ch in tok.SYMBOLS or ch == " ")
    return " ".join(kept.split())


def read_canvas(canvas: np.ndarray) -> str:
    """A strip canvas (Hs, Ws) float in [0, 1], light text on dark -> what the OCR reads (`canonical`)."""
    import cv2

    ink = np.clip(np.asarray(canvas, dtype=np.float32), 0.0, 1.0)
    page = (255 * (1.0 - np.pad(ink, PAD))).astype(np.uint8)  # dark text on a light page
    page = cv2.resize(page, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    result, _ = _engine()(np.repeat(page[..., None], 3, axis=2), use_det=False, use_cls=False, use_rec=True)
    return canonical(" ".join(r[0] for r in result or []))


def outside_reads(videos, prompts: list[str], motions: list[Motion]) -> list[str]:
    """Videos (each (N, H, W)) of `prompts` along their true `motions` -> what the outside reader reads."""
    return [read_canvas(motion_canvas(v, p, m)[0].numpy()) for v, p, m in check_long_inputs(videos, prompts, motions)]


def reads_right(reads: list[str], prompts: list[str]) -> float:
    """The share of readings equal to their prompts (as the world draws them)."""
    return float(np.mean([r == world_prompt(p) for r, p in zip(reads, prompts)])) if prompts else float("nan")
