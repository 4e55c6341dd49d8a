"""The probe report: every interpretability probe run on one model, written to a folder as figures
(interactive HTML and PNG), summary numbers (summary.json) and an index.html."""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ..data import tokenizer as tok
from ..diffusion.sampler import DEFAULT_GUIDANCE, EVAL_STEPS, check_sampling_args
from . import analysis as probes
from . import figures as plots


def default_query(ownership: np.ndarray) -> tuple[int, int, int]:
    """A patch that shows text in the middle frame, nearest the grid centre (the centre if none does)."""
    grid = ownership.shape
    t = grid[0] // 2
    hs, ws = np.nonzero(ownership[t] >= 0)
    if len(hs) == 0:
        return t, grid[1] // 2, grid[2] // 2
    k = int(np.argmin((hs - grid[1] / 2) ** 2 + (ws - grid[2] / 2) ** 2))
    return t, int(hs[k]), int(ws[k])


def plain(v):
    """Probe results -> JSON-able: arrays to lists, numpy scalars to numbers, NaN to null."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else round(float(v), 6)
    if isinstance(v, np.integer):
        return int(v)
    return v


def write_report(pipe, out, prompt: str = "NOISE", seed: int = 0, steps: int = EVAL_STEPS, guidance_scale: float = DEFAULT_GUIDANCE,
                 ref=None, query=None, loss_prompts: int = 16, loss_timesteps: int = 20, align_prompts: int = 32,
                 align_timesteps: int = 10, log=print) -> dict:
    """Run every probe on the pipeline's model and write figures + summary.json into `out`; -> the summary.

    Arguments are checked before anything runs. A probe the model variant cannot support (no learned
    positional embedding, no joint attention, ...) is skipped and its reason kept in summary["skipped"].
    """
    model, schedule = pipe.model, pipe.schedule
    grid, T = model.cfg.grid, schedule.num_timesteps
    prompt = tok.normalize_prompt(prompt, max_len=model.cfg.prompt_len)
    for name, v in (("steps", steps), ("loss-prompts", loss_prompts), ("loss-timesteps", loss_timesteps),
                    ("align-prompts", align_prompts), ("align-timesteps", align_timesteps)):
        if v < 1:
            raise ValueError(f"--{name} must be >= 1, got {v}")
    if steps > T:
        raise ValueError(f"--steps must be in [1, {T}], got {steps}")
    check_sampling_args(steps, 0.0, guidance_scale, T)
    ref = probes._check_position(ref if ref is not None else tuple(g // 2 for g in grid), grid, "--ref")
    if query is not None:
        query = probes._check_position(query, grid, "--query")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped, summary = [], {}, {}

    def save(name: str, fig=None, png=None):
        if fig is not None:
            written.append(plots.write_html(fig, out / f"{name}.html").name)
        if png is not None:
            png.save(out / f"{name}.png")
            written.append(f"{name}.png")

    def section(name: str, fn):
        try:
            return fn()
        except ValueError as e:  # the variant lacks what this probe reads; inputs were checked above
            skipped[name] = str(e)
            log(f"skipped {name}: {e}")
            return None

    log("positional and timestep embeddings")

    def positions():
        summary["positions"] = probes.position_summary(model)
        by_distance = summary["positions"]["by_distance"]
        save("pos_similarity_cube", plots.similarity_cube_figure(model, *ref), plots.similarity_cube_png(model, *ref))
        save("pos_similarity_matrix", plots.similarity_matrix_figure(model), plots.similarity_matrix_png(model))
        save("pos_similarity_by_distance", plots.distance_profile_figure(by_distance),
             plots.lines_png({k: (r["distance"], r["mean"]) for k, r in by_distance.items()}, "pos-embedding similarity by distance", "distance (patches)", "mean cosine similarity"))

    def prompt_positions():
        summary["prompt_positions"] = probes.prompt_position_similarity(model)
        save("prompt_pos_similarity", plots.prompt_similarity_figure(model), plots.prompt_similarity_png(model))

    def timestep():
        save("timestep_embedding", plots.timestep_embedding_figure(model, T), plots.timestep_embedding_png(model, T))
        save("timestep_embedding_mlp", plots.timestep_embedding_figure(model, T, after_mlp=True))

    def glyph_layout():
        save("glyph_layout", png=plots.layout_png(prompt, model=model if model.cfg.layout == "learned" else None))
        if model.cfg.layout != "none":  # the blog's model reads no layout: no symbol embedding to show
            summary["symbol_similarity"] = probes.symbol_embedding_similarity(model)
            save("symbol_similarity", plots.symbol_similarity_figure(model), plots.symbol_similarity_png(model))

    section("positions", positions)
    section("prompt_positions", prompt_positions)
    section("glyph_layout", glyph_layout)
    section("timestep_embedding", timestep)

    log(f"tracing attention for {prompt!r} ({steps} steps, seed {seed}, guidance {guidance_scale})")

    def attention():
        trace = probes.trace_attention(pipe, prompt, seed=seed, steps=steps, guidance_scale=guidance_scale)
        sampling = probes.alignment_over_steps(trace)
        summary["attention"] = {"final_step_alignment": sampling["mean"][-1],
                                "mean_alignment_over_steps": float(np.mean(sampling["mean"])), "sampling": sampling}
        save("cross_attention", plots.cross_attention_figure(trace), plots.cross_attention_png(trace))
        save("attention_argmax", png=plots.attention_argmax_png(trace))
        q = default_query(trace.ownership) if query is None else query
        summary["query"] = q
        if trace.self_steps:
            save("self_attention", plots.self_attention_figure(trace, q), plots.self_attention_png(trace, q))
        else:
            skipped["self_attention"] = f"model variant {model.cfg.variant!r} has no joint self-attention blocks[i].attn"
        log(f"teacher-forced alignment on {align_prompts} validation prompts")
        on_data = probes.alignment_on_data(model, schedule, probes.evenly_spaced_timesteps(align_timesteps, T),
                                           probes.probe_prompts(align_prompts, min_len=2), seed=seed)
        summary["attention"].update(data_alignment=float(np.mean(on_data["mean"])), data=on_data)
        save("alignment", plots.alignment_figure(sampling, on_data),
             plots.lines_png({"layers averaged": (on_data["timesteps"], on_data["mean"])},
                             "attention alignment, teacher-forced on validation prompts", "timestep t", "alignment",
                             hlines={"chance": on_data["chance"], "majority": on_data["majority"]}))

    section("attention", attention)

    log(f"loss by noise level on {loss_prompts} validation prompts")
    loss = probes.loss_by_noise_level(model, schedule, probes.evenly_spaced_timesteps(loss_timesteps, T),
                                      probes.probe_prompts(loss_prompts), seed=seed)
    summary["loss_by_noise"] = loss
    save("loss_by_noise", plots.loss_by_noise_figure(loss),
         plots.lines_png({f"{loss['prediction']}-MSE": (loss["timesteps"], loss["target_mse"]),
                          "x0-MSE": (loss["timesteps"], loss["x0_mse"])},
                         "loss by noise level", "timestep t", "MSE (log)", log_y=True))

    summary = plain({
        "checkpoint": str(pipe.config.get("checkpoint", "")) or None,
        "variant": model.cfg.variant, "layout": model.cfg.layout, "grid": list(grid), "prompt": prompt, "seed": seed, "steps": steps,
        "guidance_scale": guidance_scale, "reference": list(ref), **summary,
        "skipped": skipped, "files": sorted(written),
    })
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _write_index(out, summary)
    return summary


def _write_index(out: Path, summary: dict) -> None:
    """index.html: links to every figure, the headline numbers and what was skipped."""
    a, pos = summary.get("attention", {}), summary.get("positions", {})
    rows = [("prompt traced", summary["prompt"])]
    if a:
        rows += [("alignment at the final step (sampling)", a["final_step_alignment"]),
                 ("alignment, teacher-forced on validation prompts (mean over t)", a["data_alignment"]),
                 ("chance / majority (validation prompts)", f"{a['data']['chance']:.3f} / {a['data']['majority']:.3f}")]
    if pos:
        rows.append(("pos-embedding similarity, same frame / other frames", f"{pos['mean_same_frame']:.3f} / {pos['mean_other_frames']:.3f}"))
    rows += [(f"skipped: {k}", v) for k, v in summary["skipped"].items()]
    links = "".join(f'<li><a href="{html.escape(f)}">{html.escape(f)}</a></li>' for f in summary["files"])
    table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    (out / "index.html").write_text(f"<!doctype html><meta charset='utf-8'><title>vidgen probes</title><h1>vidgen probes</h1>"
                                    f"<table>{table}</table><p>All numbers: <a href='summary.json'>summary.json</a></p><ul>{links}</ul>\n")
