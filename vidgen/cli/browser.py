"""`python -m vidgen export-onnx`: a layout-guided model as the files the browser page runs (vidgen.browser)."""
from __future__ import annotations

from pathlib import Path

from ..browser.weights import DEFAULT_WEIGHTS, WEIGHT_FORMATS
from .common import UsageError, unloaded_pipeline


def add_export_onnx_args(p) -> None:
    p.description = ("Export a layout-guided motion-world model (the default: release-2step) as DIR/cond.onnx (the prompt and "
                     "its layout, once a video), DIR/step.onnx (one DDIM step) and DIR/vidgen.json (tokenizer, font tables, the model's own steps), checked "
                     "against torch with onnxruntime; web/ serves them (docs/browser.md).")
    p.add_argument("--model", default="release-2step", help="a shipped model's name or a checkpoint directory (default release-2step)")
    p.add_argument("--out", required=True, help="the directory to write (web/model for the page)")
    p.add_argument("--weights", choices=WEIGHT_FORMATS, default=DEFAULT_WEIGHTS,
                   help=f"how the graphs store the parameters (default {DEFAULT_WEIGHTS}; both compute in fp32)")


def run_export_onnx(args) -> None:
    from ..browser.bundle import export_browser
    from ..pipeline import load_pipeline
    from ..shipped import resolve_model_path

    path = resolve_model_path(args.model)
    unloaded = unloaded_pipeline(path, flag="--model")
    cfg = unloaded.model.cfg
    if cfg.layout != "glyph2d" or unloaded.world.name != "motion" or cfg.frames != 16:
        raise UsageError(f"--model: the page runs a layout-guided motion-world model of 16 frames (layout glyph2d), "
                         f"not one with layout {cfg.layout!r} in the {unloaded.world.name!r} world")
    if cfg.latent:
        raise UsageError("--model: the page runs a pixel model; a latent model's VAE decoder is not exported (yet)")
    if unloaded.default_sampling[0] != "ddim":
        raise UsageError(f"--model: the page runs DDIM; this model's own sampler is {unloaded.default_sampling[0]!r} "
                         "(export a DDIM student such as release-2step)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out must be a directory, got the file {out}")
    config = export_browser(load_pipeline(path, precision="fp32"), Path(args.model).name, out, args.weights)
    graphs = ", ".join(f"{out / g['file']} ({g['bytes'] / 1e6:.1f} MB)" for g in (config["onnx"]["cond"], config["onnx"]["step"]))
    print(f"wrote {graphs}, {args.weights} weights (onnxruntime within {config['onnx']['parity_max_abs']:.1g} of torch with "
          f"those weights) and {out / 'vidgen.json'}")
