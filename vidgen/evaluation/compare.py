"""The architectures side by side: train each variant for the same wall-clock budget on this
machine, evaluate each with the evaluation harness, and write one report (docs/variants.md).

Per variant the report gives parameters, training samples/s, sampling ms/step, the validation
loss of the EMA weights, readability (sentence accuracy, CER), PSNR/SSIM, temporal figures (scroll
speed error, flicker), a sample grid, and a cost table of attention as the video grows
(`vidgen.evaluation.cost`). `compare(...)` keeps everything it measured in OUT/results.json; a variant whose
run already finished in OUT is reused, so an interrupted comparison continues where it stopped.
"""
from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoint as ckpt
from ..diffusion.sampler import DEFAULT_GUIDANCE, EVAL_SAMPLER, EVAL_STEPS
from ..presets import get_preset
from .cost import cost_table

# every architecture, and Latte once per text placement; "full" is the blog's `tiny`/`small`
DEFAULT_VARIANTS = ("full", "gentron", "latte", "latte-between", "latte-both", "snapvideo", "conv3d")
COST_SIZES = [(16, 32), (32, 32), (64, 32), (16, 64), (32, 64), (64, 64)]  # (frames, height = width)
TIMING_PROMPT = "AB12"
UNLIMITED_STEPS = 10**9  # the presets' max_steps (100 for tiny) must not stop a run before its budget


def preset_for(variant: str, size: str, layout: bool = False, template: bool = False) -> str:
    """`full` -> the base preset (`tiny`, `small`); anything else -> `<size>-<variant>`; with `layout`
    the glyph-layout preset of that (`<...>-layout`), with `template` the one that also learns a glyph
    template (`<...>-template`); unknown names raise."""
    name = size if variant == "full" else f"{size}-{variant}"
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


def train_variant(preset: str, run_dir: Path, budget: float, device: str, progress: bool, batch_size: int | None = None) -> dict:
    """Train a preset from scratch for `budget` seconds (optionally at another batch size); -> throughput and losses."""
    from ..training.trainer import Trainer, override

    p = get_preset(preset)
    trainer = Trainer(p.model, p.diffusion, override(p.train, batch_size=batch_size), run_dir, device=device, preset_name=preset)
    result = trainer.fit(max_steps=UNLIMITED_STEPS, time_budget=budget, progress=progress)  # the budget alone stops it
    val = trainer.validation_loss()  # EMA weights, the ones that sample
    return {
        "params": trainer.model.num_params(),
        "steps": result["step"],
        "samples_seen": result["samples_seen"],
        "train_seconds": result["train_seconds"],
        "samples_per_s": result["samples_seen"] / max(result["train_seconds"], 1e-9),
        "train_loss": result.get("loss"),
        "val_loss": val["val_loss"],
        "val_loss_by_bucket": val["val_loss_by_bucket"],
    }


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


def compare(variants: list[str], settings: CompareSettings, out_dir, doc_path=None, recognizer=None,
            progress: bool = True, log=print) -> dict:
    """Train, time and evaluate every variant; write OUT/results.json and the markdown report."""
    from .recognizer import default_reader

    presets = {v: preset_for(v, settings.size, settings.layout, settings.template) for v in variants}  # unknown names raise before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if previous and previous.get("settings") != dataclasses.asdict(settings):
        raise ValueError(f"{results_path} holds a comparison with other settings; choose another --out")
    reader = default_reader(recognizer)
    results = {"settings": dataclasses.asdict(settings), "machine": machine_description(settings.device),
               "variants": previous.get("variants", {})}
    for variant, preset in presets.items():
        if variant in results["variants"]:
            log(f"[{variant}] already done in {out}, reused")
            continue
        run_dir, eval_dir = out / "runs" / variant, out / "eval" / variant
        if run_dir.exists():  # a run interrupted before its results were written: start it again
            shutil.rmtree(run_dir)
        log(f"[{variant}] training preset {preset} for {settings.budget:.0f} s")
        row = {"preset": preset, **train_variant(preset, run_dir, settings.budget, settings.device, progress, settings.batch_size)}
        log(f"[{variant}] {row['steps']} steps, {row['samples_per_s']:.1f} samples/s, val loss {row['val_loss']:.4f}; timing sampling")
        row["sample_ms_per_step"] = sampling_ms_per_step(run_dir, settings.timing_steps, settings.guidance, settings.device)
        log(f"[{variant}] {row['sample_ms_per_step']:.1f} ms/step; evaluating {settings.eval_n} prompts")
        row.update(evaluate_variant(run_dir, eval_dir, settings, reader, progress))
        log(f"[{variant}] " + json.dumps({k: row[k] for k in ("exact", "cer", "psnr", "ssim", "flicker")}))
        results["variants"][variant] = row
        ckpt.atomic_write_json(results_path, results)
    costed = {row["variant"] for row in previous.get("cost", [])}
    if settings.cost_measure_up_to >= 0 and costed != set(results["variants"]):
        log("cost table: attention FLOPs and forward time as the video grows")
        configs = {v: get_preset(r["preset"]).model for v, r in ordered(results["variants"]).items()}
        results["cost"] = cost_table(configs, COST_SIZES, measure_up_to=settings.cost_measure_up_to, device=settings.device)
    elif costed:
        results["cost"] = previous["cost"]
    ckpt.atomic_write_json(results_path, results)
    if doc_path is not None:
        from .compare_report import write_report  # presentation, which imports this module

        write_report(results, Path(doc_path), out)
        log(f"wrote {doc_path}")
    return results


def ordered(rows: dict) -> dict:
    """Variants in DEFAULT_VARIANTS order (results.json stores them sorted by name)."""
    return dict(sorted(rows.items(), key=lambda kv: DEFAULT_VARIANTS.index(kv[0]) if kv[0] in DEFAULT_VARIANTS else len(DEFAULT_VARIANTS)))


def machine_description(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{cpu}, {threads} torch threads, torch {torch.__version__}"
