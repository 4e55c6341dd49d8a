"""The Embedding explorer tab: the learned position, prompt-slot, symbol and timestep embeddings."""
from __future__ import annotations

import gradio as gr

from ..data import tokenizer as tok
from ..data.prompts import TRAIN_MAX_LEN
from ..pipeline import Pipeline
from .model_choices import model_choices


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
    which = gr.Radio(model_choices(pipes), value=first, label="Model", elem_id="explorer-model")
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
        if pipe.model.layout_kind.reads_layout:
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
