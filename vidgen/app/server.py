"""The whole page and the server: `python app.py` runs `main`."""
from __future__ import annotations

import threading

import gradio as gr

from ..compiled import describe_compile
from ..models.layers import quiet_known_warnings
from ..pipeline import Pipeline
from ..shipped import served_default
from .browser_route import missing_browser_files, mount_browser
from .compare_tab import build_compare_tab, wire_compare
from .examples import build_examples
from .explorer_tab import build_explorer
from .generate_tab import build_generate_tab, wire_generate
from .header import served_summary
from .model_choices import checkpoint_summary, load_models
from .panels import PREVIEW_CSS
from .served import Served
from .settings import Settings, parse_args
from .text import EXPLORER_INTRO, INTRO, TITLE
from .viewer_tab import build_viewer_tab, wire_viewer


def build_demo(pipes: dict[str, Pipeline] | Pipeline | None, settings: Settings, load_error: str | None = None) -> gr.Blocks:
    """The whole page, serving the models in `pipes` ({name: pipeline}; the default is the 2-step student, else
    the release: vidgen.shipped.served_default; a single Pipeline is served as the release). No model shows
    how to get a checkpoint instead of failing."""
    app = Served(pipes, settings)
    with gr.Blocks(title=TITLE, delete_cache=(1800, 3600)) as demo:
        build_header(app, load_error)
        last_run = gr.State(None, time_to_live=3600)  # the last finished Run, for the step viewer
        gen = build_generate_tab(app)
        viewer = build_viewer_tab()
        cmp = build_compare_tab(app)
        with gr.Tab("Embedding explorer", id="explorer") as explorer_tab:
            gr.Markdown(EXPLORER_INTRO)
            build_explorer(app.pipes, explorer_tab)
        wire_generate(app, gen, viewer, last_run)
        wire_viewer(app, viewer, last_run)
        wire_compare(app, cmp)
        build_examples(app, gen)
    return demo


def build_header(app: Served, load_error: str | None) -> None:
    """The introduction, one line a served model, and the machine's detail (paths, sizes, precision) folded."""
    gr.Markdown(INTRO)
    if not missing_browser_files():
        gr.HTML('<p><a href="/browser/" target="_blank">Run in your browser</a>: the default model computed in this '
                'tab by ONNX Runtime Web, no server compute (docs/browser.md).</p>', elem_id="browser-link")
    if app.pipe is None:
        gr.Markdown(load_error, elem_id="missing-checkpoint")
    else:
        gr.Markdown(served_summary(app.pipes), elem_id="model-info")
        with gr.Accordion("Details", open=False, elem_id="model-details"):
            gr.Markdown(checkpoint_summary(app.pipes, app.settings))
        if load_error:
            gr.Markdown(load_error, elem_id="load-warning")


def main(argv=None):
    settings = parse_args(argv)
    quiet_known_warnings()
    pipes, error = load_models(settings)
    if error:
        print(error)
    demo = build_demo(pipes, settings, error)
    default = served_default(pipes)
    if settings.compile and default in pipes:
        compile_in_background(pipes[default], default)
    serve(demo, settings)


def compile_in_background(pipe: Pipeline, name: str) -> threading.Thread:
    """Compile `pipe`'s network on a daemon thread while the page serves (vidgen.compiled): requests
    sample eagerly until the compiled twin is checked and found faster, then with it."""
    def work():
        print(f"{name}: compiling the network in the background ...", flush=True)
        print(f"{name}: {describe_compile(pipe.compile())}", flush=True)

    thread = threading.Thread(target=work, name=f"compile-{name}", daemon=True)
    thread.start()
    return thread


def serve(demo: gr.Blocks, settings: Settings, **launch_kwargs):
    """Bound the queue and start the server, with the in-browser page at /browser/ when its files are there (tests
    pass prevent_thread_lock=True)."""
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    block = not launch_kwargs.pop("prevent_thread_lock", False)
    out = demo.launch(server_name=settings.host, server_port=settings.port, css=PREVIEW_CSS,
                      footer_links=["api"], prevent_thread_lock=True, **launch_kwargs)
    if not mount_browser(demo.app):
        print(f"/browser/ is off: missing {', '.join(missing_browser_files())} in web/ (python -m vidgen export-onnx --out "
              "web/model; npm ci --prefix web)", flush=True)
    if block:
        demo.block_thread()
    return out
