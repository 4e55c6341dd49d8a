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
from .cost import cost_markdown, cost_table

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
        write_report(results, Path(doc_path), out)
        log(f"wrote {doc_path}")
    return results


def machine_description(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{cpu}, {threads} torch threads, torch {torch.__version__}"


# ----------------------------------------------------------------------------- the report


def _f(v, fmt: str = ".3f", pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else format(v, fmt)


def ordered(rows: dict) -> dict:
    """Variants in DEFAULT_VARIANTS order (results.json stores them sorted by name)."""
    return dict(sorted(rows.items(), key=lambda kv: DEFAULT_VARIANTS.index(kv[0]) if kv[0] in DEFAULT_VARIANTS else len(DEFAULT_VARIANTS)))


def results_table(results: dict) -> str:
    head = ("| variant | preset | params | steps | train samples/s | sample ms/step | val loss (EMA) | sentence acc | "
            "CER | PSNR dB | SSIM | speed err px/frame | flicker |")
    lines = [head, "|---" * 13 + "|"]
    for v, r in ordered(results["variants"]).items():
        lines.append(
            f"| {v} | `{r['preset']}` | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['samples_per_s']:.1f} | "
            f"{r['sample_ms_per_step']:.1f} | {r['val_loss']:.4f} | {_f(r.get('exact'), pct=True)} | {_f(r.get('cer'))} | "
            f"{_f(r.get('psnr'), '.2f')} | {_f(r.get('ssim'))} | {_f(r.get('speed_abs_error'), '.2f')} | {_f(r.get('flicker'))} |"
        )
    return "\n".join(lines)


def findings(results: dict) -> list[str]:
    """Sentences that read the measured table against the thesis's findings; each cites its numbers."""
    rows = ordered(results["variants"])
    out = []

    def best(key, high=True):
        have = {v: r[key] for v, r in rows.items() if r.get(key) is not None}
        if not have:
            return None
        return (max if high else min)(have, key=have.get)

    b_exact, b_psnr, b_flicker, b_val = best("exact"), best("psnr"), best("flicker", high=False), best("val_loss", high=False)
    readable = any((r.get("exact") or 0) > 0 for r in rows.values())
    if b_psnr:
        top = [v for v, r in rows.items() if r.get("exact") == rows[b_exact]["exact"]] if readable else []
        most = (f"Most readable: **{b_exact}** (sentence accuracy {_f(rows[b_exact]['exact'], pct=True)}, "
                f"CER {_f(rows[b_exact]['cer'])}); " if len(top) == 1 else
                f"Most readable: {', '.join(f'**{v}**' for v in top)} (all {_f(rows[b_exact]['exact'], pct=True)}); " if top else "")
        out.append(f"{most}{'b' if most else 'B'}est PSNR: **{b_psnr}** ({_f(rows[b_psnr]['psnr'], '.2f')} dB); least flicker: **{b_flicker}** "
                   f"({_f(rows[b_flicker]['flicker'])}); lowest validation loss: **{b_val}** ({rows[b_val]['val_loss']:.4f}).")
    if readable and all(r.get("exact") is not None and r.get("psnr") is not None for r in rows.values()):
        ranked = sorted(rows, key=lambda v: (-rows[v]["exact"], -rows[v]["psnr"]))
        out.append("Ranked by sentence accuracy, ties broken by PSNR: " + " > ".join(
            f"{v} ({_f(rows[v]['exact'], pct=True)}, {_f(rows[v]['psnr'], '.1f')} dB)" for v in ranked) + ".")
    fastest = best("samples_per_s")
    if fastest:
        out.append(f"Most training samples per second: **{fastest}** ({rows[fastest]['samples_per_s']:.1f}/s), so at equal "
                   "wall-clock it saw the most data: " + ", ".join(f"{v} {r['samples_seen']}" for v, r in rows.items()) + " samples.")
    if not readable and b_exact:
        out.append("No variant reads a single prompt exactly at this budget, so readability cannot rank them: the "
                   "verdicts below fall back on the validation loss; raise --budget for a reading that means something.")
    factorised = [v for v in ("gentron", "latte", "latte-between", "latte-both") if v in rows]
    if "full" in rows and factorised:
        f = rows["full"]

        def score(r):  # readability first; the validation loss when nothing is readable
            return ((r.get("exact") or 0), -(r.get("cer") or 1), -r["val_loss"]) if readable else (-r["val_loss"],)

        best_fact = max(factorised, key=lambda v: score(rows[v]))
        r = rows[best_fact]
        verdict = "helped" if score(r) > score(f) else "did not help"
        out.append(f"Did separating space and time help here? The best factorised transformer, {best_fact}, reads "
                   f"{_f(r.get('exact'), pct=True)} of the prompts exactly against full attention's {_f(f.get('exact'), pct=True)} "
                   f"(validation loss {r['val_loss']:.4f} vs {f['val_loss']:.4f}, flicker {_f(r.get('flicker'))} vs "
                   f"{_f(f.get('flicker'))}, {r['samples_per_s']:.1f} vs {f['samples_per_s']:.1f} samples/s): at this budget "
                   f"factorising {verdict}. The thesis found GenTron's frames the most precise and Latte's motion the most "
                   "coherent, and concluded that handling space and time separately gave its best results.")
    if "gentron" in rows and "latte" in rows:
        g, l = rows["gentron"], rows["latte"]
        out.append(f"GenTron vs Latte (thesis: GenTron sharper frames, Latte smoother motion): SSIM {_f(g.get('ssim'))} vs "
                   f"{_f(l.get('ssim'))}, speed error {_f(g.get('speed_abs_error'), '.2f')} vs {_f(l.get('speed_abs_error'), '.2f')} "
                   f"px/frame, flicker {_f(g.get('flicker'))} vs {_f(l.get('flicker'))}.")
    placements = [v for v in ("latte-between", "latte", "latte-both") if v in rows]
    if len(placements) > 1:
        out.append("Latte's text placements (thesis: inside the spatial block best, between the blocks gets the motion but "
                   "not the symbols, inside both blocks collapsed to black frames): " + "; ".join(
                       f"{v} ({get_preset(rows[v]['preset']).model.text_placement}) accuracy {_f(rows[v].get('exact'), pct=True)}, "
                       f"PSNR {_f(rows[v].get('psnr'), '.2f')}" for v in placements) + ".")
    if "snapvideo" in rows:
        s = rows["snapvideo"]
        out.append(f"SnapVideo (thesis: static, blurry videos, the worst of its three): accuracy {_f(s.get('exact'), pct=True)}, "
                   f"speed error {_f(s.get('speed_abs_error'), '.2f')} px/frame (a static video scores the full scroll speed), "
                   f"{s['samples_per_s']:.1f} samples/s.")
    if "conv3d" in rows:
        c = rows["conv3d"]
        out.append(f"The factorised-convolution U-Net mixes time only one frame either side per layer: accuracy "
                   f"{_f(c.get('exact'), pct=True)}, speed error {_f(c.get('speed_abs_error'), '.2f')} px/frame, flicker {_f(c.get('flicker'))}.")
    return out


THESIS = """The thesis (seed 001, Table 4.4; Moving MNIST, 100 epochs, FVD / CLIPSIM / SSIM / PSNR / LPIPS):
GenTron 111.1 / 0.781 / 0.652 / 10.79 / 0.305; Latte v1 (text between blocks) 61.7 / 0.724 / 0.687 / 11.30 / 0.287;
Latte v2 (inside the spatial block) 75.0 / 0.704 / 0.663 / 11.52 / 0.338; Latte v3 (both) 11009 / 0.061 / 0.001 / 1.20 / 0.954
(black frames); SnapVideo v1, 4 groups 302.7 / 0.703 / 0.603 / 10.19 / 0.363. Its reading: GenTron gives the most precise
frames with occasionally incoherent motion, Latte smoother motion with distorted digits, SnapVideo static and blurry
videos; text injected in the spatial attention worked best, text in the temporal blocks hurt."""


def write_report(results: dict, doc_path: Path, out_dir: Path) -> None:
    """docs/variants.md with the table, the findings, a sample grid per variant (copied next to the
    document) and the cost table."""
    s = results["settings"]
    img_dir = doc_path.parent / doc_path.stem  # docs/variants.md -> docs/variants/
    img_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# The architectures side by side",
        "",
        f"Each variant trained from scratch for **{s['budget']:.0f} s** of wall clock on {results['machine']} "
        f"(device {s['device']}), `{s['size']}`"
        f"{'-template (told the glyph layout, learning a glyph template)' if s.get('template') else '-layout (told the glyph layout)' if s.get('layout') else ''} presets"
        f"{'' if s.get('batch_size') is None else ' at batch ' + str(s['batch_size'])}, then evaluated by the harness on {s['eval_n']} validation prompts "
        f"({s['eval_steps']} DDIM steps, guidance {s['guidance']}, EMA weights). Sampling ms/step: one prompt with guidance, "
        f"median of {s['timing_steps']} steps. Equal wall-clock is a fair budget only on an otherwise idle machine: the "
        "samples/s column shows what each run actually got. Reproduce with:",
        "",
        "```",
        f"python -m vidgen compare --variants {','.join(ordered(results['variants']))} --size {s['size']} "
        f"{'--template ' if s.get('template') else '--layout ' if s.get('layout') else ''}--budget {s['budget']:g} "
        f"{'' if s.get('batch_size') is None else '--batch-size ' + str(s['batch_size']) + ' '}--eval-n {s['eval_n']} --eval-steps {s['eval_steps']} --out {out_dir} --doc {doc_path}",
        "```",
        "",
        results_table(results),
        "",
        "Sentence accuracy and CER are read by the shipped recognizer; PSNR/SSIM are per frame against the true render; "
        "speed error is the measured scroll speed against the truth; flicker is the frame difference after undoing the "
        "true motion (the truth scores 0). See `vidgen/evaluation/harness.py`.",
        "",
        "## What the numbers say",
        "",
        *[f"- {line}" for line in findings(results)],
        "",
        THESIS,
        "",
        "## Samples (generated | true, frames top to bottom)",
        "",
    ]
    for v, r in ordered(results["variants"]).items():
        grid = Path(r["grid"])
        if grid.is_file():
            shutil.copyfile(grid, img_dir / f"{v}.png")
            lines += [f"### {v}", "", f"![{v}]({img_dir.name}/{v}.png)", ""]
    if results.get("cost"):
        lines += [
            "## Cost as the video grows",
            "",
            "Attention FLOPs (QK^T and AV) and score entries per forward pass for one video, analytic (checked against "
            "torch's FLOP counter in tests/test_variants.py); other GFLOPs are the linear and convolution layers as torch "
            "counts them; forward ms is measured (batch 1, no grad) up to "
            f"{s['cost_measure_up_to']} tokens. Full attention grows with the square of the token count, the factorised "
            "variants with tokens x (frame area + frames), SnapVideo linearly in tokens, conv3d has no video self-attention.",
            "",
            cost_markdown(results["cost"]),
            "",
        ]
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write_bytes(doc_path, "\n".join(lines).encode())
