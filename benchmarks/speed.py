"""Speed of the `small` preset on this machine: sampling ms/step with guidance, and training
throughput against a straightforward fp32 version of the same network (nn.MultiheadAttention,
no bf16), measured side by side in one run.

    python benchmarks/speed.py [--preset small] [--checkpoint DIR] [--repeats 20]

Run it on an idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time

import torch
import torch.nn as nn

from vidgen import tokenizer as tok
from vidgen.config import get_preset
from vidgen.models import build_model
from vidgen.models.layers import Attention
from vidgen.pipeline import bf16_is_fast, load_pipeline


class NaiveAttention(nn.Module):
    """The textbook way: nn.MultiheadAttention with its defaults (weights returned), fp32."""

    def __init__(self, dim, heads):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x, context=None, mask=None, rope=None):
        context = x if context is None else context
        out, _ = self.mha(x, context, context, key_padding_mask=None if mask is None else ~mask)
        return out


def naive_version(model: nn.Module) -> nn.Module:
    """Swap every Attention for NaiveAttention (same shapes, same parameter count)."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Attention):
                dim = child.to_q.in_features
                setattr(module, child_name, NaiveAttention(dim, child.heads))
    return model


def time_it(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def train_step_fn(model, bf16: bool, batch: int):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 16, 32, 32, generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    ids = torch.from_numpy(tok.encode_batch(["NOISE"] * batch))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x, t, ids)
        loss = (out.float() - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--checkpoint", default=None, help="time sampling with this checkpoint (default: untrained preset)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16, help="training batch")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = get_preset(args.preset).model
    results = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "bf16_fast": bf16_is_fast(torch.device("cpu")), "preset": args.preset}

    # -- sampling: one guided denoising step (cond + uncond in one batch of 2) ---------------------
    if args.checkpoint:
        pipe = load_pipeline(args.checkpoint)
    else:
        from vidgen.pipeline import Pipeline

        pipe = Pipeline(build_model(cfg), get_preset(args.preset).diffusion)
    for bf16 in (True, False):
        pipe.bf16 = bf16
        steps = 50
        dt = time_it(lambda: pipe.generate("NOISE", steps=steps, guidance_scale=3.0), max(2, args.repeats // 5), warmup=1)
        results[f"sample_ms_per_step_{'bf16' if bf16 else 'fp32'}"] = round(1000 * dt / steps, 2)
        results[f"sample_50_steps_s_{'bf16' if bf16 else 'fp32'}"] = round(dt, 3)

    # -- training throughput: ours vs the straightforward fp32 version ---------------------------
    ours = build_model(cfg).train()
    results["train_samples_per_s_ours_bf16"] = round(args.batch / time_it(train_step_fn(ours, True, args.batch), args.repeats), 2)
    results["train_samples_per_s_ours_fp32"] = round(args.batch / time_it(train_step_fn(ours, False, args.batch), args.repeats), 2)
    # nn.MultiheadAttention has no rotary hook: the baseline is the same network without RoPE,
    # and our own implementation is timed on that network too so the ratio compares like with like
    norope = dataclasses.replace(cfg, rope=False)
    naive = naive_version(build_model(norope)).train()
    ours_norope = build_model(norope).train()
    results["train_samples_per_s_naive_fp32_norope"] = round(args.batch / time_it(train_step_fn(naive, False, args.batch), args.repeats), 2)
    results["train_samples_per_s_ours_bf16_norope"] = round(args.batch / time_it(train_step_fn(ours_norope, True, args.batch), args.repeats), 2)
    results["train_speedup_vs_naive"] = round(results["train_samples_per_s_ours_bf16_norope"] / results["train_samples_per_s_naive_fp32_norope"], 2)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
