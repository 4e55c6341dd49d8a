"""The server's options: the command line of app.py."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from ..precision import PRECISIONS
from ..shipped import SHIPPED_MODELS, served_directory, shipped_model


@dataclass
class Settings:
    """Server options: the parsed command line."""

    checkpoint: str | None = None
    blog_checkpoint: str | None = None
    fast_checkpoint: str | None = None
    two_step_checkpoint: str | None = None
    scroll_checkpoint: str | None = None
    scroll_blog_checkpoint: str | None = None
    long_checkpoint: str | None = None  # the long-video model (vidgen.long): 16-128 frames and sentences
    latent_checkpoint: str | None = None  # the latent release (vidgen.latent): diffusion on a VAE's latent
    latent64_checkpoint: str | None = None  # the 64x64 world's latent release
    host: str = "127.0.0.1"
    port: int = 7860
    queue_size: int = 16
    concurrency: int = 1
    preview_interval: float = 0.1
    cache_examples: str = "lazy"
    precision: str = "auto"  # vidgen.precision: timed on this machine at start-up unless forced
    compile: bool = True  # main(): compile the default model in the background, used if faster (vidgen.compiled)

    def checkpoint_path(self, model: str):
        """The directory served as shipped model `model`: the command line's, the environment's or the shipped one."""
        return served_directory(model, getattr(self, shipped_model(model).option))


def build_parser() -> argparse.ArgumentParser:
    """The command line; --host/--port default to Gradio's own GRADIO_SERVER_NAME/PORT variables."""
    p = argparse.ArgumentParser(description="vidgen web app (Gradio)")
    for model in SHIPPED_MODELS.values():
        p.add_argument(f"--{model.option.replace('_', '-')}", default=None,
                       help=f"run or release directory to serve as {model.name!r} (default: ${model.env}, "
                            f"else {model.directory.parent.name}/{model.directory.name})")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to listen on; 0.0.0.0 for a Space or a container (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                   help="port (default: $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--queue-size", type=int, default=16, help="requests that may wait; more get a 'queue is full' answer")
    p.add_argument("--concurrency", type=int, default=1, help="generations that run at once (they share the CPU)")
    p.add_argument("--preview-interval", type=float, default=0.1, help="seconds between streamed previews")
    p.add_argument("--cache-examples", choices=("lazy", "eager", "off"), default="lazy",
                   help="lazy: an example's result is cached on first use; eager: all at start-up")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: time fp32 and bf16 on this machine at start-up and keep the faster (default); or force one")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="do not compile the default model in the background at start-up (by default it is, and sampling "
                        "switches to the compiled network once it is checked and measured faster)")
    return p


def parse_args(argv=None) -> Settings:
    """`python app.py ...` read into Settings, with the checks argparse cannot make."""
    p = build_parser()
    ns = p.parse_args(argv)
    if ns.queue_size < 1 or ns.concurrency < 1 or ns.preview_interval < 0:
        p.error("--queue-size and --concurrency must be >= 1 and --preview-interval >= 0")
    return Settings(**vars(ns))
