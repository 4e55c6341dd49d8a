"""The evaluation harness: generate videos for prompts, score them against the truth, write a report.

`evaluate(...)` writes DIR/report.json (every figure per prompt and aggregated, the settings and the
checkpoint's sha256), DIR/report.md (tables by prompt length) and DIR/grid.png (generated vs true).
The experiments module and the CLI reuse `generate_videos`, `score_videos` and `aggregate`.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ..checkpoint import (
    CONFIG_NAME,
    EMA_NAME,
    MODEL_NAME,
    atomic_write_bytes,
    atomic_write_json,
    resolve_dir,
)
from ..data import tokenizer as tok
from ..data.prompts import SplitConfig, heldout_prompts, long_prompts, lookalike_prompts, validation_prompts
from ..data.render import render_video
from ..data.video_io import frames_grid
from ..data.world import render_motion
from ..diffusion.sampler import DEFAULT_GUIDANCE, EVAL_SAMPLER, EVAL_STEPS
from . import metrics
from .recognizer import MOTION_DIR, TextReader, default_reader

SPLITS = ("val", "heldout", "lookalike", "long")  # long: 7-8 symbols, longer than training
# per-prompt figures that are averaged in the aggregates (everything numeric but the bookkeeping)
MEAN_KEYS = ("exact", "cer", "ned", "psnr", "psnr_per_frame", "ssim", "speed_abs_error", "speed_within_1px", "flicker", "flicker_truth",
             "confidence", "strip_residual", "position_error")


@dataclass(frozen=True)
class EvalSettings:
    """How the videos are sampled; stored in every report."""

    steps: int = EVAL_STEPS  # denoising steps
    eta: float = 0.0  # 0 = deterministic DDIM
    guidance_scale: float = DEFAULT_GUIDANCE  # classifier-free guidance, 1 = none
    seed: int = 0  # batch i is sampled with seed + i
    batch_size: int = 64  # prompts generated together
    sampler: str = EVAL_SAMPLER

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch size must be >= 1, got {self.steps} and {self.batch_size}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")


# ----------------------------------------------------------------------------- inputs


def checkpoint_split(config: dict) -> SplitConfig:
    """The held-out rules a checkpoint was trained with (defaults if its config has none)."""
    split = config.get("train", {}).get("split")
    return SplitConfig(**split) if isinstance(split, dict) else SplitConfig()


def load_prompts_file(path) -> list[str]:
    """One prompt a line; blank lines and lines starting with # are skipped; bad lines raise with their number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompts file not found: {path}")
    prompts = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            prompts.append(tok.normalize_prompt(line))
        except ValueError as e:
            raise ValueError(f"{path}:{i}: {e}") from None
    if not prompts:
        raise ValueError(f"{path} holds no prompts")
    return prompts


def split_prompts(split_name: str, n: int, split: SplitConfig, seed: int = 0) -> list[str]:
    """n prompts of a split, spread evenly over prompt lengths ('val': validation set, 'heldout':
    rule-breaking, 'lookalike': validation prompts of look-alike glyphs, 'long': 7-8 symbols)."""
    if split_name not in SPLITS:
        raise ValueError(f"unknown split {split_name!r}; known: {', '.join(SPLITS)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if split_name == "heldout":
        return list(heldout_prompts(split, n=n, seed=99 + seed))
    if split_name == "long":
        return list(long_prompts(n, seed=78 + seed))
    rng = np.random.default_rng(seed)
    by_len: dict[int, list[str]] = {}
    for p in (lookalike_prompts(split) if split_name == "lookalike" else validation_prompts(split)):
        by_len.setdefault(len(p), []).append(p)
    pools = {k: list(rng.permutation(v)) for k, v in sorted(by_len.items())}
    out: list[str] = []
    while len(out) < n and any(pools.values()):
        for k in pools:
            if pools[k] and len(out) < n:
                out.append(str(pools[k].pop()))
    return out


def check_scroll_world(pipe, checkpoint) -> None:
    """Refuse a motion-world model: these reports read videos with the scroll world's reader."""
    if pipe.world.name != "scroll":
        raise ValueError(f"{checkpoint} is a model of the {pipe.world.name!r} world, whose text moves any way: measure it "
                         "with `python -m vidgen world-report --model ...` (this report reads scrolling text only)")


def weights_sha256(checkpoint) -> dict:
    """sha256 of the weights file sampling uses (EMA first, as load_pipeline does) and of config.json."""
    d = resolve_dir(checkpoint)
    weights = next((d / n for n in (EMA_NAME, MODEL_NAME) if (d / n).is_file()), None)
    out = {"path": str(d)}
    for key, f in (("weights", weights), ("config", d / CONFIG_NAME)):
        if f is not None and f.is_file():
            out[key] = f.name
            out[f"{key}_sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


# ----------------------------------------------------------------------------- generation and scoring


def eval_motions(pipe, prompts: list[str], seed: int = 0) -> list | None:
    """The motion each evaluated prompt is generated along: for a motion-world model one drawn from its
    world (prompt i by seed + i), so every figure is "with a motion given"; None in the scroll world."""
    if pipe.world.name == "scroll":
        return None
    return [pipe.sample_motion(p, seed + i) for i, p in enumerate(prompts)]


def truth_videos(targets: list[str], motions: list | None = None) -> np.ndarray:
    """The true videos of the targets: (N, T, H, W) uint8, scrolled or along their motions."""
    if motions is None:
        return np.stack([render_video(t) for t in targets])
    return np.stack([render_motion(t, m) for t, m in zip(targets, motions)])


def generate_videos(pipe, prompts: list[str], settings: EvalSettings, ids: torch.Tensor | None = None,
                    progress: bool = True, desc: str = "generate", motions: list | None = None) -> np.ndarray:
    """Batched sampling -> uint8 (N, T, H, W). `ids` (N, slots) overrides the prompts' token ids;
    `motions` (one per prompt, `eval_motions`) are followed."""
    out = []
    n_batches = math.ceil(len(prompts) / settings.batch_size)
    for i in tqdm(range(n_batches), desc=desc, unit="batch", disable=not progress or n_batches < 2, dynamic_ncols=True):
        lo, hi = i * settings.batch_size, (i + 1) * settings.batch_size
        kw = dict(steps=settings.steps, eta=settings.eta, guidance_scale=settings.guidance_scale,
                  seed=settings.seed + i, sampler=settings.sampler)
        if motions is not None:
            kw["motion"] = motions[lo:hi]
        if ids is not None:
            out.append(pipe.generate(prompts[lo:hi], ids=ids[lo:hi], **kw))
        else:
            out.append(pipe.generate(prompts[lo:hi], **kw))
    return np.concatenate(out)


def score_videos(videos: np.ndarray, prompts: list[str], reader: TextReader, truths: np.ndarray | None = None,
                 targets: list[str] | None = None, motions: list | None = None) -> tuple[list[dict], dict]:
    """Per-prompt records and the FD-recognizer figure.

    `targets` are what a perfect reading would be (default: the prompts); `truths` the reference
    videos (default: renders of the targets, along `motions` in the motion world, which a motion reader
    reads and whose motion figure is the position error instead of the scroll speed).
    """
    targets = list(prompts) if targets is None else list(targets)
    if truths is None:
        truths = truth_videos(targets, motions)
    if not len(videos) == len(prompts) == len(targets) == len(truths):
        raise ValueError(f"videos, prompts, targets and truths differ in number: {len(videos)}, {len(prompts)}, {len(targets)}, {len(truths)}")
    gen, true = reader.read(videos), reader.read(truths)
    records = []
    for i, (prompt, target) in enumerate(zip(prompts, targets)):
        records.append({
            "prompt": prompt,
            "target": target,
            "length": len(target),
            **metrics.reading_scores(gen.texts[i], target),
            "confidence": float(gen.confidence[i]),
            **({} if gen.fit is None else {"strip_width": int(gen.fit.widths[i]), "strip_width_truth": int(true.fit.widths[i]),
                                           "strip_residual": float(gen.fit.residual[i])}),
            **(metrics.video_scores(videos[i], truths[i], target) if motions is None else
               metrics.motion_video_scores(videos[i], truths[i])),
        })
    fd = {"name": metrics.FD_NAME, "n": len(videos), "dim": int(gen.features.shape[1]),
          "note": "compare only between reports with the same n and recognizer; biased upwards for small n"}
    fd["value"] = metrics.frechet_distance(gen.features, true.features) if len(videos) >= 2 else None
    fd["truth_read_accuracy"] = metrics.sentence_accuracy(true.texts, targets)  # the reader's own check
    return records, fd


def _mean(records: list[dict], key: str) -> float | None:
    vals = [float(r[key]) for r in records if r.get(key) is not None and not (isinstance(r[key], float) and math.isnan(r[key]))]
    return float(np.mean(vals)) if vals else None


def aggregate(records: list[dict]) -> dict:
    """Means of every per-prompt figure: overall and by prompt length ('exact' mean = sentence accuracy)."""
    def summary(rs):
        return {"n": len(rs), **{k: _mean(rs, k) for k in MEAN_KEYS}}

    lengths = sorted({r["length"] for r in records})
    return {"overall": summary(records), "by_length": {str(k): summary([r for r in records if r["length"] == k]) for k in lengths}}


# ----------------------------------------------------------------------------- pictures and reports


def comparison_grid(videos: np.ndarray, truths: np.ndarray, labels: list[str], scale: int = 3, max_pairs: int = 12) -> Image.Image:
    """Generated | true column pairs (frames as rows), each pair labelled on top."""
    k = min(len(videos), len(truths), len(labels), max_pairs)
    cols = [v for i in range(k) for v in (videos[i], truths[i])]
    grid = frames_grid(cols, scale=scale)  # (H', W')
    head = 14
    img = Image.new("L", (grid.shape[1], grid.shape[0] + head), 32)
    img.paste(Image.fromarray(grid), (0, head))
    draw = ImageDraw.Draw(img)
    pair_w = 2 * (videos.shape[2] + 1) * scale
    for i in range(k):
        draw.text((i * pair_w + 3, 1), f"{labels[i]} gen|true", fill=255)
    return img


def _fmt(v, key: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if key in ("exact", "speed_within_1px"):
            return f"{100 * v:.1f}%"
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


TABLE_COLUMNS = (("n", "n"), ("exact", "sentence acc"), ("cer", "CER"), ("ned", "NED"), ("psnr", "PSNR dB"),
                 ("ssim", "SSIM"), ("speed_abs_error", "speed err px/frame"), ("speed_within_1px", "speed within 1px"),
                 ("flicker", "flicker (truth 0)"))


MOTION_TABLE_COLUMNS = TABLE_COLUMNS[:6] + (("position_error", "position error px"),)  # the motion world's


def length_table(agg: dict) -> str:
    """Markdown table: one row per prompt length and one for all (a motion-world report's motion column is
    the position error)."""
    columns = MOTION_TABLE_COLUMNS if agg["overall"].get("position_error") is not None else TABLE_COLUMNS
    lines = ["| length | " + " | ".join(h for _, h in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    rows = [(k, v) for k, v in agg["by_length"].items()] + [("all", agg["overall"])]
    for name, s in rows:
        lines.append(f"| {name} | " + " | ".join(_fmt(s[k], k) for k, _ in columns) + " |")
    return "\n".join(lines)


def markdown_report(report: dict, grid_name: str = "grid.png") -> str:
    s, ck = report["settings"], report["checkpoint"]
    fd = report["fd_recognizer"]
    worst = sorted(report["per_prompt"], key=lambda r: (r["exact"], -r["cer"]))[:10]
    lines = [
        f"# Evaluation of `{ck['path']}`",
        "",
        f"{report['n']} prompts ({report['prompt_source']}), {s['steps']} {s['sampler']} steps, eta {s['eta']}, "
        f"guidance {s['guidance_scale']}, seed {s['seed']}, batch {s['batch_size']}. "
        f"Weights `{ck.get('weights')}` sha256 `{ck.get('weights_sha256', '?')[:16]}...`, step {report.get('checkpoint_step')}.",
        "",
        "Readability is read by the shipped recognizer (strip fit + CNN-CTC); CER = edits / prompt length, "
        "NED = edits / longer length. PSNR (capped at 60 dB per frame) and SSIM are per frame against the "
        "ground-truth render, averaged per video. Speed error compares the phase-correlation shift between "
        "frames with the true scroll; flicker is the frame difference after warping by the true motion "
        "(the truth scores 0).",
        "",
        length_table(report["aggregate"]),
        "",
        f"**{fd['name']}**: {_fmt(fd['value'])} over {fd['n']} videos in {fd['dim']} dimensions "
        f"(the recognizer reads {100 * fd['truth_read_accuracy']:.1f}% of the true videos exactly).",
        "",
        f"![generated vs true]({grid_name})",
        "",
        "## Worst readings",
        "",
        "| prompt | read | CER | PSNR | SSIM |",
        "|---|---|---|---|---|",
        *[f"| {r['prompt']} | {r['read'] or '(nothing)'} | {r['cer']:.2f} | {r['psnr']:.1f} | {r['ssim']:.3f} |" for r in worst],
        "",
    ]
    return "\n".join(lines)


def evaluate(checkpoint, prompts: list[str], out_dir, settings: EvalSettings = EvalSettings(), prompt_source: str = "list",
             reader: TextReader | None = None, progress: bool = True, device: str = "cpu", precision: str = "auto") -> dict:
    """Generate, score and write report.json, report.md and grid.png into out_dir. -> the report dict. A
    motion-world model generates each prompt along a motion drawn from its world and is read by the motion
    reader; its motion figure is the position error."""
    from ..pipeline import load_pipeline

    if not prompts:
        raise ValueError("no prompts to evaluate")
    prompts = [tok.normalize_prompt(p) for p in prompts]
    pipe = load_pipeline(checkpoint, device=device, precision=precision)
    reader = reader or default_reader(str(MOTION_DIR) if pipe.world.name == "motion" else None)
    motions = eval_motions(pipe, prompts, settings.seed)  # a motion-world model follows one drawn from its world
    t0 = time.time()
    videos = generate_videos(pipe, prompts, settings, progress=progress, motions=motions)
    gen_seconds = time.time() - t0
    truths = truth_videos(prompts, motions)
    records, fd = score_videos(videos, prompts, reader, truths, motions=motions)
    report = {
        "format": "vidgen-eval-1",
        "checkpoint": weights_sha256(checkpoint),
        "checkpoint_step": pipe.config.get("step"),
        "settings": asdict(settings),
        "precision": pipe.precision_info,
        "prompt_source": prompt_source,
        "n": len(prompts),
        "aggregate": aggregate(records),
        "fd_recognizer": fd,
        "recognizer": {k: reader.meta.get(k) for k in ("path", "weights_sha256")},
        "generate_seconds": round(gen_seconds, 2),
        "score_seconds": round(time.time() - t0 - gen_seconds, 2),
        "per_prompt": records,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparison_grid(videos, truths, prompts).save(out / "grid.png")
    np.save(out / "videos.npy", videos)
    atomic_write_json(out / "report.json", report)
    atomic_write_bytes(out / "report.md", markdown_report(report).encode())
    return report


def dumps_summary(report: dict) -> str:
    """One JSON line with the headline figures, for the CLI."""
    o = report["aggregate"]["overall"]
    return json.dumps({k: o[k] for k in ("n", "exact", "cer", "psnr", "ssim", "speed_abs_error", "flicker")}
                      | {"fd_recognizer": report["fd_recognizer"]["value"]})
