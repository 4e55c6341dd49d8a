"""The world a prompt's video is drawn in: how the text moves, how fast and how big.

A `Motion` says where the text is in every frame: the top-left corner of its strip (the prompt drawn
once, `render_strip_at`) in screen pixels, frame by frame, and the font size. A `WorldConfig` says
which motions the data draws: "scroll" is the world every model before 2026-12 was trained in (one
motion per prompt: right to left, speed set by the prompt's length, one size), kept so their
checkpoints behave exactly as before; "motion" draws, per sample, a path shape, a direction (any
angle), a speed, a size and a start, so that each prompt has many right videos.

The invariant every drawn or given motion keeps: every glyph of the prompt is wholly on screen (its
ink inside the 32x32 frame) in at least MIN_VISIBLE_FRAMES frames, so the video shows the whole
prompt. A drawn motion that breaks it is redrawn; a given one is refused with the reason. Long
prompts are wider than the frame, so the motions that keep it for them mostly travel sideways.

Path shapes (`PATH_SHAPES`), as displacements from the start over t = f / (F - 1):
    line      constant velocity
    arc       constant speed along a circular arc (turning 60-180 degrees either way)
    bounce    constant velocity, plus hops: |sin| bumps against the direction of travel's normal
    stop_go   moves, stops for a third of the video, moves on (the same mean speed as a line)
    zigzag    constant velocity plus a triangle wave across it (held out from training by default,
              to measure whether motion control reaches path shapes never seen)
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import tokenizer as tok
from .layout import FONT_PATH, FONT_SIZE, TEXT_X, glyph_layout, paste_strip
from .shape import FRAMES, HEIGHT, WIDTH, MAX_FRAMES

WORLD_SCALES = (1, 2)  # WorldConfig.scale: the world at 32x32, or drawn at twice the size (64x64)
WORLDS = ("scroll", "motion")
PATH_SHAPES = ("line", "arc", "bounce", "stop_go", "zigzag")
TRAINING_SHAPES = PATH_SHAPES[:4]  # the motion world's training shapes (zigzag held out): a "shaped" prior's classes
MIN_VISIBLE_FRAMES = 2  # every glyph wholly on screen in at least this many frames
FONT_SIZES = tuple(range(8, 29))  # every font size a motion may use (capitals fit the 32 px frame)
SCROLL_Y = 3  # the scroll world's strip row: centres the capitals (rows 5-21 at FONT_SIZE) in the frame
PATH_REACH = 256  # pixels: how far from the frame a user's path point may lie
MAX_TRIES = 2000  # motions drawn before a prompt is declared unplaceable in this world: a wide 8-symbol prompt
# keeps the invariant in about 2% of draws (0.2 ms each), so 2000 find one with certainty but for the few no motion
# of the world can show (eight W: wider than 6 px a frame can carry past the frame)


@dataclass(frozen=True)
class WorldConfig:
    """Which motions the data draws. Stored in every checkpoint's config (absent: the scroll world)."""

    name: str = "scroll"  # "scroll": today's single right-to-left scroll; "motion": a motion drawn per sample
    sizes: tuple[int, int] = (16, 24)  # font sizes (inclusive): capitals 12-18 px tall, a 1.5x range
    speeds: tuple[float, float] = (1.0, 6.0)  # pixels per frame along the path, a 6x range (8 symbols need about 4
    # to show every glyph whole; the scroll world moves 2.5-8)
    shapes: tuple[str, ...] = TRAINING_SHAPES  # path shapes training draws
    heldout_shapes: tuple[str, ...] = ("zigzag",)  # never drawn in training: measures motion control's reach
    frames: tuple[int, int] = (FRAMES, FRAMES)  # lengths (inclusive) of the videos training draws: a long-video model
    # learns from a window of the model's frames at a random place in one (`make_world_batch`)
    scale: int = 1  # video pixels per world pixel: 2 draws the same glyphs along the same motions at twice the size, frames
    # of 64x64 (the latent-64 model's world); motions, glyph boxes and layouts stay in the world's 32x32 units

    def __post_init__(self):
        for name in ("sizes", "speeds", "shapes", "heldout_shapes", "frames"):
            object.__setattr__(self, name, tuple(getattr(self, name)))  # lists from JSON
        if self.name not in WORLDS:
            raise ValueError(f"unknown world {self.name!r}; known: {', '.join(WORLDS)}")
        lo, hi = self.sizes
        if not 8 <= lo <= hi <= 28:
            raise ValueError(f"sizes must satisfy 8 <= min <= max <= 28 (capitals fit the 32 px frame), got {self.sizes}")
        if not 0 < self.speeds[0] <= self.speeds[1] <= 8:
            raise ValueError(f"speeds must satisfy 0 < min <= max <= 8 px a frame, got {self.speeds}")
        if not FRAMES <= self.frames[0] <= self.frames[1] <= MAX_FRAMES:
            raise ValueError(f"frames must satisfy {FRAMES} <= min <= max <= {MAX_FRAMES}, got {self.frames}")
        unknown = (set(self.shapes) | set(self.heldout_shapes)) - set(PATH_SHAPES)
        if unknown:
            raise ValueError(f"unknown path shapes {sorted(unknown)}; known: {', '.join(PATH_SHAPES)}")
        if set(self.shapes) & set(self.heldout_shapes):
            raise ValueError(f"a path shape cannot be both drawn and held out: {sorted(set(self.shapes) & set(self.heldout_shapes))}")
        if self.name == "motion" and not self.shapes:
            raise ValueError("the motion world needs at least one path shape to draw")
        if self.scale not in WORLD_SCALES or (self.scale != 1 and (self.name != "motion" or self.frames != (FRAMES, FRAMES))):
            raise ValueError(f"scale must be one of {WORLD_SCALES} (above 1 only in the motion world of {FRAMES}-frame videos), "
                             f"got {self.scale}")

    @property
    def video_size(self) -> tuple[int, int]:
        """(H, W) of the videos this world renders."""
        return HEIGHT * self.scale, WIDTH * self.scale


@dataclass(frozen=True)
class Motion:
    """Where the text is: the strip's top-left corner (x, y) in screen pixels in each frame, and its font size."""

    xs: tuple[int, ...]  # (F,)
    ys: tuple[int, ...]  # (F,)
    size: int = FONT_SIZE
    shape: str = "line"  # the path shape it was drawn from, "scroll" for the scroll world, "path" for given points

    def __post_init__(self):
        object.__setattr__(self, "xs", tuple(int(v) for v in self.xs))
        object.__setattr__(self, "ys", tuple(int(v) for v in self.ys))
        if len(self.xs) != len(self.ys) or not FRAMES <= len(self.xs) <= MAX_FRAMES:
            raise ValueError(f"a motion has one position per frame, {FRAMES} to {MAX_FRAMES} frames, got {len(self.xs)} x "
                             f"positions and {len(self.ys)} y positions")
        if not 8 <= self.size <= 28:
            raise ValueError(f"font size must be in [8, 28], got {self.size}")

    @property
    def frames(self) -> int:
        return len(self.xs)

    def window(self, start: int, frames: int = FRAMES) -> "Motion":
        """Frames [start, start + frames) of this motion (a long video's window), not checked against the invariant."""
        if not 0 <= start <= self.frames - frames:
            raise ValueError(f"a window of {frames} frames from frame {start} does not fit a motion of {self.frames}")
        return Motion(self.xs[start : start + frames], self.ys[start : start + frames], self.size, self.shape)

    def to_dict(self) -> dict:
        return {"xs": list(self.xs), "ys": list(self.ys), "size": self.size, "shape": self.shape}

    @property
    def velocities(self) -> np.ndarray:
        """(F-1, 2) per-frame displacement (dx, dy)."""
        return np.diff(np.stack([self.xs, self.ys], axis=1), axis=0)


# ----------------------------------------------------------------------------- glyph geometry at any size


@functools.lru_cache(maxsize=32)
def font_at(size: int) -> ImageFont.FreeTypeFont:
    if not FONT_PATH.exists():
        raise FileNotFoundError(f"font file missing: {FONT_PATH} (it ships in assets/)")
    return ImageFont.truetype(str(FONT_PATH), size)


@functools.lru_cache(maxsize=65536)
def render_strip_at(prompt: str, size: int, scale: int = 1) -> np.ndarray:
    """The prompt drawn once at font `size` with its pen origin at (TEXT_X, 0): uint8 (Hs, Ws). At
    FONT_SIZE it is the scroll world's strip (render.render_strip) moved up by SCROLL_Y rows. `scale` draws it that
    many times larger (the font at size * scale, the pen origin at TEXT_X * scale: WorldConfig.scale)."""
    f = font_at(size * scale)
    width = int(math.ceil(f.getlength(prompt))) + 2 * TEXT_X * scale
    height = int(f.getbbox(prompt or "H")[3]) + 1
    img = Image.new("L", (width, height), 0)
    ImageDraw.Draw(img).text((TEXT_X * scale, 0), prompt, fill=255, font=f)
    strip = np.asarray(img, dtype=np.uint8)
    strip.flags.writeable = False
    return strip


@functools.lru_cache(maxsize=65536)
def glyph_boxes(prompt: str, size: int) -> np.ndarray:
    """Each glyph's ink box in strip pixels at font `size`: (n, 4) int [left, top, right, bottom), from the
    font's advances (kerning included: the prefix lengths, as the renderer lays them out)."""
    f = font_at(size)
    boxes = []
    for i, ch in enumerate(prompt):
        pen = TEXT_X + (f.getlength(prompt[:i]) if i else 0.0)
        left, top, right, bottom = f.getbbox(ch)
        boxes.append([math.floor(pen + left), top, math.ceil(pen + right), bottom])
    return np.asarray(boxes, dtype=np.int64).reshape(-1, 4)


def inked(boxes: np.ndarray) -> np.ndarray:
    """(n,) bool: which glyph boxes (n, 4) hold ink (a space has none: the invariant does not count it)."""
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def visible_frames(prompt: str, motion: Motion) -> np.ndarray:
    """(n,) in how many frames each glyph's ink lies wholly inside the frame (a space: every frame)."""
    boxes = glyph_boxes(prompt, motion.size)  # (n, 4)
    xs, ys = np.asarray(motion.xs)[:, None], np.asarray(motion.ys)[:, None]  # (F, 1)
    inside = ((xs + boxes[:, 0] >= 0) & (xs + boxes[:, 2] <= WIDTH)
              & (ys + boxes[:, 1] >= 0) & (ys + boxes[:, 3] <= HEIGHT))  # (F, n)
    return np.where(inked(boxes), inside.sum(axis=0), motion.frames)


def empty_frames(prompt: str, motion: Motion) -> int:
    """How many frames show no part of the text (its ink's bounding box wholly off screen)."""
    boxes = glyph_boxes(prompt, motion.size)[inked(glyph_boxes(prompt, motion.size))]
    xs, ys = np.asarray(motion.xs), np.asarray(motion.ys)  # (F,)
    on = ((xs + boxes[:, 0].min() < WIDTH) & (xs + boxes[:, 2].max() > 0)
          & (ys + boxes[:, 1].min() < HEIGHT) & (ys + boxes[:, 3].max() > 0))
    return int((~on).sum())


def check_motion(prompt: str, motion: Motion) -> None:
    """Raise ValueError saying which glyph a motion never shows whole often enough, or, for a long motion
    (more than FRAMES frames), which frames show none of the text."""
    seen = visible_frames(prompt, motion)
    short = [f"{ch!r} (glyph {i + 1}: {int(n)} frame{'s' if n != 1 else ''})" for i, (ch, n) in enumerate(zip(prompt, seen))
             if n < MIN_VISIBLE_FRAMES]
    if short:
        raise ValueError(f"this motion does not show {', '.join(short)} wholly on screen in at least {MIN_VISIBLE_FRAMES} "
                         f"frames; for a prompt of {len(prompt)} symbols at size {motion.size}, try another direction or speed (a prompt "
                         "wider than the frame must travel sideways, fast enough to show it all), a smaller size, or a "
                         "shorter prompt")
    if motion.frames > FRAMES and empty_frames(prompt, motion):
        raise ValueError(f"this motion leaves the frame empty in {empty_frames(prompt, motion)} of its {motion.frames} frames; a "
                         f"long video (more than {FRAMES} frames) shows some of the text in every frame: try a slower speed")


# ----------------------------------------------------------------------------- motions


def world_prompt(prompt: str) -> str:
    """A prompt as the world draws it: up to LONG_PROMPT_SLOTS symbols, spaces between words (which model may
    take it is the pipeline's check)."""
    return tok.normalize_prompt(prompt, max_len=tok.LONG_PROMPT_SLOTS, words=True)


def scroll_motion(prompt: str) -> Motion:
    """The scroll world's one motion for a prompt: right to left at a speed set by its length."""
    return Motion(glyph_layout(prompt).offsets, (SCROLL_Y,) * FRAMES, FONT_SIZE, "scroll")


def path_displacements(shape: str, angle: float, speed: float, rng: np.random.Generator, frames: int = FRAMES) -> np.ndarray:
    """(F, 2) float displacement from the start of a path of `shape` over `frames` frames heading at `angle`
    (radians, 0 = rightwards, y down) at `speed` pixels a frame; its random details (bend, hops, pause) from rng."""
    t = np.arange(frames, dtype=np.float64)  # (F,)
    heading = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-heading[1], heading[0]])
    if shape == "line":
        return t[:, None] * speed * heading
    if shape == "arc":
        turn = rng.uniform(math.pi / 3, math.pi) * rng.choice([-1.0, 1.0])  # total turn over the video
        theta = angle + turn * t / (frames - 1)  # heading in each frame
        steps = speed * np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (F, 2)
        return np.concatenate([[[0.0, 0.0]], np.cumsum(steps[:-1], axis=0)])
    if shape == "bounce":
        hops, height = rng.integers(1, 4), rng.uniform(3.0, 8.0)
        hop = -height * np.abs(np.sin(math.pi * hops * t / (frames - 1)))  # up from the line, back down
        return t[:, None] * speed * heading + hop[:, None] * np.array([0.0, 1.0])
    if shape == "stop_go":
        start = rng.uniform(0.2, 0.5) * (frames - 1)
        stop = start + (frames - 1) / 3
        moving = np.clip(t, 0, start) + np.clip(t - stop, 0, None)  # frames of motion so far
        return (moving * speed * (frames - 1) / (frames - 1 - (stop - start)))[:, None] * heading
    if shape == "zigzag":
        period, amplitude = rng.uniform(5.0, 9.0), rng.uniform(2.0, 5.0)
        phase = (t / period) % 1.0
        wave = amplitude * (4 * np.abs(phase - 0.5) - 1)  # triangle wave in [-A, A]
        return t[:, None] * speed * heading + wave[:, None] * normal
    raise ValueError(f"unknown path shape {shape!r}; known: {', '.join(PATH_SHAPES)}")


def valid_starts(prompt: str, size: int, displacement: np.ndarray) -> np.ndarray:
    """(K, 2) every integer start (x0, y0) from which the path keeps the invariant: each glyph's ink
    wholly inside the frame in at least MIN_VISIBLE_FRAMES frames, and for a long path (more than FRAMES
    frames) some of the text on screen in every frame. Exact, by checking every start that could show anything."""
    boxes = glyph_boxes(prompt, size)  # (n, 4)
    boxes = boxes[inked(boxes)]  # a space holds no ink to show
    d = np.rint(displacement).astype(np.int64)  # (F, 2)
    # glyph i is inside in frame f iff x0 in [-(dx_f + left_i), W - (dx_f + right_i)], and likewise y0
    x_lo = -(d[:, 0, None] + boxes[None, :, 0])  # (F, n)
    x_hi = WIDTH - (d[:, 0, None] + boxes[None, :, 2])
    y_lo = -(d[:, 1, None] + boxes[None, :, 1])
    y_hi = HEIGHT - (d[:, 1, None] + boxes[None, :, 3])
    lo_x, hi_x, lo_y, hi_y = x_lo.min(), x_hi.max(), y_lo.min(), y_hi.max()
    if len(d) > FRAMES:  # the text's ink box overlaps the frame in every frame: a rectangle of starts
        lo_x = max(lo_x, int((-(d[:, 0] + boxes[:, 2].max()) + 1).max()))
        hi_x = min(hi_x, int((WIDTH - (d[:, 0] + boxes[:, 0].min()) - 1).min()))
        lo_y = max(lo_y, int((-(d[:, 1] + boxes[:, 3].max()) + 1).max()))
        hi_y = min(hi_y, int((HEIGHT - (d[:, 1] + boxes[:, 1].min()) - 1).min()))
        if lo_x > hi_x or lo_y > hi_y:
            return np.zeros((0, 2), dtype=np.int64)
    xs = np.arange(lo_x, hi_x + 1)  # (X,)
    ys = np.arange(lo_y, hi_y + 1)  # (Y,)
    in_x = (xs[:, None, None] >= x_lo) & (xs[:, None, None] <= x_hi)  # (X, F, n)
    in_y = (ys[:, None, None] >= y_lo) & (ys[:, None, None] <= y_hi)  # (Y, F, n)
    # frames inside, per glyph: (n, X, F) @ (n, F, Y) -> (n, X, Y), a batched matmul (exact: counts <= F in float32)
    seen = np.matmul(in_x.transpose(2, 0, 1).astype(np.float32), in_y.transpose(2, 1, 0).astype(np.float32))
    ok = (seen >= MIN_VISIBLE_FRAMES).all(axis=0)  # (X, Y)
    ix, iy = np.nonzero(ok)
    return np.stack([xs[ix], ys[iy]], axis=1)


def draw_path(world: WorldConfig, rng: np.random.Generator, shapes: tuple[str, ...] | None = None,
              frames: int = FRAMES) -> tuple[str, int, np.ndarray]:
    """One draw of the motion world before it is placed: (shape, font size, the path's displacement from its start
    (F, 2) in float pixels). The same for every prompt; `sample_motion` places it for its prompt or draws again."""
    shapes = world.shapes if shapes is None else tuple(shapes)
    shape = shapes[rng.integers(len(shapes))]
    size = int(rng.integers(world.sizes[0], world.sizes[1] + 1))
    speed = float(rng.uniform(*speed_range(world, frames)))
    angle = float(rng.uniform(0, 2 * math.pi))
    return shape, size, path_displacements(shape, angle, speed, rng, frames)


def raw_motion(world: WorldConfig, rng: np.random.Generator, frames: int = FRAMES) -> Motion:
    """A `draw_path` as a Motion started at (0, 0): what a placed prior learns (vidgen.models.motion_prior) when the
    placing, and the redraw of a path no start serves, are left to the model as the world leaves them to `place`."""
    shape, size, displacement = draw_path(world, rng, frames=frames)
    d = np.rint(displacement).astype(np.int64)
    return Motion(d[:, 0], d[:, 1], size, shape)


def place(prompt: str, size: int, displacement: np.ndarray, rng: np.random.Generator) -> Motion | None:
    """The path started from a start drawn uniformly among those that keep the invariant (None if none does)."""
    starts = valid_starts(prompt, size, displacement)
    if not len(starts):
        return None
    x0, y0 = starts[rng.integers(len(starts))]
    d = np.rint(displacement).astype(np.int64)
    return Motion(x0 + d[:, 0], y0 + d[:, 1], size)


def check_frames(frames) -> int:
    """A video length a motion may span, else ValueError."""
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not FRAMES <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be a whole number from {FRAMES} to {MAX_FRAMES}, got {frames!r}")
    return int(frames)


def speed_range(world: WorldConfig, frames: int) -> tuple[float, float]:
    """The speeds a motion of `frames` frames is drawn at: the world's, the slowest scaled by FRAMES / frames
    so that a short prompt can stay on screen through a long video."""
    return world.speeds[0] * FRAMES / frames, world.speeds[1]


@functools.lru_cache(maxsize=4096)
def min_frames(prompt: str, world: WorldConfig) -> int | None:
    """The fewest frames (from FRAMES) in which `world` can show every glyph of `prompt` whole twice: sideways at
    its top speed and smallest size; None if not even MAX_FRAMES can."""
    prompt = world_prompt(prompt)
    for frames in range(FRAMES, MAX_FRAMES + 1):
        d = path_displacements("line", math.pi, world.speeds[1], np.random.default_rng(0), frames)
        if len(valid_starts(prompt, world.sizes[0], d)):
            return frames
    return None


def sample_motion(prompt: str, world: WorldConfig, rng: np.random.Generator, shapes: tuple[str, ...] | None = None,
                  frames: int = FRAMES) -> Motion:
    """A motion of `frames` frames for `prompt` drawn from `world` (its training shapes, or `shapes`) that keeps
    the invariant. The scroll world has one 16-frame motion per prompt. Raises ValueError if none is found in
    MAX_TRIES draws, saying how many frames the prompt needs when too few were asked."""
    frames = check_frames(frames)
    prompt = world_prompt(prompt)
    if world.name == "scroll":
        if frames != FRAMES:
            raise ValueError(f"the scroll world has one motion of {FRAMES} frames per prompt, not {frames}")
        return scroll_motion(prompt)
    shapes = world.shapes if shapes is None else tuple(shapes)
    speeds = speed_range(world, frames)
    for _ in range(MAX_TRIES):
        shape, size, displacement = draw_path(world, rng, shapes, frames)
        motion = place(prompt, size, displacement, rng)
        if motion is not None:
            return Motion(motion.xs, motion.ys, motion.size, shape)
    need = min_frames(prompt, world)
    if need is not None and need <= frames:  # it fits only near the world's limits: sideways at its smallest size, at the
        # fastest speed that keeps some text on screen to the end (top speed shows every glyph soonest; a long video
        # must not run out of text before its last frame)
        angles = (math.pi, 0.0)[:: 1 if rng.random() < 0.5 else -1]
        for speed in np.linspace(speeds[1], speeds[0], 24):
            for angle in angles:
                motion = place(prompt, world.sizes[0], path_displacements("line", angle, float(speed), rng, frames), rng)
                if motion is not None:
                    return Motion(motion.xs, motion.ys, motion.size, "line")
    if need is None or need > frames:
        raise ValueError(f"{prompt!r} ({len(prompt)} symbols) is too long for {frames} frames: this world shows every glyph "
                         "whole twice only in " + (f"{need} frames or more" if need else f"more than {MAX_FRAMES} frames (none it makes)"))
    raise ValueError(f"no motion of the {world.name!r} world shows every glyph of {prompt!r} whole in "
                     f"{MIN_VISIBLE_FRAMES} frames ({MAX_TRIES} tries)")


def _check_size(size) -> None:
    """A font size a motion may ask for (before any glyph is measured at it)."""
    if not 8 <= size <= 28:
        raise ValueError(f"font size must be in [8, 28], got {size}")


def line_motion(prompt: str, direction_deg: float, speed: float, size: int = FONT_SIZE, frames: int = FRAMES) -> Motion:
    """A user's straight motion over `frames` frames: heading `direction_deg` (0 = rightwards, 90 = downwards),
    `speed` pixels a frame, centred so the text passes through the middle of the frame; refused if it breaks
    the invariant."""
    prompt = world_prompt(prompt)
    _check_size(size)
    if not math.isfinite(direction_deg) or not math.isfinite(speed):
        raise ValueError(f"direction and speed must be finite numbers, got {direction_deg!r} and {speed!r}")
    d = path_displacements("line", math.radians(direction_deg), speed, np.random.default_rng(0), check_frames(frames))
    boxes = glyph_boxes(prompt, size)
    centre = np.array([(boxes[:, 0].min() + boxes[:, 2].max()) / 2, (boxes[:, 1].min() + boxes[:, 3].max()) / 2])
    start = np.rint(np.array([WIDTH / 2, HEIGHT / 2]) - centre - d.mean(axis=0))  # the path's middle at the frame's centre
    pos = (start + np.rint(d)).astype(np.int64)
    motion = Motion(pos[:, 0], pos[:, 1], size, "line")
    check_motion(prompt, motion)
    return motion


def path_motion(prompt: str, points: list[tuple[float, float]], size: int = FONT_SIZE, frames: int = FRAMES) -> Motion:
    """A user's drawn path: 2+ points (x, y) of the text's centre in screen pixels, visited at constant
    speed over the video's `frames` frames; refused if it breaks the invariant."""
    prompt = world_prompt(prompt)
    _check_size(size)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.isfinite(pts).all():
        raise ValueError(f"a path needs at least two finite (x, y) points, got {points!r}")
    if np.abs(pts).max() > PATH_REACH:
        raise ValueError(f"path points must lie within {PATH_REACH} pixels of the frame's corner, got {points!r}")
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    frames = check_frames(frames)
    targets = np.linspace(0, arc[-1], frames) if arc[-1] > 0 else np.zeros(frames)
    centres = np.stack([np.interp(targets, arc, pts[:, k]) for k in (0, 1)], axis=1)  # (F, 2)
    boxes = glyph_boxes(prompt, size)
    centre = np.array([(boxes[:, 0].min() + boxes[:, 2].max()) / 2, (boxes[:, 1].min() + boxes[:, 3].max()) / 2])
    pos = np.rint(centres - centre).astype(np.int64)
    motion = Motion(pos[:, 0], pos[:, 1], size, "path")
    check_motion(prompt, motion)
    return motion


def extend_motion(motion: Motion, frames: int) -> Motion:
    """`motion` continued to `frames` frames along its last step (a long video made a patch longer than asked,
    then cut); not checked against the invariant."""
    extra = frames - motion.frames
    if extra < 0:
        raise ValueError(f"cannot extend a motion of {motion.frames} frames to {frames}")
    dx, dy = motion.xs[-1] - motion.xs[-2], motion.ys[-1] - motion.ys[-2]
    steps = np.arange(1, extra + 1)
    return Motion(motion.xs + tuple(motion.xs[-1] + dx * steps), motion.ys + tuple(motion.ys[-1] + dy * steps), motion.size,
                  motion.shape)


# ----------------------------------------------------------------------------- rendering


def render_motion(prompt: str, motion: Motion, scale: int = 1) -> np.ndarray:
    """The ground-truth video of `prompt` moving along `motion`: uint8 (T, H, W), white text on black; at `scale` 2
    (WorldConfig.scale) the same text drawn at twice the size along twice the path, (T, 2H, 2W)."""
    prompt = world_prompt(prompt)
    strip = render_strip_at(prompt, motion.size, scale)  # (Hs, Ws)
    h, w = HEIGHT * scale, WIDTH * scale
    video = np.zeros((motion.frames, h, w), dtype=np.uint8)
    hs = strip.shape[0]
    for f, (x, y) in enumerate(zip(motion.xs, motion.ys)):
        x, y = x * scale, y * scale
        lo, hi = max(y, 0), min(y + hs, h)  # visible rows of the strip in this frame
        if hi > lo:
            video[f, lo:hi] = paste_strip(strip[lo - y : hi - y], np.array([x]), width=w)[0]
    return video


def downscale(videos: np.ndarray, scale: int) -> np.ndarray:
    """uint8 videos (..., H, W) rendered at `scale` -> (..., H / scale, W / scale), each pixel the mean of its block: a
    scaled world's videos as the 32x32 judges (readers, nearest render, tracking) read them."""
    if scale == 1:
        return videos
    v = np.asarray(videos, dtype=np.float32)
    blocks = v.reshape(*v.shape[:-2], v.shape[-2] // scale, scale, v.shape[-1] // scale, scale)
    return np.round(blocks.mean(axis=(-3, -1))).astype(np.uint8)



MOTION_SPEC_HELP = ("random (drawn from the world, by the seed), line:DIRECTION,SPEED[,SIZE] (degrees, 0 = rightwards, "
                    "90 = downwards; pixels a frame; font size), or path:X,Y;X,Y;...[@SIZE] (the text's centre, visited at "
                    "constant speed)")


def motion_from_spec(spec: str, prompt: str, world: WorldConfig, seed: int = 0, frames: int = FRAMES) -> Motion:
    """A motion of `frames` frames from its text form (MOTION_SPEC_HELP), checked against the invariant; bad
    specs raise ValueError with the form expected."""
    text = str(spec).strip().lower()
    frames = check_frames(frames)
    try:
        if text == "random":
            return sample_motion(prompt, world, np.random.default_rng(seed), frames=frames)
        kind, _, args = text.partition(":")
        if kind == "line":
            values = [float(v) for v in args.split(",")]
            if len(values) not in (2, 3):
                raise ValueError("line needs DIRECTION,SPEED[,SIZE]")
            size = int(values[2]) if len(values) == 3 else FONT_SIZE
            if len(values) == 3 and values[2] != size:
                raise ValueError("SIZE must be a whole number")
            if not 0 < values[1] <= 8:
                raise ValueError(f"SPEED must be in (0, 8] pixels a frame, got {values[1]:g}")
            return line_motion(prompt, values[0], values[1], size, frames)
        if kind == "path":
            points, _, size = args.partition("@")
            pts = [tuple(float(v) for v in p.split(",")) for p in points.split(";") if p.strip()]
            return path_motion(prompt, pts, int(size) if size else FONT_SIZE, frames)
    except ValueError as e:
        if any(k in str(e) for k in ("wholly on screen", "font size", "no motion of", "too long for", "empty in")):
            raise
        raise ValueError(f"bad motion {spec!r}: {e}; expected {MOTION_SPEC_HELP}") from None
    raise ValueError(f"bad motion {spec!r}: expected {MOTION_SPEC_HELP}")


def describe_motion(motion: Motion) -> str:
    """One line a person reads: the path shape, where it starts and ends, its mean speed and the size."""
    v = motion.velocities  # (F-1, 2)
    speed = float(np.linalg.norm(v, axis=1).mean())
    dx, dy = motion.xs[-1] - motion.xs[0], motion.ys[-1] - motion.ys[0]
    heading = math.degrees(math.atan2(dy, dx)) % 360
    return (f"{motion.shape}, from ({motion.xs[0]}, {motion.ys[0]}) to ({motion.xs[-1]}, {motion.ys[-1]}), heading {heading:.0f} deg "
            f"(0 = rightwards, 90 = downwards), {speed:.1f} px a frame, size {motion.size}")
