"""The registry of denoiser variants, all behind the VideoDenoiser interface.

A variant is one file holding its class and one line in VARIANTS below. The class declares what
the code around it needs to know (VideoDenoiser's "what the variant declares" section: its attention
calls for the cost model, its token-wide attention layers for attention supervision and the probes,
the presets the comparison trains and how its report reads them); tests/test_variant_conformance.py
runs every registered one through the same checks. Nothing outside this file lists variant names.
"""
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


def variant_class(name: str) -> type[VideoDenoiser]:
    """The class registered as `name`; unknown names raise with the known ones."""
    if name not in VARIANTS:
        raise ValueError(f"unknown model variant {name!r}; known variants: {', '.join(VARIANTS)}")
    return VARIANTS[name]


def variants_with_attention(kind: str) -> list[str]:
    """The variants whose blocks have attention layers of `kind` ("cross", "self") over every space-time token."""
    return [name for name, cls in VARIANTS.items() if kind in cls.ATTENTION_MAPS]


def compared_variants() -> tuple[str, ...]:
    """What `python -m vidgen compare` trains by default, in registry order: every variant, and after
    it the siblings its class names (`latte-between`, `latte-both`)."""
    return tuple(name + suffix for name, cls in VARIANTS.items() for suffix in cls.COMPARED)


def compared_variant_class(name: str) -> type[VideoDenoiser]:
    """The class of a name `compared_variants()` lists (`latte-between`: Latte), matched whole as a registered
    name plus one of its class's COMPARED suffixes; other names raise with that list."""
    for variant, cls in VARIANTS.items():
        if name in (variant + suffix for suffix in cls.COMPARED):
            return cls
    raise ValueError(f"unknown model variant {name!r}; known variants: {', '.join(compared_variants())}")


def build_model(cfg: ModelConfig) -> VideoDenoiser:
    """Instantiate the variant named by cfg.variant; unknown names raise with the known ones."""
    cls = variant_class(cfg.variant)
    if cfg.temporal != "full" and not cls.PER_FRAME_TIME:
        raise ValueError(f"temporal={cfg.temporal!r} needs a variant that takes a timestep per frame; {cfg.variant!r} does not")
    if cfg.latent and not cls.LATENT:
        latent = ", ".join(name for name, c in VARIANTS.items() if c.LATENT)
        raise ValueError(f"variant {cfg.variant!r} denoises pixels only; a latent model (channels, cell) is one of: {latent}")
    model = cls(cfg)
    if cfg.qk_norm:
        model.enable_qk_norm()
    return model


__all__ = ["VARIANTS", "VideoDenoiser", "build_model", "compared_variant_class", "compared_variants", "variant_class",
           "variants_with_attention"]
