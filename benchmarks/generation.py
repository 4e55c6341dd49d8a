"""How long one whole generation takes: one prompt, guidance on, at each model's default sampler and steps
and at the alternatives (a progressive student: its own few steps only), for every shipped model in one run,
against a 1024x1024x1024 fp32 matmul timed in the same run (this VM's speed varies by a third between
sessions, so the ratio is the figure to compare).
It prints the CPU, its bf16 flags and the precision chosen by timing (vidgen.precision), and times the
default setting in both precisions, so the choice can be checked.

    python -m benchmarks.generation [--checkpoints release,blog] [--repeats 5] [--json FILE]

Run it on an idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import json

import torch

from benchmarks.speed import time_it
from vidgen.diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, EVAL_SAMPLER, EVAL_STEPS
from vidgen.pipeline import load_pipeline
from vidgen.precision import choose_precision, cpu_flags, cpu_model, describe
from vidgen.shipped import SHIPPED_MODELS

SETTINGS = ((DEFAULT_SAMPLER, DEFAULT_STEPS), ("dpm++2m", 20), ("ddim", 20), (EVAL_SAMPLER, EVAL_STEPS))


def time_model(name: str, prompt: str, repeats: int, matmul_s: float) -> dict:
    pipe = load_pipeline(name)
    choice = choose_precision(pipe.model, "auto", use_cache=False)  # measured in this run
    pipe.bf16 = choice["precision"] == "bf16"
    guidance = pipe.default_guidance

    def generation(sampler, steps):
        return time_it(lambda: pipe.generate(prompt, steps=steps, sampler=sampler, guidance_scale=guidance, seed=0), repeats)

    own = pipe.default_sampling  # a progressive student's own few DDIM steps, else DEFAULT_SAMPLER, DEFAULT_STEPS
    settings = (own,) if pipe.config.get("default_sampling") else SETTINGS  # a 2-step student is not a sampler of any steps
    rows = []
    for sampler, steps in settings:
        s = generation(sampler, steps)
        rows.append({"sampler": sampler, "steps": steps, "seconds": round(s, 3), "ms_per_step": round(1000 * s / steps, 1),
                     "matmuls": round(s / matmul_s, 1)})
    both = {}
    for bf16 in (False, True):  # the default setting in each precision: the evidence for the choice
        pipe.bf16 = bf16
        both["bf16" if bf16 else "fp32"] = round(generation(*own), 3)
    return {"guidance": guidance, "precision": describe(choice), "default": f"{own[0]} {own[1]}",
            "default_seconds_by_precision": both, "generation": rows}


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default=",".join(SHIPPED_MODELS),
                    help=f"comma-separated shipped models or directories (default {','.join(SHIPPED_MODELS)})")
    ap.add_argument("--prompt", default="HELLO")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the figures here")
    return ap


def main() -> None:
    ap = build_parser()
    args = ap.parse_args()

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, max(20, args.repeats * 4), warmup=3)
    results = {"cpu": cpu_model(), "flags": cpu_flags(), "threads": torch.get_num_threads(), "torch": torch.__version__,
               "prompt": args.prompt, "matmul_1024_fp32_ms": round(1000 * matmul_s, 2),
               "models": {}}
    for name in [n.strip() for n in args.checkpoints.split(",") if n.strip()]:
        results["models"][name] = time_model(name, args.prompt, args.repeats, matmul_s)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
