"""Where factorising space and time pays off: attention FLOPs, score memory and forward time of
each variant as the video grows (more frames, larger frames), at the `small-*` presets' widths.

    python -m benchmarks.attention_cost [--size small] [--variants full,gentron,...] [--measure-up-to 4096]
                                           [--out docs/attention_cost.md] [--json FILE]

The analytic columns are exact (tests/test_variants.py checks them against torch's FLOP counter);
forward ms is wall-clock for one video, batch 1, no grad: run it on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch

from vidgen.evaluation.compare import DEFAULT_VARIANTS, preset_for
from vidgen.evaluation.cost import cost_markdown, cost_table
from vidgen.presets import get_preset

SIZES = [(16, 32), (32, 32), (64, 32), (16, 64), (32, 64), (64, 64)]  # (frames, height = width)


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=("tiny", "small"), default="small")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    p.add_argument("--measure-up-to", type=int, default=4096, help="time the forward pass up to this many tokens")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true", help="autocast to bfloat16 as the pipeline does on bf16 hardware")
    p.add_argument("--out", default=None, help="write the markdown table here")
    p.add_argument("--json", default=None, help="write the rows here")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    configs = {v: get_preset(preset_for(v, args.size)).model for v in args.variants.split(",")}
    rows = cost_table(configs, SIZES, measure_up_to=args.measure_up_to, repeats=args.repeats, device=args.device,
                      bf16=args.bf16, progress=lambda r: print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})))
    table = cost_markdown(rows)
    print(table)
    machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(f"# Attention cost as the video grows\n\nMeasured on {machine}, device {args.device}.\n\n{table}\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
