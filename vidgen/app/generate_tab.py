"""The Generate tab: prompt and settings, live previews of every step, the result files, and the
scriptable `generate` endpoint."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..data import tokenizer as tok
from ..data.prompts import TRAIN_MAX_LEN
from ..data.shape import FRAMES, MAX_FRAMES
from ..diffusion.sampler import DEFAULT_SAMPLER, DEFAULT_STEPS, ETA_RANGE, SAMPLERS, samplers_help
from .long_panels import long_panels_html, long_status_html
from .long_streaming import stream_long
from .model_choices import guidance_bounds, trajectory_note
from .panels import idle_status_html, status_html
from .motion_controls import build_motion_controls, motion_spec, wire_motion_controls
from .requests import MAX_SEED, RANDOM_MOTION, WIDGET_FIELDS, GenerationRequest, file_stem
from .served import Served
from .streaming import PreviewThrottle, stream_generation
from .text import EXPLAIN_ETA, EXPLAIN_GUIDANCE, EXPLAIN_LAYOUT, EXPLAIN_LONG, EXPLAIN_MOTION, EXPLAIN_STEP
from .variations import NUM_VARIATIONS, short_motion, variation_requests, variations, variations_html


def build_generate_tab(app: Served) -> SimpleNamespace:
    """Prompt and settings on the left; live previews, status and the result files on the right."""
    with gr.Tab("Generate", id="generate"):
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                prompt = gr.Textbox("HELLO", label="Prompt", elem_id="prompt",
                                    info=f"1-{TRAIN_MAX_LEN} symbols from A-Z and 0-9 (lower case is fine; "
                                         f"{TRAIN_MAX_LEN + 1}-{tok.PROMPT_SLOTS} allowed, never seen in training); "
                                         f"a longer video takes a sentence of up to {tok.LONG_PROMPT_SLOTS} with spaces")
                frames = gr.Slider(FRAMES, MAX_FRAMES, FRAMES, step=LENGTH_STEP, label="Length (frames)", elem_id="frames",
                                   info=f"{FRAMES}: one window of the chosen model; more: the long-video model makes it "
                                        "chunk by chunk, and the preview grows as each chunk lands")
                live = gr.Checkbox(False, label="Live preview as you type", elem_id="live",
                                   info="every change of the prompt generates at once (a change made while one runs "
                                        "waits for it, and only the last waits); pleasant with a 2-step model")
                model = gr.Radio(app.choices, value=app.model0, label="Model", elem_id="model",
                                 info="layout-guided: told where each glyph goes; prompt only: the blog's, which predicts it")
                trajectory = gr.Markdown(trajectory_note(app.pipes.get(app.model0), app.model0), elem_id="trajectory-note")
                steps = gr.Slider(1, app.T, app.steps0, step=1, label="Steps", elem_id="steps",
                                  info="Denoising steps: more is finer and slower")
                eta = gr.Slider(*ETA_RANGE, 0.0, step=0.05, label="eta", elem_id="eta",
                                info="Fresh noise per step: 0 = deterministic DDIM, 1 = DDPM-like")
                guidance = gr.Slider(*guidance_bounds(app.pipe), app.guidance0, step=0.25, label="Guidance scale s", elem_id="guidance",
                                     info="uncond + s · (cond − uncond); 1 = no guidance")
                with gr.Row():
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, elem_id="seed")
                    sampler = gr.Radio(list(SAMPLERS), value=app.sampler0, label="Sampler", elem_id="sampler",
                                       info=samplers_help())
                motion = build_motion_controls()
                with gr.Row():
                    run = gr.Button("Generate", variant="primary", elem_id="generate-btn", interactive=app.pipe is not None)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-btn")
                vary = gr.Button(f"Variations: {NUM_VARIATIONS} seeds", elem_id="variations-btn", interactive=app.pipe is not None)
            with gr.Column(scale=2, min_width=360):
                status = gr.HTML(idle_status_html("Press Generate to start."), elem_id="status")
                preview = gr.HTML("", elem_id="preview", min_height=300)
                with gr.Row():
                    gif = gr.Image(label="GIF", type="filepath", format="gif", elem_id="result-gif",
                                   buttons=["download", "fullscreen"], interactive=False, height=280)
                    mp4 = gr.Video(label="MP4 (h.264)", elem_id="result-mp4", buttons=["download"],
                                   autoplay=True, loop=True, interactive=False, height=280)
                variations_out = gr.HTML("", elem_id="variations")
        examples_slot = gr.Column()
        with gr.Accordion("What is happening? (motion, layout, steps, eta, guidance)", open=True):
            gr.Markdown(EXPLAIN_MOTION)
            gr.Markdown(EXPLAIN_LAYOUT)
            with gr.Row():
                gr.Markdown(EXPLAIN_STEP.format(T=app.T, n=app.steps0, d=app.T // app.steps0))
                gr.Markdown(EXPLAIN_ETA)
                gr.Markdown(EXPLAIN_GUIDANCE)
            gr.Markdown(EXPLAIN_LONG)
    motion_spec_box = gr.Textbox(RANDOM_MOTION, visible=False)  # the API's motion argument
    widgets = dict(prompt=prompt, steps=steps, eta=eta, guidance_scale=guidance, seed=seed, sampler=sampler, model=model)
    inputs = [widgets[name] for name in WIDGET_FIELDS]  # GenerationRequest.from_widgets reads them in this order
    return SimpleNamespace(prompt=prompt, frames=frames, model=model, steps=steps, eta=eta, guidance=guidance, seed=seed,
                           sampler=sampler, run=run, stop=stop, status=status, preview=preview, gif=gif, mp4=mp4, examples_slot=examples_slot,
                           motion=motion, vary=vary, variations=variations_out, live=live, trajectory=trajectory,
                           inputs=inputs, api_inputs=[*inputs, motion_spec_box])


LENGTH_STEP = 8  # the length control's step: 16, 24, ..., 128 frames, whole temporal patches of every model


def widget_request(values) -> GenerationRequest:
    """The Generate tab's widget values, as Gradio passes them by position (gen.inputs, the length control, then
    the motion controls'), -> the raw request: the one place they are taken by position."""
    n = len(WIDGET_FIELDS)
    return GenerationRequest.from_widgets(*values[:n], frames=values[n], motion=motion_spec(*values[n + 1 :]))


def wire_generate(app: Served, gen: SimpleNamespace, viewer: SimpleNamespace, last_run: gr.State) -> None:
    """Generate streams throttled previews, then the files and the run for the step viewer; the
    scriptable `generate` endpoint streams one update per step through the same queue."""
    settings = app.settings

    def short_updates(request):
        """(preview, status, run or None, video or None) of the steps drawn: a video of the chosen model's window."""
        throttle = PreviewThrottle(settings.preview_interval)
        for u in stream_generation(app.need_pipe(request.model), request, throttle):
            if u.show:
                yield (app.panels(request, u.x_t, u.pred_x0, u.index, u.num_steps, u.t, u.latent),
                       status_html(u.index, u.num_steps, u.t, u.seconds, request.note), u.run,
                       None if u.run is None else u.run.trajectory.video)

    def long_updates(request):
        """The same of a long video, call by call (vidgen.long): the clean frames so far, the window being denoised."""
        maker = app.long_pipe(request.model)
        method, steps = maker.default_long
        for u in stream_long(maker, request, app.motion_of(request), PreviewThrottle(settings.preview_interval)):
            if u.show:
                yield (long_panels_html(u.clean, u.window_x, u.window_pred, u.call, u.levels, steps, u.index, u.num_calls),
                       long_status_html(u.index, u.num_calls, len(u.clean), request.frames, u.seconds, method, steps,
                                        request.note), u.run, None if u.run is None else u.run.video)

    def generate_ui(*values):
        request = app.checked(widget_request(values))
        updates = long_updates(request) if request.is_long(app.long_models) else short_updates(request)
        first = True
        for shown, state, run, video in updates:
            if run is None:
                cleared = None if first else gr.skip()  # drop the last run's files once, at the start
                first = False
                yield shown, state, cleared, cleared, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                continue
            # the finished video goes out at once as a GIF (10 ms to write); the MP4 (an ffmpeg process, about
            # 0.1 s), the step viewer and its grid follow in a second update
            traj = run.trajectory
            gif_path = app.store.save_gif(video, file_stem(request))
            yield shown, state, str(gif_path), gr.skip(), run, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            mp4_path = app.store.save_mp4(video, file_stem(request))
            grid_path = app.store.save_png(traj.grid(), file_stem(request) + "_grid")
            yield (gr.skip(), gr.skip(), gr.skip(), str(mp4_path), gr.skip(),
                   gr.Slider(1, max(traj.num_steps, 2), traj.num_steps, step=1, interactive=True),  # max > min
                   app.viewer_html(run, traj.num_steps), str(grid_path), str(grid_path))

    def generate_api(prompt: str, steps: int | None = None, eta: float = 0.0, guidance_scale: float = app.guidance0,
                     seed: int = 0, sampler: str | None = None, model: str = app.model0, motion: str = RANDOM_MOTION,
                     frames: int = FRAMES):
        """Generate a video with the chosen model, a name from the Model choices: by default "release-2step",
        the layout-guided release distilled to 2 steps (or "release" where it is not served); "release", its
        full-step teacher; "blog", which predicts its own layout. `steps` and `sampler` left out (None): the
        model's own (2 DDIM steps for the 2-step student, 10 DPM-Solver++ steps for the others). `motion`:
        "random" (the seed and the model choose), "line:DIRECTION,SPEED[,SIZE]" or "path:X,Y;X,Y;...[@SIZE]".
        Streams one update per step: ({step, num_steps, t, seconds, model, motion}, None, None), and on
        the last step also the GIF and MP4 files. `frames` above 16 (or a sentence with spaces) is a long video,
        made by the long-video model chunk by chunk with its own method and steps: one update per model call,
        ({call, num_calls, frames_done, frames, seconds, method, steps, model, motion}, None, None), the files last."""
        if steps is None or sampler is None:
            own = app.pipes[model].default_sampling if isinstance(model, str) and model in app.pipes else (DEFAULT_SAMPLER, DEFAULT_STEPS)
            sampler, steps = own[0] if sampler is None else sampler, own[1] if steps is None else steps
        request = app.checked(GenerationRequest(prompt=prompt, model=model, sampler=sampler, steps=steps, eta=eta,
                                                guidance_scale=guidance_scale, seed=seed, motion=motion, frames=frames))
        if request.is_long(app.long_models):
            yield from long_api_updates(request)
            return
        pipe = app.need_pipe(request.model)
        chosen = short_motion(request.motion_of(pipe))
        for u in stream_generation(pipe, request):
            info = {"step": u.index + 1, "num_steps": u.num_steps, "t": u.t, "seconds": round(u.seconds, 4),
                    "prompt": request.prompt, "note": request.note, "model": request.model, "motion": chosen}
            if not u.done:
                yield info, None, None
            else:
                gif_path, mp4_path = app.store.save_video(u.run.trajectory.video, file_stem(request))
                yield info, str(gif_path), str(mp4_path)

    def long_api_updates(request):
        maker = app.long_pipe(request.model)
        method, steps = maker.default_long
        motion = app.motion_of(request)
        for u in stream_long(maker, request, motion, throttle=lambda index, num_calls: True):  # every call: its clean frames
            info = {"call": u.index + 1, "num_calls": u.num_calls, "frames_done": len(u.clean), "frames": request.frames,
                    "seconds": round(u.seconds, 4), "method": method, "steps": steps, "prompt": request.prompt,
                    "note": request.note, "model": request.model, "motion": short_motion(motion)}
            if not u.done:
                yield info, None, None
            else:
                gif_path, mp4_path = app.store.save_video(u.run.video, file_stem(request))
                yield info, str(gif_path), str(mp4_path)

    def model_changed(name):
        """A model's own default guidance scale and its range, sampler and steps go with it (a progressive-
        distillation student is trained for its own few DDIM steps), and what its steps shown are."""
        if name not in app.pipes:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        pipe = app.pipes[name]
        lo, hi = guidance_bounds(pipe)  # a guidance-distilled model takes its trained range only
        return (gr.Slider(minimum=lo, maximum=hi, value=pipe.default_guidance), *pipe.default_sampling, trajectory_note(pipe, name))

    def live_ui(live, *values):
        """Live preview: the prompt as typed, generated with the current settings, the last step's panels
        shown. A prompt that cannot be generated yet (empty, an unknown symbol half typed) says so in the
        status line instead of an error pop-up."""
        if not live:
            return gr.skip(), gr.skip()
        try:
            request = app.checked(widget_request(values))
        except gr.Error as e:
            return gr.skip(), idle_status_html(f"Live preview waits: {e.message}")
        if request.is_long(app.long_models):
            return gr.skip(), idle_status_html(f"Live preview makes {FRAMES}-frame videos: press Generate for a long one.")
        for u in stream_generation(app.need_pipe(request.model), request):
            pass
        return (app.panels(request, u.x_t, u.pred_x0, u.index, u.num_steps, u.t, u.latent),
                status_html(u.index, u.num_steps, u.t, u.seconds, request.note, head="Live preview"))

    def variations_ui(progress=gr.Progress(), *values):  # Gradio fills a Progress parameter only before the *values
        request = app.checked(widget_request(values))
        if request.is_long(app.long_models):
            raise gr.Error(f"Variations are of {FRAMES}-frame videos: set Length to {FRAMES} frames (a long video is one "
                           "Generate away)", title="Cannot make variations")
        pipe = app.need_pipe(request.model)
        panels = []
        for r in progress.tqdm(variation_requests(request), desc="variations"):
            panels += variations(pipe, r, 1)
        return variations_html(panels)

    wire_motion_controls(gen.motion)
    ui_inputs = [*gen.inputs, gen.frames, *gen.motion.inputs]  # the order widget_request reads
    outputs = [gen.preview, gen.status, gen.gif, gen.mp4, last_run, viewer.scrub, viewer.html, viewer.grid_img, viewer.grid_file]
    gen.vary.click(variations_ui, ui_inputs, gen.variations, api_visibility="private", concurrency_id="sampler",
                   concurrency_limit=settings.concurrency)
    event = gen.run.click(generate_ui, ui_inputs, outputs, api_name="generate_ui", api_visibility="private",
                          concurrency_id="sampler", concurrency_limit=settings.concurrency,
                          show_progress="minimal", show_progress_on=[gen.status])
    gen.prompt.submit(lambda: None, None, None, js="() => document.getElementById('generate-btn').click()",
                      queue=False, api_visibility="private")
    gen.stop.click(None, None, None, cancels=[event], api_visibility="private")
    # trigger_mode "always_last": keystrokes made while a preview runs collapse into one run of the latest prompt
    gen.prompt.input(live_ui, [gen.live, *ui_inputs], [gen.preview, gen.status], trigger_mode="always_last",
                     concurrency_id="sampler", concurrency_limit=settings.concurrency, show_progress="hidden",
                     api_visibility="private")
    gen.model.change(model_changed, gen.model, [gen.guidance, gen.sampler, gen.steps, gen.trajectory], queue=False,
                     api_visibility="private")

    # The scriptable endpoint: same checks and sampler, one update per step, files at the end.
    api_progress = gr.JSON(label="progress", visible=False)
    api_gif, api_mp4 = gr.File(label="gif", visible=False), gr.File(label="mp4", visible=False)
    api_button = gr.Button(visible=False)
    # preprocess=False: a script's raw values go straight to the app's own checks (GenerationRequest.checked), which
    # answer None, text or out-of-range numbers with one clear error; Gradio's slider preprocessing
    # would crash on some of them (a TypeError for steps=None)
    api_button.click(generate_api, [*gen.api_inputs, gen.frames], [api_progress, api_gif, api_mp4], api_name="generate",
                     concurrency_id="sampler", concurrency_limit=settings.concurrency, preprocess=False)
