"""The autoencoder's shape: one dataclass for both kinds, stored as JSON beside the weights."""
from __future__ import annotations

from dataclasses import dataclass

from ..data.shape import FRAMES, HEIGHT, WIDTH

# VAEConfig.kind: "frame" codes each frame alone with 2D convolutions (Latte runs Stable Diffusion's VAE this way);
# "causal" is a temporal causal 3D VAE (CV-VAE, LTX-Video, Cosmos): convolutions see the current and earlier frames
# only, padded at the front alone, the first frame coded by itself, time compressed as well as space
VAE_KINDS = ("frame", "causal")


@dataclass(frozen=True)
class VAEConfig:
    """Shape of a video autoencoder. Every field is plain JSON."""

    kind: str = "frame"
    latent_channels: int = 4  # C of the latent (B, C, T', H', W')
    widths: tuple[int, ...] = (32, 64, 128)  # channels at each resolution; each step after the first halves H and W
    time_downs: int = 0  # "causal": how many of the spatial steps also halve time (the first frame alone: T frames
    # become 1 + T / 2^time_downs latent frames); "frame": 0
    frames: int = FRAMES  # T of the videos it codes
    height: int = HEIGHT
    width: int = WIDTH

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.kind not in VAE_KINDS:
            raise ValueError(f"unknown VAE kind {self.kind!r}; known: {', '.join(VAE_KINDS)}")
        if len(self.widths) < 2 or min(self.widths) < 1 or self.latent_channels < 1:
            raise ValueError(f"widths needs two or more positive entries and latent_channels >= 1, got {self.widths}, "
                             f"{self.latent_channels}")
        if self.kind == "frame" and self.time_downs:
            raise ValueError("a per-frame VAE ('frame') does not compress time: time_downs must be 0")
        if not 0 <= self.time_downs <= self.space_downs:
            raise ValueError(f"time_downs must be in [0, {self.space_downs}] (one per spatial step at most), got {self.time_downs}")
        f = self.space_factor
        if self.height % f or self.width % f:
            raise ValueError(f"{self.height}x{self.width} frames do not halve {self.space_downs} times")
        if self.frames % self.time_factor:
            raise ValueError(f"{self.frames} frames do not split into groups of {self.time_factor}")

    @property
    def space_downs(self) -> int:
        return len(self.widths) - 1

    @property
    def space_factor(self) -> int:
        """Pixels per latent cell across (and down)."""
        return 2 ** self.space_downs

    @property
    def time_factor(self) -> int:
        """Frames per latent frame, after the first (coded alone by a causal VAE)."""
        return 2 ** self.time_downs

    @property
    def causal(self) -> bool:
        return self.kind == "causal"

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        """(C, T', H', W') of one video's latent: a causal VAE codes one frame 0 ahead of the video (its first frame
        alone), then each group of time_factor frames."""
        t = 1 + self.frames // self.time_factor if self.causal else self.frames
        return self.latent_channels, t, self.height // self.space_factor, self.width // self.space_factor


# the autoencoders vidgen trains (`python -m vidgen train-vae --preset NAME`, each on the world of its frame size): space / 4
# with 4 channels a frame
# (16 frames x 8 x 8 x 4 = 4096 numbers for 16 x 32 x 32 = 16384 pixels), or space / 4 and time / 4 after the
# first frame with 8 channels (5 x 8 x 8 x 8 = 2560)
VAE_PRESETS: dict[str, VAEConfig] = {
    "frame": VAEConfig(kind="frame", latent_channels=4, widths=(16, 48, 96)),
    "causal": VAEConfig(kind="causal", latent_channels=8, widths=(16, 48, 96), time_downs=2),
    # the 64x64 world (WorldConfig.scale 2): space / 8 to the same 8 x 8 grid a frame, so a latent model of it has the
    # 32x32 release's tokens; its first level at 64x64 is half as wide as the 32x32 VAE's, at about the same cost
    "frame-64": VAEConfig(kind="frame", latent_channels=8, widths=(8, 24, 48, 96), height=2 * HEIGHT, width=2 * WIDTH),
}
