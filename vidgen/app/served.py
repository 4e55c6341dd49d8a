"""The models being served and what every tab shares: defaults, the output store, the request checks."""
from __future__ import annotations

import html
import re
import tempfile

import gradio as gr

from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS
from ..pipeline import Pipeline
from ..shipped import LONG_MODEL, SHIPPED_MODELS, TEACHER_MODEL, served_default
from .files import OutputStore
from .long_panels import long_label, long_panels_html
from .long_streaming import LongRun
from .model_choices import default_guidance, model_choices, trajectory_note
from .panels import idle_status_html, layout_panel, step_panels_html
from .requests import GenerationRequest
from .settings import Settings


class Served:
    """The models being served and what every tab shares: the default model, its settings, the output
    store, and the checks every request goes through."""

    def __init__(self, pipes: dict[str, Pipeline] | Pipeline | None, settings: Settings):
        if isinstance(pipes, Pipeline):
            pipes = {TEACHER_MODEL: pipes}  # one model: served as the release
        self.pipes = dict(pipes or {})
        self.settings = settings
        # the 2-step student, else its teacher the release (the page says which is missing); with neither the
        # default stays the student and its requests say it could not be loaded, rather than silently
        # falling back to an unrelated model
        self.model0 = served_default(self.pipes)
        # the full-step model the Compare tab and the examples start from: their steps and eta are a sampler's
        self.teacher0 = TEACHER_MODEL if TEACHER_MODEL in self.pipes else self.model0
        self.teacher_guidance0 = default_guidance(self.pipes.get(self.teacher0))
        self.pipe = self.pipes.get(self.model0, next(iter(self.pipes.values()), None))  # the model the controls start from
        self.T = self.pipe.num_timesteps if self.pipe is not None else 1000
        self.guidance0 = default_guidance(self.pipe)
        # the page starts at the default model's own sampler and steps (a distilled student has its own few)
        self.sampler0, self.steps0 = self.pipe.default_sampling if self.pipe is not None else (DEFAULT_SAMPLER, DEFAULT_STEPS)
        self.choices = model_choices(self.pipes)
        if self.model0 not in self.pipes:
            self.choices.insert(0, (f"{SHIPPED_MODELS[self.model0].title} (could not be loaded)", self.model0))
        self.store = OutputStore(tempfile.mkdtemp(prefix="vidgen-app-"))
        self._motion: tuple = (None, None)  # (request, its motion): motion_of's one-entry cache

    def need_pipe(self, model: str | None = None) -> Pipeline:
        model = self.model0 if model is None else model
        if not self.pipes:
            raise gr.Error("No model is loaded: see the message at the top of the page for how to get a checkpoint.")
        if model not in self.pipes:
            raise gr.Error(f"The {model} model could not be loaded: see the message at the top of the page.")
        return self.pipes[model]

    @property
    def long_models(self) -> tuple[str, ...]:
        """The served models that make long videos themselves (GenerationRequest.is_long)."""
        return tuple(name for name, pipe in self.pipes.items() if pipe.makes_long)

    def long_pipe(self, model: str) -> Pipeline:
        """The pipeline that makes `model`'s long videos: the model itself if it makes them, else the long model
        this server serves (its --long-checkpoint), else the one the library loads (Pipeline.long_pipeline). A
        model that cannot hand them on, or no long model, is one gr.Error with the reason."""
        pipe = self.need_pipe(model)
        served = self.pipes.get(LONG_MODEL)
        try:
            if pipe.makes_long or served is None or pipe.world.name != "motion":
                return pipe.long_pipeline()
        except ValueError as e:
            raise gr.Error(str(e), title="Cannot make a long video") from None
        return served

    def checked(self, request: GenerationRequest) -> GenerationRequest:
        """`request` checked before anything runs against the models served here (the motion too: can this
        model follow it?). A bad value is one clear gr.Error."""
        model = request.model
        if isinstance(model, str) and model in SHIPPED_MODELS and model not in self.pipes:
            self.need_pipe(model)  # a shipped model this server could not load: say so, not "unknown"
        try:
            t_max = self.pipes[model].num_timesteps if isinstance(model, str) and model in self.pipes else self.T
            request = request.checked(num_timesteps=t_max, models=tuple(name for _, name in self.choices),
                                      long_models=self.long_models)
        except ValueError as e:
            raise gr.Error(str(e), title="Cannot generate") from None
        pipe = self.need_pipe(request.model)
        maker = self.long_pipe(request.model) if request.is_long(self.long_models) else pipe
        try:
            pipe.model.cfg.check_guidance(request.guidance_scale)  # a guidance-distilled model takes a range only
        except ValueError:
            lo, hi = pipe.model.cfg.guidance_range
            raise gr.Error(f"the {request.model} model is guidance-distilled for scales {lo:g}-{hi:g}; "
                           f"got {request.guidance_scale:g} (the release takes any)", title="Cannot generate") from None
        try:
            request.motion_of(maker)
        except ValueError as e:
            raise gr.Error(str(e), title="Cannot follow this motion") from None
        if request.note:
            gr.Warning(request.note)
        return request

    def panels(self, request, x_t, pred_x0, index, num_steps, t, latent=None) -> str:
        pipe = self.pipes[request.model]
        panel = layout_panel(pipe, request.prompt, self.motion_of(request))  # 0.35 ms even when predicted
        return step_panels_html(x_t, pred_x0, index, num_steps, t, layout=(request.prompt, *panel), latent=latent)

    def motion_of(self, request: GenerationRequest):
        """The motion `request` generates with (the last request's, cached: the panels ask at every step)."""
        if self._motion[0] != request:
            long = request.is_long(self.long_models)
            self._motion = (request, request.motion_of(self.long_pipe(request.model) if long else self.pipes[request.model]))
        return self._motion[1]

    def viewer_html(self, run, step) -> str:
        """Step `step` (1-based) of a finished Run, as the viewer shows it."""
        if run is None:
            return idle_status_html("Generate a video first.")
        traj = run.trajectory
        i = min(max(int(step), 1), traj.num_steps) - 1
        if isinstance(run, LongRun):  # step i is the long video's call i: its window, and the frames clean by then
            return (long_panels_html(run.video[: run.done[i]], traj.x_t[i], traj.pred_x0[i], run.calls[i], run.levels[i],
                                     run.steps, i, traj.num_steps)
                    + f'<p style="text-align:center">{html.escape(long_label(run.request, run.method, run.steps))}</p>')
        note = markdown_bold(trajectory_note(self.pipes.get(run.request.model), run.request.model))
        return (self.panels(run.request, traj.x_t[i], traj.pred_x0[i], i, traj.num_steps, int(traj.timesteps[i]),
                            None if traj.latent is None else traj.latent[i])
                + f'<p style="text-align:center">{html.escape(run.request.label())}</p><p style="text-align:center">{note}</p>')


def markdown_bold(text: str) -> str:
    """Markdown with **bold** only -> escaped HTML."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))
