"""The registry of denoiser variants, all behind the VideoDenoiser interface."""
from __future__ import annotations

from .base import VideoDenoiser
from .config import ModelConfig
from .conv3d import Conv3dUNet
from .full import FullDiT
from .gentron import GenTron
from .latte import Latte
from .snapvideo import SnapVideo

VARIANTS: dict[str, type[VideoDenoiser]] = {
    "full": FullDiT,  # joint attention over all space-time tokens (the blog's)
    "gentron": GenTron,  # spatial attn, text cross-attn, temporal attn, MLP in one block
    "latte": Latte,  # separate spatial and temporal blocks, alternating
    "snapvideo": SnapVideo,  # latent tokens read, compute, write; latent self-conditioning
    "conv3d": Conv3dUNet,  # U-Net of factorised 1x3x3 + 3x1x1 convolutions
}


def build_model(cfg: ModelConfig) -> VideoDenoiser:
    """Instantiate the variant named by cfg.variant; unknown names raise with the known ones."""
    if cfg.variant not in VARIANTS:
        raise ValueError(f"unknown model variant {cfg.variant!r}; known variants: {', '.join(VARIANTS)}")
    model = VARIANTS[cfg.variant](cfg)
    if cfg.qk_norm:
        model.enable_qk_norm()
    return model


__all__ = ["VARIANTS", "VideoDenoiser", "build_model"]
