"""What each variant's attention costs as the video grows: analytic FLOPs and score memory per
forward pass, the rest of the network's FLOPs counted by torch, and a measured forward time.

Attention FLOPs count the two products QK^T and AV: 2 * (2 * Nq * Nk * D) per layer call, summed
over the sequences the layer splits the tokens into. "Score entries" are the heads * Nq * Nk
attention weights a non-fused kernel materialises (fused kernels stream them, but their time still
grows with them). The prompt encoder's attention over 8 symbols is left out: it is the same for
every variant and negligible. Which calls a forward pass makes, each variant declares itself
(`VideoDenoiser.attention_calls`: full attends over all N tokens, gentron and latte along one axis,
snapvideo through a few latents, conv3d only to the prompt).
"""
from __future__ import annotations

import dataclasses
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..models import build_model, variant_class
from ..models.attention_calls import AttentionCall
from ..models.config import ModelConfig


def _flops(call: AttentionCall) -> int:
    """FLOPs of QK^T and AV over the call's sequences."""
    return call.sequences * 4 * call.queries * call.keys * call.dim


def attention_cost(cfg: ModelConfig) -> dict:
    """Analytic attention cost of one forward pass for one video: self- and cross-attention FLOPs
    and score entries, and the largest single attention matrix (per head) outside the prompt
    cross-attention."""
    calls = variant_class(cfg.variant).attention_calls(cfg)
    return {
        "tokens": cfg.num_tokens,  # patch tokens (conv3d does not patch; the same count for comparison)
        "self_attn_gflops": sum(_flops(c) for c in calls if c.kind == "self") / 1e9,
        "cross_attn_gflops": sum(_flops(c) for c in calls if c.kind != "self") / 1e9,
        "score_entries_m": sum(c.sequences * cfg.heads * c.queries * c.keys for c in calls) / 1e6,
        "largest_matrix": max((c.queries * c.keys for c in calls if c.kind != "prompt"), default=0),
    }


def counted_gflops(model, batch: int = 1) -> float:
    """FLOPs of one forward pass as torch's FlopCounterMode counts them (matmuls and convolutions;
    it does not see the CPU's fused attention kernel, which `attention_cost` adds)."""
    cfg = model.cfg
    x = torch.zeros(batch, *cfg.sample_shape)
    t = torch.zeros(batch, dtype=torch.long)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x, t, model.null_prompt(batch))
    return counter.get_total_flops() / 1e9


def forward_ms(model, batch: int = 1, repeats: int = 3, device: str = "cpu", bf16: bool = False) -> float:
    """Median wall-clock milliseconds of one no-grad forward pass."""
    cfg = model.cfg
    dev = torch.device(device)
    model = model.to(dev).eval()
    x = torch.randn(batch, *cfg.sample_shape, device=dev)
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
    if (frames, size, size) != (cfg.frames, cfg.height, cfg.width) and cfg.layout_kind.reads_layout:
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
