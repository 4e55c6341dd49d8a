"""The page's header: one short line a served model, the default first; paths, sizes and the precision probes'
timings folded under a closed "Details"."""
from __future__ import annotations

import gradio as gr
import pytest

from vidgen.app.header import served_summary
from vidgen.app.server import build_demo
from vidgen.app.settings import Settings
from vidgen.pipeline import describe_precision, load_pipeline


@pytest.fixture(scope="module")
def served(tiny_checkpoint, tiny_layout_checkpoint):
    """Three served models as the app loads them (precision "auto": probed and timed, as on a real start)."""
    settings = Settings(checkpoint=str(tiny_layout_checkpoint), blog_checkpoint=str(tiny_checkpoint),
                        two_step_checkpoint=str(tiny_layout_checkpoint))
    pipes = {name: load_pipeline(settings.checkpoint_path(name)) for name in ("release", "blog", "release-2step")}
    return pipes, settings


def test_one_line_a_model_the_default_first_and_no_machine_detail(served):
    pipes, settings = served
    lines = served_summary(pipes).split("  \n")
    assert [line.split("**")[1] for line in lines] == ["release-2step", "release", "blog"]
    assert lines[0].startswith("**release-2step**, the default: Release in 2 steps, ")
    for line, name in zip(lines, ["release-2step", "release", "blog"]):
        sampler, steps = pipes[name].default_sampling
        assert "\n" not in line and len(line) < 100 and line.endswith(f" {steps} {sampler.upper()} steps")
        assert str(settings.checkpoint_path(name)) not in line and "precision" not in line and " ms" not in line


def test_the_header_folds_the_paths_and_the_precision_probes_under_details(served):
    pipes, settings = served
    demo = build_demo(pipes, settings)
    blocks = list(demo.blocks.values())
    info = next(b for b in blocks if getattr(b, "elem_id", None) == "model-info")
    assert info.value == served_summary(pipes)
    details = next(b for b in blocks if isinstance(b, gr.Accordion) and b.label == "Details")
    assert details.open is False and details.elem_id == "model-details"
    folded = details.children[0].value
    for name, pipe in pipes.items():
        assert f"`{settings.checkpoint_path(name)}`" in folded and describe_precision(pipe) in folded
