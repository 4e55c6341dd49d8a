"""The architectures side by side, the measuring half: the variants and their presets, one comparison's
settings, and what is measured on each trained variant (sampling ms/step and the evaluation harness's
figures: readability, PSNR/SSIM, temporal figures, a sample grid). vidgen.training.variant_comparison trains
the variants and calls these; vidgen.evaluation.cost prices attention as the video grows;
vidgen.evaluation.compare_report writes docs/variants.md.
"""
from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoint as ckpt
from ..diffusion.sampler import DEFAULT_GUIDANCE, EVAL_SAMPLER, EVAL_STEPS
from ..models import compared_variant_class, compared_variants
from ..presets import get_preset

# every registered variant, and after each the siblings its class's COMPARED names (Latte's other text placements)
DEFAULT_VARIANTS = compared_variants()
COST_SIZES = [(16, 32), (32, 32), (64, 32), (16, 64), (32, 64), (64, 64)]  # (frames, height = width)
TIMING_PROMPT = "AB12"


def preset_for(variant: str, size: str, layout: bool = False, template: bool = False) -> str:
    """A compared variant (`compared_variants()`) -> `<size>-<variant>`, or the base preset (`tiny`, `small`) for
    the class whose presets go by size alone (the blog's network); with `layout` the glyph-layout preset of that
    (`<...>-layout`), with `template` the one that also learns a glyph template (`<...>-template`); unknown
    names and presets raise."""
    by_size = compared_variant_class(variant).PRESETS_BY_SIZE_ALONE
    name = size if by_size else f"{size}-{variant}"
    name = f"{name}-template" if template else f"{name}-layout" if layout else name
    get_preset(name)
    return name


@dataclass(frozen=True)
class CompareSettings:
    """One comparison; stored in results.json."""

    budget: float  # seconds of training per variant (wall clock, this machine)
    size: str = "small"  # preset family: "tiny" or "small"
    batch_size: int | None = None  # training batch for every variant (None: the presets' own)
    eval_n: int = 64  # validation prompts evaluated per variant
    eval_steps: int = EVAL_STEPS  # DDIM steps for the evaluation samples
    guidance: float = DEFAULT_GUIDANCE  # classifier-free guidance for evaluation and timing
    timing_steps: int = 10  # sampling steps timed for ms/step (after one warm-up step)
    seed: int = 0
    device: str = "cpu"
    cost_measure_up_to: int = 4096  # time the forward pass in the cost table up to this many tokens (0: analytic only, -1: no table)
    layout: bool = False  # compare the glyph-layout models (`<preset>-layout`) instead of the prompt-only ones
    template: bool = False  # compare the glyph-layout models with a learned glyph template (`<preset>-template`)

    def __post_init__(self):
        if self.budget <= 0 or self.eval_n < 1 or self.eval_steps < 1 or self.timing_steps < 1 or (self.batch_size or 1) < 1:
            raise ValueError("budget > 0, batch_size >= 1, eval_n >= 1, eval_steps >= 1 and timing_steps >= 1 are required")
        if self.size not in ("tiny", "small"):
            raise ValueError(f"unknown size {self.size!r}; known: tiny, small")


def sampling_ms_per_step(run_dir: Path, steps: int, guidance: float, device: str) -> float:
    """Median ms per denoising step for one prompt with guidance (cond and uncond in one batch)."""
    from ..pipeline import load_pipeline

    pipe = load_pipeline(run_dir, device=device)
    times, last = [], time.perf_counter()
    for _ in pipe.iter_steps(TIMING_PROMPT, steps=steps + 1, guidance_scale=guidance, seed=0, sampler=EVAL_SAMPLER):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(1000 * (now - last))
        last = now
    return statistics.median(times[1:])  # the first step warms up


def evaluate_variant(run_dir: Path, eval_dir: Path, settings: CompareSettings, reader, progress: bool) -> dict:
    """Run the evaluation harness on the run's EMA weights; -> its overall figures and grid path."""
    from .harness import EvalSettings, checkpoint_split, evaluate, split_prompts

    config = ckpt.read_json(run_dir / ckpt.CONFIG_NAME)
    prompts = split_prompts("val", settings.eval_n, checkpoint_split(config), seed=settings.seed)
    eval_settings = EvalSettings(steps=settings.eval_steps, guidance_scale=settings.guidance, seed=settings.seed,
                                 batch_size=min(64, settings.eval_n))
    report = evaluate(run_dir, prompts, eval_dir, eval_settings, prompt_source="val", reader=reader,
                      progress=progress, device=settings.device)
    overall = report["aggregate"]["overall"]
    return {**{k: overall.get(k) for k in ("n", "exact", "cer", "psnr", "ssim", "speed_abs_error", "flicker", "flicker_truth")},
            "fd_recognizer": report.get("fd_recognizer", {}).get("value"),
            "generate_seconds": report.get("generate_seconds"), "grid": str(eval_dir / "grid.png")}


def ordered(rows: dict) -> dict:
    """Variants in DEFAULT_VARIANTS order (results.json stores them sorted by name)."""
    return dict(sorted(rows.items(), key=lambda kv: DEFAULT_VARIANTS.index(kv[0]) if kv[0] in DEFAULT_VARIANTS else len(DEFAULT_VARIANTS)))


def machine_description(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{cpu}, {threads} torch threads, torch {torch.__version__}"
