"""The Compare tab: one prompt and seed under two settings, side by side."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import gradio as gr

from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, ETA_RANGE, GUIDANCE_RANGE, SAMPLERS
from ..probes.pictures import layout_picture
from .panels import animated_panels_html, idle_status_html, layout_legend_html, status_html
from .requests import COMPARISONS, MAX_SEED, GenerationRequest, comparison_requests
from .served import Served
from .streaming import PreviewThrottle, stream_generation

SIDE_FIELDS = ("steps", "eta", "guidance_scale", "sampler", "model")  # each side's widgets, in this order in `ab`
FIRST_PRESET = "guidance 1 vs 5"


def preset_sides(app: Served, name: str) -> tuple[GenerationRequest, GenerationRequest]:
    """Settings A and B of the named comparison, from the full-step teacher's defaults; a model the
    preset names that is not served becomes the teacher."""
    base = GenerationRequest(prompt="A", model=app.teacher0, sampler=DEFAULT_SAMPLER, steps=DEFAULT_STEPS,
                             guidance_scale=app.teacher_guidance0)
    return tuple(r if r.model in app.pipes else replace(r, model=app.teacher0) for r in comparison_requests(base, name))


def build_compare_tab(app: Served) -> SimpleNamespace:
    """One prompt and seed under two settings (A and B), side by side."""
    with gr.Tab("Compare", id="compare"):
        gr.Markdown("The same prompt and seed under two settings, side by side: two samplers, two guidance "
                    "scales, or the two models.")
        with gr.Row():
            prompt = gr.Textbox("HELLO", label="Prompt", scale=2)
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, scale=1)
            preset = gr.Dropdown(list(COMPARISONS), value=FIRST_PRESET, label="Preset", scale=2)
        ab = []
        with gr.Row():
            for name, first in zip("AB", preset_sides(app, FIRST_PRESET)):
                with gr.Column(min_width=260):
                    gr.Markdown(f"**Setting {name}**")
                    side = dict(steps=gr.Slider(1, app.T, first.steps, step=1, label="Steps"),
                                eta=gr.Slider(*ETA_RANGE, first.eta, step=0.05, label="eta"),
                                guidance_scale=gr.Slider(*GUIDANCE_RANGE, first.guidance_scale, step=0.25,
                                                         label="Guidance scale s"),
                                sampler=gr.Radio(list(SAMPLERS), value=first.sampler, label="Sampler"),
                                model=gr.Radio(app.choices, value=first.model, label="Model",
                                               elem_id=f"compare-model-{name.lower()}"))
                    ab += [side[field] for field in SIDE_FIELDS]
        with gr.Row():
            run = gr.Button("Compare", variant="primary", interactive=app.pipe is not None, elem_id="compare-btn")
            stop = gr.Button("Stop", variant="stop")
        status = gr.HTML(idle_status_html("Pick a preset or set A and B, then Compare."))
        view = gr.HTML("", min_height=300, elem_id="compare-view")
    return SimpleNamespace(prompt=prompt, seed=seed, preset=preset, ab=ab, run=run, stop=stop, status=status, view=view)


def wire_compare(app: Served, cmp: SimpleNamespace) -> None:
    """A preset fills A and B; Compare runs A then B with the same prompt and seed, streaming both."""

    def compare(prompt, seed, *ab_values):
        half = len(SIDE_FIELDS)
        reqs = [app.checked(GenerationRequest(prompt=prompt, seed=seed, **dict(zip(SIDE_FIELDS, side, strict=True))))
                for side in (ab_values[:half], ab_values[half:])]
        done: list = [None, None]
        labels = [f"{n}: {r.model}, {r.sampler.upper()} {r.steps} steps, eta {r.eta:g}, s = {r.guidance_scale:g}"
                  for n, r in zip("AB", reqs)]
        for k, req in enumerate(reqs):
            throttle = PreviewThrottle(app.settings.preview_interval)
            for u in stream_generation(app.need_pipe(req.model), req, throttle):
                if not u.show:
                    continue
                if u.done:
                    done[k] = u.run.trajectory
                current = [(labels[j], (done[j].video if done[j] is not None else (u.x_t if j == k else None)))
                           for j in range(2)]
                panels = [(lab, v) for lab, v in current if v is not None]
                yield (status_html(u.index, u.num_steps, u.t, u.seconds).replace("Denoising", f"Denoising {'AB'[k]}"),
                       animated_panels_html(panels))
        secs = " · ".join(f"{n}: {t.seconds:.1f} s" for n, t in zip("AB", done))
        result = [(labels[j], done[j].video) for j in range(2)]
        result.append(("glyph layout of the prompt", layout_picture(reqs[0].prompt)))
        yield idle_status_html(f"Done. {secs}"), animated_panels_html(result) + layout_legend_html(reqs[0].prompt)

    def apply_preset(name):
        return [getattr(r, field) for r in preset_sides(app, name) for field in SIDE_FIELDS]

    cmp.preset.change(apply_preset, cmp.preset, cmp.ab, queue=False, api_visibility="private")
    event = cmp.run.click(compare, [cmp.prompt, cmp.seed, *cmp.ab], [cmp.status, cmp.view], api_visibility="private",
                          concurrency_id="sampler", concurrency_limit=app.settings.concurrency,
                          show_progress="minimal", show_progress_on=[cmp.status])
    cmp.stop.click(None, None, None, cancels=[event], api_visibility="private")
