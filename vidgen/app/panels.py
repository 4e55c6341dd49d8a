"""What the page draws: animated previews as CSS sprites of small PNGs, the glyph layout panel and its
legend, the status line."""
from __future__ import annotations

import base64
import html
import io
import time
from typing import Callable

import numpy as np
from einops import rearrange
from PIL import Image

from ..data.world import Motion
from ..pipeline import Pipeline
from ..probes.pictures import layout_picture, layout_picture_2d, slot_colour_hex

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
                     layout: tuple[str, str, np.ndarray] | None = None, latent: np.ndarray | None = None, **kw) -> str:
    """The previews of one step: the noisy sample and the model's guess of the clean video (a latent model's decoded
    by its VAE, with `latent` its x_t itself, channels tiled: vidgen.trajectory.latent_tiles), and with
    `layout` = (prompt, caption, picture) the glyph layout panel (`layout_panel`) and its legend."""
    left = "x_0: the result" if index == num_steps - 1 else f"x_t after step {index + 1} (noisy sample)"
    if latent is not None:
        left += ", decoded"
    panels = [(left, x_t), (f"predicted x_0 at t = {t}" + (", decoded" if latent is not None else ""), pred_x0)]
    if latent is not None:
        panels.insert(0, ("the latent being denoised (its channels, -3 to +3)", latent))
    if layout is None:
        return animated_panels_html(panels, **kw)
    prompt, caption, picture = layout
    panels.append((caption, picture))
    return animated_panels_html(panels, **kw) + layout_legend_html(prompt)


def layout_panel(pipe: Pipeline, prompt: str, motion: Motion | None = None) -> tuple[str, np.ndarray]:
    """(caption, picture) of the glyph layout beside a model's steps, as its layout kind says
    (`LayoutKind.panel`): the true layout a layout-guided model is given, the one a "learned" model
    predicted from the prompt, or the true one a prompt-only model is not given; for a motion-world
    model, the 2D layout along `motion` (the one it generates with)."""
    kind = pipe.model.layout_kind
    caption, shown = kind.panel(pipe.model, prompt, pipe.encode([prompt]), motion)
    return caption, layout_picture_2d(*shown) if kind.per_pixel else layout_picture(prompt, shown)


def layout_legend_html(prompt: str) -> str:
    """The prompt's symbols in their layout colours: which colour stands for which glyph."""
    spans = "".join(f'<span style="color:{slot_colour_hex(i)};font-weight:bold;padding:0 2px">{html.escape(c)}</span>'
                    for i, c in enumerate(prompt))
    return (f'<p class="vg-legend" style="text-align:center;margin:4px 0">layout colours: {spans} '
            "(each pixel is coloured by the glyph covering it, brighter further into the glyph)</p>")


def status_html(index: int, num_steps: int, t: int, seconds: float, note: str | None = None, head: str | None = None) -> str:
    """Step counter and progress bar; `head` replaces "Done" / "Denoising"."""
    done = index + 1
    head = head or ("Done" if done == num_steps else "Denoising")
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
