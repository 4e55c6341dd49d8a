"""Seed 004's temporal loss, in a form this world can differentiate.

Seed 004 (Act III, "The Loss Function (Temporal Coherence)") adds to the denoising loss a term that "penalizes
large, random changes between adjacent frames":

    L_total = L_noise + lambda * || Flow(x_hat_t) - Flow(x_hat_{t-1}) ||^2

where x_hat_t is frame t of the predicted clean video. Taken literally it asks the flow to stay the same from
one frame pair to the next, which is wrong here: the motion world's paths arc, bounce, zigzag and stop and go,
so the true flow changes, and a term pulling it towards constant would teach the model to smooth the motions it
is told. What the seed wants to punish is change between frames that the truth does not have. Optical flow of a
predicted video is also not differentiable in any cheap way (the repo's own measure, the tracker, is an integer
shift search). The stand-in, `temporal_loss`:

    L_temporal = mean_f w_f * mean_p ( (x_hat_{f+1} - x_hat_f)(p) - (x0_{f+1} - x0_f)(p) )^2

the squared error of the predicted clean video's frame-to-frame change against the true video's. Why this:
- It is the flow term linearised: by brightness constancy x_{f+1} - x_f ~ -grad(x_f) . v_f, so where the text
  has edges a wrong flow v_f shows as a wrong frame difference, and the difference needs no flow estimate.
- Against the truth, not against the neighbouring pair: a true bounce or pause costs nothing.
- With e = x_hat - x0 it is mean_f ||e_{f+1} - e_f||^2: an error shared by neighbouring frames (a steady
  offset, a slightly wrong glyph drawn the same way in every frame) costs nothing, an error that changes from
  frame to frame (flicker, a glyph that tears, a frame out of place) costs up to 4 times its squared size. It
  re-weights the denoising loss towards the temporal part of the error, which the plain MSE does not single out.

Layouts: videos (B, T, H, W) in model space ([-1, 1]); weight (B,) per sample (the denoising loss's, e.g.
min-SNR) or (B, T) per frame (a model with a timestep per frame), a pair weighted by the mean of its two frames'.
"""
from __future__ import annotations

import torch


def temporal_loss(pred_x0: torch.Tensor, x0: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample temporal loss (B,): the mean over frame pairs of the weighted mean squared error between the
    predicted and the true frame-to-frame change (see the module's docstring). weight: (B,), (B, T) or None (1)."""
    if pred_x0.shape != x0.shape or pred_x0.ndim != 4 or pred_x0.shape[1] < 2:
        raise ValueError(f"need pred_x0 and x0 of one shape (B, T >= 2, H, W), got {tuple(pred_x0.shape)} and "
                         f"{tuple(x0.shape)}")
    b, t = x0.shape[:2]
    if weight is None:
        weight = torch.ones(b, device=x0.device)
    if weight.shape == (b,):
        pair_weight = weight.float()[:, None]  # (B, 1): every pair of a sample alike
    elif weight.shape == (b, t):
        pair_weight = 0.5 * (weight[:, 1:] + weight[:, :-1]).float()  # (B, T-1): a pair between its frames' weights
    else:
        raise ValueError(f"weight must be (B,) = ({b},) or (B, T) = ({b}, {t}), got {tuple(weight.shape)}")
    pred_change = pred_x0[:, 1:].float() - pred_x0[:, :-1].float()  # (B, T-1, H, W)
    true_change = x0[:, 1:].float() - x0[:, :-1].float()  # (B, T-1, H, W)
    pair_error = (pred_change - true_change).pow(2).mean(dim=(2, 3))  # (B, T-1)
    return (pair_weight * pair_error).mean(dim=1)  # (B,)
