"""The binding recipes side by side (docs/binding.md): train each for one wall-clock budget, then read
back what it draws, its validation loss and its probes' attention alignment, and print the table.

    python -m benchmarks.binding --out runs/binding --budget 600            # train, evaluate, probe, table
    python -m benchmarks.binding --out runs/binding --budget 600 --table    # the table of what is there
    python -m benchmarks.binding --layout-of checkpoints/scroll-blog               # how right a model's own layout is

Each recipe trains with one torch thread (run two at once on the 2-core CPU, or alone for an idle
figure: the wall-clock budget is only fair between runs that shared the machine alike). A recipe
whose run, evaluation or probe is already in --out is reused, so an interrupted comparison continues.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

RECIPES = {  # name -> preset (vidgen/presets.py); all keep the blog's inference: prompt tokens in, video out
    "plain": "small",  # the blog's network, nothing added (at the template presets' batch 16 via --batch-size)
    "learned": "small-learned",  # predicts its own glyph layout
    "attnsup": "small-attnsup",  # cross-attention supervised by the renderer's per-patch labels
    "curriculum": "small-curriculum",  # short prompts first
}


def run(cmd: list[str], log: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "vidgen", *cmd], check=True, stdout=f, stderr=subprocess.STDOUT, env=env)


def measure(name: str, out: Path, budget: float, eval_n: int) -> None:
    run_dir, report, probe = out / "runs" / name, out / "eval" / name, out / "probe" / name
    out.joinpath("logs").mkdir(parents=True, exist_ok=True)
    if not (run_dir / "ema.safetensors").exists():
        run(["train", "--preset", RECIPES[name], "--out", str(run_dir), "--time-budget", str(budget), "--batch-size", "16",
             "--no-progress"], out / "logs" / f"{name}_train.log")
    if not (report / "report.json").exists():
        run(["eval", "--checkpoint", str(run_dir), "--split", "val", "--n", str(eval_n), "--steps", "50", "--out", str(report),
             "--no-progress"], out / "logs" / f"{name}_eval.log")
    if not (probe / "summary.json").exists():
        run(["probe", "--checkpoint", str(run_dir), "--out", str(probe), "--align-prompts", "16", "--loss-prompts", "4",
             "--steps", "25"], out / "logs" / f"{name}_probe.log")


def validation_loss(run_dir: Path) -> float:
    """The EMA weights' validation loss on the trainer's fixed 256 prompts, noise levels and noise."""
    import torch

    from vidgen.training.trainer import Trainer

    torch.set_num_threads(1)
    trainer = Trainer(None, None, None, run_dir, resume=True)
    return trainer.validation_loss()["val_loss"]


def row(name: str, out: Path) -> dict | None:
    run_dir, report, probe = out / "runs" / name, out / "eval" / name, out / "probe" / name
    if not (report / "report.json").exists():
        return None
    ev = json.loads((report / "report.json").read_text())
    overall = ev["aggregate"]["overall"]
    state = json.loads((run_dir / "train_state.json").read_text())
    attention = json.loads((probe / "summary.json").read_text()).get("attention", {}) if (probe / "summary.json").exists() else {}
    return {"recipe": name, "preset": RECIPES[name], "steps": state["step"], "samples": state["samples_seen"],
            "train_s": state["train_seconds"], "n": ev["n"], "exact": overall["exact"], "cer": overall["cer"],
            "psnr": overall["psnr"], "speed_err": overall["speed_abs_error"], "val_loss": validation_loss(run_dir),
            "alignment": attention.get("data_alignment")}


def layout_accuracy(checkpoint: str) -> dict:
    """A "learned" model's predicted layout against the renderer's on the 2000 validation prompts:
    share of (frame, column) cells given the right glyph, how many wrong cells hold the glyph of the
    column beside them (an edge one column off), share of prompts with every cell right, and the most
    cells any one prompt gets wrong."""
    import torch

    from vidgen.data.layout import slot_batch
    from vidgen.data.prompts import SplitConfig, validation_prompts
    from vidgen.pipeline import load_pipeline

    pipe = load_pipeline(checkpoint)
    ids = pipe.encode(list(validation_prompts(SplitConfig())))
    slot, _ = pipe.model.predicted_layout(ids)
    true = slot_batch(ids)  # (B, F, W)
    right = slot == true
    beside = (slot[..., :-1] == true[..., 1:]) & ~right[..., :-1]  # wrong, and the glyph one column to the right
    beside = torch.nn.functional.pad(beside, (0, 1)) | torch.nn.functional.pad((slot[..., 1:] == true[..., :-1]) & ~right[..., 1:], (1, 0))
    return {"prompts": len(ids), "cells_right": float(right.float().mean()),
            "wrong_cells": int((~right).sum()), "wrong_cells_holding_a_neighbours_glyph": int(beside.sum()),
            "prompts_all_right": float(right.flatten(1).all(1).float().mean()),
            "most_wrong_in_a_prompt": int((~right).flatten(1).sum(1).max()), "cells_per_prompt": right[0].numel()}


def table(rows: list[dict]) -> str:
    head = ("| recipe | preset | steps | samples | train s | sentence acc (n) | CER | PSNR dB | speed err px/frame "
            "| val loss (EMA) | attention alignment |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['recipe']} | `{r['preset']}` | {r['steps']} | {r['samples']} | {r['train_s']:.0f} | {100 * r['exact']:.1f}% ({r['n']}) "
        f"| {r['cer']:.3f} | {r['psnr']:.2f} | {r['speed_err']:.2f} | {r['val_loss']:.4f} | {_or_dash(r['alignment'])} |\n"
        for r in rows)
    return head + body


def _or_dash(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="folder for the runs, evaluations, probes and logs")
    p.add_argument("--budget", type=float, default=600.0, help="training seconds (wall clock) per recipe")
    p.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, from: {', '.join(RECIPES)}")
    p.add_argument("--eval-n", type=int, default=32, help="validation prompts read back per recipe")
    p.add_argument("--table", action="store_true", help="only print the table of the recipes already measured")
    p.add_argument("--json", default=None, help="also write the rows here")
    p.add_argument("--layout-of", default=None, metavar="CHECKPOINT",
                   help="instead: how right a learned-layout model's predicted layout is on the validation prompts")
    return p


def main(argv=None) -> None:
    p = build_parser()
    args = p.parse_args(argv)
    if args.layout_of:
        print(json.dumps(layout_accuracy(args.layout_of), indent=1))
        return
    if not args.out:
        p.error("--out is required (unless --layout-of)")
    names = [n for n in args.recipes.split(",") if n]
    unknown = set(names) - set(RECIPES)
    if unknown:
        p.error(f"unknown recipes {sorted(unknown)}; known: {', '.join(RECIPES)}")
    out = Path(args.out)
    if not args.table:
        for name in names:
            measure(name, out, args.budget, args.eval_n)
    rows = [r for r in (row(n, out) for n in names) if r is not None]
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
