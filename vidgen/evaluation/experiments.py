"""The blog's section 3, measured: four generalisation questions, each answered with numbers and a figure.

1. never-seen combinations: "AS" and prompts breaking the held-out rules, against validation prompts
2. single letters: all 36 one-symbol prompts (meaningful for a model trained without them; says so if not)
3. an out-of-vocabulary token: a spare token id in the middle of a prompt ("W?RD"), against the same
   prompts without it
4. longer than training: 7- and 8-symbol prompts, against 6-symbol ones; also checks the blog's
   observation that the model "simply ignored everything beyond the 6th position"

`run_experiments` writes DIR/experiments.json, DIR/experiments.md and one PNG per experiment.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import atomic_write_bytes, atomic_write_json
from ..data import tokenizer as tok
from ..data.prompts import SplitConfig, heldout_prompts
from . import metrics
from .harness import (
    EvalSettings,
    aggregate,
    checkpoint_split,
    comparison_grid,
    eval_motions,
    generate_videos,
    length_table,
    score_videos,
    split_prompts,
    truth_videos,
    weights_sha256,
)
from .recognizer import MOTION_DIR, TextReader, default_reader

EXPERIMENTS = ("never_seen", "single_letters", "out_of_vocabulary", "longer_than_training")


def _summary(records: list[dict], fd: dict) -> dict:
    return {"aggregate": aggregate(records), "fd_recognizer": fd, "per_prompt": records}


def _allowed_prompt(rng: np.random.Generator, length: int, split: SplitConfig) -> str:
    """A random prompt that keeps the held-out rules, so only its length is new to the model."""
    while True:
        p = "".join(tok.SYMBOLS[i] for i in rng.integers(len(tok.SYMBOLS), size=length))
        if not split.is_heldout(p):
            return p


def never_seen(pipe, split: SplitConfig, settings, reader, n: int, out: Path, progress: bool) -> dict:
    """(1) 'AS' and held-out-rule prompts vs validation prompts of the same lengths."""
    held = ["AS"] + [p for p in heldout_prompts(split, n=n, seed=5) if p != "AS"][: n - 1]
    val = split_prompts("val", n, split, seed=5)
    motions = eval_motions(pipe, held + val, settings.seed)
    videos = generate_videos(pipe, held + val, settings, progress=progress, desc="never-seen", motions=motions)
    mh, mv = (None, None) if motions is None else (motions[: len(held)], motions[len(held):])
    rec, fd_h = score_videos(videos[: len(held)], held, reader, motions=mh)
    rec_v, fd_v = score_videos(videos[len(held):], val, reader, motions=mv)
    comparison_grid(videos[: len(held)], truth_videos(held[:8], None if mh is None else mh[:8]), held[:8]).save(out / "never_seen.png")
    h, v = aggregate(rec)["overall"], aggregate(rec_v)["overall"]
    return {
        "question": "Can the model generate never-seen combinations (first symbol A, second symbol S)?",
        "heldout_rules": {"first": split.heldout_first, "second": split.heldout_second},
        "AS": rec[0],
        "heldout": _summary(rec, fd_h),
        "validation": _summary(rec_v, fd_v),
        "gap_heldout_minus_val": {k: h[k] - v[k] for k in ("exact", "cer", "psnr", "ssim") if h[k] is not None and v[k] is not None},
        "figure": "never_seen.png",
    }


def single_letters(pipe, split: SplitConfig, settings, reader, out: Path, progress: bool) -> dict:
    """(2) every one-symbol prompt, A and E first (the blog's Figure 15)."""
    prompts = ["A", "E"] + [s for s in tok.SYMBOLS if s not in "AE"]
    motions = eval_motions(pipe, prompts, settings.seed)
    videos = generate_videos(pipe, prompts, settings, progress=progress, desc="single letters", motions=motions)
    rec, fd = score_videos(videos, prompts, reader, motions=motions)
    comparison_grid(videos, truth_videos(prompts, motions), prompts).save(out / "single_letters.png")
    held_out = bool(split.holdout_single)
    note = ("The checkpoint never saw 1-symbol prompts (holdout_single), as in the blog." if held_out else
            "This checkpoint WAS trained on 1-symbol prompts (holdout_single is false), so this is not the blog's "
            "experiment: train with --holdout-single to reproduce it.")
    return {"question": "Can a model that never saw single letters generate them?", "holdout_single": held_out,
            "note": note, **_summary(rec, fd), "figure": "single_letters.png"}


def out_of_vocabulary(pipe, split: SplitConfig, settings, reader, n: int, out: Path, progress: bool) -> dict:
    """(3) a spare (never-trained) token id in the middle of a prompt, vs the same prompts without it."""
    bases = ["WORD"] + [p for p in split_prompts("val", 4 * n, split, seed=3) if len(p) >= 3][: n - 1]
    ids = torch.from_numpy(tok.encode_batch(bases))  # (N, slots)
    slots = [len(b) // 2 if b != "WORD" else 1 for b in bases]  # WORD -> W?RD as in the blog
    for k, (i, b) in enumerate(zip(slots, bases)):
        ids[k, i] = tok.SPARE_IDS[k % len(tok.SPARE_IDS)]
    labels = [b[:i] + "?" + b[i + 1:] for b, i in zip(bases, slots)]
    motions = eval_motions(pipe, bases, settings.seed)  # each base prompt's motion, with and without its spare token
    videos = generate_videos(pipe, labels, settings, ids=ids, progress=progress, desc="out-of-vocabulary", motions=motions)
    control = generate_videos(pipe, bases, settings, progress=progress, desc="oov control", motions=motions)
    rec, fd = score_videos(videos, labels, reader, targets=bases, motions=motions)
    rec_c, fd_c = score_videos(control, bases, reader, motions=motions)
    dropped = [b[:i] + b[i + 1:] for b, i in zip(bases, slots)]
    dropped_truths = truth_videos(dropped, motions)
    for r, b, i, d, vid, d_truth in zip(rec, bases, slots, dropped, videos, dropped_truths):
        m = re.fullmatch(re.escape(b[:i]) + "(.?)" + re.escape(b[i + 1:]), r["read"])
        r["known_symbols_intact"] = m is not None  # every in-vocabulary symbol read, in place
        r["slot_read"] = None if m is None else m.group(1)  # '' = the token left no symbol
        r["psnr_vs_dropped"] = metrics.psnr_video(vid, d_truth)
    intact = [r for r in rec if r["known_symbols_intact"]]
    slot_counts: dict[str, int] = {}
    for r in intact:
        key = r["slot_read"] or "(nothing)"
        slot_counts[key] = slot_counts.get(key, 0) + 1
    grid_videos = np.concatenate([videos[:6], control[:6]])
    grid_truths = truth_videos(bases[:6], None if motions is None else motions[:6])
    comparison_grid(grid_videos, np.concatenate([grid_truths, grid_truths]), labels[:6] + bases[:6]).save(
        out / "out_of_vocabulary.png")
    return {
        "question": "What does the model write for a token it has never seen (a spare id)?",
        "known_symbols_intact": float(np.mean([r["known_symbols_intact"] for r in rec])),
        "slot_read_when_intact": dict(sorted(slot_counts.items(), key=lambda kv: -kv[1])),
        "psnr_vs_prompt_without_token": float(np.mean([r["psnr_vs_dropped"] for r in rec])),
        "oov": _summary(rec, fd),
        "control_without_oov": _summary(rec_c, fd_c),
        "figure": "out_of_vocabulary.png",
        "figure_layout": "first 6 pairs: with the spare token; last 6: the same prompts without it",
    }


def longer_than_training(pipe, split: SplitConfig, settings, reader, n: int, out: Path, progress: bool) -> dict:
    """(4) 7- and 8-symbol prompts vs 6-symbol ones; do readings stop after the 6th symbol?"""
    train_max = split.max_len
    rng = np.random.default_rng(11)
    per = max(1, n // 2)
    long_prompts = [_allowed_prompt(rng, k, split) for k in (train_max + 1, train_max + 2) if k <= tok.PROMPT_SLOTS
                    for _ in range(per)]
    if not long_prompts:
        return {"question": "longer than training", "note": f"training already used all {tok.PROMPT_SLOTS} slots"}
    base = [p for p in split_prompts("val", 8 * n, split, seed=11) if len(p) == train_max][:per]
    motions = eval_motions(pipe, long_prompts + base, settings.seed)
    ml, mb = (None, None) if motions is None else (motions[: len(long_prompts)], motions[len(long_prompts):])
    videos = generate_videos(pipe, long_prompts + base, settings, progress=progress, desc="longer", motions=motions)
    rec, fd = score_videos(videos[: len(long_prompts)], long_prompts, reader, motions=ml)
    rec_b, fd_b = score_videos(videos[len(long_prompts):], base, reader, motions=mb)
    cut_truths = truth_videos([p[:train_max] for p in long_prompts], ml)  # the first symbols alone, where they stand
    for r, vid, cut_truth in zip(rec, videos, cut_truths):
        cut = r["prompt"][:train_max]
        r["reads_first_symbols_only"] = r["read"] == cut
        r["cer_vs_first_symbols"] = metrics.character_error_rate(r["read"], cut)
        r["psnr_vs_first_symbols"] = metrics.psnr_video(vid, cut_truth)
    comparison_grid(videos[:8], truth_videos(long_prompts[:8], None if ml is None else ml[:8]), long_prompts[:8]).save(
        out / "longer_than_training.png")
    return {
        "question": f"Does the model generalise to prompts longer than the training maximum ({train_max})?",
        "reads_first_symbols_only": float(np.mean([r["reads_first_symbols_only"] for r in rec])),
        "psnr_vs_full_prompt": float(np.mean([r["psnr"] for r in rec])),
        "psnr_vs_first_symbols": float(np.mean([r["psnr_vs_first_symbols"] for r in rec])),
        "longer": _summary(rec, fd),
        f"baseline_length_{train_max}": _summary(rec_b, fd_b),
        "figure": "longer_than_training.png",
    }


def run_experiments(checkpoint, out_dir, settings: EvalSettings = EvalSettings(), n: int = 24,
                    reader: TextReader | None = None, progress: bool = True, only: tuple[str, ...] = EXPERIMENTS,
                    device: str = "cpu", precision: str = "auto") -> dict:
    """Run the chosen experiments and write experiments.json / experiments.md / figures into out_dir."""
    from ..pipeline import load_pipeline

    unknown = [e for e in only if e not in EXPERIMENTS]
    if unknown or not only:
        raise ValueError(f"unknown experiments {unknown}; known: {', '.join(EXPERIMENTS)}")
    if n < 2:
        raise ValueError(f"n must be >= 2 (the Frechet distance needs two videos), got {n}")
    pipe = load_pipeline(checkpoint, device=device, precision=precision)
    reader = reader or default_reader(str(MOTION_DIR) if pipe.world.name == "motion" else None)
    split = checkpoint_split(pipe.config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = {
        "never_seen": lambda: never_seen(pipe, split, settings, reader, n, out, progress),
        "single_letters": lambda: single_letters(pipe, split, settings, reader, out, progress),
        "out_of_vocabulary": lambda: out_of_vocabulary(pipe, split, settings, reader, n, out, progress),
        "longer_than_training": lambda: longer_than_training(pipe, split, settings, reader, n, out, progress),
    }
    t0 = time.time()
    results = {name: runs[name]() for name in only}
    report = {"format": "vidgen-experiments-1", "checkpoint": weights_sha256(checkpoint), "checkpoint_step": pipe.config.get("step"),
              "settings": asdict(settings), "n": n, "split": asdict(split), "seconds": round(time.time() - t0, 1),
              "recognizer": {k: reader.meta.get(k) for k in ("path", "weights_sha256")}, "experiments": results}
    atomic_write_json(out / "experiments.json", report)
    atomic_write_bytes(out / "experiments.md", experiments_markdown(report).encode())
    return report


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def experiments_markdown(report: dict) -> str:
    """The experiments as a readable page: question, headline numbers, table by length, figure."""
    s = report["settings"]
    lines = [f"# The blog's section 3, measured: `{report['checkpoint']['path']}` (step {report['checkpoint_step']})", "",
             f"{s['steps']} {s['sampler']} steps, eta {s['eta']}, guidance {s['guidance_scale']}, seed {s['seed']}. "
             f"Distribution figures are {metrics.FD_NAME}.", ""]
    ex = report["experiments"]
    if "never_seen" in ex:
        e = ex["never_seen"]
        h, v = e["heldout"]["aggregate"]["overall"], e["validation"]["aggregate"]["overall"]
        lines += ["## 1. Never-seen combinations", "", e["question"], "",
                  f"- \"AS\": read as `{e['AS']['read'] or '(nothing)'}`, PSNR {e['AS']['psnr']:.1f} dB, SSIM {e['AS']['ssim']:.3f}",
                  f"- held-out prompts: sentence accuracy {_pct(h['exact'])}, CER {h['cer']:.3f} (n={h['n']}); "
                  f"validation prompts: {_pct(v['exact'])}, CER {v['cer']:.3f} (n={v['n']})",
                  f"- FD-recognizer vs truth: held-out {e['heldout']['fd_recognizer']['value']:.3f}, validation {e['validation']['fd_recognizer']['value']:.3f}",
                  "", length_table(e["heldout"]["aggregate"]), "", f"![never seen]({e['figure']})", ""]
    if "single_letters" in ex:
        e = ex["single_letters"]
        o = e["aggregate"]["overall"]
        reads = {r["prompt"]: r["read"] for r in e["per_prompt"]}
        lines += ["## 2. Single letters", "", e["question"], "", f"**{e['note']}**", "",
                  f"- sentence accuracy {_pct(o['exact'])} over {o['n']} symbols, PSNR {o['psnr']:.1f} dB, SSIM {o['ssim']:.3f}, "
                  + (f"speed error {o['speed_abs_error']:.2f} px/frame" if o.get("speed_abs_error") is not None else
                     f"position error {o['position_error']:.2f} px (along motions drawn from the model's world)"),
                  f"- \"A\" read as `{reads.get('A') or '(nothing)'}`, \"E\" read as `{reads.get('E') or '(nothing)'}`",
                  "", f"![single letters]({e['figure']})", ""]
    if "out_of_vocabulary" in ex:
        e = ex["out_of_vocabulary"]
        o, c = e["oov"]["aggregate"]["overall"], e["control_without_oov"]["aggregate"]["overall"]
        lines += ["## 3. An out-of-vocabulary token", "", e["question"], "",
                  f"- known symbols read intact and in place: {_pct(e['known_symbols_intact'])} (n={o['n']}); "
                  f"what stands at the spare token's place when they are: {e['slot_read_when_intact']}",
                  f"- CER against the prompt with the original symbol: {o['cer']:.3f} (control without the spare token: {c['cer']:.3f})",
                  f"- PSNR vs the truth with the original symbol {o['psnr']:.1f} dB, vs the truth with the token removed "
                  f"{e['psnr_vs_prompt_without_token']:.1f} dB (control {c['psnr']:.1f} dB)",
                  "", f"![out of vocabulary]({e['figure']}) ({e['figure_layout']})", ""]
    if "longer_than_training" in ex and "longer" in ex["longer_than_training"]:
        e = ex["longer_than_training"]
        o = e["longer"]["aggregate"]["overall"]
        base_key = next(k for k in e if k.startswith("baseline_length_"))
        b = e[base_key]["aggregate"]["overall"]
        lines += ["## 4. Longer than training", "", e["question"], "",
                  f"- sentence accuracy {_pct(o['exact'])}, CER {o['cer']:.3f} (n={o['n']}); {base_key.replace('_', ' ')}: "
                  f"{_pct(b['exact'])}, CER {b['cer']:.3f}",
                  f"- readings equal to the first {len(e['longer']['per_prompt'][0]['prompt'][:report['split']['max_len']])} symbols only: "
                  f"{_pct(e['reads_first_symbols_only'])}; PSNR vs the full prompt's truth {e['psnr_vs_full_prompt']:.1f} dB, "
                  f"vs the truncated prompt's {e['psnr_vs_first_symbols']:.1f} dB",
                  "", length_table(e["longer"]["aggregate"]), "", f"![longer]({e['figure']})", ""]
    return "\n".join(lines)
