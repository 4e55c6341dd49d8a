"""Named recipes: a network, a diffusion process and a training run. The CLI, the app, the benchmarks
and the tests all read PRESETS; each name is written once, literally, in the table below.

Two network sizes (`tiny`, which trains in seconds for tests, and `small`, about the blog's larger
model on the CPU) and three training runs (`TINY_TRAIN`, `SMALL_TRAIN`, and `LAYOUT_TRAIN`, the
release's recipe: batch 16 learns more per sample on the CPU (docs/recipe.md), a cosine decay over
3600 steps and EMA snapshots every 250 steps to read what a run reaches along the way).

Suffixes: `-layout` is told the glyph layout (ModelConfig.layout = "glyph"); `-template` adds the
learned glyph template (template_dim = 8: a 4-pixel-tall band of one column needs only a few numbers);
`-learned` is the blog's interface predicting its own layout; `-attnsup` and `-curriculum` are the
binding recipes of docs/binding.md. `small-fast-*` have 4 blocks instead of 6 (docs/sampling.md);
`small-fast-template` is the scroll world's release recipe and `small-fast-learned` the shipped blog model's,
both with query-key normalisation, because the 6-block runs without it diverged (checkpoints/README.md).
`motion-template` (told the 2D layout, "glyph2d") and `motion-learned` (the blog's interface with a learned
layout and motion prior, "learned2d") are the same network in the motion world (docs/world.md); the
`tiny-motion*` presets train in seconds for tests.
Variants keep their base's width, heads and recipe, so `python -m vidgen compare` puts them side by
side at one budget; a SnapVideo block has about 3x a DiT block's weights, so it gets a third of the
depth, and the conv3d U-Net gets one residual block per level (two cost twice `small` per sample).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .data import tokenizer as tok
from .data.prompts import SplitConfig
from .data.shape import FRAMES, MAX_FRAMES
from .data.world import WorldConfig
from .diffusion.schedule import DiffusionConfig
from .models.config import ModelConfig
from .training.config import TrainConfig


@dataclass(frozen=True)
class Preset:
    model: ModelConfig
    diffusion: DiffusionConfig
    train: TrainConfig


def tiny(**fields) -> ModelConfig:
    """The tiny network: 4x8x8 patches (64 tokens), width 32, 2 blocks."""
    return ModelConfig(**{"patch": (4, 8, 8), "dim": 32, "depth": 2, "heads": 2, "text_layers": 1, **fields})


def small(**fields) -> ModelConfig:
    """The small network: 2x4x4 patches (512 tokens), width 128, 6 blocks (ModelConfig's defaults)."""
    return ModelConfig(**fields)


V_COSINE = DiffusionConfig()  # v prediction on the cosine schedule (docs/recipe.md)
TINY_TRAIN = TrainConfig(batch_size=8, warmup_steps=10, val_every=50, val_size=16, ckpt_every=50, log_every=10, max_steps=100)
SMALL_TRAIN = TrainConfig()
LAYOUT_TRAIN = TrainConfig(batch_size=16, lr_decay_steps=3600, max_steps=3600, val_every=250, ckpt_every=250, snapshot_every=250)
MOTION = WorldConfig(name="motion")
MOTION_TRAIN = replace(LAYOUT_TRAIN, world=MOTION, lr_decay_steps=2800, max_steps=2800)  # 1.19 s a step here: under 1 CPU-hour
LONG = replace(MOTION, frames=(FRAMES, MAX_FRAMES))  # windows of videos of 16 to 128 frames (vidgen.long)
LONG_TRAIN = replace(MOTION_TRAIN, world=LONG, split=SplitConfig(sentences=0.5), frame_noise="forcing", init_from="release",
                     lr=3e-4, warmup_steps=100, lr_decay_steps=4000, max_steps=4000)  # fine-tuned from the release
LONG_TUNE = replace(LONG_TRAIN, init_from="long", lr=1e-4, warmup_steps=20, lr_decay_steps=600, max_steps=600, val_every=200,
                    ckpt_every=100, snapshot_every=0)  # 600 more steps: seed 004's temporal term, its control; measured from the
# long model before the drawn pen (`--init-from runs/long`, its first stage: docs/long.md), not from the shipped one
# the latent release: the release's network on the per-frame VAE's latent (16 x 8 x 8 x 4; 2x1x1 patches: the same 512
# tokens, each over the same 2x4x4 pixels of glyph layout), fine-tuned from the release (all but the patch embedding
# and the output layer: docs/latent.md)
LATENT_NET = small(depth=4, qk_norm=True, layout="glyph2d", template_dim=8, channels=4, cell=4, height=8, width=8, patch=(2, 1, 1))
LATENT_TRAIN = replace(MOTION_TRAIN, vae="vae-frame", init_from="release", lr=5e-4, warmup_steps=100, lr_decay_steps=1500,
                       max_steps=1500, snapshot_every=0)
# the 64x64 world's latent model: the same network on the 64x64 VAE's latent (16 x 8 x 8 x 8: space / 8), so the same 512
# tokens, each over the same 2x4x4 world pixels of glyph layout (8x8 video pixels), fine-tuned from the release too
LATENT64_NET = replace(LATENT_NET, channels=8)
LATENT64_TRAIN = replace(LATENT_TRAIN, vae="vae-frame-64", world=replace(MOTION, scale=2), snapshot_every=250)
# the latent release told where the renderer draws each glyph (layout_pen "drawn"): the shipped `latent` was fine-tuned
# so from its first stage (`--init-from runs/motion-latent`, vidgen.shipped.LATENT_COMMANDS); every tensor fits, only
# the layout it is told moves by up to half a pixel. Without --init-from it continues from the shipped `latent`
LATENT_DRAWN_NET = replace(LATENT_NET, layout_pen="drawn")
LATENT_DRAWN_TRAIN = replace(LATENT_TRAIN, init_from="latent", lr=3e-4, warmup_steps=50, lr_decay_steps=2000, max_steps=2000,
                             val_every=250, ckpt_every=100)
# the release told where the renderer draws each glyph, fine-tuned from the release (docs/world.md)
RELEASE_DRAWN_TRAIN = replace(MOTION_TRAIN, init_from="release", lr=2e-4, warmup_steps=50, lr_decay_steps=1200, max_steps=1200,
                              ckpt_every=100, snapshot_every=0, val_every=300)
LONG_NET = small(depth=4, qk_norm=True, layout="glyph2d", template_dim=8, prompt_len=tok.LONG_PROMPT_SLOTS, temporal="causal")
# the long model told where the renderer draws each glyph (layout_pen "drawn": the pixel, not the fractional pen
# position up to half a pixel away), fine-tuned from the shipped long model (docs/long.md)
LONG_DRAWN_NET = replace(LONG_NET, layout_pen="drawn")
LONG_DRAWN_TRAIN = replace(LONG_TRAIN, init_from="long", lr=2e-4, warmup_steps=50, lr_decay_steps=1800, max_steps=1800,
                           val_every=300, ckpt_every=100, snapshot_every=0)

PRESETS: dict[str, Preset] = {
    # the networks and their recipes
    "tiny": Preset(tiny(), V_COSINE, TINY_TRAIN),
    "small": Preset(small(), V_COSINE, SMALL_TRAIN),
    "small-blog": Preset(small(rope=False, conv_mlp=False, text_layers=0),  # the blog's recipe as it was
                         DiffusionConfig(schedule="linear", prediction="eps"), TrainConfig(loss_weighting="none")),
    "base": Preset(small(dim=384, depth=12, heads=6), V_COSINE,  # for a GPU
                   TrainConfig(batch_size=128, lr=5e-4, max_steps=100_000, val_every=2000, ckpt_every=2000)),
    # the shipped models' recipes
    "small-fast-template": Preset(small(depth=4, qk_norm=True, layout="glyph", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    "motion-template": Preset(small(depth=4, qk_norm=True, layout="glyph2d", template_dim=8), V_COSINE, MOTION_TRAIN),
    "motion-template-drawn": Preset(small(depth=4, qk_norm=True, layout="glyph2d", template_dim=8, layout_pen="drawn"), V_COSINE,
                                    RELEASE_DRAWN_TRAIN),
    "motion-learned": Preset(small(depth=4, qk_norm=True, layout="learned2d", template_dim=8), V_COSINE,
                             replace(MOTION_TRAIN, prior_motions=3, lr_decay_steps=1800, max_steps=1800)),
    "motion-latent": Preset(LATENT_NET, V_COSINE, LATENT_TRAIN),
    "motion-latent-64": Preset(LATENT64_NET, V_COSINE, LATENT64_TRAIN),
    "motion-latent-drawn": Preset(LATENT_DRAWN_NET, V_COSINE, LATENT_DRAWN_TRAIN),
    "motion-long": Preset(LONG_NET, V_COSINE, LONG_TRAIN),
    "motion-long-tune": Preset(LONG_NET, V_COSINE, LONG_TUNE),  # the control of the next: the same steps without the term
    "motion-long-temporal": Preset(LONG_NET, V_COSINE, replace(LONG_TUNE, temporal_loss=1.0)),  # docs/long.md
    "motion-long-drawn": Preset(LONG_DRAWN_NET, V_COSINE, LONG_DRAWN_TRAIN),
    "tiny-motion-long": Preset(tiny(layout="glyph2d", template_dim=4, prompt_len=tok.LONG_PROMPT_SLOTS, temporal="causal"), V_COSINE,
                               replace(TINY_TRAIN, world=LONG, split=SplitConfig(sentences=0.5), frame_noise="forcing")),
    "tiny-motion-learned": Preset(tiny(layout="learned2d", template_dim=4), V_COSINE, replace(TINY_TRAIN, world=MOTION, prior_motions=1)),
    "tiny-motion": Preset(tiny(layout="glyph2d", template_dim=4), V_COSINE, replace(TINY_TRAIN, world=MOTION)),
    "tiny-motion-latent": Preset(tiny(layout="glyph2d", template_dim=4, channels=4, cell=4, height=8, width=8, patch=(4, 2, 2)),
                                 V_COSINE, replace(TINY_TRAIN, world=MOTION, vae="vae-frame")),
    "small-fast-learned": Preset(small(depth=4, qk_norm=True, layout="learned", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    "small-fast-layout": Preset(small(depth=4, layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    # told the glyph layout, with and without the template
    "tiny-layout": Preset(tiny(layout="glyph"), V_COSINE, TINY_TRAIN),
    "tiny-template": Preset(tiny(layout="glyph", template_dim=8), V_COSINE, TINY_TRAIN),
    "small-layout": Preset(small(layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    "small-template": Preset(small(layout="glyph", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    # the blog's interface with the binding recipes of docs/binding.md
    "tiny-learned": Preset(tiny(layout="learned", template_dim=8), V_COSINE, TINY_TRAIN),
    "small-learned": Preset(small(layout="learned", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    "tiny-attnsup": Preset(tiny(), V_COSINE, replace(TINY_TRAIN, attention_loss=0.1)),
    "small-attnsup": Preset(small(), V_COSINE, replace(LAYOUT_TRAIN, attention_loss=0.1)),
    "tiny-curriculum": Preset(tiny(), V_COSINE, replace(TINY_TRAIN, curriculum_steps=1500)),
    "small-curriculum": Preset(small(), V_COSINE, replace(LAYOUT_TRAIN, curriculum_steps=1500)),
    # the thesis's architectures (vidgen.models.VARIANTS)
    "tiny-gentron": Preset(tiny(variant="gentron"), V_COSINE, TINY_TRAIN),
    "tiny-latte": Preset(tiny(variant="latte", text_placement="spatial"), V_COSINE, TINY_TRAIN),
    "tiny-latte-between": Preset(tiny(variant="latte", text_placement="between"), V_COSINE, TINY_TRAIN),
    "tiny-latte-both": Preset(tiny(variant="latte", text_placement="both"), V_COSINE, TINY_TRAIN),
    "tiny-snapvideo": Preset(tiny(variant="snapvideo", depth=1, latents_per_group=8), V_COSINE, TINY_TRAIN),
    "tiny-conv3d": Preset(tiny(variant="conv3d"), V_COSINE, TINY_TRAIN),
    "small-gentron": Preset(small(variant="gentron"), V_COSINE, SMALL_TRAIN),
    "small-latte": Preset(small(variant="latte", text_placement="spatial"), V_COSINE, SMALL_TRAIN),
    "small-latte-between": Preset(small(variant="latte", text_placement="between"), V_COSINE, SMALL_TRAIN),
    "small-latte-both": Preset(small(variant="latte", text_placement="both"), V_COSINE, SMALL_TRAIN),
    "small-snapvideo": Preset(small(variant="snapvideo", depth=2), V_COSINE, SMALL_TRAIN),
    "small-conv3d": Preset(small(variant="conv3d", depth=3), V_COSINE, SMALL_TRAIN),
    # ... told the glyph layout
    "tiny-gentron-layout": Preset(tiny(variant="gentron", layout="glyph"), V_COSINE, TINY_TRAIN),
    "tiny-latte-layout": Preset(tiny(variant="latte", layout="glyph"), V_COSINE, TINY_TRAIN),
    "tiny-latte-between-layout": Preset(tiny(variant="latte", text_placement="between", layout="glyph"), V_COSINE, TINY_TRAIN),
    "tiny-latte-both-layout": Preset(tiny(variant="latte", text_placement="both", layout="glyph"), V_COSINE, TINY_TRAIN),
    "tiny-snapvideo-layout": Preset(tiny(variant="snapvideo", depth=1, latents_per_group=8, layout="glyph"), V_COSINE, TINY_TRAIN),
    "tiny-conv3d-layout": Preset(tiny(variant="conv3d", layout="glyph"), V_COSINE, TINY_TRAIN),
    "small-gentron-layout": Preset(small(variant="gentron", layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    "small-latte-layout": Preset(small(variant="latte", layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    "small-latte-between-layout": Preset(small(variant="latte", text_placement="between", layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    "small-latte-both-layout": Preset(small(variant="latte", text_placement="both", layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    "small-snapvideo-layout": Preset(small(variant="snapvideo", depth=2, layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    "small-conv3d-layout": Preset(small(variant="conv3d", depth=3, layout="glyph"), V_COSINE, LAYOUT_TRAIN),
    # ... and the template
    "tiny-gentron-template": Preset(tiny(variant="gentron", layout="glyph", template_dim=8), V_COSINE, TINY_TRAIN),
    "tiny-latte-template": Preset(tiny(variant="latte", layout="glyph", template_dim=8), V_COSINE, TINY_TRAIN),
    "tiny-latte-between-template": Preset(tiny(variant="latte", text_placement="between", layout="glyph", template_dim=8),
                                          V_COSINE, TINY_TRAIN),
    "tiny-latte-both-template": Preset(tiny(variant="latte", text_placement="both", layout="glyph", template_dim=8),
                                       V_COSINE, TINY_TRAIN),
    "tiny-snapvideo-template": Preset(tiny(variant="snapvideo", depth=1, latents_per_group=8, layout="glyph", template_dim=8),
                                      V_COSINE, TINY_TRAIN),
    "tiny-conv3d-template": Preset(tiny(variant="conv3d", layout="glyph", template_dim=8), V_COSINE, TINY_TRAIN),
    "small-gentron-template": Preset(small(variant="gentron", layout="glyph", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    "small-latte-template": Preset(small(variant="latte", layout="glyph", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    "small-latte-between-template": Preset(small(variant="latte", text_placement="between", layout="glyph", template_dim=8),
                                           V_COSINE, LAYOUT_TRAIN),
    "small-latte-both-template": Preset(small(variant="latte", text_placement="both", layout="glyph", template_dim=8),
                                        V_COSINE, LAYOUT_TRAIN),
    "small-snapvideo-template": Preset(small(variant="snapvideo", depth=2, layout="glyph", template_dim=8), V_COSINE, LAYOUT_TRAIN),
    "small-conv3d-template": Preset(small(variant="conv3d", depth=3, layout="glyph", template_dim=8), V_COSINE, LAYOUT_TRAIN),
}


def get_preset(name: str) -> Preset:
    """Look up a preset by name; unknown names raise with the list of known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]
