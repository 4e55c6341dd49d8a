"""Speed of the `small` preset on this machine: sampling ms/step with guidance, and training
throughput against a straightforward fp32 version of the same network (nn.MultiheadAttention,
no bf16), measured side by side in one run.

    python -m benchmarks.speed [--preset small] [--checkpoint DIR] [--repeats 20] [--breakdown] [--compile]

--breakdown also reports a guided pass's FLOPs (torch's flop counter) against the time it takes, as a
share of the fp32 matmul rate timed in the same run (the issue's "at least 50%" target).

Run it on an idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch
import torch.nn as nn

from vidgen.compiled import describe_compile
from vidgen.data import tokenizer as tok
from vidgen.models import build_model
from vidgen.models.layers import Attention, quiet_known_warnings
from vidgen.pipeline import load_pipeline
from vidgen.precision import choose_precision, cpu_flags, cpu_model, describe
from vidgen.presets import get_preset


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


OP_CLASSES = {  # torch.profiler op name -> what it is, for the breakdown of a guided step
    "attention": ("scaled_dot_product", "flash_attention"),
    "matmul (linear layers)": ("addmm", "aten::mm", "bmm", "matmul"),
    "convolution": ("convolution",),
    "gelu": ("gelu",),
    "dtype casts (autocast)": ("_to_copy", "aten::copy_"),
}


def guided_inputs(pipe):
    """One prompt's inputs to a guided forward pass at mid noise: x (1, T, H, W), t (1,), ids (1, L)."""
    cfg = pipe.model.cfg
    x = torch.randn(1, cfg.frames, cfg.height, cfg.width)
    return x, torch.full((1,), 500, dtype=torch.long), pipe.encode("NOISE")


def guided_forward(pipe, model=None):
    """A guided forward pass (batch 2; one pass of batch 1 for a guidance-distilled model) at mid noise
    as a function of nothing, the prompts' conditioning encoded once beforehand as the sampler does;
    through `model` (default the pipeline's eager network)."""
    model = pipe.model if model is None else model
    x, t, ids = guided_inputs(pipe)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=pipe.bf16):
        cond = model.encode_for_guidance(ids, 3.0)

    def forward():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=pipe.bf16):
            model.forward_with_guidance(x, t, None, 3.0, cond=cond)
    return forward


def step_breakdown(pipe, repeats: int = 10) -> dict:
    """Where one guided step's time goes: self CPU time of a guided forward pass (batch 2) by op class,
    with the prompts' conditioning encoded once beforehand as the sampler does."""
    from torch.profiler import ProfilerActivity, profile

    forward = guided_forward(pipe)

    for _ in range(3):
        forward()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            forward()
    totals = {name: 0.0 for name in OP_CLASSES}
    everything = 0.0
    for ev in prof.key_averages():
        ms = ev.self_cpu_time_total / 1000 / repeats
        everything += ms
        for name, keys in OP_CLASSES.items():
            if any(k in ev.key for k in keys):
                totals[name] += ms
                break
    totals["everything else"] = everything - sum(totals.values())
    return {k: round(v, 2) for k, v in totals.items()} | {"total (profiled)": round(everything, 2)}


def pass_efficiency(pipe, repeats: int = 20, model=None) -> dict:
    """One guided forward pass against the CPU's own fp32 matmul rate: the model's FLOPs (torch's flop
    counter, on the eager network), the pass's time through `model` (default the eager network; the
    compiled twin does the same arithmetic), and their ratio as a share of what a 1024^3 fp32 matmul
    sustains here."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        guided_forward(pipe)()
    flops = counter.get_total_flops()
    forward = guided_forward(pipe, model)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, repeats)
    pass_s = time_it(forward, repeats)
    rate = 2 * 1024**3 / matmul_s
    return {"gflop_per_guided_pass": round(flops / 1e9, 3), "guided_pass_ms": round(1000 * pass_s, 2),
            "matmul_1024_fp32_ms": round(1000 * matmul_s, 2), "fp32_matmul_gflops": round(rate / 1e9, 1),
            "model_gflops": round(flops / pass_s / 1e9, 1), "share_of_matmul_rate": round(flops / pass_s / rate, 3)}


def conditioning_cost(pipe, repeats: int = 20) -> dict:
    """What encoding the prompts (prompt encoder, glyph layout) costs, and a guided step that encodes
    them itself (as every step did before they were encoded once per generation) against one that
    reads them, timed in the same run."""
    model = pipe.model
    x, t, ids = guided_inputs(pipe)

    def run(fn):
        def timed():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=pipe.bf16):
                fn()
        return 1000 * time_it(timed, repeats)

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=pipe.bf16):
        cond = model.encode_for_guidance(ids, 3.0)
    return {"encode_ms": round(run(lambda: model.encode_for_guidance(ids, 3.0)), 3),
            "guided_step_ms_encoding_each_step": round(run(lambda: model.forward_with_guidance(x, t, ids, 3.0)), 3),
            "guided_step_ms_encoded_once": round(run(lambda: model.forward_with_guidance(x, t, None, 3.0, cond=cond)), 3)}


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--checkpoint", default=None, help="time sampling with this checkpoint (default: untrained preset)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16, help="training batch")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--breakdown", action="store_true", help="also profile where a guided step's time goes")
    ap.add_argument("--compile", action="store_true", help="also compile the network as the library does and time it")
    return ap


def main():
    ap = build_parser()
    args = ap.parse_args()
    quiet_known_warnings()
    torch.manual_seed(0)
    cfg = get_preset(args.preset).model
    results = {"cpu": cpu_model(), "flags": cpu_flags(), "threads": torch.get_num_threads(), "preset": args.preset}

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
    if args.breakdown:
        choice = choose_precision(pipe.model, "auto", use_cache=False)  # measured afresh: this run's evidence
        results["precision"] = describe(choice)
        pipe.bf16 = choice["precision"] == "bf16"
        results["guided_step_ms_by_op"] = step_breakdown(pipe)
        results["conditioning"] = conditioning_cost(pipe, args.repeats)
        results["pass_efficiency"] = pass_efficiency(pipe, args.repeats)
    if args.compile:
        info = pipe.compile(both_precisions=True)  # the precision above was measured eagerly
        results["compile"] = describe_compile(info)
        results["compile_info"] = info
        if args.breakdown and pipe.sampling_model is not pipe.model:
            results["pass_efficiency_compiled"] = pass_efficiency(pipe, args.repeats, pipe.sampling_model)

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
