"""What a video autoencoder is trained to minimise.

Pixels are L1 (sharper than L2 on the 1-2 px strokes of this world: L2 is content with a gray halo), plus L1 on the
differences between neighbouring pixels across and down, which is only small when every edge of a stroke lands
where the truth's does (a stroke blurred over 3 px costs little L1 but halves its edge); plus Stable Diffusion's KL
to N(0, I), weighted low, which keeps the posterior's variance from collapsing and the latent's scale bounded.
"""
from __future__ import annotations

import torch

KL_WEIGHT = 1e-4  # per latent element against per-pixel errors in [-1, 1] units
EDGE_WEIGHT = 1.0


def edge_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |difference| of the horizontal and vertical pixel differences of videos (..., H, W)."""
    dx = lambda v: v[..., :, 1:] - v[..., :, :-1]  # noqa: E731  (..., H, W-1)
    dy = lambda v: v[..., 1:, :] - v[..., :-1, :]  # noqa: E731  (..., H-1, W)
    return 0.5 * ((dx(pred) - dx(target)).abs().mean() + (dy(pred) - dy(target)).abs().mean())


def kl_to_standard(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) averaged over latent elements."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def vae_loss(decoded: torch.Tensor, target: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
    """decoded and target (B, T0, H, W), the posterior (B, C, T', H', W') -> {"loss", "l1", "edge", "kl"}."""
    l1 = (decoded - target).abs().mean()
    edge = edge_l1(decoded, target)
    kl = kl_to_standard(mean, logvar)
    return {"loss": l1 + EDGE_WEIGHT * edge + KL_WEIGHT * kl, "l1": l1, "edge": edge, "kl": kl}
