"""A video autoencoder with a diagonal-Gaussian latent (Kingma & Welling; Stable Diffusion's KL-VAE), in two kinds
(VAEConfig.kind): per frame, or temporal causal 3D (vidgen.latent.causal_conv).

Videos are (B, T, H, W) in [-1, 1] (vidgen.data.shape); latents (B, C, T', H', W'). A causal VAE codes the video
with one copy of its first frame in front, so that T = 16 frames become 1 + 16 = 17 and, halved twice in time,
1 + 4 = 5 latent frames: the first latent frame reads frame 0 alone (as an image would be coded), latent frame j
frames 4j-4 .. 4j-1 and nothing later. Its decoder gives the 17 frames back and the copy in front is dropped.

For diffusion a latent is used normalised (`to_latent` / `from_latent`): the posterior mean, less each channel's
mean, over its standard deviation, both measured on the world's videos when the VAE is released (Stable
Diffusion's scale factor, per channel).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .causal_conv import Downsample, FrameConv, FrameNorm, ResBlock, Upsample
from .config import VAEConfig

LOGVAR_RANGE = (-30.0, 20.0)  # the posterior's log-variance is clamped here (as Stable Diffusion's is)


class Encoder(nn.Module):
    """(B, 1, T, H, W) -> (B, 2C, T', H', W'): the posterior's mean and log-variance."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        w, causal = cfg.widths, cfg.causal
        self.conv_in = FrameConv(1, w[0])
        layers: list[nn.Module] = [ResBlock(w[0], w[0], causal)]
        for i in range(cfg.space_downs):
            layers += [Downsample(w[i], w[i + 1], causal, time=i < cfg.time_downs), ResBlock(w[i + 1], w[i + 1], causal)]
        layers.append(ResBlock(w[-1], w[-1], causal))
        self.layers = nn.Sequential(*layers)
        self.norm_out = FrameNorm(w[-1])
        self.conv_out = FrameConv(w[-1], 2 * cfg.latent_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(self.conv_in(x))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """(B, C, T', H', W') -> (B, 1, T, H, W)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        w, causal = cfg.widths[::-1], cfg.causal
        self.conv_in = FrameConv(cfg.latent_channels, w[0])
        layers: list[nn.Module] = [ResBlock(w[0], w[0], causal), ResBlock(w[0], w[0], causal)]
        for i in range(cfg.space_downs):
            time = cfg.space_downs - 1 - i < cfg.time_downs  # undo the encoder's steps in reverse order
            layers += [Upsample(w[i], w[i + 1], causal, time=time), ResBlock(w[i + 1], w[i + 1], causal)]
        self.layers = nn.Sequential(*layers)
        self.norm_out = FrameNorm(w[-1])
        self.conv_out = FrameConv(w[-1], 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.layers(self.conv_in(z))
        return self.conv_out(F.silu(self.norm_out(h)))


class VideoVAE(nn.Module):
    """encode(video) -> (mean, logvar); decode(latent) -> video; to_latent / from_latent for diffusion."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        c = cfg.latent_channels
        self.register_buffer("latent_mean", torch.zeros(c))  # per channel, measured at release (`measure_latents`)
        self.register_buffer("latent_std", torch.ones(c))

    def _check(self, video: torch.Tensor) -> None:
        cfg = self.cfg
        if video.ndim != 4 or tuple(video.shape[1:]) != (cfg.frames, cfg.height, cfg.width):
            raise ValueError(f"this VAE codes videos (B, {cfg.frames}, {cfg.height}, {cfg.width}), got {tuple(video.shape)}")

    def padded(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W) -> (B, 1, T0, H, W), T0 = T + 1 for a causal VAE (frame 0 repeated in front) else T."""
        x = rearrange(video, "b t h w -> b 1 t h w")
        return torch.cat([x[:, :, :1], x], dim=2) if self.cfg.causal else x

    def encode(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, H, W) in [-1, 1] -> the posterior's mean and log-variance, each (B, C, T', H', W')."""
        self._check(video)
        mean, logvar = self.encoder(self.padded(video)).chunk(2, dim=1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def decode_padded(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, T', H', W') -> (B, T0, H, W): every frame the decoder makes, a causal VAE's copy in front included."""
        return rearrange(self.decoder(z), "b 1 t h w -> b t h w")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, T', H', W') -> the video (B, T, H, W), not clamped."""
        x = self.decode_padded(z)
        return x[:, 1:] if self.cfg.causal else x

    def forward(self, video: torch.Tensor, generator: torch.Generator | None = None):
        """-> (every decoded frame (B, T0, H, W) from a posterior sample, mean, logvar) for training."""
        mean, logvar = self.encode(video)
        eps = torch.randn(mean.shape, generator=generator).to(mean)
        return self.decode_padded(mean + torch.exp(0.5 * logvar) * eps), mean, logvar

    # -- the latent diffusion sees -----------------------------------------------------------------
    def _per_channel(self, v: torch.Tensor) -> torch.Tensor:
        return v[None, :, None, None, None]

    @torch.no_grad()
    def to_latent(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W) -> the normalised posterior mean (B, C, T', H', W'), about unit variance per channel."""
        mean, _ = self.encode(video)
        return (mean - self._per_channel(self.latent_mean)) / self._per_channel(self.latent_std)

    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        """A normalised latent (B, C, T', H', W') -> the video (B, T, H, W), not clamped."""
        return self.decode(z * self._per_channel(self.latent_std) + self._per_channel(self.latent_mean))

    @torch.no_grad()
    def measure_latents(self, videos: torch.Tensor, batch: int = 16) -> None:
        """Set latent_mean and latent_std from the posterior means of videos (B, T, H, W), `batch` at a time."""
        mean = torch.cat([self.encode(v)[0] for v in videos.split(batch)])  # (B, C, T', H', W')
        per_channel = rearrange(mean, "b c t h w -> c (b t h w)")
        self.latent_mean.copy_(per_channel.mean(dim=1))
        self.latent_std.copy_(per_channel.std(dim=1).clamp_min(1e-6))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
