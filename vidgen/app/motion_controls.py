"""The Generate tab's motion controls: random (the seed and the model choose), a direction and speed, or
a path the user clicks on a picture of the frame; all become one motion spec (vidgen.data.world
.MOTION_SPEC_HELP) that the request checks and the pipeline follows."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from ..data.layout import FONT_SIZE
from ..data.shape import HEIGHT, WIDTH
from .requests import RANDOM_MOTION

KINDS = {"Random (the seed picks)": "random", "Direction and speed": "line", "Path (click points)": "path"}
CANVAS_SCALE = 8  # screen pixels per video pixel on the path canvas
CANVAS_MARGIN = 16  # video pixels around the frame where points may also go (text may start off screen)
MAX_POINTS = 12


def motion_spec(kind: str, direction: float, speed: float, size: float, points: str) -> str:
    """The controls' values -> a motion spec: "random", "line:DIR,SPEED,SIZE" or "path:X,Y;...@SIZE"."""
    kind = KINDS.get(kind, kind)
    if kind == "line":
        return f"line:{float(direction):g},{float(speed):g},{int(size)}"
    if kind == "path":
        return f"path:{(points or '').strip()}@{int(size)}"
    return RANDOM_MOTION


def parse_points(points: str) -> list[tuple[float, float]]:
    """'x,y; x,y' -> [(x, y), ...]; malformed pairs are skipped (the spec check reports a bad path)."""
    out = []
    for pair in (points or "").split(";"):
        try:
            x, y = (float(v) for v in pair.split(","))
            out.append((x, y))
        except ValueError:
            continue
    return out


def path_canvas(points: str) -> np.ndarray:
    """A picture of the frame (the grey square) and the margin around it, with the clicked path: (S, S, 3) uint8."""
    side = (WIDTH + 2 * CANVAS_MARGIN) * CANVAS_SCALE
    img = Image.new("RGB", (side, side), (20, 20, 20))
    draw = ImageDraw.Draw(img)
    m = CANVAS_MARGIN * CANVAS_SCALE
    draw.rectangle([m, m, m + WIDTH * CANVAS_SCALE - 1, m + HEIGHT * CANVAS_SCALE - 1], fill=(70, 70, 70), outline=(200, 200, 200))
    pts = [((x + CANVAS_MARGIN) * CANVAS_SCALE, (y + CANVAS_MARGIN) * CANVAS_SCALE) for x, y in parse_points(points)]
    if len(pts) > 1:
        draw.line(pts, fill=(80, 190, 220), width=3)
    for i, (x, y) in enumerate(pts):
        colour = (110, 200, 100) if i == 0 else (230, 85, 80) if i == len(pts) - 1 else (240, 225, 80)
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=colour)
    return np.asarray(img)


def add_point(points: str, x_canvas: float, y_canvas: float) -> str:
    """A click at canvas pixel (x, y) -> the points with the frame point under it appended (at most MAX_POINTS)."""
    pts = parse_points(points)[: MAX_POINTS - 1]
    x = round(x_canvas / CANVAS_SCALE - CANVAS_MARGIN, 1)
    y = round(y_canvas / CANVAS_SCALE - CANVAS_MARGIN, 1)
    return "; ".join(f"{a:g},{b:g}" for a, b in [*pts, (x, y)])


def build_motion_controls() -> SimpleNamespace:
    """The controls, in an accordion under the sampling settings."""
    with gr.Accordion("Motion: how the text moves", open=True):
        kind = gr.Radio(list(KINDS), value=next(iter(KINDS)), label="Motion", elem_id="motion-kind",
                        info="Random: each seed gives another motion (direction, speed, size, path shape)")
        with gr.Row():
            direction = gr.Slider(0, 345, 180, step=15, label="Direction (degrees)", elem_id="motion-direction",
                                  info="0 = rightwards, 90 = downwards, 180 = leftwards")
            speed = gr.Slider(1, 6, 3, step=0.5, label="Speed (px a frame)", elem_id="motion-speed")
        size = gr.Slider(16, 24, FONT_SIZE, step=1, label="Font size", elem_id="motion-size",
                         info="capitals 12-18 px tall (direction/speed and path)")
        with gr.Row():
            canvas = gr.Image(path_canvas(""), label="Click points of the path (the grey square is the frame)",
                              interactive=False, elem_id="motion-canvas", height=260, buttons=[])
            with gr.Column():
                points = gr.Textbox("", label="Path points (x,y; x,y; ...)", elem_id="motion-points",
                                    info="the text's centre, visited at constant speed; click the picture or type")
                clear = gr.Button("Clear path", elem_id="motion-clear", size="sm")
    return SimpleNamespace(kind=kind, direction=direction, speed=speed, size=size, points=points, canvas=canvas, clear=clear,
                           inputs=[kind, direction, speed, size, points])


def wire_motion_controls(m: SimpleNamespace) -> None:
    """Clicks add points and redraw the path; Clear empties it; typing redraws it. Choosing a path by
    clicking switches the motion to "Path"."""
    path_kind = next(k for k, v in KINDS.items() if v == "path")

    def clicked(points, evt: gr.SelectData):
        x, y = evt.index
        new = add_point(points, x, y)
        return new, path_canvas(new), path_kind

    m.canvas.select(clicked, m.points, [m.points, m.canvas, m.kind], queue=False, api_visibility="private")
    m.clear.click(lambda: ("", path_canvas("")), None, [m.points, m.canvas], queue=False, api_visibility="private")
    m.points.blur(lambda p: path_canvas(p), m.points, m.canvas, queue=False, api_visibility="private")
