"""What each variant's attention costs as the video grows: analytic FLOPs and score memory per
forward pass, the rest of the network's FLOPs counted by torch, and a measured forward time.

Attention FLOPs count the two products QK^T and AV: 2 * (2 * Nq * Nk * D) per layer call, summed
over the sequences the layer splits the tokens into. "Score entries" are the heads * Nq * Nk
attention weights a non-fused kernel materialises (fused kernels stream them, but their time still
grows with them). The prompt encoder's attention over 8 symbols is left out: it is the same for
every variant and negligible.

| variant   | self-attention sequences per block (grid T' x H' x W', S = H'W', N = T'S) |
| --------- | ------------------------------------------------------------------------- |
| full      | 1 of N                                                                    |
| gentron   | T' of S (space) + S of T' (time)                                          |
| latte     | T' of S in spatial blocks, S of T' in temporal blocks                     |
| snapvideo | M = G*L latents: G reads/writes of L x N/G, latent_layers of M x M        |
| conv3d    | none (convolutions); prompt cross-attention in the coarse levels           |
"""
from __future__ import annotations

import dataclasses
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..models import build_model
from ..models.config import ModelConfig
from ..models.conv3d import LEVELS


def _attn(nq: int, nk: int, dim: int, heads: int, sequences: int = 1) -> tuple[int, int]:
    """(FLOPs of QK^T and AV, score entries) for `sequences` attention calls of nq queries and nk keys."""
    return sequences * 4 * nq * nk * dim, sequences * heads * nq * nk


def attention_cost(cfg: ModelConfig) -> dict:
    """Analytic attention cost of one forward pass for one video: self- and cross-attention FLOPs
    and score entries, and the largest single attention matrix (per head)."""
    t, h, w = cfg.grid
    s, n, d, heads, lt = h * w, cfg.num_tokens, cfg.dim, cfg.heads, cfg.prompt_len
    self_parts, cross_parts, largest = [], [], 0
    if cfg.variant == "full":
        self_parts += [_attn(n, n, d, heads)] * cfg.depth
        cross_parts += [_attn(n, lt, d, heads)] * cfg.depth
        largest = n * n
    elif cfg.variant == "gentron":
        self_parts += [_attn(s, s, d, heads, t), _attn(t, t, d, heads, s)] * cfg.depth
        cross_parts += [_attn(n, lt, d, heads)] * cfg.depth
        largest = max(s * s, t * t)
    elif cfg.variant == "latte":
        for i in range(cfg.depth):
            spatial = i % 2 == 0
            self_parts.append(_attn(s, s, d, heads, t) if spatial else _attn(t, t, d, heads, s))
            injected = cfg.text_placement == "both" or (spatial and cfg.text_placement in ("spatial", "between"))
            if injected:
                cross_parts.append(_attn(n, lt, d, heads))
        largest = max(s * s, t * t) if cfg.depth > 1 else s * s
    elif cfg.variant == "snapvideo":
        g = cfg.latent_groups**2
        lg = cfg.latents_per_group
        m, p = g * lg, n // g
        for _ in range(cfg.depth):
            cross_parts.append(_attn(m, 1 + lt, d, heads))  # latents <- conditioning
            cross_parts += [_attn(lg, p, d, heads, g), _attn(p, lg, d, heads, g)]  # read, write
            self_parts += [_attn(m, m, d, heads)] * cfg.latent_layers
        largest = max(lg * p, m * m)
    elif cfg.variant == "conv3d":
        blocks = max(1, cfg.depth // 3)
        chans = [cfg.dim // 8, cfg.dim // 2, cfg.dim]
        for level in range(1, LEVELS):
            positions = (cfg.frames >> level) * (cfg.height >> level) * (cfg.width >> level)
            calls = 2 * blocks + (1 if level == LEVELS - 1 else 0)  # down + up stages (+ the middle one)
            cross_parts += [_attn(positions, lt, chans[level], heads)] * calls
    else:
        raise ValueError(f"unknown model variant {cfg.variant!r}")
    return {
        "tokens": n,  # patch tokens (conv3d does not patch; the same count for comparison)
        "self_attn_gflops": sum(f for f, _ in self_parts) / 1e9,
        "cross_attn_gflops": sum(f for f, _ in cross_parts) / 1e9,
        "score_entries_m": sum(e for _, e in self_parts + cross_parts) / 1e6,
        "largest_matrix": largest,
    }


def counted_gflops(model, batch: int = 1) -> float:
    """FLOPs of one forward pass as torch's FlopCounterMode counts them (matmuls and convolutions;
    it does not see the CPU's fused attention kernel, which `attention_cost` adds)."""
    cfg = model.cfg
    x = torch.zeros(batch, cfg.frames, cfg.height, cfg.width)
    t = torch.zeros(batch, dtype=torch.long)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x, t, model.null_prompt(batch))
    return counter.get_total_flops() / 1e9


def forward_ms(model, batch: int = 1, repeats: int = 3, device: str = "cpu", bf16: bool = False) -> float:
    """Median wall-clock milliseconds of one no-grad forward pass."""
    cfg = model.cfg
    dev = torch.device(device)
    model = model.to(dev).eval()
    x = torch.randn(batch, cfg.frames, cfg.height, cfg.width, device=dev)
    t = torch.full((batch,), 500, dtype=torch.long, device=dev)
    ids = model.null_prompt(batch, dev)
    times = []
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(repeats + 1):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x, t, ids)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if i:  # the first call warms up
                times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def grown(cfg: ModelConfig, frames: int, size: int) -> ModelConfig:
    """The same network for a video of `frames` frames of size x size (same patch, more tokens).

    The glyph layout is defined for the dataset's video only, so a grown layout model is costed
    without it (the layout adds one linear projection per token, next to nothing beside attention)."""
    if (frames, size, size) != (cfg.frames, cfg.height, cfg.width) and cfg.layout != "none":
        cfg = dataclasses.replace(cfg, layout="none", template_dim=0)
    return dataclasses.replace(cfg, frames=frames, height=size, width=size)


def cost_table(configs: dict[str, ModelConfig], sizes: list[tuple[int, int]], measure_up_to: int = 4096,
               repeats: int = 3, device: str = "cpu", bf16: bool = False, progress=None) -> list[dict]:
    """One row per (variant, video size): analytic attention cost, counted FLOPs, parameters and,
    for videos of at most `measure_up_to` patch tokens, the measured forward time for one video."""
    rows = []
    for name, base in configs.items():
        for frames, size in sizes:
            cfg = grown(base, frames, size)
            torch.manual_seed(0)
            model = build_model(cfg)
            row = {"variant": name, "frames": frames, "size": size, "params_m": model.num_params() / 1e6,
                   **attention_cost(cfg), "other_gflops": counted_gflops(model)}
            row["forward_ms"] = (forward_ms(model, repeats=repeats, device=device, bf16=bf16)
                                 if cfg.num_tokens <= measure_up_to else None)
            rows.append(row)
            if progress:
                progress(row)
    return rows


def cost_markdown(rows: list[dict]) -> str:
    """The cost table as markdown."""
    head = ("| variant | video (TxHxW) | tokens | self-attn GFLOPs | cross-attn GFLOPs | other GFLOPs | total GFLOPs | "
            "score entries (M) | largest matrix | forward ms |")
    lines = [head, "|---" * 10 + "|"]
    for r in rows:
        ms = "-" if r["forward_ms"] is None else f"{r['forward_ms']:.0f}"
        lines.append(f"| {r['variant']} | {r['frames']}x{r['size']}x{r['size']} | {r['tokens']} | {r['self_attn_gflops']:.3f} | "
                     f"{r['cross_attn_gflops']:.3f} | {r['other_gflops']:.2f} | "
                     f"{r['self_attn_gflops'] + r['cross_attn_gflops'] + r['other_gflops']:.2f} | {r['score_entries_m']:.2f} | "
                     f"{r['largest_matrix']} | {ms} |")
    return "\n".join(lines)
