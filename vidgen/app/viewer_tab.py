"""The Step viewer tab: scrub or play the last run's stored steps, and its Figure-1 grid."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..trajectory import grid_columns
from .panels import idle_status_html
from .requests import file_stem
from .served import Served


def build_viewer_tab() -> SimpleNamespace:
    """Scrub or play through the last run's steps, and the Figure-1 grid of them."""
    with gr.Tab("Step viewer", id="viewer"):
        gr.Markdown("Scrub through every step of the last run (stored, nothing is recomputed). "
                    "Left: x_t after that step; right: what the model predicted the clean video to be.")
        html = gr.HTML(idle_status_html("Generate a video first."), elem_id="viewer", min_height=300)
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


def wire_viewer(app: Served, viewer: SimpleNamespace, last_run: gr.State) -> None:
    """Scrub, step, play and the grid: all from the stored run, nothing recomputed."""

    def step_by(run, step, delta):
        if run is None:
            return gr.skip()
        return min(max(int(step) + delta, 1), run.trajectory.num_steps)

    def toggle_play(run, is_playing, step):
        if run is None:
            return False, gr.Timer(active=False), gr.Button("▶ Play"), gr.skip()
        start = 1 if (not is_playing and int(step) >= run.trajectory.num_steps) else gr.skip()  # replay from the start
        now = not is_playing
        return now, gr.Timer(active=now), gr.Button("Pause" if now else "▶ Play"), start

    def tick(run, step):
        """Advance the viewer; long runs move several steps a tick so any run plays in about 12 s."""
        if run is None or int(step) >= run.trajectory.num_steps:
            return gr.skip(), False, gr.Timer(active=False), gr.Button("▶ Play")
        return min(int(step) + max(1, run.trajectory.num_steps // 50), run.trajectory.num_steps), gr.skip(), gr.skip(), gr.skip()

    def grid_update(run, which, count):
        if run is None:
            return None, None
        cols = grid_columns(run.trajectory.num_steps, int(count))
        path = str(app.store.save_png(run.trajectory.grid(cols, which), file_stem(run.request) + f"_grid_{which}"))
        return path, path

    v = viewer
    v.scrub.change(app.viewer_html, [last_run, v.scrub], v.html, queue=False, show_progress="hidden",
                   api_visibility="private")
    v.back.click(lambda tr, s: step_by(tr, s, -1), [last_run, v.scrub], v.scrub, queue=False, api_visibility="private")
    v.forward.click(lambda tr, s: step_by(tr, s, 1), [last_run, v.scrub], v.scrub, queue=False, api_visibility="private")
    v.play.click(toggle_play, [last_run, v.playing, v.scrub], [v.playing, v.timer, v.play, v.scrub], queue=False,
                 api_visibility="private")
    v.timer.tick(tick, [last_run, v.scrub], [v.scrub, v.playing, v.timer, v.play], queue=False, show_progress="hidden",
                 api_visibility="private")
    gr.on([v.grid_what.change, v.grid_cols.change], grid_update, [last_run, v.grid_what, v.grid_cols],
          [v.grid_img, v.grid_file], queue=False, api_visibility="private")
