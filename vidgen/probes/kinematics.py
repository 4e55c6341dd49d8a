"""Seed 004's kinematic question in the motion world: for text moving at velocity v, does a patch's
attention to the other frames peak where the motion puts the same piece of text, x + v dt, or where the
patch itself is, x?

For a sampled video of a prompt moving along a straight line, every query patch that shows ink (in the
truth) is followed through the joint self-attention of the last denoising step (averaged over layers and
heads): in each other token frame its attention is renormalised over that frame's patches, and its peak
(the attention-weighted centre of the frame's strongest patch and its neighbours) is compared with two
guesses: the motion's, the query's centre moved by the text's displacement between the two frames, and
the static one, the query's own centre. The number: the mean distance in pixels to each guess; a model
that tracks the motion scores lower on the first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from einops import rearrange

from ..data.world import Motion
from .analysis import trace_attention

NEIGHBOURHOOD = 1  # patches each side of the peak in the weighted centre


@dataclass
class KinematicResult:
    """Per (query, other frame) pair: the attention peak and the two guesses, in pixels (x, y)."""

    peaks: np.ndarray  # (K, 2)
    moving: np.ndarray  # (K, 2) where the motion puts the query's piece of text
    static: np.ndarray  # (K, 2) the query's own centre
    dt: np.ndarray  # (K,) token frames between query and key
    attention: np.ndarray  # (T', H', W', T', H', W') the last step's self-attention, averaged over layers and heads
    queries: list[tuple[int, int, int]]

    def errors(self) -> dict:
        moving = np.linalg.norm(self.peaks - self.moving, axis=1)
        static = np.linalg.norm(self.peaks - self.static, axis=1)
        return {"pairs": int(len(self.dt)), "queries": len(self.queries),
                "error_to_motion_px": float(moving.mean()), "error_to_static_px": float(static.mean()),
                "closer_to_motion": float((moving < static).mean())}


def _frame_positions(motion: Motion, pt: int) -> np.ndarray:
    """(T', 2) the strip's mean position (x, y) over each token frame's pt frames."""
    pos = np.stack([motion.xs, motion.ys], axis=1).astype(float)  # (T, 2)
    return pos.reshape(-1, pt, 2).mean(axis=1)


def kinematic_attention(pipe, prompt: str, motion: Motion, seed: int = 0, steps: int = 20) -> KinematicResult:
    """Trace the sample of `prompt` along `motion` and score every inked query patch against every other frame."""
    trace = trace_attention(pipe, prompt, seed=seed, steps=steps, motion=motion, self_attention_steps=(steps - 1,))
    t, h, w = trace.grid
    pt, ph, pw = trace.patch
    attn = trace.self_attn[0].astype(np.float32).mean(axis=(0, 1))  # (N, N)
    attn = rearrange(attn, "(t1 h1 w1) (t2 h2 w2) -> t1 h1 w1 t2 h2 w2", t1=t, h1=h, w1=w, t2=t, h2=h, w2=w)
    where = _frame_positions(motion, pt)  # (T', 2)
    centres_x = (np.arange(w) + 0.5) * pw
    centres_y = (np.arange(h) + 0.5) * ph
    queries = [tuple(int(v) for v in q) for q in np.argwhere(trace.ownership >= 0)]
    peaks, moving, static, dts = [], [], [], []
    for q in queries:
        qt, qy, qx = q
        own = np.array([centres_x[qx], centres_y[qy]])
        for kt in range(t):
            if kt == qt:
                continue
            a = attn[q][kt]  # (H', W')
            a = a / max(a.sum(), 1e-12)
            py, px = np.unravel_index(np.argmax(a), a.shape)
            ys = slice(max(py - NEIGHBOURHOOD, 0), py + NEIGHBOURHOOD + 1)
            xs = slice(max(px - NEIGHBOURHOOD, 0), px + NEIGHBOURHOOD + 1)
            local = a[ys, xs]
            cy = (local.sum(1) * centres_y[ys]).sum() / local.sum()
            cx = (local.sum(0) * centres_x[xs]).sum() / local.sum()
            peaks.append((cx, cy))
            moving.append(own + where[kt] - where[qt])
            static.append(own)
            dts.append(kt - qt)
    return KinematicResult(np.array(peaks), np.array(moving), np.array(static), np.array(dts), attn, queries)


def kinematic_figure(result: KinematicResult, title: str = ""):
    """A matplotlib Figure: the attention of the middle inked query patch to every token frame (heat maps,
    its own centre as a white circle, where the motion puts it as a cyan cross), and the distances to
    both guesses against the frame gap."""
    from matplotlib.figure import Figure

    t = result.attention.shape[0]
    q = result.queries[len(result.queries) // 2]
    fig = Figure(figsize=(2.0 * t, 4.6))
    grid = fig.add_gridspec(2, t, height_ratios=[1, 1.3])
    h, w = result.attention.shape[1:3]
    ph, pw = 32 / h, 32 / w
    sel = [i for i, _ in enumerate(result.dt)]
    for kt in range(t):
        ax = fig.add_subplot(grid[0, kt])
        ax.imshow(result.attention[q][kt], cmap="magma", extent=(0, 32, 32, 0))
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlim(0, 32), ax.set_ylim(32, 0)  # the frame; a guess outside it is not drawn
        ax.set_title("query" if kt == q[0] else f"dt {kt - q[0]:+d}", fontsize=8)
        own = ((q[2] + 0.5) * pw, (q[1] + 0.5) * ph)
        ax.plot(*own, "o", mfc="none", mec="white", ms=8)
        match = [i for i in sel if result.dt[i] == kt - q[0] and np.allclose(result.static[i], own)]
        if match:
            ax.plot(*result.moving[match[0]], "x", color="cyan", ms=9, mew=2)
    ax = fig.add_subplot(grid[1, :])
    moving = np.linalg.norm(result.peaks - result.moving, axis=1)
    static = np.linalg.norm(result.peaks - result.static, axis=1)
    gaps = np.unique(result.dt)
    ax.plot(gaps, [moving[result.dt == g].mean() for g in gaps], "o-", color="tab:cyan", label="to x + v dt (the motion)")
    ax.plot(gaps, [static[result.dt == g].mean() for g in gaps], "s--", color="tab:gray", label="to x (standing still)")
    ax.set_xlabel("token frames between query and key (dt)")
    ax.set_ylabel("attention peak's distance (px)")
    ax.legend(fontsize=8)
    fig.suptitle(title or "where a patch attends in the other frames", fontsize=10)
    return fig
