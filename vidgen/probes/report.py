"""The probe report: every interpretability probe run on one model, written to a folder as figures
(interactive HTML and PNG), summary numbers (summary.json) and an index.html."""
from __future__ import annotations

import html
import json
import string
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


class FigureFolder:
    """Where the report's figures go: each `save` writes the interactive HTML and/or the PNG and
    remembers the file names for summary.json and index.html."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.files: list[str] = []

    def save(self, name: str, fig=None, png=None) -> None:
        if fig is not None:
            self.files.append(plots.write_html(fig, self.out / f"{name}.html").name)
        if png is not None:
            png.save(self.out / f"{name}.png")
            self.files.append(f"{name}.png")


# ----------------------------------------------------------------------------- one function per probe:
# each writes its figures and returns its part of the summary; a model that lacks what the probe reads
# raises analysis.ProbeNotApplicable


def probe_positions(model, ref, folder: FigureFolder) -> dict:
    summary = probes.position_summary(model)
    by_distance = summary["by_distance"]
    folder.save("pos_similarity_cube", plots.similarity_cube_figure(model, *ref), plots.similarity_cube_png(model, *ref))
    folder.save("pos_similarity_matrix", plots.similarity_matrix_figure(model), plots.similarity_matrix_png(model))
    folder.save("pos_similarity_by_distance", plots.distance_profile_figure(by_distance),
                plots.lines_png({k: (r["distance"], r["mean"]) for k, r in by_distance.items()},
                                "pos-embedding similarity by distance", "distance (patches)", "mean cosine similarity"))
    return {"positions": summary}


def probe_prompt_positions(model, folder: FigureFolder) -> dict:
    summary = probes.prompt_position_similarity(model)
    folder.save("prompt_pos_similarity", plots.prompt_similarity_figure(model), plots.prompt_similarity_png(model))
    return {"prompt_positions": summary}


def probe_glyph_layout(model, prompt: str, folder: FigureFolder) -> dict:
    kind = model.layout_kind
    predicted = kind.predicts_layout and not kind.per_pixel  # a per-column prediction is drawn beside the truth
    folder.save("glyph_layout", png=plots.layout_png(prompt, model=model if predicted else None))
    if not kind.reads_layout:  # the blog's recipe reads no layout: no symbol embedding to show
        return {}
    folder.save("symbol_similarity", plots.symbol_similarity_figure(model), plots.symbol_similarity_png(model))
    return {"symbol_similarity": probes.symbol_embedding_similarity(model)}


def probe_timestep(model, num_timesteps: int, folder: FigureFolder) -> dict:
    folder.save("timestep_embedding", plots.timestep_embedding_figure(model, num_timesteps),
                plots.timestep_embedding_png(model, num_timesteps))
    folder.save("timestep_embedding_mlp", plots.timestep_embedding_figure(model, num_timesteps, after_mlp=True))
    return {}


def probe_attention(pipe, prompt: str, seed: int, steps: int, guidance_scale: float, query, align_prompts: int,
                    align_timesteps: int, folder: FigureFolder, log=print) -> dict:
    """Cross-attention over a traced sample and, teacher-forced, on validation prompts; self-attention
    from `query` (default: a patch on the text) where the model has joint self-attention."""
    schedule = pipe.schedule
    trace = probes.trace_attention(pipe, prompt, seed=seed, steps=steps, guidance_scale=guidance_scale)
    sampling = probes.alignment_over_steps(trace)
    folder.save("cross_attention", plots.cross_attention_figure(trace), plots.cross_attention_png(trace))
    folder.save("attention_argmax", png=plots.attention_argmax_png(trace))
    query = default_query(trace.ownership) if query is None else query
    if trace.self_steps:
        folder.save("self_attention", plots.self_attention_figure(trace, query), plots.self_attention_png(trace, query))
    log(f"teacher-forced alignment on {align_prompts} validation prompts")
    on_data = probes.alignment_on_data(pipe, schedule, probes.evenly_spaced_timesteps(align_timesteps, schedule.num_timesteps),
                                       probes.probe_prompts(align_prompts, min_len=2), seed=seed)
    folder.save("alignment", plots.alignment_figure(sampling, on_data),
                plots.lines_png({"layers averaged": (on_data["timesteps"], on_data["mean"])},
                                "attention alignment, teacher-forced on validation prompts", "timestep t", "alignment",
                                hlines={"chance": on_data["chance"], "majority": on_data["majority"]}))
    attention = {"final_step_alignment": sampling["mean"][-1], "mean_alignment_over_steps": float(np.mean(sampling["mean"])),
                 "sampling": sampling, "data_alignment": float(np.mean(on_data["mean"])), "data": on_data}
    return {"attention": attention, "query": query, "self_attention_kept": bool(trace.self_steps)}


KINEMATIC_MOTIONS = ("line:0,3", "line:180,4", "line:90,2", "line:225,3")  # four velocities, as motion specs
KINEMATIC_PROMPT = "HI"  # narrow enough to keep whole along every direction


def probe_kinematics(pipe, prompt: str, seed: int, folder: FigureFolder) -> dict:
    """Seed 004's kinematic question, for a motion-world model (vidgen.probes.kinematics): along four
    straight motions, how far a patch's attention peak in the other frames lies from x + v dt and from x."""
    from ..data.world import motion_from_spec
    from .kinematics import kinematic_attention, kinematic_figure

    if pipe.world.name != "motion" or not probes._has_attention(pipe.model, "self"):
        raise probes.ProbeNotApplicable("the kinematic probe needs a motion-world model with joint self-attention")
    rows = {}
    for spec in KINEMATIC_MOTIONS:
        motion = motion_from_spec(spec, prompt, pipe.world)
        result = kinematic_attention(pipe, prompt, motion, seed=seed)
        rows[spec] = result.errors()
        name = "kinematics_" + spec.replace(":", "_").replace(",", "_")
        folder.save(name, png=plots.figure_image(kinematic_figure(result, f"{prompt} along {spec}: attention of one patch")))
    summary = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("error_to_motion_px", "error_to_static_px",
                                                                            "closer_to_motion")}
    return {"kinematics": {"by_motion": rows, **summary}}


def probe_loss(model, schedule, loss_prompts: int, loss_timesteps: int, seed: int, folder: FigureFolder) -> dict:
    loss = probes.loss_by_noise_level(model, schedule, probes.evenly_spaced_timesteps(loss_timesteps, schedule.num_timesteps),
                                      probes.probe_prompts(loss_prompts), seed=seed)
    folder.save("loss_by_noise", plots.loss_by_noise_figure(loss),
                plots.lines_png({f"{loss['prediction']}-MSE": (loss["timesteps"], loss["target_mse"]),
                                 "x0-MSE": (loss["timesteps"], loss["x0_mse"])},
                                "loss by noise level", "timestep t", "MSE (log)", log_y=True))
    return {"loss_by_noise": loss}


def write_report(pipe, out, prompt: str = "NOISE", seed: int = 0, steps: int = EVAL_STEPS, guidance_scale: float = DEFAULT_GUIDANCE,
                 ref=None, query=None, loss_prompts: int = 16, loss_timesteps: int = 20, align_prompts: int = 32,
                 align_timesteps: int = 10, checkpoint: str | None = None, log=print) -> dict:
    """Run every probe on the pipeline's model and write figures + summary.json into `out`; -> the summary.
    `checkpoint` is recorded in the summary as where the model came from.

    Arguments are checked before anything runs. A probe the model variant cannot support (no learned
    positional embedding, no joint attention, ...) is skipped and its reason kept in summary["skipped"];
    any other error propagates.
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
    ref = probes.check_position(ref if ref is not None else tuple(g // 2 for g in grid), grid, "--ref")
    if query is not None:
        query = probes.check_position(query, grid, "--query")
    folder = FigureFolder(out)
    sections = [
        ("positions", "positional embeddings", lambda: probe_positions(model, ref, folder)),
        ("kinematics", "attention against the motion", lambda: probe_kinematics(pipe, KINEMATIC_PROMPT, seed, folder)),
        ("prompt_positions", "prompt-slot embeddings", lambda: probe_prompt_positions(model, folder)),
        ("glyph_layout", "glyph layout", lambda: probe_glyph_layout(model, prompt, folder)),
        ("timestep_embedding", "timestep embedding", lambda: probe_timestep(model, T, folder)),
        ("attention", f"attention for {prompt!r} ({steps} steps, seed {seed}, guidance {guidance_scale})",
         lambda: probe_attention(pipe, prompt, seed, steps, guidance_scale, query, align_prompts, align_timesteps, folder, log)),
        ("loss_by_noise", f"loss by noise level on {loss_prompts} validation prompts",
         lambda: probe_loss(pipe, schedule, loss_prompts, loss_timesteps, seed, folder)),
    ]
    found, skipped = {}, {}
    for name, what, run in sections:
        log(what)
        try:
            found.update(run())
        except probes.ProbeNotApplicable as e:
            skipped[name] = str(e)
            log(f"skipped {name}: {e}")
    if found.pop("self_attention_kept", True) is False:
        skipped["self_attention"] = f"model variant {model.cfg.variant!r} has no joint self-attention blocks[i].attn"
    summary = plain({
        "checkpoint": checkpoint,
        "variant": model.cfg.variant, "layout": model.cfg.layout, "grid": list(grid), "prompt": prompt, "seed": seed, "steps": steps,
        "guidance_scale": guidance_scale, "reference": list(ref), **found,
        "skipped": skipped, "files": sorted(folder.files),
    })
    (folder.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder.out / "index.html").write_text(index_html(summary))
    return summary


INDEX_HTML = string.Template("""<!doctype html><meta charset='utf-8'><title>vidgen probes</title><h1>vidgen probes</h1>
<table>$rows</table><p>All numbers: <a href='summary.json'>summary.json</a></p><ul>$links</ul>
""")


def index_html(summary: dict) -> str:
    """index.html of a report: links to every figure, the headline numbers and what was skipped."""
    a, pos = summary.get("attention", {}), summary.get("positions", {})
    rows = [("prompt traced", summary["prompt"])]
    if a:
        rows += [("alignment at the final step (sampling)", a["final_step_alignment"]),
                 ("alignment, teacher-forced on validation prompts (mean over t)", a["data_alignment"]),
                 ("chance / majority (validation prompts)", f"{a['data']['chance']:.3f} / {a['data']['majority']:.3f}")]
    if pos:
        rows.append(("pos-embedding similarity, same frame / other frames", f"{pos['mean_same_frame']:.3f} / {pos['mean_other_frames']:.3f}"))
    rows += [(f"skipped: {k}", v) for k, v in summary["skipped"].items()]
    return INDEX_HTML.substitute(
        rows="".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows),
        links="".join(f'<li><a href="{html.escape(f)}">{html.escape(f)}</a></li>' for f in summary["files"]))
