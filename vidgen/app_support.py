"""What the web app needs beyond widgets: finding the checkpoint, checking a request, running a
generation as a stream of step updates, drawing the animated previews, throttling them, keeping the
trajectory for the step viewer, and writing result files without filling the disk.

`app.py` only wires these to Gradio components; nothing here imports Gradio, so all of it is
testable without a server.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from einops import rearrange
from PIL import Image

from .data import tokenizer as tok
from .data.layout import layout_picture, slot_colour_hex
from .data.prompts import TRAIN_MAX_LEN
from .data.video_io import frames_grid, gif_bytes, mp4_bytes
from .diffusion.sampler import (  # noqa: F401 (ranges for the sliders)
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    ETA_RANGE,
    EVAL_SAMPLER,
    EVAL_STEPS,
    GUIDANCE_RANGE,
    SAMPLERS,
    STOCHASTIC,
    check_sampling_args,
)
from .pipeline import BLOG_CHECKPOINT, DEFAULT_CHECKPOINT, Pipeline, TrajectoryRecorder
from .training.checkpoint import CONFIG_NAME, EMA_NAME, MODEL_NAME

CHECKPOINT_ENV = "VIDGEN_CHECKPOINT"  # the app reads its checkpoint path from here unless --checkpoint is given
BLOG_CHECKPOINT_ENV = "VIDGEN_BLOG_CHECKPOINT"  # and the blog's model from here unless --blog-checkpoint is given
MAX_SEED = 2**32 - 1
# the models the app serves, by name: the release (layout-guided) and the blog's (prompt tokens only)
MODELS = ("release", "blog")
DEFAULT_MODEL = "release"

# ----------------------------------------------------------------------------- checkpoint


def resolve_checkpoint(cli_path: str | os.PathLike | None = None, environ=None, model: str = DEFAULT_MODEL) -> Path:
    """The checkpoint directory to serve as `model`: the command line's, else the environment's
    ($VIDGEN_CHECKPOINT for the release, $VIDGEN_BLOG_CHECKPOINT for the blog's), else the shipped one."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    environ = os.environ if environ is None else environ
    env, default = (CHECKPOINT_ENV, DEFAULT_CHECKPOINT) if model == "release" else (BLOG_CHECKPOINT_ENV, BLOG_CHECKPOINT)
    if cli_path:
        return Path(cli_path)
    if environ.get(env):
        return Path(environ[env])
    return default


def model_kind(pipe: Pipeline) -> str:
    """'layout-guided', 'prompt only, learned layout' or 'prompt only', from the checkpoint's config."""
    return {"glyph": "layout-guided", "learned": "prompt only, learned layout"}.get(pipe.model.cfg.layout, "prompt only")


def layout_panel(pipe: Pipeline, prompt: str) -> tuple[str, np.ndarray]:
    """(caption, picture) of the glyph layout beside a model's steps: the true layout a layout-guided
    model is given, the one a "learned" model predicted from the prompt, or the true one a prompt-only
    model is not given."""
    layout = pipe.model.cfg.layout
    if layout == "learned":
        slot, offset = pipe.model.predicted_layout(pipe.encode([prompt]))
        return ("glyph layout: predicted by this model from the prompt",
                layout_picture(prompt, (slot[0].cpu().numpy(), offset[0].cpu().numpy())))
    if layout == "glyph":
        return "glyph layout: given to this model", layout_picture(prompt)
    return "glyph layout: NOT given, this model must learn it", layout_picture(prompt)


def model_choices(pipes: dict[str, Pipeline]) -> list[tuple[str, str]]:
    """(label, name) of each served model, for a radio button."""
    titles = {"release": "Release", "blog": "The blog's model"}
    return [(f"{titles.get(name, name)} ({model_kind(p)})", name) for name, p in pipes.items()]


def missing_checkpoint_message(path: str | os.PathLike, error: Exception) -> str:
    """Markdown telling a visitor why there is no model and the commands that give one."""
    return (
        f"**No model loaded.** The checkpoint at `{path}` could not be read: {error}\n\n"
        "To get one, train it (about an hour on a 2-core CPU; `--preset tiny-layout` takes seconds "
        "but only makes blurry blobs):\n\n"
        "```\npython -m vidgen train --preset small-layout --out runs/layout\n"
        "python -m vidgen export --checkpoint runs/layout --out checkpoints/release --best\n```\n\n"
        f"or point the app at a run directory you have: `python app.py --checkpoint RUN_DIR` "
        f"(or set `{CHECKPOINT_ENV}=RUN_DIR`), then restart it."
    )


def checkpoint_fingerprint(path: str | os.PathLike) -> str:
    """A short hash of a checkpoint's files, so results cached for one model are never shown for another."""
    d = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in d.iterdir() if p.name in (CONFIG_NAME, EMA_NAME, MODEL_NAME)):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def default_guidance(pipe: Pipeline | None) -> float:
    """The guidance scale the checkpoint recommends, else DEFAULT_GUIDANCE."""
    return DEFAULT_GUIDANCE if pipe is None else pipe.default_guidance


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class GenerationRequest:
    """One checked set of sampling arguments; `note` warns about prompts longer than training saw."""

    prompt: str
    steps: int = DEFAULT_STEPS
    eta: float = 0.0
    guidance_scale: float = DEFAULT_GUIDANCE
    seed: int = 0
    sampler: str = DEFAULT_SAMPLER
    note: str | None = None
    model: str = DEFAULT_MODEL  # which served model (MODELS)

    def sampling_kwargs(self) -> dict:
        return dict(steps=self.steps, eta=self.eta, guidance_scale=self.guidance_scale, seed=self.seed, sampler=self.sampler)

    def label(self) -> str:
        """Short description for captions: 'HELLO · DDIM 50 steps · eta 0 · guidance 3 · seed 0'."""
        return (f"{self.prompt} · {self.model} · {self.sampler.upper()} {self.steps} steps · eta {self.eta:g} · "
                f"guidance {self.guidance_scale:g} · seed {self.seed}")


def _as_int(value, name: str) -> int:
    """Widgets and JSON send 50.0 for 50; accept whole floats, refuse the rest."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def check_request(prompt, steps=DEFAULT_STEPS, eta=0.0, guidance_scale=DEFAULT_GUIDANCE, seed=0, sampler=DEFAULT_SAMPLER,
                  num_timesteps: int = 1000, model: str = DEFAULT_MODEL, models=MODELS) -> GenerationRequest:
    """Validate everything before any sampling starts; raises ValueError with a readable message.
    `models` are the names of the models being served."""
    if not isinstance(model, str) or model not in models:
        raise ValueError(f"unknown model {model!r}; this server has: {', '.join(models)}")
    text = tok.normalize_prompt(prompt, max_len=tok.PROMPT_SLOTS)
    steps = _as_int(steps, "steps")
    seed = _as_int(seed, "seed")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    sampler = str(sampler).lower()
    try:
        eta, guidance_scale = float(eta), float(guidance_scale)
    except (TypeError, ValueError):
        raise ValueError(f"eta and guidance_scale must be numbers, got {eta!r} and {guidance_scale!r}") from None
    check_sampling_args(steps, eta, guidance_scale, num_timesteps, sampler)
    notes = []
    if len(text) > TRAIN_MAX_LEN:
        notes.append(f"{text!r} has {len(text)} symbols: the model was trained on 1 to {TRAIN_MAX_LEN}, "
                     "so this length is out of distribution; expect the extra symbols to be garbled.")
    if not STOCHASTIC[sampler] and eta != 0:
        notes.append(f"{sampler} is deterministic: eta = {eta:g} is not used.")
    note = " ".join(notes) or None
    return GenerationRequest(text, steps, eta, guidance_scale, seed, sampler, note, model)


# ----------------------------------------------------------------------------- trajectory


@dataclass
class Trajectory:
    """Every step of one generation as uint8 video, for the step viewer. x_t[i] is the sample after
    step i (so x_t[-1] is the result), pred_x0[i] the model's guess of the clean video at that step."""

    request: GenerationRequest
    timesteps: np.ndarray  # (S,) the t each step started from
    x_t: np.ndarray  # (S, T, H, W) uint8
    pred_x0: np.ndarray  # (S, T, H, W) uint8
    seconds: float = 0.0  # sampling wall time, previews included

    @property
    def num_steps(self) -> int:
        return len(self.timesteps)

    @property
    def video(self) -> np.ndarray:
        """The generated video, uint8 (T, H, W)."""
        return self.x_t[-1]

    def frames(self, which: str) -> np.ndarray:
        """'x_t' or 'pred_x0' -> (S, T, H, W)."""
        if which not in ("x_t", "pred_x0"):
            raise ValueError(f"unknown trajectory field {which!r}; known: x_t, pred_x0")
        return self.x_t if which == "x_t" else self.pred_x0

    def grid(self, columns: list[int] | None = None, which: str = "x_t", scale: int = 4) -> np.ndarray:
        """The blog's Figure 1: frames as rows, the chosen steps as columns -> uint8 (H', W')."""
        columns = grid_columns(self.num_steps) if columns is None else columns
        frames = self.frames(which)
        return frames_grid([frames[i] for i in columns], scale=scale)


def grid_columns(num_steps: int, count: int = 8) -> list[int]:
    """`count` step indices spread evenly from the first step to the last (fewer if there are fewer steps)."""
    if num_steps < 1:
        raise ValueError("a trajectory has at least one step")
    return sorted({int(round(i)) for i in np.linspace(0, num_steps - 1, min(count, num_steps))})


# ----------------------------------------------------------------------------- streaming


class PreviewThrottle:
    """Chooses which steps are drawn: the first, the last, and otherwise at most one every
    `min_interval` seconds, so a fast model is not held back by drawing and sending previews."""

    def __init__(self, min_interval: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.min_interval = min_interval
        self.clock = clock
        self._last: float | None = None

    def __call__(self, index: int, num_steps: int) -> bool:
        now = self.clock()
        due = self._last is None or now - self._last >= self.min_interval
        if index == 0 or index == num_steps - 1 or due:
            self._last = now
            return True
        return False


@dataclass
class StepUpdate:
    """What one denoising step hands to the page. `show` says whether to draw it; `trajectory` is set
    on the last step only."""

    index: int
    num_steps: int
    t: int
    seconds: float  # since sampling started
    x_t: np.ndarray  # (T, H, W) uint8
    pred_x0: np.ndarray  # (T, H, W) uint8
    show: bool
    trajectory: Trajectory | None = None

    @property
    def done(self) -> bool:
        return self.index == self.num_steps - 1


def stream_generation(pipe: Pipeline, request: GenerationRequest, throttle: Callable[[int, int], bool] | None = None,
                      clock: Callable[[], float] = time.perf_counter) -> Iterator[StepUpdate]:
    """Run the sampler for one prompt and yield a StepUpdate for every step, recording the trajectory."""
    start = clock()
    rec = TrajectoryRecorder()
    for out in pipe.iter_steps(request.prompt, **request.sampling_kwargs()):
        rec.add(out)
        last = out.index == out.num_steps - 1
        show = last or throttle is None or throttle(out.index, out.num_steps)
        seconds = clock() - start
        traj = Trajectory(request, rec.timesteps, rec.x_t, rec.pred_x0, seconds) if last else None
        yield StepUpdate(out.index, out.num_steps, out.t, seconds, rec.x_t[out.index], rec.pred_x0[out.index], show, traj)


def run_generation(pipe: Pipeline, request: GenerationRequest) -> Trajectory:
    """The whole trajectory at once (cached examples, comparisons, benchmarks)."""
    for update in stream_generation(pipe, request):
        pass
    return update.trajectory


# ----------------------------------------------------------------------------- drawing

PREVIEW_CSS = """
.vg-panels { display: flex; gap: 16px; flex-wrap: wrap; justify-content: center; }
.vg-panel { margin: 0; text-align: center; flex: 1 1 200px; max-width: 320px; }
.vg-panel figcaption { font-size: 0.9em; opacity: 0.8; margin-top: 4px; }
.vg-anim { width: 100%; aspect-ratio: 1 / 1; background-repeat: no-repeat; image-rendering: pixelated;
           background-color: #000; border-radius: 4px; animation-name: vg-play; animation-iteration-count: infinite; }
@keyframes vg-play { from { background-position: 0% 0; } to { background-position: var(--vg-end) 0; } }
.vg-status { font-variant-numeric: tabular-nums; }
.vg-status progress { width: 100%; height: 10px; }
"""


def sprite_png(video: np.ndarray) -> bytes:
    """uint8 (T, H, W) or (T, H, W, 3) -> a PNG strip of the frames side by side, (H, T*W[, 3]):
    a few hundred bytes to a few KB."""
    strip = rearrange(np.asarray(video, dtype=np.uint8), "t h w ... -> h (t w) ...")  # (H, T*W[, 3])
    buf = io.BytesIO()
    Image.fromarray(strip, mode="L" if strip.ndim == 2 else "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def animated_panels_html(panels: list[tuple[str, np.ndarray]], fps: int = 8, clock: Callable[[], float] = time.time) -> str:
    """Animated videos side by side, as CSS sprite animations of one small PNG each.

    The browser upscales with nearest-neighbour (image-rendering: pixelated), so only 32x32 pixels
    per frame travel. Each animation starts at the phase given by the clock, so when a new preview
    replaces the old one many times a second the loop carries on instead of restarting at frame 0.
    Needs PREVIEW_CSS on the page.
    """
    parts = []
    for label, video in panels:
        t = video.shape[0]
        period = t / fps
        delay = -(clock() % period)
        end = 100.0 * t / (t - 1) if t > 1 else 0.0  # background-position % that shows frame t (= frame 0 again)
        data = base64.b64encode(sprite_png(video)).decode()
        parts.append(
            f'<figure class="vg-panel"><div class="vg-anim" role="img" aria-label="{html.escape(label)}" '
            f'style="background-image:url(data:image/png;base64,{data});background-size:{t * 100}% 100%;'
            f'--vg-end:{end:.4f}%;animation-duration:{period:g}s;animation-timing-function:steps({t});'
            f'animation-delay:{delay:.3f}s"></div><figcaption>{html.escape(label)}</figcaption></figure>'
        )
    return f'<div class="vg-panels">{"".join(parts)}</div>'


def step_panels_html(x_t: np.ndarray, pred_x0: np.ndarray, index: int, num_steps: int, t: int,
                     layout: tuple[str, str, np.ndarray] | None = None, **kw) -> str:
    """The previews of one step: the noisy sample and the model's guess of the clean video, and with
    `layout` = (prompt, caption, picture) the glyph layout panel (`layout_panel`) and its legend."""
    left = "x_0: the result" if index == num_steps - 1 else f"x_t after step {index + 1} (noisy sample)"
    panels = [(left, x_t), (f"predicted x_0 at t = {t}", pred_x0)]
    if layout is None:
        return animated_panels_html(panels, **kw)
    prompt, caption, picture = layout
    panels.append((caption, picture))
    return animated_panels_html(panels, **kw) + layout_legend_html(prompt)


def layout_legend_html(prompt: str) -> str:
    """The prompt's symbols in their layout colours: which colour stands for which glyph."""
    spans = "".join(f'<span style="color:{slot_colour_hex(i)};font-weight:bold;padding:0 2px">{html.escape(c)}</span>'
                    for i, c in enumerate(prompt))
    return (f'<p class="vg-legend" style="text-align:center;margin:4px 0">layout colours: {spans} '
            "(each column is coloured by the glyph covering it, brighter further into the glyph)</p>")


def status_html(index: int, num_steps: int, t: int, seconds: float, note: str | None = None) -> str:
    """Step counter and progress bar."""
    done = index + 1
    head = "Done" if done == num_steps else "Denoising"
    rate = f" · {seconds / done * 1000:.0f} ms/step" if done else ""
    extra = f'<div class="vg-note">⚠️ {html.escape(note)}</div>' if note else ""
    return (f'<div class="vg-status"><b>{head}</b>: step {done} / {num_steps} · t = {t} · {seconds:.1f} s{rate}'
            f'<progress max="{num_steps}" value="{done}"></progress>{extra}</div>')


def idle_status_html(text: str) -> str:
    return f'<div class="vg-status">{html.escape(text)}</div>'


def grid_png(grid: np.ndarray) -> bytes:
    """uint8 (H, W) -> PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(grid, dtype=np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- files


class OutputStore:
    """Result files in one folder, of which only the newest `keep` are kept, so disk use stays flat
    however many videos are made. (Gradio copies what it serves into its own cache, which the app
    cleans with Blocks(delete_cache=...).)"""

    def __init__(self, root: str | os.PathLike, keep: int = 64):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._written: deque[Path] = deque()
        self._lock = threading.Lock()  # generations may run concurrently

    def write(self, data: bytes, name: str) -> Path:
        """Write bytes under a unique name ending in `name` and drop the oldest files beyond `keep`."""
        with self._lock:
            path = self.root / f"{time.time_ns()}-{len(self._written)}-{name}"
            path.write_bytes(data)
            self._written.append(path)
            while len(self._written) > self.keep:
                self._written.popleft().unlink(missing_ok=True)
        return path

    def save_video(self, video: np.ndarray, stem: str, scale: int = 8, fps: int = 8) -> tuple[Path, Path]:
        """uint8 (T, H, W) -> (GIF path, MP4 path), nearest-neighbour upscaled by `scale`."""
        return (self.write(gif_bytes(video, scale=scale, fps=fps), f"{stem}.gif"),
                self.write(mp4_bytes(video, scale=scale, fps=fps), f"{stem}.mp4"))

    def save_png(self, image: np.ndarray, stem: str) -> Path:
        return self.write(grid_png(image), f"{stem}.png")


def file_stem(request: GenerationRequest) -> str:
    """A file name that records the model and settings: HELLO_release_ddim50_eta0_g3_seed0."""
    return f"{request.prompt}_{request.model}_{request.sampler}{request.steps}_eta{request.eta:g}_g{request.guidance_scale:g}_seed{request.seed}"


# ----------------------------------------------------------------------------- comparisons

# Named A/B pairs for the comparison tab: overrides applied to the same prompt and seed.
COMPARISONS: dict[str, tuple[dict, dict]] = {
    "guidance 1 vs 5": ({"guidance_scale": 1.0}, {"guidance_scale": 5.0}),
    f"the default ({DEFAULT_SAMPLER}, {DEFAULT_STEPS} steps) vs DDIM at {EVAL_STEPS}": (
        {}, {"sampler": EVAL_SAMPLER, "steps": EVAL_STEPS}),
    "eta 0 vs 1": ({"sampler": "ddim", "steps": EVAL_STEPS, "eta": 0.0}, {"sampler": "ddim", "steps": EVAL_STEPS, "eta": 1.0}),
    "10 vs 100 steps": ({"steps": 10}, {"steps": 100}),
    "DDIM vs DDPM": ({"sampler": "ddim", "steps": EVAL_STEPS}, {"sampler": "ddpm", "steps": EVAL_STEPS}),
    "DDIM vs DPM-Solver++ at 10 steps": ({"sampler": "ddim", "steps": 10}, {"sampler": "dpm++2m", "steps": 10}),
    "release vs the blog's model": ({"model": "release"}, {"model": "blog"}),
}


def comparison_requests(base: GenerationRequest, name: str) -> tuple[GenerationRequest, GenerationRequest]:
    """The two requests of a named comparison; unknown names raise with the list of known ones."""
    if name not in COMPARISONS:
        raise ValueError(f"unknown comparison {name!r}; known: {', '.join(COMPARISONS)}")
    a, b = COMPARISONS[name]
    return replace(base, **a), replace(base, **b)


__all__ = [
    "BLOG_CHECKPOINT_ENV", "CHECKPOINT_ENV", "COMPARISONS", "DEFAULT_MODEL", "MODELS", "layout_legend_html",
    "layout_panel", "model_choices", "model_kind", "GenerationRequest", "OutputStore", "PREVIEW_CSS", "PreviewThrottle", "SAMPLERS",
    "StepUpdate", "Trajectory", "animated_panels_html", "check_request", "comparison_requests", "default_guidance",
    "file_stem", "grid_columns", "idle_status_html", "missing_checkpoint_message", "resolve_checkpoint",
    "run_generation", "sprite_png", "status_html", "step_panels_html", "stream_generation",
]
