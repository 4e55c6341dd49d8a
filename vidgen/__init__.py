"""vidgen: a hands-on text-to-video diffusion lab that trains and runs on a laptop CPU."""
from .data.render import render_video
from .pipeline import Pipeline, load_pipeline

__all__ = ["Pipeline", "load_pipeline", "render_video"]
__version__ = "0.1.0"
