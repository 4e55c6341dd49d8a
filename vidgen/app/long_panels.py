"""What the page draws for a long video (vidgen.long): the clean frames so far, the window a call denoises with
its clean context marked, a bar of every frame's noise level that shows where the window sits, and the status line."""
from __future__ import annotations

import html

import numpy as np
from einops import repeat

from ..long.methods import METHODS, Call
from .panels import animated_panels_html
from .requests import RANDOM_MOTION

CONTEXT_RGB = (80, 200, 90)  # the border of a window's clean context frames, and their cells in the levels bar
WINDOW_RGB = (70, 150, 230)  # the outline of the window in the levels bar

LEVELS_CSS = ("display:flex;gap:1px;margin:8px auto 2px;max-width:960px;height:18px;align-items:stretch")


def mark_context(window: np.ndarray, context: int) -> np.ndarray:
    """uint8 (W, H, W) window -> (W, H, W, 3) with a one-pixel CONTEXT_RGB border on its first `context` frames:
    the clean frames the call read, not denoised by it."""
    rgb = repeat(window, "t h w -> t h w c", c=3).copy()  # (W, H, W, 3)
    edge = np.zeros(window.shape[1:], dtype=bool)  # (H, W)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    rgb[:context, edge] = CONTEXT_RGB
    return rgb


def levels_bar_html(levels: np.ndarray, steps: int, call: Call, window: int) -> str:
    """One cell per frame of the whole video, white when clean and darker the noisier; the call's window outlined,
    its clean context in CONTEXT_RGB: where in the video the call works and what it reads."""
    cells = []
    for i, level in enumerate(np.asarray(levels).tolist()):
        inside = call.start <= i < call.start + window
        if inside and i < call.start + call.context:
            colour = "rgb({},{},{})".format(*CONTEXT_RGB)
        else:
            grey = round(235 * (1 - level / max(steps, 1)))  # clean 235, pure noise 0
            colour = f"rgb({grey},{grey},{grey})"
        outline = "box-shadow:inset 0 0 0 2px rgb({},{},{});".format(*WINDOW_RGB) if inside else ""
        cells.append(f'<div title="frame {i + 1}: level {level}" style="flex:1;background:{colour};{outline}"></div>')
    return f'<div class="vg-levels" style="{LEVELS_CSS}">{"".join(cells)}</div>'


def long_panels_html(clean: np.ndarray, window_x: np.ndarray, window_pred: np.ndarray, call: Call, levels: np.ndarray,
                     steps: int, index: int, num_calls: int, **kw) -> str:
    """The previews of one call of a long video: the frames made so far (growing), the call's window after it and
    its predicted x0 (clean context framed), and the levels bar over all frames."""
    frames, window = len(levels), len(window_x)
    last = min(call.start + window, frames)
    panels = [(f"the video so far: {len(clean)} of {frames} frames", clean)] if len(clean) else []
    panels += [(f"window: frames {call.start + 1}-{last} after call {index + 1}", mark_context(window_x, call.context)),
               ("predicted x_0 of the window", mark_context(window_pred, call.context))]
    context = (f"its first {call.context} frames (green) are clean context, read from the frames before"
               if call.context else "no context: the window starts from noise alone")
    legend = (f'<p class="vg-legend" style="text-align:center;margin:2px 0">chunk {call.chunk + 1} · call {index + 1} / '
              f"{num_calls} · window (blue) at frames {call.start + 1}-{last} of {frames}; {context}. "
              "Each cell is a frame: white is clean, darker is noisier.</p>")
    return animated_panels_html(panels, **kw) + levels_bar_html(levels, steps, call, window) + legend


def long_label(request, method: str, steps: int) -> str:
    """Short description of a long video for captions: 'HELLO WORLD 2026 · 64 frames · long · latent splicing,
    6 steps a frame · guidance 3 · seed 0'."""
    moving = "" if request.motion == RANDOM_MOTION else f" · motion {request.motion}"
    return (f"{request.prompt} · {request.frames} frames · {request.model} · {METHODS[method].title}, {steps} steps a frame · "
            f"guidance {request.guidance_scale:g} · seed {request.seed}{moving}")


def long_status_html(index: int, num_calls: int, clean: int, frames: int, seconds: float, method: str, steps: int,
                     note: str | None = None) -> str:
    """Call counter, clean frames and a progress bar of a long video, and how it is made."""
    done = index + 1
    head = "Done" if done == num_calls else "Making the long video"
    extra = f'<div class="vg-note">⚠️ {html.escape(note)}</div>' if note else ""
    return (f'<div class="vg-status"><b>{head}</b>: call {done} / {num_calls} · {clean} of {frames} frames clean · '
            f"{seconds:.1f} s · {html.escape(METHODS[method].title)}, {steps} steps a frame (the long-video model's own)"
            f'<progress max="{num_calls}" value="{done}"></progress>{extra}</div>')
