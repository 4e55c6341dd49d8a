"""The variant comparison's runs: train every variant from scratch for the same wall-clock budget on this
machine, then have it measured (vidgen.evaluation.compare: sampling ms/step and the evaluation harness) and
write one report (docs/variants.md, by vidgen.evaluation.compare_report).

`compare(...)` keeps everything it measured in OUT/results.json; a variant whose run already finished in OUT
is reused, so an interrupted comparison continues where it stopped.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from .. import checkpoint as ckpt
from ..evaluation.compare import (
    COST_SIZES,
    CompareSettings,
    evaluate_variant,
    machine_description,
    ordered,
    preset_for,
    sampling_ms_per_step,
)
from ..evaluation.compare_report import write_report
from ..evaluation.cost import cost_table
from ..presets import get_preset
from .trainer import Trainer, override

UNLIMITED_STEPS = 10**9  # the presets' max_steps (100 for tiny) must not stop a run before its budget


def train_variant(preset: str, run_dir: Path, budget: float, device: str, progress: bool, batch_size: int | None = None) -> dict:
    """Train a preset from scratch for `budget` seconds (optionally at another batch size); -> throughput and losses."""
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


def compare(variants: list[str], settings: CompareSettings, out_dir, doc_path=None, recognizer=None,
            progress: bool = True, log=print) -> dict:
    """Train, time and evaluate every variant; write OUT/results.json and the markdown report."""
    from ..evaluation.recognizer import default_reader

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
        write_report(results, Path(doc_path), out)
        log(f"wrote {doc_path}")
    return results
