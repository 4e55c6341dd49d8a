"""The pictures of docs/latent.md's autoencoder section, drawn from the VAE reports and the VAEs themselves."""
from __future__ import annotations

import numpy as np
import torch

from ..data.render import to_model_space, to_uint8
from ..data.video_io import frames_grid


def frame_profile_figure(reports: dict[str, dict], split: str = "val"):
    """matplotlib Figure: PSNR by frame index and warping error by frame pair, one line per VAE (`reports`: name ->
    vae_report JSON): where a per-frame VAE's frames disagree with each other, and where a causal VAE's groups meet."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, rep in reports.items():
        row = rep["splits"][split]
        left.plot(range(len(row["psnr_by_frame_db"])), row["psnr_by_frame_db"], "o-", ms=3, label=name)
        right.plot(range(len(row["warping_error_by_pair"])), [255**2 * e for e in row["warping_error_by_pair"]], "o-", ms=3,
                   label=name)
    left.set(xlabel="frame", ylabel="PSNR (dB)", title=f"reconstruction PSNR by frame ({split})")
    right.set(xlabel="frame pair f -> f+1", ylabel="warping error (MSE, 0..255 units)",
              title="warping error with the true motion (the truth: 0)")
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def reconstruction_strip(video: np.ndarray, vaes: dict, scale: int = 3) -> np.ndarray:
    """uint8 picture, frames as rows: the true video (T, H, W) in the first column, each VAE's reconstruction beside it,
    then each one's absolute error (x4), in the order of `vaes` (name -> VideoVAE)."""
    rows, errors = [video], []
    with torch.no_grad():
        for vae in vaes.values():
            x = to_model_space(video)[None]
            recon = to_uint8(vae.decode(vae.encode(x)[0]))[0]
            rows.append(recon)
            errors.append(np.clip(4 * np.abs(recon.astype(np.int16) - video.astype(np.int16)), 0, 255).astype(np.uint8))
    return frames_grid(rows + errors, scale=scale)
