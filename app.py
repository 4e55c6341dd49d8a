"""vidgen's web app: type a prompt, watch every denoising step, compare settings, explore the embeddings.

    python app.py                                   # http://127.0.0.1:7860: checkpoints/release and checkpoints/blog
    python app.py --checkpoint RUN_DIR              # or VIDGEN_CHECKPOINT=RUN_DIR python app.py
    python app.py --blog-checkpoint RUN_DIR         # or VIDGEN_BLOG_CHECKPOINT=RUN_DIR (the second model)
    python app.py --host 0.0.0.0 --port 7860        # what a Hugging Face Space or the Dockerfile runs

This file only wires widgets: sampling, previews, throttling and files are in vidgen.app_support,
the embedding figures in vidgen.probes.analysis / vidgen.probes.figures.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from types import SimpleNamespace

import gradio as gr

from vidgen import app_support as sup
from vidgen.data import tokenizer as tok
from vidgen.data.layout import layout_picture
from vidgen.data.prompts import TRAIN_MAX_LEN
from vidgen.diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, EVAL_STEPS
from vidgen.pipeline import Pipeline, load_pipeline
from vidgen.training.checkpoint import CheckpointError

TITLE = "vidgen: text-to-video diffusion you can watch"

INTRO = """\
# vidgen: watch a video diffusion model denoise
Type 1 to 6 letters or digits; a small diffusion transformer turns pure noise into a 16-frame, 32x32
video of them scrolling by. Every denoising step is shown as it happens: the noisy sample **x_t**,
the model's current guess of the finished video, **predicted x_0**, and the prompt's **glyph layout**.
"""

EXPLAIN_LAYOUT = """\
**What the model is told, and what it learns.** Two models are served. The *release* is
**layout-guided**: besides the prompt it is told, for every frame and pixel column, which symbol
covers it and how far into that glyph the column lies (the coloured panel: one colour per symbol,
brighter further into the glyph), computed from the font's advance widths exactly as the data is
drawn. It still has to learn what each of the 36 glyphs looks like and how to denoise: it keeps a
learned vector for every (symbol, column into the glyph, row of patches), a glyph template it fills in
from the denoising loss alone; no picture of a glyph is ever given to it. *The blog's model* gets
only the prompt tokens, as in the blog: it must also work out where each symbol goes and how fast the
text scrolls. It does so the way text-to-speech models decide which sound goes in which audio frame:
a small predictor reads the prompt and says how wide each glyph is and where the strip stands in each
frame (trained on the renderer's numbers, used alone when sampling); the coloured panel then shows
*its own prediction*, and the model reads it like the release reads the given layout. Without that
step the blog's network drew crisp glyphs at the right speed but mostly the wrong ones (docs/binding.md).
Pick one under **Model**, or put both side by side in **Compare**.
"""

EXPLAIN_STEP = """\
**What a step does.** The sampler starts from pure Gaussian noise x_T (T = {T}). At each step the
network looks at x_t and the prompt and predicts the clean video x_0 (right); the sampler then moves
x_t part of the way towards that guess, to a less noisy x_(t-Δ) (left). With {n} steps Δ = {T}/{n} = {d}.
Early guesses are blurry averages of every video the prompt could be; they sharpen as the noise drops.
"""

EXPLAIN_ETA = """\
**What eta does.** Each step can add fresh noise back: σ_t = eta · √((1-ᾱ_prev)/(1-ᾱ_t)) · √(1-ᾱ_t/ᾱ_prev).
eta = 0 is deterministic DDIM (same seed, same video, and few steps suffice); eta = 1 is DDPM's
ancestral sampling, which keeps correcting itself but needs more steps. The DDPM sampler forces eta = 1.
**DPM-Solver++ (2M)** solves the same deterministic path as DDIM with a second-order multistep
update (it reuses the previous step's x_0 guess), so 10-20 steps get about as far as many more DDIM
steps; it takes no eta.
"""

EXPLAIN_GUIDANCE = """\
**What guidance does.** The network is run twice per step, with the prompt and with an empty prompt,
and the two predictions are mixed: **guided = uncond + s · (cond − uncond)**. s = 1 is the plain
conditional model, s = 0 ignores the prompt, s > 1 pushes away from "any video" towards "this prompt":
crisper letters, less variety; very large s over-saturates.
"""

EXPLORER_INTRO = """\
What the network learned about *where* and *when*. The video is cut into patches (a grid T' x H' x W'),
and each patch position has a learned embedding vector; so does each prompt slot. Cosine similarity
between these vectors shows which positions the model treats as alike (the blog's Figures 10-13).
"""


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


@dataclass
class Settings:
    """Server options: the parsed command line."""

    checkpoint: str | None = None
    blog_checkpoint: str | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    queue_size: int = 16
    concurrency: int = 1
    preview_interval: float = 0.1
    cache_examples: str = "lazy"

    def checkpoint_path(self, model: str):
        """The directory served as `model` ("release" or "blog"): the command line's, the environment's or the shipped one."""
        return sup.resolve_checkpoint(self.checkpoint if model == "release" else self.blog_checkpoint, model=model)


def parse_args(argv=None) -> Settings:
    """The command line; --host/--port default to Gradio's own GRADIO_SERVER_NAME/PORT variables."""
    p = argparse.ArgumentParser(description="vidgen web app (Gradio)")
    p.add_argument("--checkpoint", default=None,
                   help=f"run or release directory (default: ${sup.CHECKPOINT_ENV}, else checkpoints/release)")
    p.add_argument("--blog-checkpoint", default=None,
                   help=f"the second model, served as 'blog' (default: ${sup.BLOG_CHECKPOINT_ENV}, else checkpoints/blog)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to listen on; 0.0.0.0 for a Space or a container (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                   help="port (default: $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--queue-size", type=int, default=16, help="requests that may wait; more get a 'queue is full' answer")
    p.add_argument("--concurrency", type=int, default=1, help="generations that run at once (they share the CPU)")
    p.add_argument("--preview-interval", type=float, default=0.1, help="seconds between streamed previews")
    p.add_argument("--cache-examples", choices=("lazy", "eager", "off"), default="lazy",
                   help="lazy: an example's result is cached on first use; eager: all at start-up")
    ns = p.parse_args(argv)
    if ns.queue_size < 1 or ns.concurrency < 1 or ns.preview_interval < 0:
        p.error("--queue-size and --concurrency must be >= 1 and --preview-interval >= 0")
    return Settings(**vars(ns))


def load(checkpoint, blog_checkpoint=None) -> tuple[dict[str, Pipeline], str | None]:
    """-> ({name: pipeline} of the models that loaded, None), or with markdown saying what did not load
    and how to get it. The release comes first; a missing blog model only drops that choice."""
    pipes, errors = {}, []
    for name, cli_path in (("release", checkpoint), ("blog", blog_checkpoint)):
        path = sup.resolve_checkpoint(cli_path, model=name)
        try:
            pipes[name] = load_pipeline(path)
        except (CheckpointError, ValueError) as e:  # missing, corrupt, or a config this code cannot build
            errors.append(sup.missing_checkpoint_message(path, e) if name == "release" or not pipes else
                          f"(The {name} model at `{path}` could not be read, so only the release is served: {e})")
    return pipes, ("\n\n".join(errors) or None)


def checkpoint_summary(pipes: dict[str, Pipeline], settings: Settings) -> str:
    """One line per served model, under the title."""
    lines = []
    for name, pipe in pipes.items():
        cfg = pipe.model.cfg
        params = sum(p.numel() for p in pipe.model.parameters())
        step = pipe.config.get("step")
        step = f", trained {step} steps" if step is not None else ""
        path = settings.checkpoint_path(name)
        lines.append(f"**{name}** ({sup.model_kind(pipe)}): `{path}` · {cfg.variant} DiT, {params / 1e6:.2f}M parameters, "
                     f"{cfg.depth} blocks of width {cfg.dim}, {cfg.num_tokens} video tokens{step} · T = {pipe.num_timesteps}")
    return "  \n".join(lines)


class Served:
    """The models being served and what every tab shares: the default model, its settings, the output
    store, and the checks every request goes through."""

    def __init__(self, pipes: dict[str, Pipeline] | Pipeline | None, settings: Settings):
        if isinstance(pipes, Pipeline):
            pipes = {sup.DEFAULT_MODEL: pipes}
        self.pipes = dict(pipes or {})
        self.settings = settings
        # the release stays the default even when it failed to load: its requests then say so, rather
        # than silently falling back to another model
        self.model0 = sup.DEFAULT_MODEL
        self.pipe = self.pipes.get(self.model0, next(iter(self.pipes.values()), None))  # the model the controls start from
        self.T = self.pipe.num_timesteps if self.pipe is not None else 1000
        self.guidance0 = sup.default_guidance(self.pipe)
        self.choices = sup.model_choices(self.pipes)
        if self.model0 not in self.pipes:
            self.choices.insert(0, ("Release (could not be loaded)", self.model0))
        self.store = sup.OutputStore(tempfile.mkdtemp(prefix="vidgen-app-"))

    def need_pipe(self, model: str | None = None) -> Pipeline:
        model = self.model0 if model is None else model
        if not self.pipes:
            raise gr.Error("No model is loaded: see the message at the top of the page for how to get a checkpoint.")
        if model not in self.pipes:
            raise gr.Error(f"The {model} model could not be loaded: see the message at the top of the page.")
        return self.pipes[model]

    def checked(self, prompt, steps, eta, guidance_scale, seed, sampler=DEFAULT_SAMPLER, model=None) -> sup.GenerationRequest:
        """The request, checked before anything runs; a bad value is one clear gr.Error."""
        model = self.model0 if model is None else model
        try:
            t_max = self.pipes[model].num_timesteps if isinstance(model, str) and model in self.pipes else self.T
            request = sup.check_request(prompt, steps, eta, guidance_scale, seed, sampler, num_timesteps=t_max,
                                        model=model, models=tuple(name for _, name in self.choices))
        except ValueError as e:
            raise gr.Error(str(e), title="Cannot generate") from None
        self.need_pipe(request.model)
        if request.note:
            gr.Warning(request.note)
        return request

    def panels(self, request, x_t, pred_x0, index, num_steps, t) -> str:
        panel = sup.layout_panel(self.pipes[request.model], request.prompt)  # 0.35 ms even when predicted
        return sup.step_panels_html(x_t, pred_x0, index, num_steps, t, layout=(request.prompt, *panel))

    def viewer_html(self, traj, step) -> str:
        if traj is None:
            return sup.idle_status_html("Generate a video first.")
        i = min(max(int(step), 1), traj.num_steps) - 1
        return (self.panels(traj.request, traj.x_t[i], traj.pred_x0[i], i, traj.num_steps, int(traj.timesteps[i]))
                + f'<p style="text-align:center">{traj.request.label()}</p>')


def build_demo(pipes: dict[str, Pipeline] | Pipeline | None, settings: Settings, load_error: str | None = None) -> gr.Blocks:
    """The whole page, serving the models in `pipes` ({name: pipeline}; the release is the default; a
    single Pipeline is served as the release). No model shows how to get a checkpoint instead of failing."""
    app = Served(pipes, settings)
    with gr.Blocks(title=TITLE, delete_cache=(1800, 3600)) as demo:
        build_header(app, load_error)
        trajectory = gr.State(None, time_to_live=3600)  # the last run's Trajectory, for the step viewer
        gen = build_generate_tab(app)
        viewer = build_viewer_tab()
        cmp = build_compare_tab(app)
        with gr.Tab("Embedding explorer", id="explorer") as explorer_tab:
            gr.Markdown(EXPLORER_INTRO)
            build_explorer(app.pipes, explorer_tab)
        wire_generate(app, gen, viewer, trajectory)
        wire_viewer(app, viewer, trajectory)
        wire_compare(app, cmp)
        build_examples(app, gen)
    return demo


def build_header(app: Served, load_error: str | None) -> None:
    gr.Markdown(INTRO)
    if app.pipe is None:
        gr.Markdown(load_error, elem_id="missing-checkpoint")
    else:
        gr.Markdown(checkpoint_summary(app.pipes, app.settings), elem_id="model-info")
        if load_error:
            gr.Markdown(load_error, elem_id="load-warning")


def build_generate_tab(app: Served) -> SimpleNamespace:
    """Prompt and settings on the left; live previews, status and the result files on the right."""
    with gr.Tab("Generate", id="generate"):
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                prompt = gr.Textbox("HELLO", label="Prompt", elem_id="prompt",
                                    info=f"1-{TRAIN_MAX_LEN} symbols from A-Z and 0-9 (lower case is fine; "
                                         f"{TRAIN_MAX_LEN + 1}-{tok.PROMPT_SLOTS} allowed, never seen in training)")
                model = gr.Radio(app.choices, value=app.model0, label="Model", elem_id="model",
                                 info="layout-guided: told where each glyph goes; prompt only: the blog's, which predicts it")
                steps = gr.Slider(1, app.T, DEFAULT_STEPS, step=1, label="Steps", elem_id="steps",
                                  info="Denoising steps: more is finer and slower")
                eta = gr.Slider(*sup.ETA_RANGE, 0.0, step=0.05, label="eta", elem_id="eta",
                                info="Fresh noise per step: 0 = deterministic DDIM, 1 = DDPM-like")
                guidance = gr.Slider(*sup.GUIDANCE_RANGE, app.guidance0, step=0.25, label="Guidance scale s", elem_id="guidance",
                                     info="uncond + s · (cond − uncond); 1 = no guidance")
                with gr.Row():
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=sup.MAX_SEED, elem_id="seed")
                    sampler = gr.Radio(list(sup.SAMPLERS), value=DEFAULT_SAMPLER, label="Sampler", elem_id="sampler",
                                       info="DDPM forces eta = 1; dpm++2m: DPM-Solver++, fewer steps, no eta")
                with gr.Row():
                    run = gr.Button("Generate", variant="primary", elem_id="generate-btn", interactive=app.pipe is not None)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-btn")
            with gr.Column(scale=2, min_width=360):
                status = gr.HTML(sup.idle_status_html("Press Generate to start."), elem_id="status")
                preview = gr.HTML("", elem_id="preview", min_height=300)
                with gr.Row():
                    gif = gr.Image(label="GIF", type="filepath", format="gif", elem_id="result-gif",
                                   buttons=["download", "fullscreen"], interactive=False, height=280)
                    mp4 = gr.Video(label="MP4 (h.264)", elem_id="result-mp4", buttons=["download"],
                                   autoplay=True, loop=True, interactive=False, height=280)
        examples_slot = gr.Column()
        with gr.Accordion("What is happening? (layout, steps, eta, guidance)", open=True):
            gr.Markdown(EXPLAIN_LAYOUT)
            with gr.Row():
                gr.Markdown(EXPLAIN_STEP.format(T=app.T, n=DEFAULT_STEPS, d=app.T // DEFAULT_STEPS))
                gr.Markdown(EXPLAIN_ETA)
                gr.Markdown(EXPLAIN_GUIDANCE)
    return SimpleNamespace(prompt=prompt, model=model, steps=steps, eta=eta, guidance=guidance, seed=seed, sampler=sampler,
                           run=run, stop=stop, status=status, preview=preview, gif=gif, mp4=mp4, examples_slot=examples_slot,
                           inputs=[prompt, steps, eta, guidance, seed, sampler, model])


def build_viewer_tab() -> SimpleNamespace:
    """Scrub or play through the last run's steps, and the Figure-1 grid of them."""
    with gr.Tab("Step viewer", id="viewer"):
        gr.Markdown("Scrub through every step of the last run (stored, nothing is recomputed). "
                    "Left: x_t after that step; right: what the model predicted the clean video to be.")
        html = gr.HTML(sup.idle_status_html("Generate a video first."), elem_id="viewer", min_height=300)
        with gr.Row():
            back = gr.Button("◀ Step", size="sm", scale=0, min_width=90)
            play = gr.Button("▶ Play", size="sm", scale=0, min_width=90, elem_id="play-btn")
            forward = gr.Button("Step ▶", size="sm", scale=0, min_width=90)
            scrub = gr.Slider(1, 2, 1, step=1, label="Step", elem_id="scrub", interactive=False)
        playing = gr.State(False)
        timer = gr.Timer(0.25, active=False)
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("**Figure-1 grid**: frames as rows, chosen steps as columns.")
                grid_what = gr.Radio([("x_t (noisy sample)", "x_t"), ("predicted x_0", "pred_x0")], value="x_t",
                                     label="Show")
                grid_cols = gr.Slider(2, 16, 8, step=1, label="Columns (evenly spaced steps)")
                grid_file = gr.DownloadButton("Download grid (PNG)", value=None, elem_id="grid-download")
            grid_img = gr.Image(label="Grid", type="filepath", format="png", interactive=False, scale=2,
                                elem_id="grid", height=520)
    return SimpleNamespace(html=html, back=back, play=play, forward=forward, scrub=scrub, playing=playing, timer=timer,
                           grid_what=grid_what, grid_cols=grid_cols, grid_file=grid_file, grid_img=grid_img)


def build_compare_tab(app: Served) -> SimpleNamespace:
    """One prompt and seed under two settings (A and B), side by side."""
    with gr.Tab("Compare", id="compare"):
        gr.Markdown("The same prompt and seed under two settings, side by side: two samplers, two guidance "
                    "scales, or the two models (preset *release vs the blog's model*).")
        with gr.Row():
            prompt = gr.Textbox("HELLO", label="Prompt", scale=2)
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=sup.MAX_SEED, scale=1)
            preset = gr.Dropdown(list(sup.COMPARISONS), value="guidance 1 vs 5", label="Preset", scale=2)
        ab = []
        with gr.Row():
            for name, over in zip("AB", sup.COMPARISONS["guidance 1 vs 5"]):
                base = dict(steps=DEFAULT_STEPS, eta=0.0, guidance_scale=app.guidance0, sampler=DEFAULT_SAMPLER, model=app.model0) | over
                with gr.Column(min_width=260):
                    gr.Markdown(f"**Setting {name}**")
                    ab += [gr.Slider(1, app.T, base["steps"], step=1, label="Steps"),
                           gr.Slider(*sup.ETA_RANGE, base["eta"], step=0.05, label="eta"),
                           gr.Slider(*sup.GUIDANCE_RANGE, base["guidance_scale"], step=0.25, label="Guidance scale s"),
                           gr.Radio(list(sup.SAMPLERS), value=base["sampler"], label="Sampler"),
                           gr.Radio(app.choices, value=base["model"], label="Model",
                                    elem_id=f"compare-model-{name.lower()}")]
        with gr.Row():
            run = gr.Button("Compare", variant="primary", interactive=app.pipe is not None, elem_id="compare-btn")
            stop = gr.Button("Stop", variant="stop")
        status = gr.HTML(sup.idle_status_html("Pick a preset or set A and B, then Compare."))
        view = gr.HTML("", min_height=300, elem_id="compare-view")
    return SimpleNamespace(prompt=prompt, seed=seed, preset=preset, ab=ab, run=run, stop=stop, status=status, view=view)


def wire_generate(app: Served, gen: SimpleNamespace, viewer: SimpleNamespace, trajectory: gr.State) -> None:
    """Generate streams throttled previews, then the files and the trajectory for the viewer; the
    scriptable `generate` endpoint streams one update per step through the same queue."""
    settings = app.settings

    def generate_ui(prompt, steps, eta, guidance_scale, seed, sampler, model):
        request = app.checked(prompt, steps, eta, guidance_scale, seed, sampler, model)
        throttle = sup.PreviewThrottle(settings.preview_interval)
        first = True
        for u in sup.stream_generation(app.need_pipe(request.model), request, throttle):
            if not u.show:
                continue
            shown = app.panels(request, u.x_t, u.pred_x0, u.index, u.num_steps, u.t)
            state = sup.status_html(u.index, u.num_steps, u.t, u.seconds, request.note)
            if not u.done:
                cleared = None if first else gr.skip()  # drop the last run's files once, at the start
                first = False
                yield shown, state, cleared, cleared, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                continue
            traj = u.trajectory
            gif_path, mp4_path = app.store.save_video(traj.video, sup.file_stem(request))
            grid_path = app.store.save_png(traj.grid(), sup.file_stem(request) + "_grid")
            yield (shown, state, str(gif_path), str(mp4_path), traj,
                   gr.Slider(1, max(traj.num_steps, 2), traj.num_steps, step=1, interactive=True),  # max > min
                   app.viewer_html(traj, traj.num_steps), str(grid_path), str(grid_path))

    def generate_api(prompt: str, steps: int = DEFAULT_STEPS, eta: float = 0.0, guidance_scale: float = app.guidance0,
                     seed: int = 0, sampler: str = DEFAULT_SAMPLER, model: str = app.model0):
        """Generate a video with the chosen model ("release": layout-guided, "blog": prompt
        only, predicting its own layout).
        Streams one update per step: ({step, num_steps, t, seconds, model}, None, None), and on
        the last step also the GIF and MP4 files."""
        request = app.checked(prompt, steps, eta, guidance_scale, seed, sampler, model)
        for u in sup.stream_generation(app.need_pipe(request.model), request):
            info = {"step": u.index + 1, "num_steps": u.num_steps, "t": u.t, "seconds": round(u.seconds, 4),
                    "prompt": request.prompt, "note": request.note, "model": request.model}
            if not u.done:
                yield info, None, None
            else:
                gif_path, mp4_path = app.store.save_video(u.trajectory.video, sup.file_stem(request))
                yield info, str(gif_path), str(mp4_path)

    def model_changed(name):
        """A model's own default guidance scale goes with it."""
        return app.pipes[name].default_guidance if name in app.pipes else gr.skip()

    outputs = [gen.preview, gen.status, gen.gif, gen.mp4, trajectory, viewer.scrub, viewer.html, viewer.grid_img, viewer.grid_file]
    event = gen.run.click(generate_ui, gen.inputs, outputs, api_name="generate_ui", api_visibility="private",
                          concurrency_id="sampler", concurrency_limit=settings.concurrency,
                          show_progress="minimal", show_progress_on=[gen.status])
    gen.prompt.submit(lambda: None, None, None, js="() => document.getElementById('generate-btn').click()",
                      queue=False, api_visibility="private")
    gen.stop.click(None, None, None, cancels=[event], api_visibility="private")
    gen.model.change(model_changed, gen.model, gen.guidance, queue=False, api_visibility="private")

    # The scriptable endpoint: same checks and sampler, one update per step, files at the end.
    api_progress = gr.JSON(label="progress", visible=False)
    api_gif, api_mp4 = gr.File(label="gif", visible=False), gr.File(label="mp4", visible=False)
    api_button = gr.Button(visible=False)
    api_button.click(generate_api, gen.inputs, [api_progress, api_gif, api_mp4], api_name="generate",
                     concurrency_id="sampler", concurrency_limit=settings.concurrency)


def wire_viewer(app: Served, viewer: SimpleNamespace, trajectory: gr.State) -> None:
    """Scrub, step, play and the grid: all from the stored trajectory, nothing recomputed."""

    def step_by(traj, step, delta):
        if traj is None:
            return gr.skip()
        return min(max(int(step) + delta, 1), traj.num_steps)

    def toggle_play(traj, is_playing, step):
        if traj is None:
            return False, gr.Timer(active=False), gr.Button("▶ Play"), gr.skip()
        start = 1 if (not is_playing and int(step) >= traj.num_steps) else gr.skip()  # replay from the start
        now = not is_playing
        return now, gr.Timer(active=now), gr.Button("Pause" if now else "▶ Play"), start

    def tick(traj, step):
        """Advance the viewer; long runs move several steps a tick so any run plays in about 12 s."""
        if traj is None or int(step) >= traj.num_steps:
            return gr.skip(), False, gr.Timer(active=False), gr.Button("▶ Play")
        return min(int(step) + max(1, traj.num_steps // 50), traj.num_steps), gr.skip(), gr.skip(), gr.skip()

    def grid_update(traj, which, count):
        if traj is None:
            return None, None
        cols = sup.grid_columns(traj.num_steps, int(count))
        path = str(app.store.save_png(traj.grid(cols, which), sup.file_stem(traj.request) + f"_grid_{which}"))
        return path, path

    v = viewer
    v.scrub.change(app.viewer_html, [trajectory, v.scrub], v.html, queue=False, show_progress="hidden",
                   api_visibility="private")
    v.back.click(lambda tr, s: step_by(tr, s, -1), [trajectory, v.scrub], v.scrub, queue=False, api_visibility="private")
    v.forward.click(lambda tr, s: step_by(tr, s, 1), [trajectory, v.scrub], v.scrub, queue=False, api_visibility="private")
    v.play.click(toggle_play, [trajectory, v.playing, v.scrub], [v.playing, v.timer, v.play, v.scrub], queue=False,
                 api_visibility="private")
    v.timer.tick(tick, [trajectory, v.scrub], [v.scrub, v.playing, v.timer, v.play], queue=False, show_progress="hidden",
                 api_visibility="private")
    gr.on([v.grid_what.change, v.grid_cols.change], grid_update, [trajectory, v.grid_what, v.grid_cols],
          [v.grid_img, v.grid_file], queue=False, api_visibility="private")


def wire_compare(app: Served, cmp: SimpleNamespace) -> None:
    """A preset fills A and B; Compare runs A then B with the same prompt and seed, streaming both."""

    def compare(prompt, seed, *ab_values):
        a_args, b_args = ab_values[:5], ab_values[5:]
        reqs = [app.checked(prompt, *args[:3], seed, args[3], args[4]) for args in (a_args, b_args)]
        done: list = [None, None]
        labels = [f"{n}: {r.model}, {r.sampler.upper()} {r.steps} steps, eta {r.eta:g}, s = {r.guidance_scale:g}"
                  for n, r in zip("AB", reqs)]
        for k, req in enumerate(reqs):
            throttle = sup.PreviewThrottle(app.settings.preview_interval)
            for u in sup.stream_generation(app.need_pipe(req.model), req, throttle):
                if not u.show:
                    continue
                if u.done:
                    done[k] = u.trajectory
                current = [(labels[j], (done[j].video if done[j] is not None else (u.x_t if j == k else None)))
                           for j in range(2)]
                panels = [(lab, v) for lab, v in current if v is not None]
                yield (sup.status_html(u.index, u.num_steps, u.t, u.seconds).replace("Denoising", f"Denoising {'AB'[k]}"),
                       sup.animated_panels_html(panels))
        secs = " · ".join(f"{n}: {t.seconds:.1f} s" for n, t in zip("AB", done))
        result = [(labels[j], done[j].video) for j in range(2)]
        result.append(("glyph layout of the prompt", layout_picture(reqs[0].prompt)))
        yield sup.idle_status_html(f"Done. {secs}"), sup.animated_panels_html(result) + sup.layout_legend_html(reqs[0].prompt)

    def apply_preset(name):
        base = sup.GenerationRequest("A", DEFAULT_STEPS, 0.0, app.guidance0, 0, DEFAULT_SAMPLER, model=app.model0)
        a, b = sup.comparison_requests(base, name)
        a, b = (r if r.model in app.pipes else replace(r, model=app.model0) for r in (a, b))  # a preset may name an absent model
        return [v for r in (a, b) for v in (r.steps, r.eta, r.guidance_scale, r.sampler, r.model)]

    cmp.preset.change(apply_preset, cmp.preset, cmp.ab, queue=False, api_visibility="private")
    event = cmp.run.click(compare, [cmp.prompt, cmp.seed, *cmp.ab], [cmp.status, cmp.view], api_visibility="private",
                          concurrency_id="sampler", concurrency_limit=app.settings.concurrency,
                          show_progress="minimal", show_progress_on=[cmp.status])
    cmp.stop.click(None, None, None, cancels=[event], api_visibility="private")


def build_examples(app: Served, gen: SimpleNamespace) -> None:
    """Cached example runs under the Generate tab: a click fills the controls and shows the result."""
    if app.model0 not in app.pipes or app.settings.cache_examples == "off":
        return
    model0, guidance0 = app.model0, app.guidance0
    other = next((n for n in app.pipes if n != model0), None)
    examples = ([[p, DEFAULT_STEPS, 0.0, guidance0, 0, DEFAULT_SAMPLER, model0] for p in ("HELLO", "AB12", "VIDEO", "42")]
                + [["HELLO", EVAL_STEPS, 1.0, guidance0, 0, "ddim", model0],  # eta 1: a DDPM-like stochastic run
                   ["HELLO", DEFAULT_STEPS, 0.0, 1.0, 0, DEFAULT_SAMPLER, model0]]
                + ([["HELLO", DEFAULT_STEPS, 0.0, app.pipes[other].default_guidance, 0, DEFAULT_SAMPLER, other]] if other else []))

    def example_result(prompt, steps, eta, guidance_scale, seed, sampler, model=model0):
        request = app.checked(prompt, steps, eta, guidance_scale, seed, sampler, model)
        traj = sup.run_generation(app.need_pipe(request.model), request)
        gif_path, mp4_path = app.store.save_video(traj.video, sup.file_stem(request))
        i = traj.num_steps - 1
        return (app.panels(request, traj.x_t[i], traj.pred_x0[i], i, traj.num_steps, int(traj.timesteps[i])),
                sup.idle_status_html(f"Example: {request.label()}"), str(gif_path), str(mp4_path))

    # Gradio keeps cached results under $GRADIO_EXAMPLES_CACHE/<component id>; a folder per
    # checkpoint and example list keeps a retrained model or new defaults from showing old results.
    fingerprint = "-".join([sup.checkpoint_fingerprint(app.settings.checkpoint_path(n)) for n in app.pipes]
                           + [hashlib.sha256(repr(examples).encode()).hexdigest()[:8]])
    cache_dir = os.path.join(os.environ.get("GRADIO_EXAMPLES_CACHE", ".gradio/cached_examples"), fingerprint)
    with gen.examples_slot, environ(GRADIO_EXAMPLES_CACHE=cache_dir):
        gr.Examples(examples=examples, inputs=gen.inputs, outputs=[gen.preview, gen.status, gen.gif, gen.mp4],
                    fn=example_result, cache_examples=True, cache_mode=app.settings.cache_examples,
                    label="Examples (results cached)")


def without_plotly_sliders(fig):
    """Drop a figure's own plotly sliders and frames: gr.Plot does not load frames, so they would not
    move; the app drives the same parameter with a Gradio slider instead."""
    fig.frames = []
    fig.layout.sliders = ()
    return fig


def build_explorer(pipes: dict[str, Pipeline], tab: gr.Tab) -> None:
    """The Embedding explorer tab's widgets and events; the figures come from vidgen.probes.figures.
    They are sent when the tab is first opened (two of them are about 2 MB), not with every page,
    and again when another model is chosen."""
    if not pipes:
        gr.Markdown("Load a checkpoint to explore its embeddings.")
        return
    from vidgen.probes import figures as probe_plots

    first = next(iter(pipes))
    grid_t, grid_h, grid_w = pipes[first].model.cfg.grid
    T = pipes[first].num_timesteps
    which = gr.Radio(sup.model_choices(pipes), value=first, label="Model", elem_id="explorer-model")
    with gr.Tab("Position cube (Fig. 11)"):
        gr.Markdown("Cosine similarity of every video patch position to the chosen one; positions above the "
                    "threshold are drawn. Nearby positions share a lot, so the model knows what is next to what.")
        with gr.Row():
            w = gr.Slider(0, grid_w - 1, grid_w // 2, step=1, label="W (column)", elem_id="cube-w")
            h = gr.Slider(0, grid_h - 1, grid_h // 2, step=1, label="H (row)")
            t = gr.Slider(0, grid_t - 1, grid_t // 2, step=1, label="T (time)")
            thr = gr.Slider(-1.0, 1.0, 0.4, step=0.05, label="Threshold")
        cube = gr.Plot(elem_id="cube-plot")
    with gr.Tab("All positions (Fig. 12)"):
        gr.Markdown(f"All-to-all similarity of the {pipes[first].model.cfg.num_tokens} video position embeddings, "
                    "in (t h w) order; lines separate token frames.")
        matrix = gr.Plot(elem_id="matrix-plot")
    with gr.Tab("Prompt slots / symbols (Fig. 13)"):
        gr.Markdown(f"A model without a layout (the blog's recipe as it was): similarity of the {tok.PROMPT_SLOTS} "
                    f"prompt-slot embeddings (slots beyond {TRAIN_MAX_LEN} were never trained on). A model that reads "
                    "a layout, given or predicted, has no slot embeddings (the layout tells it the order); instead, "
                    "the similarity of its 36 learned symbol embeddings.")
        prompt_sim = gr.Plot(elem_id="prompt-plot")
    with gr.Tab("Timestep embedding (Fig. 10)"):
        gr.Markdown("The sinusoidal features that tell the network the noise level t: each dimension is a "
                    "sine or cosine of t at its own frequency, so every t gets a distinct pattern.")
        temb_t = gr.Slider(0, T - 1, 0, step=1, label="t (the row shown on top)")
        temb = gr.Plot(elem_id="timestep-plot")
    loaded = gr.State(False)

    def model_of(name):
        return pipes.get(name, pipes[first])

    def cube_fig(name, tt, hh, ww, threshold):
        return probe_plots.similarity_cube_figure(model_of(name), int(tt), int(hh), int(ww), threshold=float(threshold), sliders=False)

    def timestep_fig(tt):
        return without_plotly_sliders(probe_plots.timestep_embedding_figure(pipes[first], num_timesteps=T, t=int(tt)))

    def prompt_fig(name):
        pipe = model_of(name)
        if pipe.model.cfg.layout != "none":
            return probe_plots.symbol_similarity_figure(pipe)
        return probe_plots.prompt_similarity_figure(pipe)

    def figures(name, tt, hh, ww, threshold):
        return cube_fig(name, tt, hh, ww, threshold), probe_plots.similarity_matrix_figure(model_of(name)), prompt_fig(name)

    def first_open(is_loaded, name, tt, hh, ww, threshold, t_emb):
        if is_loaded:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), True
        return (*figures(name, tt, hh, ww, threshold), timestep_fig(t_emb), True)

    private = dict(queue=False, show_progress="hidden", api_visibility="private")
    tab.select(first_open, [loaded, which, t, h, w, thr, temb_t], [cube, matrix, prompt_sim, temb, loaded], **private)
    which.change(figures, [which, t, h, w, thr], [cube, matrix, prompt_sim], **private)
    gr.on([t.change, h.change, w.change, thr.change], cube_fig, [which, t, h, w, thr], cube, **private)
    temb_t.release(timestep_fig, temb_t, temb, **private)  # on release: the figure is about 2 MB


def main(argv=None):
    settings = parse_args(argv)
    pipes, error = load(settings.checkpoint, settings.blog_checkpoint)
    if error:
        print(error)
    serve(build_demo(pipes, settings, error), settings)


def serve(demo: gr.Blocks, settings: Settings, **launch_kwargs):
    """Bound the queue and start the server (tests pass prevent_thread_lock=True)."""
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    return demo.launch(server_name=settings.host, server_port=settings.port, css=sup.PREVIEW_CSS,
                       footer_links=["api"], **launch_kwargs)


if __name__ == "__main__":
    main()
