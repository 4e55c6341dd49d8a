"""How long one whole generation takes: one prompt, guidance on, at the default sampler and steps and
at the alternatives, against a 1024x1024x1024 fp32 matmul timed in the same run (this VM's speed
varies by a third between sessions, so the ratio is the figure to compare across runs).

    python -m benchmarks.generation [--checkpoint release] [--repeats 5] [--json FILE]

Run it on an idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import json

import torch

from benchmarks.speed import time_it
from vidgen.diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, EVAL_SAMPLER, EVAL_STEPS
from vidgen.pipeline import load_pipeline
from vidgen.shipped import DEFAULT_MODEL, SHIPPED_MODELS

SETTINGS = ((DEFAULT_SAMPLER, DEFAULT_STEPS), ("dpm++2m", 10), ("dpm++2m", 20), ("ddim", 20), (EVAL_SAMPLER, EVAL_STEPS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=DEFAULT_MODEL, help=f"a shipped model ({', '.join(SHIPPED_MODELS)}) or a directory (default {DEFAULT_MODEL})")
    ap.add_argument("--prompt", default="HELLO")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, max(20, args.repeats * 4), warmup=3)
    pipe = load_pipeline(args.checkpoint)
    guidance = pipe.default_guidance
    results = {"threads": torch.get_num_threads(), "checkpoint": args.checkpoint, "prompt": args.prompt,
               "guidance": guidance, "matmul_1024_fp32_ms": round(1000 * matmul_s, 2), "default": f"{DEFAULT_SAMPLER} {DEFAULT_STEPS}"}
    rows = []
    for sampler, steps in SETTINGS:
        s = time_it(lambda: pipe.generate(args.prompt, steps=steps, sampler=sampler, guidance_scale=guidance, seed=0),
                           args.repeats)
        rows.append({"sampler": sampler, "steps": steps, "seconds": round(s, 3), "ms_per_step": round(1000 * s / steps, 1),
                     "matmuls": round(s / matmul_s, 1)})
    results["generation"] = rows
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
