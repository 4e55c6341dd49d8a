"""The registry of denoiser variants, all behind the VideoDenoiser interface."""
from __future__ import annotations

from ..config import ModelConfig
from .base import VideoDenoiser
from .full import FullDiT

VARIANTS: dict[str, type[VideoDenoiser]] = {
    "full": FullDiT,
}


def build_model(cfg: ModelConfig) -> VideoDenoiser:
    """Instantiate the variant named by cfg.variant; unknown names raise with the known ones."""
    if cfg.variant not in VARIANTS:
        raise ValueError(f"unknown model variant {cfg.variant!r}; known variants: {', '.join(VARIANTS)}")
    return VARIANTS[cfg.variant](cfg)


__all__ = ["VARIANTS", "VideoDenoiser", "build_model"]
