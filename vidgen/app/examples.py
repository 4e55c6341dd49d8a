"""Cached example runs under the Generate tab."""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import replace
from types import SimpleNamespace

import gradio as gr

from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, EVAL_STEPS
from .long_panels import long_label
from .long_streaming import run_long
from .model_choices import checkpoint_fingerprint
from .panels import idle_status_html
from .requests import GenerationRequest, file_stem
from .served import Served
from .streaming import run_generation

LONG_EXAMPLE = ("HELLO WORLD 2026", 64)  # a sentence as a long video: (prompt, frames)


@contextlib.contextmanager
def environ(**values):
    """Set environment variables for the duration of a block (Gradio reads some settings only from there)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def example_of(pipe, model: str, prompt: str = "HELLO") -> GenerationRequest:
    """The example of `model` at its own sampler, steps and guidance."""
    sampler, steps = pipe.default_sampling
    return GenerationRequest(prompt=prompt, model=model, sampler=sampler, steps=steps, guidance_scale=pipe.default_guidance)


def build_examples(app: Served, gen: SimpleNamespace) -> None:
    """Cached example runs under the Generate tab: a click fills the controls and shows the result."""
    if app.model0 not in app.pipes or app.settings.cache_examples == "off":
        return
    # the default model at its own few steps, then the full-step teacher's sampler at work: steps, eta, guidance
    model0, teacher = app.model0, app.teacher0
    guidance0 = app.teacher_guidance0
    other = next((n for n in app.pipes if n not in (model0, teacher)), None)
    teacher_run = GenerationRequest(prompt="HELLO", model=teacher, sampler=DEFAULT_SAMPLER, steps=DEFAULT_STEPS,
                                    guidance_scale=guidance0)
    example_requests = [example_of(app.pipes[model0], model0, p) for p in ("HELLO", "AB12")] if model0 != teacher else []
    example_requests += ([replace(teacher_run, prompt=p) for p in ("HELLO", "AB12", "VIDEO", "42")]
                         + [replace(teacher_run, sampler="ddim", steps=EVAL_STEPS, eta=1.0),  # eta 1: DDPM-like, stochastic
                            replace(teacher_run, guidance_scale=1.0)]
                         + ([example_of(app.pipes[other], other)] if other else []))
    if app.long_models:  # a long video where a long-video model is served (examples may be computed at start-up)
        prompt, frames = LONG_EXAMPLE
        example_requests.append(replace(example_of(app.pipes[model0], model0, prompt), frames=frames))
    examples = [[*r.widget_values(), r.frames] for r in example_requests]  # rows of the gen.inputs widgets and the length

    def example_result(*values):
        request = app.checked(GenerationRequest.from_widgets(*values[:-1], frames=values[-1]))
        if request.is_long(app.long_models):
            run = run_long(app.long_pipe(request.model), request, app.motion_of(request))
            gif_path, mp4_path = app.store.save_video(run.video, file_stem(request))
            return (app.viewer_html(run, run.trajectory.num_steps),
                    idle_status_html(f"Example: {long_label(request, run.method, run.steps)}"), str(gif_path), str(mp4_path))
        traj = run_generation(app.need_pipe(request.model), request).trajectory
        gif_path, mp4_path = app.store.save_video(traj.video, file_stem(request))
        i = traj.num_steps - 1
        return (app.panels(request, traj.x_t[i], traj.pred_x0[i], i, traj.num_steps, int(traj.timesteps[i]),
                           None if traj.latent is None else traj.latent[i]),
                idle_status_html(f"Example: {request.label()}"), str(gif_path), str(mp4_path))

    # Gradio keeps cached results under $GRADIO_EXAMPLES_CACHE/<component id>; a folder per
    # checkpoint and example list keeps a retrained model or new defaults from showing old results.
    fingerprint = "-".join([checkpoint_fingerprint(app.settings.checkpoint_path(n)) for n in app.pipes]
                           + [hashlib.sha256(repr(examples).encode()).hexdigest()[:8]])
    cache_dir = os.path.join(os.environ.get("GRADIO_EXAMPLES_CACHE", ".gradio/cached_examples"), fingerprint)
    with gen.examples_slot, environ(GRADIO_EXAMPLES_CACHE=cache_dir):
        gr.Examples(examples=examples, inputs=[*gen.inputs, gen.frames], outputs=[gen.preview, gen.status, gen.gif, gen.mp4],
                    fn=example_result, cache_examples=True, cache_mode=app.settings.cache_examples,
                    label="Examples (results cached)")
