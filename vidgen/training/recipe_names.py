"""Training recipes named in one string, for ablation grids (benchmarks/recipe.py):
`prediction-schedule-weighting[-lrX][-bsN][-emaX][-nowarm][-gdropX][-seedN]`, e.g.
`v-cosine-min_snr-lr1e-3-bs16-ema0.99-gdrop0.2` (nowarm: no EMA warm-up; gdrop: the guidance dropout, the
probability of training with the null prompt; seed: the data, noise and initialisation seed). `-cfgX`, the
name of gdrop in the runs of docs/recipe.md, is still read as `-gdropX`."""
from __future__ import annotations

import dataclasses
import re

from ..diffusion.schedule import DiffusionConfig


def parse_recipe(name: str, base):
    """A recipe name on top of preset `base` -> (DiffusionConfig, TrainConfig without validation or checkpoints)."""
    parts = re.split(r"-(?=[a-z_])", name)  # a dash before a letter: "lr3e-4" stays one part
    if len(parts) < 3:
        raise ValueError(f"recipe {name!r}: expected prediction-schedule-weighting[-lrX][-bsN][-emaX][-nowarm][-gdropX][-seedN]")
    diff = DiffusionConfig(schedule=parts[1], prediction=parts[0])
    train = dataclasses.replace(base.train, loss_weighting=parts[2])
    for extra in parts[3:]:
        if extra.startswith("lr"):
            train = dataclasses.replace(train, lr=float(extra[2:]))
        elif extra.startswith("bs"):
            train = dataclasses.replace(train, batch_size=int(extra[2:]))
        elif extra.startswith("ema"):
            train = dataclasses.replace(train, ema_decay=float(extra[3:]))
        elif extra.startswith(("gdrop", "cfg")):  # cfg: its name before the rename
            train = dataclasses.replace(train, guidance_dropout=float(extra.removeprefix("gdrop").removeprefix("cfg")))
        elif extra == "nowarm":
            train = dataclasses.replace(train, ema_warmup=False)
        elif extra.startswith("seed"):
            train = dataclasses.replace(train, seed=int(extra[4:]))
        else:
            raise ValueError(f"recipe {name!r}: unknown part {extra!r}")
    return diff, dataclasses.replace(train, val_every=0, ckpt_every=0)
