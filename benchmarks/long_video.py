"""Long videos (vidgen.long, docs/long.md): every method side by side, the shipped default on the hard splits,
seams, drift, seed 004's motion KPIs, time per frame against length and memory, in one run.

    python -m benchmarks.long_video [--model long] [--n 24] [--json docs/reports/long.json]

Prompts are sentences of 12-24 symbols never trained on: `sentence_prompts` (validation-like, words the
held-out rules allow) and their held-out twins (a first word that breaks the rules). Each prompt's motion is
drawn from the model's world by its index. Figures are wall-clock: run it on an idle machine (the report
records the load average before it starts and the time of a 1024^3 fp32 matmul in the same run).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from vidgen.data.prompts import sentence_prompts
from vidgen.data.render import to_uint8
from vidgen.data.world import render_motion
from vidgen.evaluation.long_reading import long_nearest_reads, long_reads
from vidgen.evaluation.long_video import motion_kpis, seams, window_psnr
from vidgen.evaluation.recognizer import default_reader
from vidgen.long.methods import METHODS
from vidgen.pipeline import describe_precision, load_pipeline
from vidgen.precision import cpu_model

from benchmarks.speed import time_it

BATCH = 8  # prompts a generation (memory and time per call grow with it)


def generate(pipe, prompts: list[str], motions: list, method: str, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """uint8 videos (B, N, H, W) of prompts along motions, made by `method`; the frames' chunks (N,); seconds."""
    frames = motions[0].frames
    videos, made_by, seconds = [], None, 0.0
    for i in range(0, len(prompts), BATCH):
        t0 = time.perf_counter()
        last = None
        for last in pipe.iter_long_steps(prompts[i : i + BATCH], motion=motions[i : i + BATCH], seed=seed, steps=steps, method=method):
            pass
        seconds += time.perf_counter() - t0
        videos.append(to_uint8(last.x[:, :frames]))
        made_by = last.made_by[:frames]
    return np.concatenate(videos), made_by, seconds


def measure(pipe, reader, prompts: list[str], frames: int, method: str, steps: int, seed: int = 0, calibrate: bool = False) -> dict:
    """Both judges, seams, drift and motion KPIs of one method at one length over prompts; calibrate=True also has
    both judges read the true renders (what they read of the truth bounds what they can say of a model)."""
    ps = list(prompts)
    ms = [pipe.sample_motion(p, i, frames) for i, p in enumerate(ps)]  # each prompt's motion drawn by its index
    videos, made_by, seconds = generate(pipe, ps, ms, method, steps, seed)
    truths = np.stack([render_motion(p, m) for p, m in zip(ps, ms)])
    reads = long_reads(videos, ps, ms, reader)
    nearest = long_nearest_reads(videos, ps, ms)
    seam = [seams(v, t, made_by) for v, t in zip(videos, truths)]
    psnrs = np.array([window_psnr(v, t) for v, t in zip(videos, truths)])  # (B, windows)
    kpis = [motion_kpis(v, m) for v, m in zip(videos, ms)]
    true_kpis = [motion_kpis(t, m) for t, m in zip(truths, ms)]
    mean = lambda rows, k: float(np.nanmean([r[k] for r in rows]))  # noqa: E731
    truth_reads = {}
    if calibrate:
        truth_reads = {"truth_reader": float(np.mean([r == p for r, p in zip(long_reads(truths, ps, ms, reader), ps)])),
                       "truth_nearest_render": float(np.mean([r == p for r, p in zip(long_nearest_reads(truths, ps, ms), ps)]))}
    return {**truth_reads,
        "n": len(ps), "frames": frames, "method": method, "steps": steps,
        "reader": float(np.mean([r == p for r, p in zip(reads, ps)])),
        "nearest_render": float(np.mean([r == p for r, p in zip(nearest, ps)])),
        "misread": [{"prompt": p, "reader": r, "nearest": q} for p, r, q in zip(ps, reads, nearest) if r != p or q != p][:8],
        "by_shape": {shape: {"n": sum(m.shape == shape for m in ms),
                             "reader": float(np.mean([r == p for r, p, m in zip(reads, ps, ms) if m.shape == shape])),
                             "nearest_render": float(np.mean([q == p for q, p, m in zip(nearest, ps, ms) if m.shape == shape]))}
                     for shape in sorted({m.shape for m in ms})},
        "seam_ratio": float(np.nanmean([s["ratio"] for s in seam])),
        "seam_boundary": mean(seam, "boundary"), "seam_inside": mean(seam, "inside"),
        "psnr_by_window": psnrs.mean(axis=0).round(2).tolist(),
        "drift_db": float((psnrs[:, -1] - psnrs[:, 0]).mean()),
        "psnr": float(psnrs.mean()),
        "kpis": {k: mean(kpis, k) for k in kpis[0]}, "kpis_truth": {k: mean(true_kpis, k) for k in true_kpis[0]},
        "seconds": round(seconds, 2), "seconds_per_frame": round(seconds / (len(ps) * frames), 4),
    }


def cost(pipe, method: str, steps: int, lengths=(32, 64, 96, 128), rounds: int = 5) -> dict:
    """One prompt's video time at each length, per frame: the median of `rounds` rounds, each timing every length once
    (a machine that slows down for a while slows every length alike)."""
    prompt = "HELLO WORLD 2026"
    motions = {n: pipe.sample_motion(prompt, 0, n) for n in lengths}
    make = {n: (lambda m=motions[n]: pipe.generate(prompt, motion=m, method=method, steps=steps)) for n in lengths}
    for n in lengths:
        make[n]()  # warm up
    times = {n: [] for n in lengths}
    for _ in range(rounds):
        for n in lengths:
            times[n].append(time_it(make[n], 1, warmup=0))
    rows = {}
    for n in lengths:
        s = float(np.median(times[n]))
        rows[str(n)] = {"seconds": round(s, 3), "ms_per_frame": round(1000 * s / n, 2)}
    per_frame = [r["ms_per_frame"] for r in rows.values()]
    return {"prompt": prompt, "rounds": rounds, "by_frames": rows, "per_frame_spread": round(max(per_frame) / min(per_frame) - 1, 3)}


MEMORY_SNIPPET = """
import resource, sys, vidgen
pipe = vidgen.load_pipeline(sys.argv[1])
pipe.generate("HELLO WORLD 2026", frames=int(sys.argv[2]), method=sys.argv[3], steps=int(sys.argv[4]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory(model: str, method: str, steps: int, lengths=(32, 128)) -> dict:
    """Peak resident memory (MB) of a fresh process that loads the model and makes one video of each length."""
    out = {}
    for n in lengths:
        done = subprocess.run([sys.executable, "-c", MEMORY_SNIPPET, model, str(n), method, str(steps)], capture_output=True,
                              text=True, check=True)
        out[str(n)] = round(int(done.stdout.split()[-1]) / 1024, 1)
    return out


def seam_picture(pipe, path: str, prompt: str = "HELLO WORLD 2026", frames: int = 64, seed: int = 3) -> None:
    """Frames 12-19 around the first chunk boundary (frame 16) of independent chunks and of the default method,
    under the truth, 4x; beneath each row, its absolute difference from the truth."""
    from PIL import Image

    motion = pipe.sample_motion(prompt, seed, frames)
    truth = render_motion(prompt, motion)[12:20]
    rows = [truth]
    for method in ("independent", pipe.default_long[0]):
        video = pipe.generate(prompt, motion=motion, method=method, seed=seed)[12:20]
        rows += [video, np.abs(video.astype(np.int16) - truth).astype(np.uint8)]
    grid = np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)  # (5 * H, 8 * W)
    Image.fromarray(grid).resize((grid.shape[1] * 4, grid.shape[0] * 4), Image.NEAREST).save(path)


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="long", help="a long-video model: a shipped name or a checkpoint directory (default long)")
    ap.add_argument("--n", type=int, default=24, help="prompts a split for the default method (the methods' comparison uses half)")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"methods compared (default {','.join(METHODS)})")
    ap.add_argument("--skip-cost", action="store_true", help="no timing or memory (a busy machine)")
    ap.add_argument("--cost-only", action="store_true", help="only time a frame against length and memory (an idle machine)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--picture", default=None, help="write only the seam picture here (docs/long/seam.png) and stop")
    return ap


def main(argv=None) -> None:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.cost_only and (args.skip_cost or args.picture):
        ap.error("--cost-only times the default method alone: not with --skip-cost or --picture")
    load = os.getloadavg()[0]
    torch.manual_seed(0)
    pipe = load_pipeline(args.model)
    if args.picture:
        seam_picture(pipe, args.picture)
        print(f"wrote {args.picture}")
        return
    method, steps = pipe.default_long
    reader = None if args.cost_only else default_reader("checkpoints/recognizer-motion")  # --cost-only reads nothing
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, 20, warmup=3)
    val, held = list(sentence_prompts(n=args.n)), list(sentence_prompts(n=args.n, heldout=True))
    report = {"model": args.model, "cpu": cpu_model(), "precision": describe_precision(pipe), "threads": torch.get_num_threads(),
              "load_average_before": round(load, 2), "idle": load < 0.5, "matmul_1024_fp32_ms": round(1000 * matmul_s, 2),
              "default": {"method": method, "steps": steps}, "methods": {}, "shipped": {}}
    half = val[: max(2, args.n // 2)]
    for name in tqdm([] if args.cost_only else [m.strip() for m in args.methods.split(",") if m.strip()], desc="methods"):
        report["methods"][name] = {str(n): measure(pipe, reader, half, n, name, steps) for n in (64, 128)}
    for split, prompts in () if args.cost_only else (("validation", val), ("held-out", held)):
        report["shipped"][split] = {str(n): measure(pipe, reader, prompts, n, method, steps, calibrate=True) for n in (64, 128)}
    if not args.skip_cost:
        report["cost"] = cost(pipe, method, steps)
        report["cost"]["video_128_matmuls"] = round(report["cost"]["by_frames"]["128"]["seconds"] / matmul_s, 1)
        report["memory_mb"] = memory(args.model, method, steps)
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
