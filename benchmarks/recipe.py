"""Compare training recipes (prediction type, schedule, loss weighting, learning rate, batch, EMA
decay, guidance dropout) at an equal number of training steps, an equal number of samples or an
equal wall-clock budget, by the validation error in x0 space, which is comparable across eps and v
prediction. Each row also scores the guided prediction (classifier-free guidance at --guidance),
which is what sampling uses and what guidance dropout exists for.

    python -m benchmarks.recipe --preset tiny --steps 1500 --out docs/recipe.md
    python -m benchmarks.recipe --preset tiny --samples 12000 --recipes v-cosine-min_snr-bs4,v-cosine-min_snr-bs16

Equal steps (or samples) make the comparison independent of what else the machine is doing.

Each recipe is `prediction-schedule-weighting[-lrX][-bsN][-emaX][-nowarm][-gdropX][-seedN]`, e.g.
`v-cosine-min_snr-lr1e-3-bs16-ema0.99-gdrop0.2` (nowarm: no EMA warm-up, the
decay is emaX from the first step; gdrop: guidance dropout, the probability of training with the null prompt;
seed: the data, noise and initialisation seed, for the run-to-run spread).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from vidgen.presets import get_preset
from vidgen.training.recipe_names import parse_recipe
from vidgen.training.trainer import Trainer

DEFAULT = "eps-linear-none,v-linear-none,eps-cosine-none,v-cosine-none,eps-cosine-min_snr,v-cosine-min_snr"


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=1500, help="training steps per recipe")
    ap.add_argument("--samples", type=int, default=None, help="or: training samples per recipe (steps = samples / batch)")
    ap.add_argument("--budget", type=float, default=None, help="or: seconds of training per recipe")
    ap.add_argument("--guidance", type=float, default=3.0, help="guidance scale of the guided score")
    ap.add_argument("--recipes", default=DEFAULT)
    ap.add_argument("--out", default=None, help="markdown table to write")
    return ap


def main():
    ap = build_parser()
    args = ap.parse_args()
    base = get_preset(args.preset)
    rows = []
    for name in args.recipes.split(","):
        diff, train = parse_recipe(name, base)
        with tempfile.TemporaryDirectory() as tmp:
            tr = Trainer(base.model, diff, train, tmp, preset_name=args.preset)
            t0 = time.time()
            steps = args.steps if args.samples is None else max(1, args.samples // train.batch_size)
            tr.fit(max_steps=steps if args.budget is None else 10**9, time_budget=args.budget, progress=False)
            seconds = time.time() - t0
            val = tr.validation_loss()
            guided = tr.validation_loss(guidance_scale=args.guidance)["val_x0_mse"]
        rows.append({"recipe": name, "steps": tr.step, "samples": tr.samples_seen, "seconds": round(seconds),
                     "val_x0_mse": round(val["val_x0_mse"], 5), "guided_x0_mse": round(guided, 5)})
        print(json.dumps(rows[-1]), flush=True)
    best = min(rows, key=lambda r: r["val_x0_mse"])
    if args.budget is not None:
        how, flag = f"{args.budget:.0f} s", f"--budget {args.budget:.0f}"
    elif args.samples is not None:
        how, flag = f"{args.samples} samples", f"--samples {args.samples}"
    else:
        how, flag = f"{args.steps} steps", f"--steps {args.steps}"
    lines = [f"Recipes on preset `{args.preset}`, {how} of training each (batch {base.train.batch_size} unless the recipe "
             f"says -bsN), {torch.get_num_threads()} thread(s).",
             f"Command: `python -m benchmarks.recipe --preset {args.preset} {flag} --guidance {args.guidance:g} --recipes {args.recipes}`", "",
             f"| recipe | steps | samples | seconds | validation x0 MSE (EMA) | guided x0 MSE (scale {args.guidance:g}) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['recipe']}{' (best)' if r is best else ''} | {r['steps']} | {r['samples']} | {r['seconds']} | "
              f"{r['val_x0_mse']} | {r['guided_x0_mse']} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
