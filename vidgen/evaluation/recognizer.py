"""A small text recognizer for scrolling-text videos: strip reconstruction, then a CNN with a CTC head.

Reading a scrolling video frame by frame would see every symbol 2-5 times and at a different place
in each frame. The renderer's motion law is known, though: the strip enters at x = W and leaves at
x = -width in 16 frames, so one number, the strip width, fixes every frame's offset. `fit_strip`
tries every width, keeps the one whose strip explains the most of the video's energy (least
squares), and returns that strip: the average of every frame's view of each column. The network
then reads a still image of the text, left to right, with a CTC head (Graves et al. 2006).

A video whose text scrolls at the wrong speed still fits (a different width), so speed errors are
left to the temporal metrics; a video whose frames disagree fits badly and reads as a blur.

Layouts: videos (B, T, H, W) uint8 or float in [0, 1]; strips (B, H, S) float in [0, 1] with
S = MAX_STRIP columns, zero past the fitted width; logits (B, L, 1 + len(SYMBOLS)), class 0 = blank.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from einops import rearrange

from ..checkpoint import (
    CONFIG_NAME,
    CheckpointError,
    atomic_write_json,
    load_tensors,
    read_json,
    save_tensors,
)
from ..data import tokenizer as tok
from ..data.layout import scroll_offsets
from ..data.render import as_unit_float
from ..data.shape import FRAMES, HEIGHT, WIDTH
from ..paths import CHECKPOINTS_DIR
from .tracking import Track, stitch, track

MIN_STRIP, MAX_STRIP = 8, 160  # candidate strip widths; 8 x "W" renders 152 px wide
BLANK = 0  # CTC blank; symbol i of SYMBOLS is class i + 1
NUM_CLASSES = 1 + len(tok.SYMBOLS)
READS = ("scroll", "motion")  # what a reader reads (RecognizerConfig.reads)
DEFAULT_DIR = CHECKPOINTS_DIR / "recognizer"
MOTION_DIR = CHECKPOINTS_DIR / "recognizer-motion"  # the reader of text moving any way
WEIGHTS_NAME = "recognizer.safetensors"  # beside its CONFIG_NAME, like a model checkpoint


# ----------------------------------------------------------------------------- strip reconstruction


@functools.lru_cache(maxsize=4)
def _strip_index(frames: int, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every candidate width c and frame pixel (f, x): the strip column it shows, or MAX_STRIP if none.

    -> (index (C, T*W) int64, counts (C, MAX_STRIP) float, widths (C,) int64).
    """
    widths = np.arange(MIN_STRIP, MAX_STRIP + 1)
    index = np.full((len(widths), frames, width), MAX_STRIP, dtype=np.int64)
    cols = np.arange(width)
    for c, ws in enumerate(widths):
        for f, x0 in enumerate(scroll_offsets(int(ws), frames, width)):
            s = cols - x0  # strip column under each frame column
            ok = (s >= 0) & (s < ws)
            index[c, f, ok] = s[ok]
    index = torch.from_numpy(rearrange(index, "c t w -> c (t w)"))  # (C, T*W)
    counts = torch.zeros(len(widths), MAX_STRIP + 1).scatter_add_(1, index, torch.ones(index.shape))
    return index, counts[:, :MAX_STRIP], torch.from_numpy(widths)


@dataclass
class StripFit:
    """The best scrolling-strip explanation of each video."""

    strips: torch.Tensor  # (B, H, MAX_STRIP) in [0, 1], zero past `widths`
    widths: torch.Tensor  # (B,) fitted strip width in pixels (sets the scroll speed)
    residual: torch.Tensor  # (B,) share of the video's energy the strip does not explain, in [0, 1]


def _explained(x: torch.Tensor, index: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, R, T*W), index (B, K, T*W) -> (column sums (B, K, R, S), explained energy (B, K))."""
    b, r, _ = x.shape
    k = index.shape[1]
    sums = torch.zeros(b, k, r, MAX_STRIP + 1)
    sums.scatter_add_(3, index[:, :, None, :].expand(-1, -1, r, -1), x[:, None].expand(-1, k, -1, -1))
    sums = sums[..., :MAX_STRIP]  # (B, K, R, S); the last column collected the uncovered pixels
    return sums, (sums.pow(2) / counts.clamp(min=1)[:, :, None, :]).sum(dim=(2, 3))


@torch.no_grad()
def fit_strip(videos, shortlist: int = 6) -> StripFit:
    """Least-squares fit of 'one strip scrolling by the renderer's law' over every candidate width.

    For a width, each strip column is the mean of the frame pixels that show it; the residual is
    sum(x^2) - sum_col(sum^2 / count) (pixels no column covers count fully), so the best width is
    the one maximising sum_col(sum^2 / count). All widths are scored on 4 horizontal bands (cheap),
    the `shortlist` best are scored again on every row.
    """
    x = rearrange(as_unit_float(videos), "b t h w -> b h (t w)")  # (B, H, T*W)
    b, h, _ = x.shape
    index, counts, widths = _strip_index(FRAMES, WIDTH)
    if x.shape[2] != index.shape[1]:
        raise ValueError(f"expected videos of {FRAMES} frames of width {WIDTH}")
    bands = rearrange(x, "b (r k) n -> b r k n", r=4).sum(2)  # (B, 4, T*W)
    _, coarse = _explained(bands, index[None].expand(b, -1, -1), counts[None].expand(b, -1, -1))  # (B, C)
    cand = coarse.topk(min(shortlist, len(widths)), dim=1).indices  # (B, K)
    sums, fine = _explained(x, index[cand], counts[cand])  # (B, K, H, S), (B, K)
    best = fine.argmax(dim=1)  # (B,)
    rows = torch.arange(b)
    c = cand[rows, best]  # (B,) index of the chosen width
    strips = sums[rows, best] / counts[c][:, None, :].clamp(min=1)  # (B, H, S)
    resid = 1.0 - fine[rows, best] / x.pow(2).sum(dim=(1, 2)).clamp(min=1e-8)
    return StripFit(strips, widths[c], resid.clamp(0, 1))


# ----------------------------------------------------------------------------- network


@dataclass(frozen=True)
class RecognizerConfig:
    """Shape of the reader; stored as config.json beside the weights."""

    rows: tuple[int, int] = (4, 28)  # strip rows read (the capitals cover rows 7..23, slack for jitter)
    channels: tuple[int, int, int, int] = (16, 32, 64, 96)  # conv widths; two 2x2 pools -> stride 4 in x
    feature_dim: int = 64  # width of the sequence features (also the FD-recognizer feature size)
    reads: str = "scroll"  # "scroll": videos of the scroll world, read through `fit_strip`; "motion": text moving
    # any way (vidgen.data.world), read through the tracker's stitched canvas (vidgen.evaluation.tracking)
    width: int = MAX_STRIP  # columns of the strip or canvas the network reads

    def __post_init__(self):
        object.__setattr__(self, "rows", tuple(int(r) for r in self.rows))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        lo, hi = self.rows
        if not 0 <= lo < hi <= HEIGHT or (hi - lo) % 4:
            raise ValueError(f"rows must be a range inside 0..{HEIGHT} whose length divides by 4, got {self.rows}")
        if self.reads not in READS or self.width < 8 or self.width % 4:
            raise ValueError(f"reads must be one of {READS} and width a multiple of 4 (>= 8), got {self.reads!r}, {self.width}")
        if len(self.channels) != 4 or min(self.channels) < 1 or self.feature_dim < 1:
            raise ValueError(f"need 4 positive channel widths and feature_dim >= 1, got {self.channels}, {self.feature_dim}")

    @property
    def seq_len(self) -> int:
        """CTC output positions: one per 4 strip columns."""
        return self.width // 4


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


MOTION_READER = RecognizerConfig(rows=(0, HEIGHT), reads="motion", width=192)  # the canvas: every row, 192 columns (8 "W"
# at the largest size are about 170 px)


class Recognizer(nn.Module):
    """Strip image -> per-position symbol logits (CTC) and a sequence of features."""

    def __init__(self, cfg: RecognizerConfig = RecognizerConfig()):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3, c4 = cfg.channels
        rows = cfg.rows[1] - cfg.rows[0]
        self.convs = nn.Sequential(
            _conv(1, c1), nn.MaxPool2d(2),
            _conv(c1, c2), nn.MaxPool2d(2),
            _conv(c2, c3), _conv(c3, c4),
        )
        # the remaining rows are folded into channels: vertical position matters for "6" vs "9"
        self.to_seq = nn.Conv1d(c4 * (rows // 4), cfg.feature_dim, 3, padding=1)
        self.seq = nn.Sequential(nn.ReLU(), nn.Conv1d(cfg.feature_dim, cfg.feature_dim, 5, padding=2), nn.ReLU())
        self.head = nn.Conv1d(cfg.feature_dim, NUM_CLASSES, 1)

    def forward(self, strips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """strips (B, H, S) in [0, 1] -> (logits (B, L, classes), features (B, L, feature_dim))."""
        lo, hi = self.cfg.rows
        x = strips[:, None, lo:hi] * 2.0 - 1.0  # (B, 1, rows, S)
        x = self.convs(x)  # (B, c4, rows/4, S/4)
        x = rearrange(x, "b c h l -> b (c h) l")
        feats = self.seq(self.to_seq(x))  # (B, D, L)
        logits = self.head(feats)  # (B, classes, L)
        return rearrange(logits, "b k l -> b l k"), rearrange(feats, "b d l -> b l d")

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def ctc_greedy_decode(logits: torch.Tensor) -> list[str]:
    """Best path: argmax per position, merge repeats, drop blanks. logits (B, L, classes) -> texts."""
    best = logits.argmax(-1).tolist()
    out = []
    for row in best:
        chars, prev = [], BLANK
        for k in row:
            if k != prev and k != BLANK:
                chars.append(tok.SYMBOLS[k - 1])
            prev = k
        out.append("".join(chars))
    return out


def encode_targets(prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts -> (concatenated class ids, lengths) for nn.CTCLoss."""
    ids = [tok.SYMBOLS.index(c) + 1 for p in prompts for c in p]
    return torch.tensor(ids, dtype=torch.long), torch.tensor([len(p) for p in prompts], dtype=torch.long)


# ----------------------------------------------------------------------------- reading videos


@dataclass
class Reading:
    """What the recognizer makes of a batch of videos."""

    texts: list[str]  # the symbols read, in order
    confidence: np.ndarray  # (B,) product over positions of the best-path probability
    features: np.ndarray  # (B, feature_dim) mean sequence feature: the FD-recognizer embedding
    fit: StripFit | None  # the scroll fit (a "scroll" reader), None for a "motion" reader
    track: Track | None = None  # the tracked motion (a "motion" reader)


class TextReader:
    """A trained Recognizer plus the strip fit: `read(videos)` is all the metrics need."""

    def __init__(self, model: Recognizer, meta: dict | None = None):
        self.model = model.eval()
        self.meta = meta or {}

    @torch.no_grad()
    def read(self, videos, batch_size: int = 128) -> Reading:
        """uint8 (B, T, H, W) videos -> texts, confidences and feature vectors."""
        v = as_unit_float(videos)
        if v.ndim != 4 or v.shape[1:] != (FRAMES, HEIGHT, WIDTH):
            raise ValueError(f"expected videos of shape (B, {FRAMES}, {HEIGHT}, {WIDTH}), got {tuple(v.shape)}")
        texts, conf, feats, fits, tracks = [], [], [], [], []
        for lo in range(0, len(v), batch_size):
            if self.model.cfg.reads == "motion":
                trk = track(v[lo : lo + batch_size])
                strips = stitch(v[lo : lo + batch_size], trk, HEIGHT, self.model.cfg.width)
                tracks.append(trk)
            else:
                fit = fit_strip(v[lo : lo + batch_size])
                strips = fit.strips
                fits.append(fit)
            logits, f = self.model(strips)
            texts += ctc_greedy_decode(logits)
            conf.append(logits.log_softmax(-1).max(-1).values.sum(-1).exp())
            feats.append(f.mean(1))
        fit = StripFit(*(torch.cat([getattr(x, k) for x in fits]) for k in ("strips", "widths", "residual"))) if fits else None
        trk = Track(np.concatenate([t.positions for t in tracks]), np.concatenate([t.shows for t in tracks])) if tracks else None
        return Reading(texts, torch.cat(conf).numpy(), torch.cat(feats).numpy().astype(np.float64), fit, trk)


def save_recognizer(model: Recognizer, out_dir, meta: dict | None = None) -> Path:
    """Weights as safetensors, config (and training facts) as JSON."""
    out = Path(out_dir)
    save_tensors(out / WEIGHTS_NAME, model.state_dict())
    atomic_write_json(out / CONFIG_NAME, {"format": "vidgen-recognizer-1", "model": asdict(model.cfg), **(meta or {})})
    return out


def load_recognizer(path=None) -> TextReader:
    """Load checkpoints/recognizer (or another directory) as a TextReader; no pickle involved."""
    d = DEFAULT_DIR if path is None else Path(path)
    raw = read_json(d / CONFIG_NAME)
    if raw.get("format") != "vidgen-recognizer-1":
        raise CheckpointError(f"{d / CONFIG_NAME} is not a recognizer config (format={raw.get('format')!r})")
    try:
        cfg = RecognizerConfig(**raw["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{d / CONFIG_NAME}: bad model section: {e}") from e
    model = Recognizer(cfg)
    tensors = load_tensors(d / WEIGHTS_NAME)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{d / WEIGHTS_NAME} does not match its config: {e}") from e
    meta = {k: v for k, v in raw.items() if k != "model"}
    meta["path"] = str(d)
    meta["weights_sha256"] = hashlib.sha256((d / WEIGHTS_NAME).read_bytes()).hexdigest()
    return TextReader(model, meta)


@functools.lru_cache(maxsize=2)
def default_reader(path: str | None = None) -> TextReader:
    """The shipped reader, loaded once per process."""
    return load_recognizer(path)
