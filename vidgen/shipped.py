"""The models that ship with vidgen, by name: the one place that says what each name means, where its
files are, how the app is pointed elsewhere, and how to train it again. The pipeline, the CLI and the
app all resolve names here.

The release and the blog's model are the motion world's (text moving any way, at any speed and size:
vidgen.data.world). "release-fast" is the release's guidance-distilled student (one network pass a sampling step
instead of two: vidgen.training.distill), and "release-2step" that student distilled progressively to 2 DDIM
steps (2 network passes a video): the default. The scroll world's (one right-to-left scroll a prompt, the shipped
models until 2026-11-30) stay loadable as "scroll-release" and "scroll-blog".
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .paths import CHECKPOINTS_DIR


@dataclass(frozen=True)
class ShippedModel:
    name: str  # what a user types: load_pipeline(name), --checkpoint name, the app's model="name"
    directory: Path  # the release directory in checkpoints/
    title: str  # how the app names it
    env: str  # the environment variable that points the app at another directory for it
    option: str  # app.py's option that does the same (Settings field; --checkpoint, --blog-checkpoint)
    preset: str  # the recipe it was trained with (vidgen.presets)
    commands: tuple[str, ...]  # the command lines that train and export it again (checkpoints/README.md)
    world: str = "scroll"  # the world it was trained in (vidgen.data.world): which reader and report measure it


# how the release is trained, and its distilled students after it (each list continues the one before)
RELEASE_COMMANDS = ("python -m vidgen train --preset motion-template --out runs/motion-release",
                    "python -m vidgen export --checkpoint runs/motion-release --out checkpoints/release --guidance 3 --best")
FAST_COMMANDS = RELEASE_COMMANDS + (
    "python -m vidgen distill --teacher checkpoints/release --out runs/release-distill --threads 1 --time-budget 3000",
    "python -m vidgen export --checkpoint runs/release-distill --out checkpoints/release-fast")
TWO_STEP_COMMANDS = FAST_COMMANDS + (
    "python -m vidgen distill --kind progressive --teacher checkpoints/release-fast --student-steps 3 --steps 400 "
    "--out runs/release-pd3 --threads 1 --precision bf16 --time-budget 1300",
    "python -m vidgen export --checkpoint runs/release-pd3 --out runs/release-pd3-release --guidance 3",
    "python -m vidgen distill --kind progressive --teacher runs/release-pd3-release --student-steps 2 --steps 400 "
    "--out runs/release-pd2 --threads 1 --precision bf16 --time-budget 1200",
    # continued in two later sittings: to 1400 steps on one thread, then to 2200 on two (PSNR 1.0-1.3 dB
    # below the reference at 350 steps, 0.76-1.00 at 1400, 0.66-0.86 at 2200: docs/sampling.md)
    "python -m vidgen distill --kind progressive --teacher runs/release-pd3-release --out runs/release-pd2 --resume "
    "--steps 1400 --threads 1 --time-budget 3900",
    "python -m vidgen distill --kind progressive --teacher runs/release-pd3-release --out runs/release-pd2 --resume "
    "--steps 2200 --threads 2 --time-budget 1500",
    "python -m vidgen export --checkpoint runs/release-pd2 --out checkpoints/release-2step --guidance 3")

LONG_COMMANDS = RELEASE_COMMANDS + (
    # fine-tuned from the release; the first sitting was stopped at step 1662 (a signal: it saves and exits), and the
    # second ends the cosine at 2300 steps (both resume exactly: the data is a function of the step)
    "python -m vidgen train --preset motion-long --out runs/long --max-steps 1662 --lr-decay-steps 3600",
    "python -m vidgen train --preset motion-long --out runs/long --resume --max-steps 2300 --lr-decay-steps 2300",
    # then told the pixel each glyph is drawn at (layout_pen "drawn"), from those weights (docs/long.md)
    "python -m vidgen train --preset motion-long-drawn --out runs/long-drawn --init-from runs/long",
    "python -m vidgen export --checkpoint runs/long-drawn --out checkpoints/long --guidance 3 --long-method splice --long-steps 6")

# the latent release: its VAE, then the release's network fine-tuned on the VAE's latents (docs/latent.md)
LATENT_COMMANDS = RELEASE_COMMANDS + (
    "python -m vidgen train-vae --preset frame --out runs/vae-frame --steps 6000 --minutes 75 --threads 1",
    "python -m vidgen export-vae --run-dir runs/vae-frame --out checkpoints/vae-frame",
    "python -m vidgen train --preset motion-latent --out runs/motion-latent --precision fp32",
    # then told the pixel each glyph is drawn at (layout_pen "drawn"), from those weights: 2000 steps, then on to 3200
    # on a longer cosine (resumed exactly; docs/latent.md)
    "python -m vidgen train --preset motion-latent-drawn --out runs/latent-drawn --init-from runs/motion-latent --precision fp32",
    "python -m vidgen train --preset motion-latent-drawn --out runs/latent-drawn --resume --max-steps 3200 --lr-decay-steps 3200",
    "python -m vidgen export --checkpoint runs/latent-drawn --out checkpoints/latent --guidance 2 --best")

# the 64x64 world's latent model: its VAE (space / 8), then the release's network fine-tuned on its latents
LATENT64_COMMANDS = RELEASE_COMMANDS + (
    "python -m vidgen train-vae --preset frame-64 --out runs/vae-frame-64 --steps 4000 --minutes 80 --threads 1",
    "python -m vidgen export-vae --run-dir runs/vae-frame-64 --out checkpoints/vae-frame-64",
    "python -m vidgen train --preset motion-latent-64 --out runs/motion-latent-64 --precision fp32 --time-budget 2700",
    "python -m vidgen export --checkpoint runs/motion-latent-64 --out runs/latent64-teacher --guidance 3 --best",
    # then distilled as the default is (TWO_STEP_COMMANDS), in fp32 on two threads, in its latent: guidance first (the
    # shipped run read the teacher from its earlier place, checkpoints/latent-64, and was stopped by its budget and
    # resumed twice with the same arguments; the teacher's sha256 is in the config)
    "python -m vidgen distill --teacher runs/latent64-teacher --out runs/latent64-distill --precision fp32 --time-budget 2700",
    "python -m vidgen distill --teacher runs/latent64-teacher --out runs/latent64-distill --precision fp32 --resume --time-budget 2700",
    "python -m vidgen export --checkpoint runs/latent64-distill --out runs/latent64-fast --guidance 3",
    "python -m vidgen distill --kind progressive --teacher runs/latent64-fast --student-steps 3 --steps 400 "
    "--out runs/latent64-pd3 --precision fp32 --threads 2 --time-budget 1500",
    "python -m vidgen export --checkpoint runs/latent64-pd3 --out runs/latent64-pd3-release --guidance 3",
    "python -m vidgen distill --kind progressive --teacher runs/latent64-pd3-release --student-steps 2 --steps 1000 "
    "--out runs/latent64-pd2 --precision fp32 --threads 2 --time-budget 2400",
    "python -m vidgen export --checkpoint runs/latent64-pd2 --out checkpoints/latent-64 --guidance 3")

SHIPPED_MODELS: dict[str, ShippedModel] = {
    "release": ShippedModel(
        name="release", directory=CHECKPOINTS_DIR / "release", title="Release", env="VIDGEN_CHECKPOINT", option="checkpoint",
        preset="motion-template", commands=RELEASE_COMMANDS, world="motion"),
    "blog": ShippedModel(
        name="blog", directory=CHECKPOINTS_DIR / "blog", title="The blog's model", env="VIDGEN_BLOG_CHECKPOINT",
        option="blog_checkpoint",
        preset="motion-learned",
        commands=("OMP_NUM_THREADS=1 python -m vidgen train --preset motion-learned --out runs/motion-blog",
                  "python -m vidgen export --checkpoint runs/motion-blog --out runs/motion-blog-release --guidance 3 --best",
                  "python -m vidgen refit-layout --model runs/motion-blog-release --out checkpoints/blog"),
        world="motion"),
    "release-fast": ShippedModel(
        name="release-fast", directory=CHECKPOINTS_DIR / "release-fast", title="Release, guidance distilled",
        env="VIDGEN_FAST_CHECKPOINT", option="fast_checkpoint",
        preset="motion-template", commands=FAST_COMMANDS, world="motion"),
    "release-2step": ShippedModel(
        name="release-2step", directory=CHECKPOINTS_DIR / "release-2step", title="Release in 2 steps",
        env="VIDGEN_2STEP_CHECKPOINT", option="two_step_checkpoint",
        preset="motion-template", commands=TWO_STEP_COMMANDS, world="motion"),
    "scroll-release": ShippedModel(
        name="scroll-release", directory=CHECKPOINTS_DIR / "scroll-release", title="Release of the scroll world",
        env="VIDGEN_SCROLL_CHECKPOINT", option="scroll_checkpoint",
        preset="small-fast-template",
        commands=("python -m vidgen train --preset small-fast-template --out runs/fast_template",
                  "python -m vidgen export --checkpoint runs/fast_template --out checkpoints/scroll-release --guidance 3 --best")),
    "scroll-blog": ShippedModel(
        name="scroll-blog", directory=CHECKPOINTS_DIR / "scroll-blog", title="The blog's model of the scroll world",
        env="VIDGEN_SCROLL_BLOG_CHECKPOINT", option="scroll_blog_checkpoint",
        preset="small-fast-learned",
        commands=("OMP_NUM_THREADS=1 python -m vidgen train --preset small-fast-learned --out runs/blog_learned --time-budget 3600",
                  "python -m vidgen export --checkpoint runs/blog_learned --out checkpoints/scroll-blog --guidance 3 --best")),
    "latent": ShippedModel(
        name="latent", directory=CHECKPOINTS_DIR / "latent", title="Latent release (per-frame VAE, space / 4)",
        env="VIDGEN_LATENT_CHECKPOINT", option="latent_checkpoint", preset="motion-latent-drawn", commands=LATENT_COMMANDS,
        world="motion"),
    "latent-64": ShippedModel(
        name="latent-64", directory=CHECKPOINTS_DIR / "latent-64", title="Latent model of the 64x64 world (space / 8, 2 steps)",
        env="VIDGEN_LATENT64_CHECKPOINT", option="latent64_checkpoint", preset="motion-latent-64", commands=LATENT64_COMMANDS,
        world="motion"),
    "long": ShippedModel(
        name="long", directory=CHECKPOINTS_DIR / "long", title="Long videos (16-128 frames, sentences)",
        env="VIDGEN_LONG_CHECKPOINT", option="long_checkpoint", preset="motion-long-drawn", commands=LONG_COMMANDS, world="motion"),
}


@dataclass(frozen=True)
class ShippedVAE:
    """A video autoencoder that ships (vidgen.latent): what a latent model's training config names as its `vae`."""

    name: str
    directory: Path
    title: str
    preset: str  # vidgen.latent.config.VAE_PRESETS
    commands: tuple[str, ...]


SHIPPED_VAES: dict[str, ShippedVAE] = {
    "vae-frame": ShippedVAE(
        name="vae-frame", directory=CHECKPOINTS_DIR / "vae-frame", title="Per-frame 2D VAE (space / 4)", preset="frame",
        commands=("python -m vidgen train-vae --preset frame --out runs/vae-frame --steps 6000 --minutes 75 --threads 1",
                  "python -m vidgen export-vae --run-dir runs/vae-frame --out checkpoints/vae-frame")),
    "vae-causal": ShippedVAE(
        name="vae-causal", directory=CHECKPOINTS_DIR / "vae-causal", title="Temporal causal 3D VAE (space / 4, time / 4)",
        preset="causal",
        commands=("python -m vidgen train-vae --preset causal --out runs/vae-causal --steps 6000 --minutes 70 --threads 1",
                  "python -m vidgen export-vae --run-dir runs/vae-causal --out checkpoints/vae-causal")),
    "vae-frame-64": ShippedVAE(
        name="vae-frame-64", directory=CHECKPOINTS_DIR / "vae-frame-64", title="Per-frame 2D VAE of the 64x64 world (space / 8)",
        preset="frame-64",
        commands=("python -m vidgen train-vae --preset frame-64 --out runs/vae-frame-64 --steps 4000 --minutes 80 --threads 1",
                  "python -m vidgen export-vae --run-dir runs/vae-frame-64 --out checkpoints/vae-frame-64")),
}


def resolve_vae_path(path) -> Path:
    """A VAE release directory, or the name of a shipped VAE where no such directory exists."""
    path = Path(path)
    if str(path) in SHIPPED_VAES and not path.exists():
        return SHIPPED_VAES[str(path)].directory
    return path


SCROLL_MODELS = tuple(n for n, m in SHIPPED_MODELS.items() if m.world == "scroll")  # measured by `report`
MOTION_MODELS = tuple(n for n, m in SHIPPED_MODELS.items() if m.world == "motion")  # measured by `world-report`
# What loads when nothing is named (the CLI, load_pipeline(), the app's page and API): the layout-guided release
# distilled to 2 DDIM steps, 2 network passes a video (docs/sampling.md: its readability and PSNR against the
# release's 50-step DDIM). The release itself, its teacher, is one choice away and still the full-step model.
DEFAULT_MODEL = "release-2step"
LONG_MODEL = "long"  # what makes every video longer than 16 frames, or of a sentence: the default pipeline hands them to it
TEACHER_MODEL = "release"  # the full-step model: the app falls back to it, and its Compare tab and examples start from it
DEFAULT_ORDER = (DEFAULT_MODEL, TEACHER_MODEL)  # the app's default is the first of these it serves


def served_default(served) -> str:
    """The default model of an app serving the names in `served`: the first of DEFAULT_ORDER it serves (the 2-step
    student, else its teacher), else DEFAULT_MODEL (whose requests then say it could not be loaded)."""
    return next((name for name in DEFAULT_ORDER if name in served), DEFAULT_MODEL)


def shipped_model(name: str) -> ShippedModel:
    """The shipped model called `name`; unknown names raise with the known ones."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(SHIPPED_MODELS)}")
    return SHIPPED_MODELS[name]


def resolve_model_path(path=None) -> Path:
    """A checkpoint directory, or the name of a shipped model where no such directory exists; None is
    the default model."""
    if path is None:
        return SHIPPED_MODELS[DEFAULT_MODEL].directory
    path = Path(path)
    if str(path) in SHIPPED_MODELS and not path.exists():
        return SHIPPED_MODELS[str(path)].directory
    return path


def served_directory(name: str, override: str | os.PathLike | None = None, environ=None) -> Path:
    """The directory the app serves as model `name`: `override` (its command line), else the model's
    environment variable, else the shipped directory."""
    model = shipped_model(name)
    environ = os.environ if environ is None else environ
    if override:
        return Path(override)
    if environ.get(model.env):
        return Path(environ[model.env])
    return model.directory
