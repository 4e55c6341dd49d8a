"""Fewer network passes in the motion world: a teacher (classifier-free guidance, two passes a step) and its
guidance-distilled student (one pass a step, vidgen.training.distill) at several samplers and step counts.
Per setting: network passes a video, readability with a motion given (the motion reader and the nearest
render, vidgen.evaluation.nearest_render) on validation, held-out, look-alike and 7-8 symbol prompts, PSNR
against the truth, and one video's time against a 1024^3 fp32 matmul timed in the same run, with the
CPU and the precision chosen by timing. The table of docs/sampling.md ("The motion world").

    python -m benchmarks.few_step --models teacher=release,guidance=release-fast,progressive=DIR [--n 96] [--compile] [--json FILE]

--compile samples each model with its compiled twin where that is faster (Pipeline.compile, vidgen.compiled).
Every row also gives the share of the fp32 matmul rate a whole video sustains: its network FLOPs (torch's
flop counter over one step's passes, times the steps) over its time.

Readability runs take minutes; the timing is wall-clock, so run it on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from benchmarks.speed import guided_forward, time_it
from vidgen.compiled import describe_compile
from vidgen.diffusion.sampler import SAMPLERS
from vidgen.data.world import render_motion, sample_motion
from vidgen.evaluation.harness import checkpoint_split, split_prompts
from vidgen.evaluation.metrics import psnr_video
from vidgen.evaluation.motion_metrics import Sampling, generate_many
from vidgen.evaluation.nearest_render import nearest_render_reads
from vidgen.evaluation.recognizer import MOTION_DIR, load_recognizer
from vidgen.pipeline import load_pipeline
from vidgen.precision import choose_precision, cpu_flags, cpu_model, describe
from vidgen.shipped import resolve_model_path

SPLITS = ("val", "heldout", "lookalike", "long")


REFERENCE_SETTINGS = "ddim:50,dpm++2m:10,dpm++2m:5"  # a teacher's 50-step DDIM reference, its default and half of it


def parse_settings(text: str) -> list[tuple[str, int]]:
    """"ddim:50,dpm++2m:10" -> [("ddim", 50), ("dpm++2m", 10)]."""
    out = []
    for item in text.split(","):
        sampler, _, steps = item.partition(":")
        if sampler not in SAMPLERS or not steps.isdigit() or int(steps) < 1:
            raise ValueError(f"a setting is SAMPLER:STEPS with SAMPLER one of {', '.join(SAMPLERS)}, got {item!r}")
        out.append((sampler, int(steps)))
    return out


def settings_for(pipe, reference: str = REFERENCE_SETTINGS) -> list[tuple[str, int]]:
    """(sampler, steps) to measure: a teacher's `reference` settings (the first is the reference every
    row is compared with); a guidance-distilled student's default and fewer steps; a progressive student's
    own DDIM steps, and the DPM solver at as many."""
    own = pipe.config.get("default_sampling")
    if own:
        return [(own["sampler"], own["steps"]), ("dpm++2m", own["steps"])]
    if pipe.model.cfg.guidance_range is not None:
        return [("dpm++2m", 10), ("dpm++2m", 5), ("dpm++2m", 4), ("dpm++2m", 3)]
    return parse_settings(reference)


def split_sizes(n: int, hard_n: int | None = None) -> dict[str, int]:
    """Prompts a split: `n` validation and held-out; look-alike and long `hard_n` (default min(n, 96) and
    min(n // 2, 48)); the look-alike split has about 300 prompts in all (vidgen.data.prompts.lookalike_prompts)."""
    if hard_n is None:
        return {"val": n, "heldout": n, "lookalike": min(n, 96), "long": min(n // 2, 48)}
    return {"val": n, "heldout": n, "lookalike": hard_n, "long": hard_n}


def measure_setting(pipe, reader, prompts: dict, sampler: str, steps: int) -> dict:
    """Readability (reader, nearest render) and PSNR per split, along motions drawn from the world by index."""
    out = {}
    for split, ps in prompts.items():
        motions = [sample_motion(p, pipe.world, np.random.default_rng(i)) for i, p in enumerate(ps)]
        videos = generate_many(pipe, ps, motions, [0] * len(ps), Sampling(sampler=sampler, steps=steps), False, split)
        truths = [render_motion(p, m) for p, m in zip(ps, motions)]
        texts = reader.read(videos).texts
        nearest = nearest_render_reads(videos, ps, motions)
        out[split] = {"n": len(ps), "reader": float(np.mean([t == p for t, p in zip(texts, ps)])),
                      "nearest_render": float(np.mean([t == p for t, p in zip(nearest, ps)])),
                      "psnr_db": float(np.mean([psnr_video(v, t) for v, t in zip(videos, truths)]))}
    return out


def step_gflop(pipe) -> float:
    """GFLOP of one sampling step's network passes (a guided teacher's batch of 2, a distilled student's one)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        guided_forward(pipe)()
    return round(counter.get_total_flops() / 1e9, 4)


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="teacher=release,guidance=release-fast",
                    help="comma-separated label=model (shipped names or directories); the first is the reference")
    ap.add_argument("--n", type=int, default=96, help="validation and held-out prompts (look-alike <= 96, long <= 48)")
    ap.add_argument("--hard-n", type=int, default=None,
                    help="look-alike and long prompts (the look-alike split has about 300 in all)")
    ap.add_argument("--reference-settings", default=REFERENCE_SETTINGS,
                    help="SAMPLER:STEPS,... of a teacher; the first is the reference the other rows are compared with")
    ap.add_argument("--repeats", type=int, default=5, help="timings of one video (median)")
    ap.add_argument("--only-timing", action="store_true", help="skip readability (seconds, not minutes)")
    ap.add_argument("--compile", action="store_true", help="sample with each model's compiled twin where it is faster")
    ap.add_argument("--json", default=None)
    return ap


def main(argv=None) -> None:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        parse_settings(args.reference_settings)
    except ValueError as e:
        ap.error(str(e))
    if args.n < 1 or (args.hard_n is not None and args.hard_n < 1):
        ap.error("--n and --hard-n must be >= 1")

    named = dict(item.split("=", 1) for item in args.models.split(","))
    pipes = {label: load_pipeline(path) for label, path in named.items()}
    precision = {}
    for who, pipe in pipes.items():
        choice = choose_precision(pipe.model, "auto", use_cache=False)  # measured in this run
        pipe.bf16 = choice["precision"] == "bf16"
        precision[who] = describe(choice)
    # the precisions above were measured eagerly; compiled, the other one may be faster
    compiled = {who: describe_compile(pipe.compile(both_precisions=True)) for who, pipe in pipes.items()} if args.compile else {}
    step_flops = {who: step_gflop(pipe) for who, pipe in pipes.items()}
    reader = load_recognizer(MOTION_DIR)
    split = checkpoint_split(next(iter(pipes.values())).config)
    prompts = {s: split_prompts(s, n, split) for s, n in split_sizes(args.n, args.hard_n).items()}
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, 40, warmup=3)
    motion = sample_motion("HELLO", next(iter(pipes.values())).world, np.random.default_rng(0))
    rows = []
    for who, sampler, steps in [(w, *s) for w, p in pipes.items() for s in settings_for(p, args.reference_settings)]:
        pipe = pipes[who]
        guidance = pipe.default_guidance
        seconds = time_it(lambda: pipe.generate("HELLO", motion=motion, steps=steps, sampler=sampler, guidance_scale=guidance,
                                                seed=0), args.repeats)
        passes = steps * (1 if pipe.model.cfg.guidance_range is not None else 2)
        row = {"model": who, "sampler": sampler, "steps": steps, "passes": passes, "seconds": round(seconds, 3),
               "matmuls": round(seconds / matmul_s, 1),
               "share_of_matmul_rate": round(steps * step_flops[who] * 1e9 * matmul_s / (2 * 1024**3) / seconds, 3)}
        if not args.only_timing:
            t0 = time.time()
            row["splits"] = measure_setting(pipe, reader, prompts, sampler, steps)
            row["measure_seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"cpu": cpu_model(), "flags": cpu_flags(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "precision": precision, "compiled": compiled, "gflop_per_step": step_flops, "matmul_1024_fp32_ms": round(1000 * matmul_s, 2), "load_average": list(os.getloadavg()),
              "models": {label: str(resolve_model_path(path)) for label, path in named.items()}, "reader": str(MOTION_DIR),
              "rows": rows}
    print(markdown(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


def markdown(result: dict) -> str:
    lines = [f"{result['cpu']}, {result['threads']} threads; matmul {result['matmul_1024_fp32_ms']} ms; "
             f"load average at the end {result['load_average'][0]:.2f}; precision: "
             + "; ".join(f"{k} {v}" for k, v in result["precision"].items())
             + "".join(f"; {k} {v}" for k, v in result.get("compiled", {}).items()), "",
             "| model | sampler | steps | passes | " + " | ".join(f"{s} (reader / nearest)" for s in SPLITS)
             + " | PSNR val (dB) | one video (s) | matmul-times | % of matmul rate |",
             "|---|---|---:|---:|" + "---:|" * len(SPLITS) + "---:|---:|---:|---:|"]
    for r in result["rows"]:
        sp = r.get("splits")
        cells = [f"{100 * sp[s]['reader']:.1f}% / {100 * sp[s]['nearest_render']:.1f}%" if sp else "" for s in SPLITS]
        psnr = f"{sp['val']['psnr_db']:.2f}" if sp else ""
        lines.append(f"| {r['model']} | {r['sampler']} | {r['steps']} | {r['passes']} | " + " | ".join(cells)
                     + f" | {psnr} | {r['seconds']} | {r['matmuls']} | {100 * r.get('share_of_matmul_rate', 0):.0f}% |")
    lines += ["", *against_reference(result["rows"])]
    return "\n".join(lines)


def against_reference(rows: list[dict]) -> list[str]:
    """Each row's readability (reader, points) and PSNR (dB) minus the first row's, split by split: the
    issue's "within 0.5 points and 1 dB of the 50-step DDIM reference"."""
    if not rows or "splits" not in rows[0]:
        return []
    ref = rows[0]
    lines = [f"Against {ref['model']} {ref['sampler']} {ref['steps']} (reader points / PSNR dB, same prompts, motions and seeds):"]
    for r in rows[1:]:
        cells = [f"{s} {100 * (r['splits'][s]['reader'] - ref['splits'][s]['reader']):+.2f} / "
                 f"{r['splits'][s]['psnr_db'] - ref['splits'][s]['psnr_db']:+.2f}" for s in SPLITS]
        lines.append(f"- {r['model']} {r['sampler']} {r['steps']}: " + "; ".join(cells))
    return lines


if __name__ == "__main__":
    main()
