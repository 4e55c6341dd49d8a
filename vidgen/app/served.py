"""The models being served and what every tab shares: defaults, the output store, the request checks."""
from __future__ import annotations

import tempfile

import gradio as gr

from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS
from ..pipeline import Pipeline
from ..shipped import DEFAULT_MODEL
from .files import OutputStore
from .models import default_guidance, model_choices
from .panels import idle_status_html, layout_panel, step_panels_html
from .requests import RANDOM_MOTION, GenerationRequest, check_request
from .settings import Settings


class Served:
    """The models being served and what every tab shares: the default model, its settings, the output
    store, and the checks every request goes through."""

    def __init__(self, pipes: dict[str, Pipeline] | Pipeline | None, settings: Settings):
        if isinstance(pipes, Pipeline):
            pipes = {DEFAULT_MODEL: pipes}
        self.pipes = dict(pipes or {})
        self.settings = settings
        # the release stays the default even when it failed to load: its requests then say so, rather
        # than silently falling back to another model
        self.model0 = DEFAULT_MODEL
        self.pipe = self.pipes.get(self.model0, next(iter(self.pipes.values()), None))  # the model the controls start from
        self.T = self.pipe.num_timesteps if self.pipe is not None else 1000
        self.guidance0 = default_guidance(self.pipe)
        # the page starts at the default model's own sampler and steps (a distilled student has its own few)
        self.sampler0, self.steps0 = self.pipe.default_sampling if self.pipe is not None else (DEFAULT_SAMPLER, DEFAULT_STEPS)
        self.choices = model_choices(self.pipes)
        if self.model0 not in self.pipes:
            self.choices.insert(0, ("Release (could not be loaded)", self.model0))
        self.store = OutputStore(tempfile.mkdtemp(prefix="vidgen-app-"))
        self._motion: tuple = (None, None)  # (request, its motion): motion_of's one-entry cache

    def need_pipe(self, model: str | None = None) -> Pipeline:
        model = self.model0 if model is None else model
        if not self.pipes:
            raise gr.Error("No model is loaded: see the message at the top of the page for how to get a checkpoint.")
        if model not in self.pipes:
            raise gr.Error(f"The {model} model could not be loaded: see the message at the top of the page.")
        return self.pipes[model]

    def checked(self, prompt, steps, eta, guidance_scale, seed, sampler=DEFAULT_SAMPLER, model=None,
                motion=RANDOM_MOTION) -> GenerationRequest:
        """The request, checked before anything runs (the motion too: can this model follow it?); a bad
        value is one clear gr.Error."""
        model = self.model0 if model is None else model
        try:
            t_max = self.pipes[model].num_timesteps if isinstance(model, str) and model in self.pipes else self.T
            request = check_request(prompt, steps, eta, guidance_scale, seed, sampler, num_timesteps=t_max,
                                    model=model, models=tuple(name for _, name in self.choices), motion=motion)
        except ValueError as e:
            raise gr.Error(str(e), title="Cannot generate") from None
        pipe = self.need_pipe(request.model)
        distilled = pipe.model.cfg.guidance_range  # a guidance-distilled model takes a range of scales only
        if distilled is not None and not distilled[0] <= request.guidance_scale <= distilled[1]:
            raise gr.Error(f"the {request.model} model is guidance-distilled for scales {distilled[0]:g}-{distilled[1]:g}; "
                           f"got {request.guidance_scale:g} (the release takes any)", title="Cannot generate")
        try:
            request.motion_of(pipe)
        except ValueError as e:
            raise gr.Error(str(e), title="Cannot follow this motion") from None
        if request.note:
            gr.Warning(request.note)
        return request

    def panels(self, request, x_t, pred_x0, index, num_steps, t) -> str:
        pipe = self.pipes[request.model]
        panel = layout_panel(pipe, request.prompt, self.motion_of(request))  # 0.35 ms even when predicted
        return step_panels_html(x_t, pred_x0, index, num_steps, t, layout=(request.prompt, *panel))

    def motion_of(self, request: GenerationRequest):
        """The motion `request` generates with (the last request's, cached: the panels ask at every step)."""
        if self._motion[0] != request:
            self._motion = (request, request.motion_of(self.pipes[request.model]))
        return self._motion[1]

    def viewer_html(self, run, step) -> str:
        """Step `step` (1-based) of a finished Run, as the viewer shows it."""
        if run is None:
            return idle_status_html("Generate a video first.")
        traj = run.trajectory
        i = min(max(int(step), 1), traj.num_steps) - 1
        return (self.panels(run.request, traj.x_t[i], traj.pred_x0[i], i, traj.num_steps, int(traj.timesteps[i]))
                + f'<p style="text-align:center">{run.request.label()}</p>')
