"""Compare training recipes (prediction type, schedule, loss weighting, lr, batch) at an equal
number of training steps (or an equal wall-clock budget), by the validation error in x0 space,
which is comparable across eps and v prediction.

    python -m benchmarks.recipe --preset tiny --steps 1500 --out docs/recipe.md

Equal steps make the comparison independent of what else the machine is doing.

Each recipe is `prediction-schedule-weighting[-lrX][-bsN]`, e.g. `v-cosine-min_snr-lr1e-3-bs16`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from vidgen.config import DiffusionConfig, get_preset
from vidgen.train import Trainer

DEFAULT = "eps-linear-none,v-linear-none,eps-cosine-none,v-cosine-none,eps-cosine-min_snr,v-cosine-min_snr"


def parse_recipe(name: str, base):
    parts = name.split("-")
    if len(parts) < 3:
        raise ValueError(f"recipe {name!r}: expected prediction-schedule-weighting[-lrX][-bsN]")
    diff = DiffusionConfig(schedule=parts[1], prediction=parts[0])
    train = dataclasses.replace(base.train, loss_weighting=parts[2])
    for extra in parts[3:]:
        if extra.startswith("lr"):
            train = dataclasses.replace(train, lr=float(extra[2:]))
        elif extra.startswith("bs"):
            train = dataclasses.replace(train, batch_size=int(extra[2:]))
        else:
            raise ValueError(f"recipe {name!r}: unknown part {extra!r}")
    return diff, dataclasses.replace(train, val_every=0, ckpt_every=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=1500, help="training steps per recipe")
    ap.add_argument("--budget", type=float, default=None, help="or: seconds of training per recipe")
    ap.add_argument("--recipes", default=DEFAULT)
    ap.add_argument("--out", default=None, help="markdown table to write")
    args = ap.parse_args()
    base = get_preset(args.preset)
    rows = []
    for name in args.recipes.split(","):
        diff, train = parse_recipe(name, base)
        with tempfile.TemporaryDirectory() as tmp:
            tr = Trainer(base.model, diff, train, tmp, preset_name=args.preset)
            t0 = time.time()
            tr.fit(max_steps=args.steps if args.budget is None else 10**9, time_budget=args.budget, progress=False)
            val = tr.validation_loss()
        rows.append({"recipe": name, "steps": tr.step, "samples": tr.samples_seen, "seconds": round(time.time() - t0),
                     "val_x0_mse": round(val["val_x0_mse"], 5)})
        print(json.dumps(rows[-1]), flush=True)
    best = min(rows, key=lambda r: r["val_x0_mse"])
    how = f"{args.steps} steps" if args.budget is None else f"{args.budget:.0f} s"
    flag = f"--steps {args.steps}" if args.budget is None else f"--budget {args.budget:.0f}"
    lines = [f"Recipes on preset `{args.preset}`, {how} of training each (batch {base.train.batch_size}), {torch.get_num_threads()} thread(s).",
             f"Command: `python -m benchmarks.recipe --preset {args.preset} {flag} --recipes {args.recipes}`", "",
             "| recipe | steps | samples | validation x0 MSE (EMA) |", "|---|---|---|---|"]
    lines += [f"| {r['recipe']}{' (best)' if r is best else ''} | {r['steps']} | {r['samples']} | {r['val_x0_mse']} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
