"""A VAE on disk: `vae.safetensors` (weights and the latent's statistics) beside a config.json whose "vae" section is
its VAEConfig. A VAE release holds these two files; a latent model's release holds them beside its denoiser's, so it
loads with the autoencoder it was trained with."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoint as ckpt
from ..checkpoint import VAE_NAME
from ..jsonconfig import config_from_dict, to_dict
from .config import VAEConfig
from .vae import VideoVAE

__all__ = ["VAE_NAME", "check_vae", "load_vae", "read_vae", "vae_config", "vae_files", "vae_section"]


def vae_config(raw: dict, source) -> VAEConfig:
    """The VAEConfig of a config.json read as `raw`; a missing or malformed section raises CheckpointError."""
    if "vae" not in raw:
        raise ckpt.CheckpointError(f"{source} has no 'vae' section")
    try:
        return config_from_dict(VAEConfig, raw["vae"], "vae")
    except ValueError as e:
        raise ckpt.CheckpointError(f"{source}: {e}") from e


def read_vae(d: Path, raw: dict) -> VideoVAE:
    """The VAE of directory d whose config.json was read as raw, in eval mode, its convolution weights channels-last
    (oneDNN then skips a reorder in every convolution; tests/test_latent.py checks it decodes as the standard layout
    does, to 1e-5); CheckpointError if absent or broken."""
    d = Path(d)
    cfg = vae_config(raw, d / ckpt.CONFIG_NAME)
    if not (d / VAE_NAME).is_file():
        raise ckpt.CheckpointError(f"{d} lacks its VAE's weights {VAE_NAME}")
    vae = VideoVAE(cfg)
    ckpt.load_state_into(vae, ckpt.load_tensors(d / VAE_NAME), d / VAE_NAME)
    return vae.to(memory_format=torch.channels_last).eval().requires_grad_(False)


def load_vae(path) -> tuple[VideoVAE, dict]:
    """A VAE release (or a latent model's release) directory -> (VideoVAE in eval mode, its raw config.json)."""
    d = ckpt.resolve_dir(path)
    ckpt.finish_interrupted_write(d)
    raw = ckpt.read_json(d / ckpt.CONFIG_NAME)
    return read_vae(d, raw), raw


def vae_files(vae: VideoVAE) -> dict[str, bytes]:
    """The weights file of a VAE, for ckpt.write_set (its config goes in the caller's config.json as "vae")."""
    return {VAE_NAME: ckpt.tensor_bytes(vae.state_dict(), metadata={"format": "vidgen-vae-1"})}


def vae_section(vae: VideoVAE) -> dict:
    """What a config.json holds of a VAE: {"vae": its VAEConfig}."""
    return {"vae": to_dict(vae.cfg)}


def check_vae(cfg, vae, scale: int = 1):
    """The VAE a model of config `cfg` decodes with, in a world of `scale` (WorldConfig.scale): None for a pixel model;
    for a latent model one whose latent has the model's shape and whose cells span cell * scale video pixels, else
    ckpt.CheckpointError saying what is missing or which shapes differ."""
    if not cfg.latent:
        if vae is not None:
            raise ckpt.CheckpointError("a pixel model takes no VAE")
        return None
    if vae is None:
        raise ckpt.CheckpointError(f"a latent model (channels {cfg.channels}, cell {cfg.cell}) needs its VAE, and none was given")
    want = (cfg.channels, cfg.frames, cfg.height, cfg.width)
    if tuple(vae.cfg.latent_shape) != want or vae.cfg.space_factor != cfg.cell * scale:
        raise ckpt.CheckpointError(f"the VAE codes latents {tuple(vae.cfg.latent_shape)} at {vae.cfg.space_factor} px a cell; the model "
                                   f"denoises {want} at {cfg.cell * scale} px a cell")
    return vae.eval()
