"""The docs' tables that quote a committed report, rendered from it: a table's text sits between
`<!-- table:NAME -->` and `<!-- /table -->` in a Markdown file and is rewritten from docs/reports/*.json.

    python -m vidgen.evaluation.doc_tables --write    # after a report changes: rewrite every table from it
    python -m vidgen.evaluation.doc_tables            # check only: exit 1 and name the tables that differ

tests/test_docs.py runs the check, so a table cannot drift from its report.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..diffusion.sampler import get_sampler
from .metrics import PSNR_CAP

ROOT = Path(__file__).resolve().parents[2]  # the repository: the docs are not part of the package
REPORTS = ROOT / "docs" / "reports"
DOCS = (ROOT / "README.md", ROOT / "checkpoints" / "README.md", *sorted((ROOT / "docs").glob("*.md")))
MARKER = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)

SPLITS = ("val", "heldout", "lookalike", "long")
SPLIT_NAMES = {"val": "validation", "heldout": "held-out", "lookalike": "look-alike", "long": "7-8 symbols"}
# the benchmark's labels for the shipped models (`--models teacher=release,progressive2=release-2step`)
MODEL_NAMES = {"teacher": "release", "guidance": "release-fast", "progressive2": "release-2step"}
# the rows the n = 384 tables show: each model at its own default setting, and the reference
LARGE_ROWS = (("teacher", "ddim", 50), ("teacher", "dpm++2m", 10), ("progressive2", "ddim", 2))
ROW_NOTES = {("teacher", "ddim", 50): "the reference", ("teacher", "dpm++2m", 10): "its default",
             ("progressive2", "ddim", 2): "the default"}


def load(name: str) -> dict:
    """A committed report, docs/reports/NAME."""
    return json.loads((REPORTS / name).read_text())


def table(header: list[str], align: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; `align` is "l" or "r" a column."""
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(cells) + " |" for cells in (header, *rows)]
    return "\n".join([lines[0], rule, *lines[1:]]) + "\n"


def percent(x: float) -> str:
    """99.2, or 100 when every prompt was read (the n = 384 tables' style)."""
    return "100" if x == 1 else f"{100 * x:.1f}"


def both_judges(split: dict, short: bool = False) -> str:
    """One split read by the motion reader / by the nearest render: '100.0% / 95.8%', short '100 / 95.8%'."""
    if short:
        return f"{percent(split['reader'])} / {percent(split['nearest_render'])}%"
    return f"{100 * split['reader']:.1f}% / {100 * split['nearest_render']:.1f}%"


def find_row(report: dict, model: str, sampler: str, steps: int) -> dict:
    """A benchmarks.few_step report's row of one model at one setting."""
    for row in report["rows"]:
        if (row["model"], row["sampler"], row["steps"]) == (model, sampler, steps):
            return row
    raise KeyError(f"no row {model} {sampler} {steps} in the report")


def label(model: str, sampler: str, steps: int, note: bool) -> str:
    """'release, DDIM 50 (the reference)': a row's name under the shipped model's name."""
    text = f"{MODEL_NAMES.get(model, model)}, {get_sampler(sampler).title} {steps}"
    if note and (model, sampler, steps) in ROW_NOTES:
        text += f" ({ROW_NOTES[model, sampler, steps]})"
    return text


def few_step() -> str:
    """docs/sampling.md: every model and setting of docs/reports/few_step.json."""
    report = load("few_step.json")
    header = ["model", "sampler", "steps", "passes", *(f"{s} (reader / nearest)" for s in SPLITS),
              "PSNR val (dB)", "one video (s)", "matmul-times", "% of matmul rate"]
    rows = [[r["model"], r["sampler"], str(r["steps"]), str(r["passes"]),
             *(both_judges(r["splits"][s]) for s in SPLITS),
             f"{r['splits']['val']['psnr_db']:.2f}", f"{r['seconds']:g}", f"{r['matmuls']:.1f}",
             f"{round(100 * r['share_of_matmul_rate'])}%"] for r in report["rows"]]
    return table(header, ["l", "l"] + ["r"] * (len(header) - 2), rows)


def few_step_large() -> str:
    """docs/sampling.md: readability at n = 384 (docs/reports/few_step_large.json), the reader / the nearest render."""
    report = load("few_step_large.json")
    first = find_row(report, *LARGE_ROWS[0])
    header = ["model, sampler", "passes", *(f"{SPLIT_NAMES[s]} ({first['splits'][s]['n']})" for s in SPLITS),
              "PSNR " + " / ".join(SPLIT_NAMES[s].replace("validation", "val") for s in SPLITS)]
    rows = []
    for key in LARGE_ROWS:
        r = find_row(report, *key)
        name = label(*key, note=key == LARGE_ROWS[0])
        rows.append([f"**{name}**" if key == LARGE_ROWS[-1] else name, str(r["passes"]),
                     *(both_judges(r["splits"][s], short=True) for s in SPLITS),
                     " / ".join(f"{r['splits'][s]['psnr_db']:.2f}" for s in SPLITS) + " dB"])
    return table(header, ["l", "r", "r", "r", "r", "r", "l"], rows)


def default_model() -> str:
    """README.md: the default against its teacher, its time compiled (few_step_timing.json), its reading
    (few_step_large.json)."""
    reading, timing = load("few_step_large.json"), load("few_step_timing.json")
    reference = find_row(reading, *LARGE_ROWS[0])
    header = ["model, sampler", "network passes", "one video, compiled",
              "read back (" + " / ".join(SPLIT_NAMES[s].replace("validation", "val") for s in SPLITS) + ")", "PSNR val"]
    rows = []
    for key in LARGE_ROWS:
        r, t = find_row(reading, *key), find_row(timing, *key)
        psnr = f"{r['splits']['val']['psnr_db']:.2f} dB"
        if key != LARGE_ROWS[0]:
            psnr += f" ({r['splits']['val']['psnr_db'] - reference['splits']['val']['psnr_db']:+.2f})"
        cells = [label(*key, note=True), str(r["passes"]), f"{t['seconds']:.3f} s, {t['matmuls']:.1f} matmul-times",
                 " / ".join(percent(r["splits"][s]["reader"]) for s in SPLITS) + "%", psnr]
        rows.append([f"**{c}**" for c in cells] if key == LARGE_ROWS[-1] else cells)
    return table(header, ["l", "r", "r", "l", "r"], rows)


def app_latency() -> str:
    """docs/app.md: the default model in the app, compiled (docs/reports/app_latency_2step.json)."""
    report = load("app_latency_2step.json")
    alone = report["sampler only"]["total_s"]
    names = {"sampler only": "sampler alone (`Pipeline.generate`)",
             "app loop, no network": "the page's server loop, no network",
             "api /generate": "`generate` API via gradio_client"}
    rows = []
    for name, r in report.items():
        first = r.get("first_preview_s", r.get("first_update_s"))
        first_cell = "-" if first is None else f"{first:.3f} s" + (" (first update)" if "first_update_s" in r else "")
        ratio = "" if name == "sampler only" else f" ({r['total_s'] / alone:.1f}x)"
        total = f"{r['total_s']:.3f} s" + (" (GIF and MP4 together)" if name == "api /generate" else ratio)
        rows.append([names.get(name, name.replace("0.1 s", "(default)")), first_cell, total,
                     f"{r['mp4_s']:.3f} s" if "mp4_s" in r else "-"])
    return table(["run", "first preview after the click", "finished video (GIF; x the sampler alone)", "MP4"],
                 ["l", "r", "r", "r"], rows)


WORLD_SPLITS = {"val": "validation prompts", "heldout": "held-out combinations", "lookalike": "look-alike glyphs",
                "long": "7-8 symbols", "heldout_shapes": "validation prompts along held-out zigzag paths"}


WORLD_MODELS = ("release", "release-2step", "blog")  # the motion world's models with a world report


def world_models() -> str:
    """checkpoints/README.md: the motion world's models following a motion (world_*.json): readability by the three
    judges, the glyphs within 1 px of their place, PSNR."""
    reports = {name: load(f"world_{name}.json")["follow"] for name in WORLD_MODELS}

    def cell(s: dict) -> str:
        return (f"**{percent(s['readability'])}%** / {percent(s['readability_nearest_render'])}% / "
                f"{percent(s['readability_outside'])}% ({percent(s['truth_outside'])}%), "
                f"{percent(s['placement']['within_1px'])}% ({s['placement']['max_px']:.1f} px), {s['psnr_db']:.1f} dB")

    rows = [[f"{text} (n = {reports['release'][split]['n']})", *(cell(r[split]) for r in reports.values())]
            for split, text in WORLD_SPLITS.items()]
    return table(["", *reports], ["l", "l", "l", "l"], rows)


def world_variety() -> str:
    """docs/world.md, checkpoints/README.md: each motion-world model with no motion given (world_*.json "variety")."""
    rows = []
    for name in WORLD_MODELS:
        v = load(f"world_{name}.json")["variety"]
        keep = "" if v.get("chosen_keep_invariant") is None else f"{percent(v['chosen_keep_invariant'])}%"
        rows.append([name, f"{len(v['prompts'])} x {v['seeds_per_prompt']}",
                     f"{v['tv_direction_generated_vs_world']:.3f} ({v['tv_direction_world_vs_world']:.3f})",
                     f"{v['tv_generated_vs_world']:.3f} ({v['tv_world_vs_world']:.3f})",
                     f"{percent(v['readability'])}%", keep, f"{v['mean_speed_px']:.2f}"])
    return table(["model", "prompts x seeds", "TV over 8 directions (two world samples)",
                  "TV over direction x speed (two world samples)", "read back", "motions keeping every glyph whole twice",
                  "mean speed (px a frame)"], ["l", "r", "r", "r", "r", "r", "r"], rows)


def blog_prior_sets() -> str:
    """docs/world.md: the blog's motions with no motion given, drawn without denoising, on prompt sets of every split
    (docs/reports/blog_prior_splits.json, `benchmarks.blog_prior --sets ... --expected N`)."""
    report = load("blog_prior_splits.json")
    rows = []
    for x in report["sets"]:
        c = x["chosen"]
        e = c["expected"]
        rows.append([f"{SPLIT_NAMES[x['split']]}, prompt seed {x['prompt_seed']}", f"{len(x['prompts'])} x {report['seeds']}",
                     f"{c['tv_direction']:.3f} ({c['tv_direction_floor']:.3f})",
                     f"{c['tv_direction'] - c['tv_direction_floor']:+.3f}",
                     f"{e['tv_direction']:.3f} ({e['tv_direction_world']:.3f})",
                     f"{c['tv_shape']:.3f} ({c['tv_shape_floor']:.3f})", f"{percent(c['keep_invariant'])}%"])
    return table(["prompts", "prompts x seeds", "TV over 8 directions (two world samples)", "above them",
                  f"TV to the expected directions (a world sample), {e['draws_a_prompt']} draws a prompt",
                  "TV over path shapes (two world samples)", "motions keeping every glyph whole twice"],
                 ["l", "r", "r", "r", "r", "r", "r"], rows)


BLOG_PRIOR_REPORTS = (("placed (shipped until 2026-12-05)", "blog_prior_splits_placed.json"),
                      ("gated (tried)", "blog_prior_splits_gated.json"),
                      ("shaped, boxes as before (tried)", "blog_prior_splits_shaped_unpaired.json"),
                      ("shaped, pair-shifted boxes (shipped)", "blog_prior_splits.json"))


def blog_priors() -> str:
    """docs/world.md: the blog's motion priors side by side over the same six prompt sets (`benchmarks.blog_prior
    --sets`, one report each): how far above two world samples their directions and path shapes sit (the range over
    the sets), how often they stop and go on validation prompts against the world, the share of chosen motions that
    keep every glyph whole twice (the least over the sets), and the predicted box edges that stand inwards."""
    rows = []
    for name, file in BLOG_PRIOR_REPORTS:
        report = load(file)
        chosen = [x["chosen"] for x in report["sets"]]
        above = lambda key: [c[f"tv_{key}"] - c[f"tv_{key}_floor"] for c in chosen]  # noqa: E731
        val = [x["chosen"] for x in report["sets"] if x["split"] == "val"]
        boxes = report.get("boxes")
        rows.append([name, f"{min(above('direction')):+.3f} to {max(above('direction')):+.3f}",
                     f"{min(above('shape')):+.3f} to {max(above('shape')):+.3f}",
                     f"{percent(sum(c['shape_shares']['stop_go'] for c in val) / len(val))}% "
                     f"({percent(sum(c['world_shape_shares']['stop_go'] for c in val) / len(val))}%)",
                     f"{percent(min(c['keep_invariant'] for c in chosen))}%",
                     f"{boxes['edges_inwards']} of {boxes['edges']}" if boxes else "not measured"])
    return table(["motion prior", "directions above two world samples", "path shapes above two world samples",
                  "stop and go, validation prompts (world)", "chosen motions keeping every glyph whole twice (least)",
                  "predicted box edges inwards of the world's"], ["l", "r", "r", "r", "r", "r"], rows)


def scroll_models() -> str:
    """README.md: the scroll world's two models (shipped_models.json), each cell the reference **/** the default."""
    from .model_card import ROWS

    card = load("shipped_models.json")["models"]
    names = {"release": "scroll-release (then release)", "blog": "scroll-blog (then blog)"}
    fmt = {"pct": lambda v: f"{percent(v)}%", "db": lambda v: f"{v:.1f}", "f3": lambda v: f"{v:.3f}",
           "f1": lambda v: f"{v:.1f}"}
    rows = []
    for text, split, key, kind in ROWS:
        cells = []
        for name in names:
            ref, own = (card[name]["samplings"][s]["splits"][split] for s in ("reference", "default"))
            cell = f"{fmt[kind](ref[key])} / {fmt[kind](own[key])}"
            cells.append({"pct": f"{cell} (n = {ref['n']})", "db": f"{cell} dB"}.get(kind, cell))
        rows.append([text, *cells])
    return table(["", *names.values()], ["l", "l", "l"], rows)


def soak_load() -> str:
    """docs/reliability.md: the app under 100 loopback users (docs/reports/soak.json, `benchmarks.soak --only load`)."""
    report = load("soak.json")
    machine, run = report["machine"], report["load"]
    out, served, refused = run["outcomes"], run["latency_served"], run["latency_refused"]
    start, end = machine["load_average_1_5_15"][0], machine["load_average_at_end"][0]
    rows = [["machine", f"{machine['cpu']}, {machine['cores']} cores, {machine['date']}; 1-minute load average "
                        f"{start:.1f} at the start, {end:.1f} at the end"],
            [f"requests sent in {run['duration_s']:g} s by {run['users']} users", str(run["requests"])],
            ["served with a GIF of their prompt / refused with a message / told the queue is full",
             f"{out.get('served', 0)} / {out.get('refused', 0)} / {out.get('busy', 0)}"],
            ["unexpected answers (a good request refused, a bad one served, a crash, a timeout)",
             f"**{run['unexpected']}**"],
            ["latency of a served request, p50 / p90 / p99 (queue wait included)",
             f"{served['p50_s']:.1f} s / {served['p90_s']:.1f} s / {served['p99_s']:.1f} s"],
            ["latency of a refusal, p50 / p99 (refusals wait in the same queue)",
             f"{refused['p50_s']:.1f} s / {refused['p99_s']:.1f} s"],
            ["server memory after warm-up, peak (kernel's high-water mark), at the end",
             f"{run['rss_after_warmup_mb']:.0f} MB, {run['rss_peak_kernel_mb']:.0f} MB, {run['rss_end_mb']:.0f} MB"],
            ["server up after the load", "yes" if run["server_alive"] else "**no**"],
            ["one generation alone after the load; the next after Stop cancelled a 1000-step one",
             f"{run['one_generation_alone_s']:.2f} s; {run['next_generation_after_stop_s']:.2f} s"]]
    return table(["", ""], ["l", "l"], rows)


def long_methods() -> str:
    """docs/long.md: every long-video method side by side (docs/reports/long.json, `benchmarks.long_video`)."""
    report = load("long.json")
    rows = []
    for name, by_frames in report["methods"].items():
        for frames, r in by_frames.items():
            rows.append([f"{name}{' (default)' if name == report['default']['method'] else ''}", frames, str(r["n"]),
                         both_judges(r), f"{r['seam_ratio']:.2f}", f"{r['psnr']:.1f}", f"{r['drift_db']:+.2f}",
                         f"{1000 * r['seconds_per_frame']:.0f}"])
    return table(["method", "frames", "n", "read: reader / nearest render", "seam: boundary / inside", "PSNR dB",
                  "drift dB (last window - first)", "ms a frame (batch of 8)"], ["l", "r", "r", "r", "r", "r", "r", "r"], rows)


def long_shipped() -> str:
    """docs/long.md, the model card: the long model at its default on sentences never trained on."""
    report = load("long.json")
    d = report["default"]
    rows = []
    for split, by_frames in report["shipped"].items():
        for frames, r in by_frames.items():
            k, kt = r["kpis"], r["kpis_truth"]
            rows.append([split, frames, str(r["n"]), f"{both_judges(r)} ({both_judges({'reader': r['truth_reader'], 'nearest_render': r['truth_nearest_render']}, short=True)})",
                         f"{r['seam_ratio']:.2f}",
                         f"{r['psnr_by_window'][0]:.1f} / {r['psnr_by_window'][-1]:.1f}", f"{r['drift_db']:+.2f}",
                         f"{k['warping_error']:.4f} ({kt['warping_error']:.4f})", f"{k['flicker']:.3f} ({kt['flicker']:.3f})"])
    return (f"{d['method']}, {d['steps']} steps a frame; {report['cpu']}, {report['precision']}\n\n"
            + table(["sentences", "frames", "n", "read: reader / nearest render (of the truth)", "seam: boundary / inside",
                     "PSNR first / last window", "drift dB", "warping error (truth)", "flicker (truth)"],
                    ["l", "r", "r", "r", "r", "r", "r", "r", "r"], rows))


def long_cost() -> str:
    """docs/long.md: time per frame against length, and memory (docs/reports/long_cost.json, `--cost-only`)."""
    report = load("long_cost.json")
    cost, memory = report["cost"], report["memory_mb"]
    rows = [[frames, f"{r['seconds']:.2f}", f"{r['ms_per_frame']:.1f}"] for frames, r in cost["by_frames"].items()]
    d = report["default"]
    idle = "idle" if report["idle"] else f"not idle (load average {report['load_average_before']})"
    return (f"`{cost['prompt']}`, one video, {d['method']} at {d['steps']} steps a frame, the median of {cost['rounds']} "
            f"rounds; {report['precision']}; {report['threads']} threads, {idle}; a 1024^3 fp32 matmul "
            f"{report['matmul_1024_fp32_ms']} ms, so the 128-frame video is {cost['video_128_matmuls']} matmul-times; time a "
            f"frame varies by {100 * cost['per_frame_spread']:.0f}% from 32 to 128 frames; peak memory of a process making one "
            + ", ".join(f"{frames}-frame video {mb:.0f} MB" for frames, mb in memory.items()) + "\n\n"
            + table(["frames", "seconds", "ms a frame"], ["r", "r", "r"], rows))


def motion_kpis() -> str:
    """docs/long.md: seed 004's motion KPIs of every shipped motion model, and their separation of true videos from the
    same with two frames swapped (docs/reports/motion_kpis.json, `benchmarks.motion_kpis`)."""
    report = load("motion_kpis.json")
    rows = []
    for name, model in report["models"].items():
        for set_name, r in model["sets"].items():
            g, t = r["generated"], r["truth"]
            rows.append([name, set_name, str(r["n"]), f"{g['warping_error']:.4f} ({t['warping_error']:.4f})",
                         f"{g['mawe']:.4f} ({t['mawe']:.4f})", f"{g['flicker']:.3f} ({t['flicker']:.3f})",
                         f"{g['flow_consistency_px']:.2f} ({t['flow_consistency_px']:.2f})",
                         f"{r['temporal_fid']:.1f}", f"{r['temporal_fid_vs_reference']:.1f} ({r['temporal_fid_floor']:.1f})"])
    kpis = table(["model", "videos", "n", "warping error (truth)", "MAWE (truth)", "flicker (truth)", "flow error px (truth)",
                  "temporal FID to the truth, same motions", "to a true set along other motions (floor)"],
                 ["l", "l", "r", "r", "r", "r", "r", "r", "r"], rows)
    seps = []
    for set_name, by_kpi in report["separation"].items():
        seps.append([set_name] + [f"{r['margin']:.4g}" + (f" ({100 * r['separated']:.0f}%)" if "separated" in r else "")
                                  for r in by_kpi.values()])
    names = list(next(iter(report["separation"].values())))
    return (kpis + f"\n{report['cpu']}. True videos against the same with two frames swapped: the margin (the share of "
            "videos that score better than their swapped copy)\n\n"
            + table(["true videos"] + names, ["l"] + ["r"] * len(names), seps))


# the long model as it was before the drawn pen (its report: the shipped rows of docs/reports/long.json until 2026-12-05)
TEMPORAL_RUNS = {"long (before the drawn pen)": "long_advance.json", "+600 steps": "long_tune.json",
                 "+600 steps with the temporal term": "long_temporal.json"}
PEN_RUNS = {"long (before the drawn pen)": "long_advance.json", "+600 steps, the same layout": "long_tune.json",
            "+1800 steps, the drawn pen (shipped)": "long_drawn.json"}


def long_pen() -> str:
    """docs/long.md: the long model told where each glyph is drawn (layout_pen "drawn") against the same model before
    and against 600 more steps of its own recipe, on the same sentences (docs/reports/long*.json, `benchmarks.long_video`)."""
    return long_runs(PEN_RUNS)


def long_temporal() -> str:
    """docs/long.md: seed 004's temporal loss, trained once: the long model, 600 more steps of the same recipe
    (the control) and 600 more with the term, on the same sentences (docs/reports/long*.json, `benchmarks.long_video`)."""
    return long_runs(TEMPORAL_RUNS)


def long_runs(runs: dict[str, str]) -> str:
    """Long-video reports of several models side by side: name -> report (docs/reports/)."""
    rows = []
    for name, path in runs.items():
        report = load(path)
        for split, by_frames in report["shipped"].items():
            for frames, r in by_frames.items():
                rows.append([name, split, frames, str(r["n"]), both_judges(r), f"{r['seam_ratio']:.2f}", f"{r['psnr']:.2f}",
                             f"{r['drift_db']:+.2f}", f"{r['kpis']['warping_error']:.5f}", f"{r['kpis']['flicker']:.4f}"])
    return table(["model", "sentences", "frames", "n", "read: reader / nearest render", "seam: boundary / inside", "PSNR dB",
                  "drift dB", "warping error", "flicker (truth ~0.84-0.88)"], ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"], rows)


def browser() -> str:
    """docs/browser.md: the page in headless Chromium against the library (docs/reports/browser.json, `benchmarks.browser`)."""
    r = load("browser.json")
    page, eq, rd = r["page"], r["equality"], r["readability"]
    idle = "idle" if r["idle"] else f"not idle (load average {r['load_average_before']})"
    rows = [
        ["the page's video against the library's, same noise and motion (fp32)",
         f"{eq['max_abs_pixel']}/255 at most, {eq['mean_abs_pixel']:.3f}/255 on average (n = {eq['n']}; goal <= {eq['goal_max_abs_pixel']}/255)"],
        *([f"read back, {split} prompts (motion reader / nearest render)",
           f"page {both_judges(r_['page'])}, library {both_judges(r_['library'])} (n = {r_['n']})"] for split, r_ in rd.items()),
        ["load to ready: cold / cached", f"{page['ready_cold_ms'] / 1000:.2f} s / {page['ready_cached_ms'] / 1000:.2f} s"],
        [f"a video in the page ({page['steps']} steps, {page['wasm_threads']} WASM thread{'s' if page['wasm_threads'] > 1 else ''}), "
         "its first preview", f"{page['video_ms_median']:.0f} ms, {page['first_preview_ms_median']:.0f} ms"],
        ["the same video in the library, eager: its precision / fp32",
         f"{r['library_auto_video_ms_median']:.0f} ms / {r['library_fp32_video_ms_median']:.0f} ms"],
        ["page / library (goal <= 2)", f"{r['page_over_library_eager']:.2f}" + (
            "" if "timing" not in r else f" (by round: {', '.join(f'{x:.2f}' for x in r['timing']['page_over_library_eager_by_round'])})")],
    ]
    if "model_bytes" in page:
        rows.insert(0, ["the model's two graphs (cond.onnx + step.onnx)",
                        f"{page['model_bytes'] / 1e6:.1f} MB, {page['weights']} weights (goal <= 10 MB)"])
    return (f"{r['cpu']}, Chromium {r['chromium']}, {idle}; a 1024^3 fp32 matmul {r['matmul_1024_fp32_ms']} ms; the library: "
            f"{r['library_precision']}\n\n" + table(["", ""], ["l", "r"], rows))


VAES = ("vae-frame", "vae-causal", "vae-frame-64")  # the autoencoders docs/latent.md compares (docs/reports/vae_NAME.json)


def vae_compare() -> str:
    """docs/latent.md: each VAE's reconstructions of the motion world (`python -m vidgen vae-report`)."""
    reports = {name: load(f"vae_{name}.json") for name in VAES}
    rows = []
    for name, r in reports.items():
        c, t, h, w = r["latent_shape"]
        for split in SPLITS:
            s = r["splits"][split]
            rows.append([name if split == "val" else "", f"{c} x {t} x {h} x {w}" if split == "val" else "",
                         f"{SPLIT_NAMES[split]} ({s['n']})", f"{s['psnr_db']:.1f}",
                         f"{percent(s['readability'])} / {percent(s['readability_nearest_render'])}%",
                         f"{s['background_bias']:+.2f}", f"{255**2 * s['warping_error']:.1f} ({255**2 * s['warping_error_truth']:.1f})",
                         f"{s['flicker']:.4f} ({s['flicker_truth']:.4f})"])
    return table(["VAE", "latent C x T x H x W", "prompts", "PSNR dB", "read: reader / nearest render", "background (of 255)",
                  "warping error, of 255^2 (the truth's)", "flicker (the truth's)"], ["l", "l", "l", "r", "r", "r", "r", "r"], rows)


# the fidelity columns (world reports from 2026-12-04 on have them): background level, warping error, flicker
FIDELITY = (("background_bias", lambda v: f"{v:.1f}"), ("warping_error", lambda v: f"{255**2 * v:.1f}"),
            ("flicker", lambda v: f"{v:.4f}"))
LATENT_MODELS = ("release", "release-2step", "latent", "latent-64")  # pixel and latent diffusion side by side (world_NAME.json, latent_cost.json)
READ_TARGET = 0.99  # "training time to 99% readability": both judges on the validation prompts
# model -> (the world report of the earliest weights in its line measured reading >= READ_TARGET, the training logs in
# checkpoints/ of every stage up to those weights): a latent model starts from the release's weights and needs its
# VAE, so both count in its time; a distilled student's line reached it with its teacher
TRAINING_STAGES = {
    "release": ("world_release.json", ("release/train_log.jsonl",)),
    "release-2step": ("world_release.json", ("release/train_log.jsonl",)),
    "latent": ("world_latent_advance.json", ("release/train_log.jsonl", "vae-frame/log.jsonl",
                                             "latent/train_log_motion-latent.jsonl")),
    "latent-64": ("world_latent-64_teacher.json", ("release/train_log.jsonl", "vae-frame-64/log.jsonl",
                                                   "latent-64/train_log_motion-latent-64.jsonl")),
}


def log_seconds(path: str) -> float:
    """The training seconds of a committed log (checkpoints/PATH) at the weights its folder ships: the line of the
    config's exported_from_step for a folder's own train_log.jsonl (a best-EMA export can be earlier than the run's
    end), else the last line; its train_seconds, or a VAE run's seconds."""
    log = ROOT / "checkpoints" / path
    lines = [json.loads(line) for line in log.read_text().strip().splitlines()]
    step = None
    if log.name == "train_log.jsonl":
        step = json.loads((log.parent / "config.json").read_text()).get("exported_from_step")
    line = next((x for x in lines if x.get("step") == step), lines[-1])
    return float(line["train_seconds"] if "train_seconds" in line else line["seconds"])


def val_reads(report: dict) -> tuple[float, float]:
    """(reader, nearest render) readability of a world report's validation prompts."""
    val = report["follow"]["val"]
    return val["readability"], val["readability_nearest_render"]


def training_to_read(name: str, own: dict) -> str:
    """'7557 + 3461 + 2581 s': each stage's training seconds up to the earliest weights of the model's line measured
    reading >= READ_TARGET on the validation prompts by both judges, then the model's own reading (`own`, its world
    report) when it is below the target."""
    report, logs = TRAINING_STAGES[name]
    reads = val_reads(load(report))
    cell = (" + ".join(f"{log_seconds(p):.0f}" for p in logs) + " s" if min(reads) >= READ_TARGET
            else f"not reached ({percent(reads[0])} / {percent(reads[1])}%)")
    mine = val_reads(own)
    return cell if min(mine) >= READ_TARGET else f"{cell}; its own weights {percent(mine[0])} / {percent(mine[1])}%"


def cost_cell(c: dict) -> str:
    """'343 fp32 + 13 bf16 ms: 6.64x (32)': a video's denoiser and decoder times, each in the precision it ran at, the
    whole over the default model's video in the same run and in 1024^3 fp32 matmuls (`benchmarks.latent_cost`)."""
    decoder = "" if c["decoder_precision"] == "none" else f" {c['decoder_precision']}"
    return (f"{c['denoiser_ms']:.0f} {c['denoiser_precision']} + {c['decoder_ms']:.0f}{decoder} ms: "
            f"{c['video_over_default']:.2f}x ({c['video_matmuls']:.0f})")


def latent_compare() -> str:
    """docs/latent.md, checkpoints/README.md: the pixel release beside the latent release (world reports and
    `benchmarks.latent_cost`)."""
    cost = load("latent_cost.json")
    reports = {name: load(f"world_{name}.json") for name in LATENT_MODELS}

    def split_cell(f: dict) -> str:
        return f"{percent(f['readability'])} / {percent(f['readability_nearest_render'])}%"

    rows = []
    for name, r in reports.items():
        f, c = r["follow"], cost["models"][name]
        rows.append([name, str(c["tokens"]), f"{c['denoiser_parameters'] / 1e6:.2f}M + {c['vae_parameters'] / 1e6:.2f}M",
                     training_to_read(name, r), *(split_cell(f[s]) for s in SPLITS), f"{f['val']['psnr_db']:.1f}",
                     *(fmt(f["val"][k]) if k in f["val"] else "not in its report" for k, fmt in FIDELITY),
                     cost_cell(c)])
    idle = "idle" if cost["idle"] else f"not idle (load average {cost['load_average_before']})"
    return (f"{cost['cpu']}, {cost['threads']} threads, {cost['precision']}, {idle}; a 1024^3 fp32 matmul "
            f"{cost['matmul_1024_fp32_ms']} ms\n\n"
            + table(["model", "tokens", "parameters: denoiser + VAE", "training to 99% read: seconds a stage (release + VAE + latent)",
                     *(f"{SPLIT_NAMES[s]}: reader / nearest" for s in SPLITS),
                     "PSNR dB (val)", "background (of 255)", "warping error (of 255^2)", "flicker", "a video: denoiser + decoder: over the default's (in matmuls)"],
                    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"], rows))


# row label -> docs/reports/ file, each from `python -m vidgen.evaluation.fidelity`
FIDELITY_REPORTS = {"release": "fidelity_release.json", "release, drawn pen (not shipped)": "fidelity_release_drawn.json",
                    "latent before the drawn pen (1500 steps)": "fidelity_latent_advance.json", "latent": "fidelity_latent.json"}


def fidelity() -> str:
    """docs/latent.md: where each model's PSNR is lost (the autoencoder, the network from a noised truth, sampling)."""
    reports = {name: load(path) for name, path in FIDELITY_REPORTS.items()}
    ts = list(next(iter(reports.values()))["one_step_db"])
    rows = [[name, "none" if r["ceiling_db"] >= PSNR_CAP else f"{r['ceiling_db']:.1f}", *(f"{r['one_step_db'][t]:.1f}" for t in ts),
             f"{r['sampled_db']:.1f}", f"{r['sampling']['sampler']}, {r['sampling']['steps']} steps, guidance {r['sampling']['guidance_scale']:g}"]
            for name, r in reports.items()]
    n = {r["n"] for r in reports.values()}
    swept = [f"{name}, sampled at other settings (sampler:steps:guidance): "
             + ", ".join(f"{k} {v:.1f} dB" for k, v in r["sampled_by_setting"].items())
             for name, r in reports.items() if r.get("sampled_by_setting")]
    return (f"validation prompts, n = {', '.join(map(str, sorted(n)))}, fp32; PSNR dB against the truth\n\n"
            + table(["model", "autoencoder's ceiling", *(f"one step from t = {t}" for t in ts), "sampled", "its sampling"],
                    ["l", "r", *("r" for _ in ts), "r", "l"], rows)
            + "".join(f"\n{line}\n" for line in swept))


TABLES = {"few_step": few_step, "few_step_large": few_step_large, "default_model": default_model,
          "app_latency": app_latency, "world_models": world_models, "world_variety": world_variety,
          "blog_prior_sets": blog_prior_sets, "blog_priors": blog_priors,
          "scroll_models": scroll_models,
          "soak_load": soak_load, "long_methods": long_methods, "long_shipped": long_shipped, "long_cost": long_cost,
          "motion_kpis": motion_kpis, "long_temporal": long_temporal, "long_pen": long_pen, "browser": browser, "vae_compare": vae_compare,
          "latent_compare": latent_compare, "fidelity": fidelity}


def render(text: str) -> str:
    """`text` with every marked table rendered afresh from its report."""
    def fill(m: re.Match) -> str:
        if m["name"] not in TABLES:
            raise KeyError(f"unknown table {m['name']!r} (known: {', '.join(TABLES)})")
        return m.group(1) + TABLES[m["name"]]() + m.group(4)

    return MARKER.sub(fill, text)


def stale(paths=DOCS) -> list[str]:
    """The tables whose committed text differs from their report, as 'file: table'."""
    return [f"{path.relative_to(ROOT)}: {m['name']}" for path in paths for m in MARKER.finditer(path.read_text())
            if MARKER.search(render(m.group(0)))["body"] != m["body"]]


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the docs' commands against it)."""
    p = argparse.ArgumentParser(prog="python -m vidgen.evaluation.doc_tables", description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="rewrite the tables from the reports (default: only check)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.write:
        for path in DOCS:
            text = path.read_text()
            if render(text) != text:
                path.write_text(render(text))
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    differing = stale()
    for name in differing:
        print(f"differs from its report: {name}", file=sys.stderr)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
