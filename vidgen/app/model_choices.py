"""The models the app serves: loading them by name from the registry of shipped models, their labels,
and what to tell a visitor when one is missing."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..checkpoint import CONFIG_NAME, EMA_NAME, MODEL_NAME, CheckpointError
from ..diffusion.sampler import DEFAULT_GUIDANCE, GUIDANCE_RANGE
from ..latent.release import VAE_NAME
from ..pipeline import Pipeline, describe_precision, load_pipeline
from ..shipped import DEFAULT_MODEL, SHIPPED_MODELS, served_default


def model_kind(pipe: Pipeline) -> str:
    """'layout-guided', 'prompt only, learned layout' or 'prompt only' (its layout kind's label), and which
    world: 'scroll' (one motion per prompt) or 'any motion', and whether guidance is distilled into one pass a step
    (its steps are still a genuine denoising trajectory, each one network pass instead of two)."""
    kind = pipe.model.layout_kind.label
    kind = f"{kind}, any motion" if pipe.world.name == "motion" else kind
    if pipe.vae is not None:
        c, t, h, w = pipe.vae.cfg.latent_shape
        kind += f", latent diffusion ({pipe.vae.cfg.kind} VAE: {c} x {t} x {h} x {w})"
    if pipe.model.cfg.guidance_range is not None:
        lo, hi = pipe.model.cfg.guidance_range
        kind += f", guidance distilled: one pass a step, guidance {lo:g}-{hi:g}"
    if pipe.config.get("default_sampling"):
        sampler, steps = pipe.default_sampling
        kind += f", progressively distilled to {steps} {sampler.upper()} steps"
    return kind


def trajectory_note(pipe: Pipeline | None, name: str) -> str:
    """What the steps shown for model `name` are: a full-step model's genuine denoising trajectory, or a
    progressively distilled student's few jumps (whose teacher is the one to watch denoise)."""
    if pipe is None:
        return ""
    if pipe.config.get("default_sampling"):
        sampler, steps = pipe.default_sampling
        return (f"**Steps shown: the {name} model's own {steps} {sampler.upper()} steps**, a distilled shortcut: each "
                f"jumps as far as several of its teacher's steps (it was distilled to land where they land). "
                f"To watch a full denoising trajectory, choose the release.")
    passes = "one network pass" if pipe.model.cfg.guidance_range is not None else "two network passes (guided)"
    return f"**Steps shown: the {name} model's denoising trajectory**, {passes} a step, at any number of steps."


def model_choices(pipes: dict[str, Pipeline]) -> list[tuple[str, str]]:
    """(label, name) of each served model, for a radio button; the default first."""
    default = served_default(pipes)
    order = sorted(pipes, key=lambda name: name != default)  # stable: the rest keep the registry's order
    return [(f"{SHIPPED_MODELS[name].title if name in SHIPPED_MODELS else name} ({model_kind(pipes[name])}"
             f"{', the default' if name == default else ''})", name) for name in order]


def missing_checkpoint_message(path: str | os.PathLike, error: Exception, name: str = DEFAULT_MODEL) -> str:
    """Markdown telling a visitor why there is no model and the commands that train the shipped one
    (vidgen.shipped), or how to point the app at a directory they have."""
    model = SHIPPED_MODELS[name]
    commands = "\n".join(model.commands)
    return (
        f"**No model loaded.** The checkpoint at `{path}` could not be read: {error}\n\n"
        f"To get it, train it with its recipe, preset `{model.preset}` (checkpoints/README.md has the time it "
        "took on a 2-core CPU; `--preset tiny-layout` takes seconds but only makes blurry blobs):\n\n"
        f"```\n{commands}\n```\n\n"
        f"or point the app at a run directory you have: `python app.py --{model.option.replace('_', '-')} RUN_DIR` "
        f"(or set `{model.env}=RUN_DIR`), then restart it."
    )


def checkpoint_fingerprint(path: str | os.PathLike) -> str:
    """A short hash of a checkpoint's files, so results cached for one model are never shown for another."""
    d = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in d.iterdir() if p.name in (CONFIG_NAME, EMA_NAME, MODEL_NAME, VAE_NAME)):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def guidance_bounds(pipe: Pipeline | None) -> tuple[float, float]:
    """The guidance scales `pipe` takes: a guidance-distilled model's trained range, else GUIDANCE_RANGE."""
    if pipe is not None and pipe.model.cfg.guidance_range is not None:
        return tuple(float(g) for g in pipe.model.cfg.guidance_range)
    return GUIDANCE_RANGE


def default_guidance(pipe: Pipeline | None) -> float:
    """The guidance scale the checkpoint recommends, else DEFAULT_GUIDANCE."""
    return DEFAULT_GUIDANCE if pipe is None else pipe.default_guidance


def load_models(settings) -> tuple[dict[str, Pipeline], str | None]:
    """Every shipped model from the directory `settings` serves it from -> ({name: pipeline} of those
    that loaded, None), or with markdown saying what did not load and how to get it. The default model
    (the 2-step student, else its teacher: vidgen.shipped.served_default) is explained in full when neither
    loaded; any other that is missing only drops that choice."""
    pipes, failed = {}, {}
    for name in SHIPPED_MODELS:
        path = settings.checkpoint_path(name)
        try:
            pipes[name] = load_pipeline(path, precision=getattr(settings, "precision", "auto"))
        except (CheckpointError, ValueError) as e:  # missing, corrupt, or a config this code cannot build
            failed[name] = (path, e)
    # how to get it in full for the default model when the page has no default (neither it nor its teacher
    # loaded), one line for the rest
    default = served_default(pipes)
    errors = [missing_checkpoint_message(path, e, name) if name == default and default not in pipes else
              f"(The {name} model at `{path}` could not be read, so it is not served: {e})"
              for name, (path, e) in failed.items()]
    return pipes, ("\n\n".join(errors) or None)


def checkpoint_summary(pipes: dict[str, Pipeline], settings) -> str:
    """The machine's detail of each served model (path, network, precision), folded under the header's "Details"."""
    lines = []
    for name, pipe in pipes.items():
        cfg = pipe.model.cfg
        params = sum(p.numel() for p in pipe.model.parameters())
        step = pipe.config.get("step")
        step = f", trained {step} steps" if step is not None else ""
        path = settings.checkpoint_path(name)
        default = " · **the default**" if name == served_default(pipes) else ""
        lines.append(f"**{name}**{default} ({model_kind(pipe)}): `{path}` · {cfg.variant} DiT, {params / 1e6:.2f}M parameters, "
                     f"{cfg.depth} blocks of width {cfg.dim}, {cfg.num_tokens} video tokens{step} · T = {pipe.num_timesteps} · "
                     f"precision: {describe_precision(pipe)}")
    return "  \n".join(lines)
