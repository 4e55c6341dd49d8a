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

from .precision import guided_pass_inputs, time_guided_pass

MARGIN = 0.10  # the twin must be at least this much faster than the eager model to be used
WARM_BATCHES = (1, 3)  # the prompts of the passes that compile it: a second batch size makes dynamo mark
# the batch dimension dynamic, so a grid of seeds or a teacher's guided batch reuses the same code
# freezing: inductor treats the twin's weights as constants (it is never trained), folds what depends on them
# alone and lays the linear layers' weights out for the CPU's matmul kernels once: a batch-1 pass of the 2-step
# student 8.74 -> 8.16 ms in fp32 and 7.48 -> 6.70 ms in bf16 (compiling 10 s -> 35-40 s)
INDUCTOR_OPTIONS = {"freezing": True}
AGREE = {False: 1e-3, True: 5e-2}  # the largest |twin - eager| of one pass's output accepted, fp32 / bf16; in bf16
# at least twice what bf16 itself moves the pass from fp32 (a guided pass, uncond + 3 (cond - uncond), amplifies
# bf16's rounding: the release's compiled bf16 pass differed from its eager one by 0.094)


def default_compiler(model: torch.nn.Module) -> None:
    model.compile()  # nn.Module.compile: the module's own calls go through torch.compile (inductor)


@torch.no_grad()
def one_pass(model, batch: int, bf16: bool) -> torch.Tensor:
    """A guided pass at mid noise of `batch` one-symbol prompts (how the sampler calls the model)."""
    x, t, ids = guided_pass_inputs(model, batch, seed=1)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        cond = model.encode_for_guidance(ids, 3.0)
        return model.forward_with_guidance(x, t, None, 3.0, cond=cond).float()


def compile_twin(model, bf16: bool, compiler: Callable = default_compiler,
                 timer: Callable[[object, bool], float] = time_guided_pass,
                 both_precisions: bool = False) -> tuple[torch.nn.Module | None, dict]:
    """-> (the compiled twin, or None to keep sampling with `model`; {"compiled", "how", "timings_ms",
    "compile_s", "max_diff", "bf16"}). Never raises: a failed compile or a twin that disagrees keeps the eager
    model and says why. both_precisions: also check and time the twin in the other precision and keep the
    faster (a compiled pass's best precision need not be the eager pass's); "bf16" says which to sample in."""
    import torch._inductor.config as inductor_config  # here, not at import: it takes about a second to import

    info = {"compiled": False, "how": "", "timings_ms": None, "compile_s": None, "max_diff": None, "bf16": bf16}
    t0 = time.perf_counter()
    tried = (bf16, not bf16) if both_precisions else (bf16,)
    diffs, tols = {}, {}
    try:
        twin = copy.deepcopy(model).eval()
        compiler(twin)
        for p in tried:
            with inductor_config.patch(INDUCTOR_OPTIONS):  # read when a pass first compiles: these warm-ups
                for b in WARM_BATCHES:
                    one_pass(twin, b, p)
            eager = one_pass(model, 1, p)
            diffs[p] = float((one_pass(twin, 1, p) - eager).abs().max())
            tols[p] = max(AGREE[p], 2 * float((eager - one_pass(model, 1, False)).abs().max())) if p else AGREE[False]
    except Exception as e:  # no C++ compiler, an op inductor cannot lower, ...: sample eagerly
        first = (str(e).strip().splitlines() or [""])[0][:200]
        info.update(how=f"compile failed ({type(e).__name__}: {first})", compile_s=round(time.perf_counter() - t0, 1))
        return None, info
    info.update(compile_s=round(time.perf_counter() - t0, 1), max_diff=diffs[bf16])
    agreeing = [p for p in tried if diffs[p] <= tols[p]]
    if not agreeing:
        info["how"] = f"the compiled pass differs from the eager one by {diffs[bf16]:.3g} (more than {tols[bf16]:.3g})"
        return None, info
    eager = timer(model, bf16)
    compiled = {p: timer(twin, p) for p in agreeing}
    best = min(compiled, key=compiled.get)
    name = {False: "fp32", True: "bf16"}
    info["timings_ms"] = {"eager": round(1000 * eager, 2), "compiled": round(1000 * compiled[best], 2)}
    if len(tried) > 1:
        info["timings_ms"].update({f"compiled {name[p]}": round(1000 * t, 2) for p, t in compiled.items()})
    if compiled[best] < (1 - MARGIN) * eager:
        info.update(compiled=True, bf16=best, max_diff=diffs[best],
                    how="measured: faster" + (f", in {name[best]}" if len(tried) > 1 else ""))
        return twin, info
    info["how"] = f"measured: not faster by {MARGIN:.0%}"
    return None, info


def describe_compile(info: dict | None) -> str:
    """One line for logs, benchmarks and the app's status."""
    if not info:
        return "eager (not compiled)"
    timings = info.get("timings_ms")
    evidence = f" (a pass: {', '.join(f'{k} {v} ms' for k, v in timings.items())})" if timings else ""
    what = "compiled" if info["compiled"] else "eager"
    return f"{what}: {info['how']}{evidence}, compiling took {info['compile_s']} s"
