"""A compiled twin of a model for sampling: torch.compile where it pays on this machine, decided by timing.

At this size a network pass's fixed costs (one kernel per elementwise op, dtype casts, norms, reshapes,
Python between ops) weigh as much as its arithmetic (docs/sampling.md, "Per pass"). torch.compile's
inductor fuses the elementwise work into generated C++ loops around the matmuls. Whether that pays
depends on the machine (a C++ compiler must be present; the CPU's vector units), so it is measured like
the precision (vidgen.precision): the twin is compiled, checked against the eager model on one pass,
timed against it, and kept only if it is faster by more than MARGIN. Compiling takes 10-60 s (inductor
keeps what it generated on disk, so a second start is quicker), so nothing compiles unless asked:
`Pipeline.compile()`, `--compile` on the CLI and benchmarks, and the app in the background at start-up.

The twin is a copy of the model's weights (a few MB): the eager model stays untouched for everything
that is not sampling (probes' hooks, the layout, encoding).
"""
from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from .data import tokenizer as tok
from .precision import time_guided_pass

MARGIN = 0.10  # the twin must be at least this much faster than the eager model to be used
WARM_BATCHES = (1, 3)  # the prompts of the passes that compile it: a second batch size makes dynamo mark
# the batch dimension dynamic, so a grid of seeds or a teacher's guided batch reuses the same code
AGREE = {False: 1e-3, True: 5e-2}  # the largest |twin - eager| of one pass's output accepted, fp32 / bf16


def default_compiler(model: torch.nn.Module) -> None:
    model.compile()  # nn.Module.compile: the module's own calls go through torch.compile (inductor)


@torch.no_grad()
def one_pass(model, batch: int, bf16: bool) -> torch.Tensor:
    """A guided pass at mid noise of `batch` one-symbol prompts (how the sampler calls the model)."""
    cfg = model.cfg
    device = next(model.parameters()).device
    x = torch.randn(batch, cfg.frames, cfg.height, cfg.width, generator=torch.Generator().manual_seed(1)).to(device)
    t = torch.full((batch,), 500, dtype=torch.long, device=device)
    ids = model.null_prompt(batch, device)
    ids[:, 0] = tok.FIRST_SYMBOL_ID + torch.arange(batch, device=device) % len(tok.SYMBOLS)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        cond = model.encode_for_guidance(ids, 3.0)
        return model.forward_with_cfg(x, t, None, 3.0, cond=cond).float()


def compile_twin(model, bf16: bool, compiler: Callable = default_compiler,
                 timer: Callable[[object, bool], float] = time_guided_pass) -> tuple[torch.nn.Module | None, dict]:
    """-> (the compiled twin, or None to keep sampling with `model`; {"compiled", "how", "timings_ms",
    "compile_s", "max_diff"}). Never raises: a failed compile or a twin that disagrees keeps the eager model
    and says why."""
    info = {"compiled": False, "how": "", "timings_ms": None, "compile_s": None, "max_diff": None}
    t0 = time.perf_counter()
    try:
        twin = copy.deepcopy(model).eval()
        compiler(twin)
        for b in WARM_BATCHES:
            one_pass(twin, b, bf16)
        diff = float((one_pass(twin, 1, bf16) - one_pass(model, 1, bf16)).abs().max())
    except Exception as e:  # no C++ compiler, an op inductor cannot lower, ...: sample eagerly
        first = (str(e).strip().splitlines() or [""])[0][:200]
        info.update(how=f"compile failed ({type(e).__name__}: {first})", compile_s=round(time.perf_counter() - t0, 1))
        return None, info
    info.update(compile_s=round(time.perf_counter() - t0, 1), max_diff=diff)
    if not diff <= AGREE[bf16]:
        info["how"] = f"the compiled pass differs from the eager one by {diff:.3g} (more than {AGREE[bf16]:g})"
        return None, info
    eager, compiled = timer(model, bf16), timer(twin, bf16)
    info["timings_ms"] = {"eager": round(1000 * eager, 2), "compiled": round(1000 * compiled, 2)}
    if compiled < (1 - MARGIN) * eager:
        info.update(compiled=True, how="measured: faster")
        return twin, info
    info["how"] = f"measured: not faster by {MARGIN:.0%}"
    return None, info


def describe_compile(info: dict | None) -> str:
    """One line for logs, benchmarks and the app's status."""
    if not info:
        return "eager (not compiled)"
    timings = info.get("timings_ms")
    evidence = f" (a pass: eager {timings['eager']} ms, compiled {timings['compiled']} ms)" if timings else ""
    what = "compiled" if info["compiled"] else "eager"
    return f"{what}: {info['how']}{evidence}, compiling took {info['compile_s']} s"
