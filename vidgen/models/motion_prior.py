"""A learned motion prior: given a prompt, draw where its text goes (ModelConfig.layout = "learned2d").

The motion world draws a motion per sample; a model with the blog's interface (prompt tokens in, video
out) must produce that variety itself. The prior is a small conditional flow-matching model (Lipman et
al. 2023, rectified flow's straight paths) over a motion written as one vector: the strip's corner in the
first frame, its step across and down in every next frame, and the font size. It is trained on the motions of the training
batches (free labels, like the layout predictor's widths), conditioned on what the prompt's width
says about which motions keep its glyphs on screen: the predicted width at the reference size and
the number of glyphs. Sampling integrates its velocity field from seeded Gaussian noise with Euler
steps: a few thousand multiply-adds, nothing next to one denoiser pass.

Two ways to say where the path starts (ModelConfig.motion_prior, MOTION_PRIORS): "whole" learns the start
with the path; "placed" learns the path and size only (its vector starts at the second frame's step) and
leaves the start to the caller, who places the path as the world does (uniformly among the starts that
show every glyph whole twice: vidgen.models.aligner2d). A learned start must land in a window a few pixels
wide for a long prompt, so most whole draws missed it and the filter that threw them away kept the paths
whose windows are widest, the sideways ones (docs/world.md, "The blog's model made faithful to its world").
"gated" is "placed" with one more number a step, whose sign says whether the step moves: the world's paths
pause with steps of exactly 0 px, a point mass a flow over the steps alone spreads over fractions of a pixel (its
pauses crept and its stop-and-go paths passed for lines).
"shaped" is "gated" drawn in two stages, each learned: first a path shape (a softmax over the world's training
shapes, from the same condition), then the path given its shape, written in its own frame: its steps turned so that
its chord points along +x and mirrored so that it turns towards +y, the chord's heading (cos, sin) and the mirroring
(+-1) as three more numbers. One flow over every shape at every heading blended them: its lines wobbled into bounces
and its arcs, turning either way, came out half straight (docs/world.md, "Path shapes").
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..data.layout import FONT_SIZE

POSITION_SCALE = 32.0  # pixels: the start is learned in frames
STEP_SCALE = 4.0  # pixels: a frame's step is learned in units of a typical speed
SIZE_SCALE = 4.0  # font sizes: (size - FONT_SIZE) / SIZE_SCALE
WIDTH_SCALE = 100.0  # pixels: the prompt's width at FONT_SIZE, as the prior reads it
TIME_FEATURES = 16
SAMPLE_STEPS = 32  # Euler steps from noise to a motion
MOTION_PRIORS = ("whole", "placed", "gated", "shaped")  # ModelConfig.motion_prior: the start learned with the path, or
# placed after; "gated" is "placed" with a gate per step that writes a pause as a step of exactly 0 px; "shaped" is
# "gated" given a path shape it draws first, the path written in its own frame
PLACED_PRIORS = ("placed", "gated", "shaped")  # the priors whose paths the model places
GATED_PRIORS = ("gated", "shaped")  # the priors that write pauses as still steps
SHAPE_HIDDEN = 64  # the shape head's width
GATE_SCALE = 1.0  # a gate's target: +1 a step that moves, -1 a pause; decoded by its sign
PRIOR_MOTIONS = ("world", "raw")  # what a refit teaches the prior: the world's placed motions, or its draws before placing


class MotionPrior(nn.Module):
    """Conditional flow matching over motions (B, T, 3) = per frame (x, y, size)."""

    def __init__(self, frames: int, hidden: int = 512, depth: int = 3, learns_start: bool = True, gates: bool = False,
                 shapes: int = 0):
        super().__init__()
        if shapes and (learns_start or not gates):
            raise ValueError("a prior drawn by path shape places its paths and gates its steps (motion_prior 'shaped')")
        self.frames = frames
        self.learns_start = learns_start  # False: the start is placed by the caller ("placed"); decode puts it at (0, 0)
        self.gates = gates  # True ("gated"): one more number a step, whose sign says whether the step moves at all
        self.shapes = shapes  # > 0 ("shaped"): classes of path shape (TRAINING_SHAPES) drawn first; paths in their own frame
        self.dim = 2 * frames + 1 - (0 if learns_start else 2) + (frames - 1 if gates else 0) + (3 if shapes else 0)
        # [x0, y0,] the steps across and down, the size[, the gates][, the chord's cos and sin, the mirroring]
        if not learns_start:  # the font sizes the training motions used, smallest and largest, kept with the weights:
            # a flow's tails reach sizes its data never had, and a placed draw outside them is redrawn
            self.register_buffer("size_range", torch.tensor([float("inf"), float("-inf")]))
        # the path shape's logits from the prompt's condition ("shaped")
        self.shape_head = nn.Sequential(nn.Linear(2, SHAPE_HIDDEN), nn.SiLU(), nn.Linear(SHAPE_HIDDEN, shapes)) if shapes else None
        layers: list[nn.Module] = [nn.Linear(self.dim + TIME_FEATURES + 2 + shapes, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, self.dim))
        self.net = nn.Sequential(*layers)

    # -- the vector a motion is written as ---------------------------------------------------------
    def encode(self, motion: torch.Tensor) -> torch.Tensor:
        """(B, T, 3) int motions -> (B, 2T+1) float: the start (x, y), the T-1 steps across and down, the size.
        Steps rather than positions: a path is smooth in its steps (measured on the world's motions, a prior
        over positions, 256 wide, kept every glyph on screen in 36% of draws; over steps, 512 wide, in 47%;
        the two changes were measured together: docs/world.md)."""
        m = motion.float()
        x, y = m[..., 0], m[..., 1]  # (B, T)
        start = [x[:, :1] / POSITION_SCALE, y[:, :1] / POSITION_SCALE] if self.learns_start else []
        dx, dy = torch.diff(x, dim=1), torch.diff(y, dim=1)  # (B, T-1) each
        gates = [torch.where((dx != 0) | (dy != 0), GATE_SCALE, -GATE_SCALE)] if self.gates else []
        frame = []
        if self.shapes:
            dx, dy, frame = own_frame(dx, dy)
        return torch.cat([*start, dx / STEP_SCALE, dy / STEP_SCALE, (m[:, :1, 2] - FONT_SIZE) / SIZE_SCALE, *gates, *frame], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, T, 3) int64 motions: whole pixels, a whole font size in [8, 28] (a Motion's range); a
        "placed" prior's paths start at (0, 0); a gated prior's steps whose gate is not positive are 0."""
        t = self.frames
        moving = None
        frame = None
        if self.shapes:
            z, frame = z[:, :-3], z[:, -3:]  # (B, D-3), (B, 3): the chord's cos and sin, the mirroring
        if self.gates:
            z, moving = z[:, : -(t - 1)], z[:, -(t - 1) :] > 0  # (B, 2T-1), (B, T-1)
        if not self.learns_start:
            z = torch.cat([torch.zeros_like(z[:, :2]), z], dim=1)  # (B, 2T+1)
        x0, y0 = z[:, :1] * POSITION_SCALE, z[:, 1:2] * POSITION_SCALE
        dx, dy = z[:, 2 : t + 1] * STEP_SCALE, z[:, t + 1 : 2 * t] * STEP_SCALE
        if frame is not None:
            dx, dy = world_frame(dx, dy, frame)
        if moving is not None:  # a paused step is exactly still, as the world's are
            dx, dy = dx * moving, dy * moving
        xs = torch.round(torch.cat([x0, x0 + torch.cumsum(dx, dim=1)], dim=1))
        ys = torch.round(torch.cat([y0, y0 + torch.cumsum(dy, dim=1)], dim=1))
        size = torch.round(z[:, 2 * t :] * SIZE_SCALE + FONT_SIZE).clamp(8, 28).expand(-1, t)
        return torch.stack([xs, ys, size], dim=-1).long()

    @staticmethod
    def condition(width: torch.Tensor, glyphs: torch.Tensor) -> torch.Tensor:
        """width (B,) of the prompt at FONT_SIZE in pixels, glyphs (B,) how many -> (B, 2)."""
        return torch.stack([width / WIDTH_SCALE, glyphs / 8.0], dim=1).float()

    def velocity(self, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D) at flow time t (B,) in [0, 1] under condition (B, 2) (and a "shaped" prior's path shape (B,)) ->
        the velocity towards data (B, D)."""
        freqs = torch.exp(torch.arange(TIME_FEATURES // 2, device=z.device) * (-math.log(1000.0) / (TIME_FEATURES // 2)))
        angle = 1000.0 * t[:, None] * freqs  # (B, F/2)
        given = [nn.functional.one_hot(shape, self.shapes).float()] if self.shapes else []
        return self.net(torch.cat([z, angle.sin(), angle.cos(), cond, *given], dim=1))

    def loss(self, motion: torch.Tensor, cond: torch.Tensor, generator: torch.Generator | None = None,
             shape: torch.Tensor | None = None) -> torch.Tensor:
        """Flow-matching loss of motions (B, T, 3) under their prompts' condition (B, 2): the velocity at
        z_t = (1 - t) noise + t data should be data - noise. A "shaped" prior also learns the motions' path shapes
        (B,) (indices into TRAINING_SHAPES) by cross-entropy, and its flow is told them."""
        if self.shapes and (shape is None or bool((shape < 0).any()) or bool((shape >= self.shapes).any())):
            raise ValueError("a 'shaped' motion prior learns from motions labelled with their path shapes: refit it "
                             "(python -m vidgen refit-layout --motion-prior shaped), it cannot learn from unlabelled ones")
        with torch.autocast(motion.device.type, enabled=False):
            if not self.learns_start and self.training:
                sizes = motion[:, 0, 2].float()
                self.size_range.copy_(torch.stack([torch.minimum(self.size_range[0], sizes.min()),
                                                   torch.maximum(self.size_range[1], sizes.max())]))
            x1 = self.encode(motion)
            x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
            t = torch.rand(x1.shape[0], generator=generator).to(x1.device)
            zt = (1 - t[:, None]) * x0 + t[:, None] * x1
            flow = (self.velocity(zt, t, cond, shape) - (x1 - x0)).pow(2).mean()
            if not self.shapes:
                return flow
            return flow + nn.functional.cross_entropy(self.shape_head(cond), shape.to(cond.device))

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, seed: int = 0, steps: int = SAMPLE_STEPS) -> torch.Tensor:
        """Motions (B, T, 3) for prompts of condition (B, 2), from Gaussian noise drawn by `seed` (on the CPU,
        so a seed gives the same motion on any device)."""
        with torch.autocast(cond.device.type, enabled=False):
            g = torch.Generator().manual_seed(int(seed))
            shape = None
            if self.shapes:  # the path shape first, then the path given it
                probs = torch.softmax(self.shape_head(cond).float().cpu(), dim=1)
                shape = torch.multinomial(probs, 1, generator=g).squeeze(1).to(cond.device)  # (B,)
            z = torch.randn((cond.shape[0], self.dim), generator=g).to(cond.device)
            for i in range(steps):
                t = torch.full((cond.shape[0],), i / steps, device=cond.device)
                z = z + self.velocity(z, t, cond, shape) / steps
            return self.decode(z)


def own_frame(dx: torch.Tensor, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """A path's steps (B, S) each, across and down -> the steps in its own frame (turned so that its chord points along
    +x, mirrored so that its second half turns from its first towards +y) and [cos, sin] of the chord's heading and the
    mirroring (+1 or -1), each (B, 1): what a "shaped" prior learns. A path that goes nowhere keeps heading 0."""
    heading = torch.atan2(dy.sum(1), dx.sum(1))  # (B,)
    c, s = torch.cos(heading)[:, None], torch.sin(heading)[:, None]
    dx, dy = dx * c + dy * s, dy * c - dx * s
    half = dx.shape[1] // 2
    ax, ay, bx, by = dx[:, :half].sum(1), dy[:, :half].sum(1), dx[:, half:].sum(1), dy[:, half:].sum(1)
    mirror = torch.where(ax * by - ay * bx >= 0, 1.0, -1.0)[:, None]  # (B, 1)
    return dx, dy * mirror, [c, s, mirror]


def world_frame(dx: torch.Tensor, dy: torch.Tensor, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`own_frame` undone: steps (B, S) in a path's own frame and its frame numbers (B, 3) as drawn (cos and sin of
    the heading, in any scale; the mirroring by its sign) -> the steps across and down."""
    heading = torch.atan2(frame[:, 1], frame[:, 0])[:, None]
    dy = dy * torch.where(frame[:, 2:] > 0, 1.0, -1.0)
    c, s = torch.cos(heading), torch.sin(heading)
    return dx * c - dy * s, dx * s + dy * c
