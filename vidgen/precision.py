"""Which precision runs a model fastest on this machine: decided by timing, never by a CPU flag.

A CPU that advertises bf16 instructions is not always faster in bf16 (on a Xeon with AVX-512 BF16 but no
AMX, bf16 autocast made a generation 1.6x slower than fp32). So "auto" times what will run both ways (a
pipeline: the first steps of a video, conditioning included, `Pipeline.time_video_start`; training: a training
step; by default the model's own guided forward pass) and keeps the faster, with fp32 winning anything closer
than MARGIN (it is the reference precision). The decision is cached per CPU model, torch version, thread count and network
shape in a small JSON file ($VIDGEN_CACHE_DIR, else ~/.cache/vidgen/precision.json), so the probe runs
once per machine and model; delete the file, or pass --precision, to decide again. A probe taken while
something else loads the CPU is used but not cached (its fp32 timings, taken before and after the bf16
one, disagree, or the load average was high before it began), so a busy moment is not remembered.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from .data import tokenizer as tok

PRECISIONS = ("auto", "fp32", "bf16")
MARGIN = 0.05  # bf16 must be at least this much faster than fp32 to be chosen
UNSTEADY = 0.15  # fp32 timed twice, before and after bf16: a larger relative difference means the machine was busy
BUSY_LOAD = 0.5  # a 1-minute load average above this share of the CPUs before probing: busy
CACHE_ENV = "VIDGEN_CACHE_DIR"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The CPU's bf16-related flags, reported beside every timing (never used to decide)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if "bf16" in f or f.startswith("amx") or f == "avx512f")


def cache_file() -> Path:
    root = Path(os.environ[CACHE_ENV]) if os.environ.get(CACHE_ENV) else Path.home() / ".cache" / "vidgen"
    return root / "precision.json"


def machine_key(model, device: torch.device, scope: str = "sample") -> str:
    """What the decision depends on: what is timed (sampling or training), the CPU, torch, threads and
    the network's shape."""
    shape = hashlib.sha256(json.dumps(getattr(model.cfg, "__dict__", {}), sort_keys=True, default=str).encode()).hexdigest()[:12]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return f"{scope} | {where} | torch {torch.__version__} | {torch.get_num_threads()} threads | model {shape}"


def guided_pass_inputs(model, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x (B, T, H, W) noise (a latent model's (B, C, T, H, W)), t (B,) = 500, ids (B, L) one symbol each) for a guided pass at mid noise, as the
    sampler makes one; the cost does not depend on which symbols."""
    cfg = model.cfg
    device = next(model.parameters()).device
    x = torch.randn(batch, *cfg.sample_shape, generator=torch.Generator().manual_seed(seed)).to(device)
    t = torch.full((batch,), 500, dtype=torch.long, device=device)
    ids = model.null_prompt(batch, device)
    ids[:, 0] = tok.FIRST_SYMBOL_ID + torch.arange(batch, device=device) % len(tok.SYMBOLS)
    return x, t, ids


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median seconds of `repeats` calls of fn after `warmup` untimed ones."""
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def time_guided_pass(model, bf16: bool, repeats: int = 5) -> float:
    """Median seconds of one guided forward pass (batch 2: the prompt and the null prompt) at mid noise."""
    x, t, ids = guided_pass_inputs(model)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        cond = model.encode_for_guidance(ids, 3.0)
        return median_seconds(lambda: model.forward_with_guidance(x, t, None, 3.0, cond=cond), repeats)


def time_train_step(model, bf16: bool, batch: int = 16, repeats: int = 3) -> float:
    """Median seconds of one training step (forward, backward, AdamW) on random data at `batch`; the
    model's weights are restored afterwards."""
    cfg = model.cfg
    device = next(model.parameters()).device
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *cfg.sample_shape, generator=g).to(device)
    t = torch.randint(0, 1000, (batch,), generator=g).to(device)
    ids = model.null_prompt(batch, device)
    extra = {} if cfg.guidance_range is None else {"guidance": torch.full((batch,), cfg.guidance_range[0], device=device)}
    times = []
    for i in range(repeats + 1):  # one warm-up step
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = (model(x, t, ids, **extra).float() - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 1:
            times.append(time.perf_counter() - t0)
    model.load_state_dict(saved)
    model.train(was_training)
    return statistics.median(times)


def decide(timings: dict[str, float]) -> str:
    """'bf16' if it beat fp32 by more than MARGIN, else 'fp32'."""
    return "bf16" if timings["bf16"] < (1 - MARGIN) * timings["fp32"] else "fp32"


def choose_precision(model, precision: str = "auto", device="cpu",
                     timer: Callable[[object, bool], float] = time_guided_pass, use_cache: bool = True,
                     scope: str = "sample") -> dict:
    """-> {"precision": "fp32" | "bf16", "how": "forced" | "measured" | "cached", "timings_ms": {...}, "key": ...}.

    `precision` "fp32" or "bf16" forces it; "auto" times `timer(model, bf16)` both ways (or reads the
    cached decision for this machine, model and `scope`: "sample" or "train", what `timer` times)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    device = torch.device(device)
    key = machine_key(model, device, scope)
    if precision != "auto":
        return {"precision": precision, "how": "forced", "timings_ms": None, "key": key}
    path = cache_file()
    cache = {}
    if use_cache:
        try:
            cache = json.loads(path.read_text())
            if not isinstance(cache, dict):
                cache = {}
        except (OSError, ValueError):
            cache = {}
        hit = cache.get(key)
        if isinstance(hit, dict) and hit.get("precision") in ("fp32", "bf16"):
            return {"precision": hit["precision"], "how": "cached", "timings_ms": hit.get("timings_ms"), "key": key}
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0  # runnable processes before we start
    first, bf16, again = timer(model, False), timer(model, True), timer(model, False)  # fp32 twice: is the machine steady?
    timings = {"fp32": min(first, again), "bf16": bf16}
    choice = decide(timings)
    timings_ms = {k: round(1000 * v, 2) for k, v in timings.items()}
    unsteady = abs(first - again) > UNSTEADY * min(first, again)
    if unsteady or busy > BUSY_LOAD * (os.cpu_count() or 1):
        why = (f"fp32 timed {1000 * first:.1f} and {1000 * again:.1f} ms" if unsteady else
               f"load average {busy:.2f} on {os.cpu_count()} CPUs")
        return {"precision": choice, "how": f"measured, not cached ({why}: another job was running)",
                "timings_ms": timings_ms, "key": key}
    if use_cache:
        cache[key] = {"precision": choice, "timings_ms": timings_ms}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache, indent=2, sort_keys=True) + "\n")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: decide again next time
    return {"precision": choice, "how": "measured", "timings_ms": timings_ms, "key": key}


def describe_choice(info: dict) -> str:
    """'fp32, measured (fp32 41.2 ms, bf16 55.0 ms a video's first steps)': a choice with its evidence."""
    timings = info.get("timings_ms")
    scope = info.get("key", "").split(" |")[0]
    what = {"train": "a training step", "video": "a video's first steps", "decode": "a VAE decoding"}.get(scope, "a guided pass")
    evidence = f" (fp32 {timings['fp32']} ms, bf16 {timings['bf16']} ms {what})" if timings else ""
    return f"{info['precision']}, {info['how']}{evidence}"


def describe(info: dict) -> str:
    """One line for logs and benchmarks: the CPU, its flags and the choice with its evidence."""
    return f"{cpu_model()} [{' '.join(cpu_flags()) or 'no bf16/AMX flags'}]: {describe_choice(info)}"
