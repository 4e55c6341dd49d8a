"""The motion world's figures for a model, measured from its videos: `python -m vidgen world-report`
writes them to a JSON file (docs/reports/world_<name>.json) and a Markdown table beside it.

- follow: readability (three judges), glyph placement, position error and PSNR with a motion drawn from the
  model's world given, on validation, held-out, look-alike-glyph and 7-8 symbol prompts, and on validation
  prompts along the held-out path shapes (never seen in training);
- variety: no motion given, VARIETY_SEEDS seeds of each prompt, its own: the measured motions against the world's
  (total variation over direction x speed bins and over the 8 directions alone, each beside the floor two true
  samples score) and readability;
- sliders: guidance 1 to 7 and eta 0 and 1 (DDIM at 10 steps, so that eta means something): readability and
  the motions' distance from the world's over 8 prompts x 4 seeds, and how much videos of one prompt and one
  motion differ between seeds (mean absolute pixel difference, of 255; 4 prompts x 4 seeds).
"""
from __future__ import annotations

import json
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from ..data.world import sample_motion
from ..precision import cpu_model
from .harness import checkpoint_split, split_prompts, weights_sha256
from .motion_metrics import Sampling, generate_many, followed, measured_histogram, total_variation, true_videos, variety
from .recognizer import TextReader

WORLD_SPLITS = {"val": 200, "heldout": 200, "lookalike": 96, "long": 48}
VARIETY_PROMPTS = 8  # prompts x VARIETY_SEEDS seeds each
VARIETY_PROMPT_SEED = 11  # which validation prompts (split_prompts' seed)
SLIDER_GUIDANCE = (1.0, 3.0, 5.0, 7.0)
SLIDER_ETA = (0.0, 1.0)
SLIDER_SAMPLING = ("ddim", 10)  # sampler and steps of the slider table (DPM-Solver++ takes no eta); a
# progressive student's own DDIM steps instead (slider_sampling)
SLIDER_PROMPTS, SLIDER_SEEDS = 8, 4  # prompts x seeds with no motion given
SPREAD_PROMPTS = 4  # of those, the prompts also sampled at SLIDER_SEEDS seeds along one fixed motion each


def _same_motion_spread(videos: np.ndarray) -> float:
    """Mean absolute pixel difference (of 255) between every two videos (N, T, H, W)."""
    v = videos.astype(np.float32)
    return float(np.mean([np.abs(a - b).mean() for a, b in combinations(v, 2)]))


def slider_sampling(pipe) -> tuple[str, int]:
    """DDIM at SLIDER_SAMPLING's steps, or at a progressive student's own few (it is trained for those only)."""
    return ("ddim", pipe.default_sampling[1]) if pipe.config.get("default_sampling") else SLIDER_SAMPLING


def slider_table(pipe, reader: TextReader, prompts: list[str], progress: bool) -> list[dict]:
    """Per (guidance, eta): readability and the motions' distance from the world's over prompts x seeds with
    no motion given, and the seed-to-seed pixel spread of videos with one fixed motion per prompt."""
    sampler, steps = slider_sampling(pipe)
    rows = []
    truth = measured_histogram(true_videos(pipe, [p for p in prompts for _ in range(SLIDER_SEEDS)],
                                           [s for _ in prompts for s in range(SLIDER_SEEDS)], 1))
    for g in SLIDER_GUIDANCE:
        for eta in SLIDER_ETA:
            sampling = Sampling(sampler=sampler, steps=steps, eta=eta, guidance_scale=g)
            ps = [p for p in prompts for _ in range(SLIDER_SEEDS)]
            seeds = [s for _ in prompts for s in range(SLIDER_SEEDS)]
            free = generate_many(pipe, ps, None, seeds, sampling, progress, f"g{g:g} eta{eta:g}")
            few = prompts[:SPREAD_PROMPTS]
            fixed_ps = [p for p in few for _ in range(SLIDER_SEEDS)]
            fixed_motions = [sample_motion(p, pipe.world, np.random.default_rng(7)) for p in fixed_ps]  # one per prompt
            fixed = generate_many(pipe, fixed_ps, fixed_motions, seeds[: len(fixed_ps)], sampling, progress,
                                  f"g{g:g} eta{eta:g} fixed")
            texts = reader.read(free).texts
            spread = np.mean([_same_motion_spread(fixed[i * SLIDER_SEEDS:(i + 1) * SLIDER_SEEDS]) for i in range(len(few))])
            rows.append({"guidance": g, "eta": eta, "readability": float(np.mean([t == p for t, p in zip(texts, ps)])),
                         "tv_vs_world": total_variation(measured_histogram(free), truth),
                         "same_motion_pixel_spread": float(spread), "n": len(ps)})
    return rows


def measure_world(checkpoint, reader: TextReader, splits: dict[str, int] = WORLD_SPLITS, progress: bool = True,
                  precision: str = "auto", log=print, sliders: bool = True, compile: bool = False) -> dict:
    """Every world figure of one model (a shipped name or a directory), at its default sampler and steps
    (a progressive student's own); compile: sample with a compiled twin of the network where it is faster
    (vidgen.compiled)."""
    from ..compiled import describe_compile
    from ..pipeline import describe_precision, load_pipeline

    pipe = load_pipeline(checkpoint, precision=precision)
    if compile:
        log(f"network: {describe_compile(pipe.compile())}")
    if pipe.world.name != "motion":
        raise ValueError(f"{checkpoint} was trained in the {pipe.world.name!r} world; the world report measures motion-world models")
    split = checkpoint_split(pipe.config)
    sampler, steps = pipe.default_sampling
    own = Sampling(sampler=sampler, steps=steps)
    out = {"checkpoint": weights_sha256(checkpoint), "layout": pipe.model.cfg.layout, "cpu": cpu_model(),
           "precision": describe_precision(pipe), "guidance_scale": pipe.default_guidance, "sampling": own.__dict__,
           "recognizer": reader.meta.get("path"), "follow": {}}
    t0 = time.time()
    for name, n in splits.items():
        out["follow"][name] = followed(pipe, split_prompts(name, n, split), reader, own, progress=progress)
        log(f"follow {name}: {out['follow'][name]['readability']:.3f} read, {out['follow'][name]['position_error_px']:.2f} px")
    held = pipe.world.heldout_shapes
    if held:
        out["follow"]["heldout_shapes"] = followed(pipe, split_prompts("val", splits.get("val", 200) // 2, split, seed=5), reader,
                                                   own, shapes=held, progress=progress)
        log(f"follow held-out shapes {held}: {out['follow']['heldout_shapes']['readability']:.3f} read, "
            f"{out['follow']['heldout_shapes']['position_error_px']:.2f} px")
    variety_prompts = split_prompts("val", VARIETY_PROMPTS, split, seed=VARIETY_PROMPT_SEED)
    out["variety"] = {"prompts": variety_prompts, **variety(pipe, variety_prompts, reader, sampling=own, progress=progress)}
    log(f"variety: TV {out['variety']['tv_generated_vs_world']:.3f} (world vs world {out['variety']['tv_world_vs_world']:.3f}), "
        f"{out['variety']['readability']:.3f} read")
    if sliders:
        out["slider_sampling"] = list(slider_sampling(pipe))
        out["sliders"] = slider_table(pipe, reader, split_prompts("val", SLIDER_PROMPTS, split, seed=13), progress)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def world_markdown(name: str, report: dict) -> str:
    """The report as Markdown tables."""
    lines = [f"# {name}: the motion world's figures", "",
             f"Measured by `python -m vidgen world-report --model {name}` on {report['cpu']} ({report['precision']}); "
             f"default sampler ({report['sampling']['sampler']}, {report['sampling']['steps']} steps), guidance "
             f"{report['guidance_scale']:g}; readability by the motion reader ({report['recognizer']}) and, beside it, by the "
             "nearest render among the prompt and its one-edit neighbours along the same motion, 1 px of slack a frame "
             "(vidgen/evaluation/long_reading.py), and by an outside OCR that learned nothing from this project, in brackets "
             "what it reads of the true renders (vidgen/evaluation/outside_reader.py). Placement: each glyph's offset from "
             "where the renderer puts it (vidgen/evaluation/placement.py).", "",
             "| split | n | readability (motion reader) | nearest render | outside reader (truth) | position error (px, mean) "
             "| glyphs within 1 px (largest offset) | PSNR (dB) |",
             "|---|---|---|---|---|---|---|---|"]
    for split, row in report["follow"].items():
        nearest, place = row.get("readability_nearest_render"), row.get("placement", {})
        outside = (f"{100 * row['readability_outside']:.1f}% ({100 * row['truth_outside']:.1f}%)"
                   if "readability_outside" in row else "")
        placed = f"{100 * place['within_1px']:.1f}% ({place['max_px']:.2f} px)" if place.get("glyphs") else ""
        lines.append(f"| {split} | {row['n']} | {100 * row['readability']:.1f}% | "
                     f"{'' if nearest is None else f'{100 * nearest:.1f}%'} | {outside} | {row['position_error_px']:.2f} | "
                     f"{placed} | {row['psnr_db']:.2f} |")
    v = report["variety"]
    direction = ("" if "tv_direction_generated_vs_world" not in v else
                 f"; over the 8 direction sectors alone {v['tv_direction_generated_vs_world']:.3f} (two true samples: "
                 f"{v['tv_direction_world_vs_world']:.3f})")
    lines += ["", f"Variety with no motion given ({v['n_videos']} videos: {len(v['prompts'])} prompts x "
              f"{v.get('seeds_per_prompt', 32)} seeds): total variation to the world's motions over direction x speed bins "
              f"{v['tv_generated_vs_world']:.3f} (two true samples: {v['tv_world_vs_world']:.3f}){direction}; "
              f"readability {100 * v['readability']:.1f}%; mean speed {v['mean_speed_px']:.2f} px a frame"
              + ("" if v.get("chosen_keep_invariant") is None else
                 f"; the motions chosen show every glyph whole twice (true boxes) in {100 * v['chosen_keep_invariant']:.1f}%")
              + ".", ""]
    if "sliders" in report:
        sampler, steps = report.get("slider_sampling", SLIDER_SAMPLING)
        lines += [f"What the sliders do ({sampler.upper()}, {steps} steps):", "",
                  "| guidance | eta | readability | TV to the world's motions | seed-to-seed pixel spread, one motion |",
                  "|---|---|---|---|---|"]
        for r in report["sliders"]:
            lines.append(f"| {r['guidance']:g} | {r['eta']:g} | {100 * r['readability']:.1f}% | {r['tv_vs_world']:.3f} | "
                         f"{r['same_motion_pixel_spread']:.2f} |")
    return "\n".join(lines) + "\n"


def sliders_figure(name: str, rows: list[dict], steps: int = SLIDER_SAMPLING[1]):
    """A matplotlib Figure of the slider table: readability, the motions' distance from the world's and the
    seed-to-seed pixel spread against the guidance scale, one line per eta."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.2))
    panels = (("readability", "read back exactly", 100.0), ("tv_vs_world", "TV to the world's motions", 1.0),
              ("same_motion_pixel_spread", "seed-to-seed spread, one motion (of 255)", 1.0))
    for i, (key, label, scale) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for eta in sorted({r["eta"] for r in rows}):
            sel = [r for r in rows if r["eta"] == eta]
            ax.plot([r["guidance"] for r in sel], [scale * r[key] for r in sel], "o-", label=f"eta {eta:g}")
        ax.set_xlabel("guidance scale")
        ax.set_title(label + (" (%)" if scale == 100.0 else ""), fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(f"{name}: what the sliders do (DDIM, {steps} steps)", fontsize=10)
    fig.tight_layout()
    return fig


def write_world_report(name: str, report: dict, path: Path) -> Path:
    """The JSON, its Markdown tables and (with a slider table) the sliders' plot beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    md = path.with_suffix(".md")
    text = world_markdown(name, report)
    if "sliders" in report:
        png = path.with_name(path.stem + "_sliders.png")
        sliders_figure(name, report["sliders"], report.get("slider_sampling", SLIDER_SAMPLING)[1]).savefig(png, dpi=90)
        text += f"\n![what the sliders do]({png.name})\n"
    md.write_text(text)
    return md
