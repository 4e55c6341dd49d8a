"""The blog's interface in the motion world (ModelConfig.layout = "learned2d"): prompt tokens in, and the
model works out both what the glyph layout is and where the text goes.

As in the scroll world (vidgen.models.aligner), a small predictor reads the prompt tokens and says how
wide each glyph is (its pen advance, kerning with the next glyph included), now at any font size (an
advance at FONT_SIZE scaled by size / FONT_SIZE) together with the strip's height at that size. Where the
text goes is not a function of the prompt any more: a learned motion prior (vidgen.models.motion_prior)
draws a motion for it, so different seeds give different motions; a motion the user gives replaces the
draw. A learned sampler is never exact to the pixel, and the world's motions often keep a glyph whole in
just two frames, so the prior draws CANDIDATES motions and the model keeps the first whose glyphs, by its
own predicted boxes (advances across, ink rows down, also learned), are all seen whole twice. The 2D
glyph layout then follows from the widths and the motion exactly as the renderer lays it out
(vidgen.data.layout2d) and the denoiser reads it as a "glyph2d" model does. Training teaches the widths
and the prior on the renderer's free labels and feeds the denoiser the true layout (teacher forcing).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import tokenizer as tok
from ..data.layout import EMPTY, FONT_SIZE, TEXT_X, ids_to_text, pen_starts
from ..data.layout2d import strip_columns
from ..data.world import MIN_VISIBLE_FRAMES, font_at
from .motion_prior import MotionPrior

INK_CENTRE = 13.0  # pixels: the middle of the capitals' rows at FONT_SIZE (5-21), where the ink head starts
CANDIDATES = 32  # motions the prior draws at a time for each prompt still without one that shows every glyph
ROUNDS = 8  # at most this many draws of CANDIDATES: a 6-symbol prompt's draws pass 2-8% of the time, so 16 draws
# in all kept the invariant in 95.3% of the variety run's picks (docs/world.md)
ROUND_SEED_STRIDE = 2**32  # round r draws with seed + r * stride
SHOWN_MARGIN = 1.0  # pixels: a glyph counts as shown when its predicted box clears the frame's edge by this much
# (the boxes are predicted, 0.2 px off on average)


class LayoutPredictor2D(nn.Module):
    """Prompt ids (B, L) -> glyph advances and strip height at any size, and a motion prior."""

    SCALE = 10.0  # pixels: the heads work in tens of pixels
    LR_SCALE = 10.0  # learning rate relative to the denoiser's (a small regression that must end sub-pixel exact)

    def __init__(self, vocab_size: int, dim: int, frames: int, height: int, width: int):
        super().__init__()
        self.height, self.width = height, width
        self.embed = nn.Embedding(vocab_size, dim)
        self.context = nn.Conv1d(dim, dim, 3, padding=1)
        self.advance_head = nn.Linear(dim, 1)
        self.ink_head = nn.Linear(dim, 2)  # each glyph's ink rows [top, bottom) at FONT_SIZE (a Q's tail goes lower)
        self.strip_height = nn.Linear(1, 1)  # the strip's rows at font size s: a + b s, learned
        self.prior = MotionPrior(frames)
        nn.init.normal_(self.embed.weight, std=0.02)

    @staticmethod
    def _real(ids: torch.Tensor) -> torch.Tensor:
        """(B, L) bool: slots holding a glyph; none for the null prompt."""
        has_text = ~(ids == tok.NULL_ID).any(dim=1, keepdim=True)
        return (ids != tok.PAD_ID) & has_text

    def _features(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L, E) float32: each slot's symbol in the context of its neighbours (kerning)."""
        h = self.embed(ids).float()  # (B, L, E)
        return h + F.gelu(self.context(h.transpose(1, 2))).transpose(1, 2)

    def ink_rows(self, ids: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """Predicted ink rows [top, bottom) of each slot's glyph in strip pixels at font size `size` (B,): (B, L, 2)."""
        with torch.autocast(ids.device.type, enabled=False):
            rows = self.ink_head(self._features(ids)) * self.SCALE + INK_CENTRE  # (B, L, 2) at FONT_SIZE
            return rows * (size.float()[:, None, None] / FONT_SIZE)

    def advances(self, ids: torch.Tensor, size: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted pen advance of each slot's glyph (B, L) float32 pixels at font size `size` (B,) (FONT_SIZE
        if None), 0 where no glyph is. Always float32 (a bf16 width moves glyph edges by a column)."""
        with torch.autocast(ids.device.type, enabled=False):
            adv = F.softplus(self.advance_head(self._features(ids)).squeeze(-1)) * self.SCALE  # (B, L) at FONT_SIZE
            if size is not None:
                adv = adv * (size.float()[:, None] / FONT_SIZE)
            return adv * self._real(ids)

    def heights(self, size: torch.Tensor) -> torch.Tensor:
        """(B,) strip height in pixels at font size `size` (B,), predicted, float32."""
        with torch.autocast(size.device.type, enabled=False):
            return self.strip_height(size.float()[:, None] / FONT_SIZE).squeeze(-1) * self.SCALE * 3

    def prior_condition(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, 2) what the motion prior reads: the predicted width at FONT_SIZE and the number of glyphs."""
        return self.prior.condition(self.advances(ids).detach().sum(1), self._real(ids).sum(1).float())

    @torch.no_grad()
    def glyphs_shown(self, ids: torch.Tensor, motion: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
        """In how many frames each slot's glyph is wholly on screen, `margin` pixels inside the frame's edges,
        along motion (B, T, 3), by the predicted boxes (pen advance across, ink rows down): (B, L) int, a
        large number where no glyph is."""
        size = motion[:, 0, 2].float()
        adv = self.advances(ids, size)  # (B, L)
        left = TEXT_X + torch.cumsum(adv, dim=1) - adv  # (B, L)
        rows = self.ink_rows(ids, size)  # (B, L, 2)
        xs, ys = motion[..., 0].float()[:, :, None], motion[..., 1].float()[:, :, None]  # (B, T, 1)
        inside = ((xs + left[:, None] >= margin) & (xs + (left + adv)[:, None] <= self.width - margin)
                  & (ys + rows[:, None, :, 0] >= margin) & (ys + rows[:, None, :, 1] <= self.height - margin))  # (B, T, L)
        return torch.where(self._real(ids), inside.sum(1), motion.shape[1] + 1)

    @torch.no_grad()
    def sample_motion(self, ids: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """A motion (B, T, 3) for each prompt, drawn from the learned prior by `seed`: the first draw whose
        predicted glyph boxes are all wholly on screen (SHOWN_MARGIN inside the edges) in MIN_VISIBLE_FRAMES
        frames (the world's invariant judged by the model's own layout: the world redraws its own draws by
        the same rule). Draws come CANDIDATES at a time, for the prompts still without one, for up to ROUNDS
        rounds; a prompt none of whose draws passes gets the one that shows its least-seen glyph most."""
        b = ids.shape[0]
        best = torch.full((b,), -1, dtype=torch.long, device=ids.device)  # the chosen draw's score
        chosen = torch.zeros(b, self.prior.frames, 3, dtype=torch.long, device=ids.device)
        order = torch.arange(CANDIDATES, 0, -1, device=ids.device)  # earlier draws first
        for r in range(ROUNDS):
            todo = (best < 1000).nonzero().flatten()  # (N,) prompts without a passing draw
            if not len(todo):
                break
            many = ids[todo].repeat_interleave(CANDIDATES, dim=0)  # (N*K, L)
            drawn = self.prior.sample(self.prior_condition(many), int(seed) + r * ROUND_SEED_STRIDE)  # (N*K, T, 3)
            least = self.glyphs_shown(many, drawn, SHOWN_MARGIN).min(dim=1).values.view(len(todo), CANDIDATES)  # (N, K)
            score = torch.where(least >= MIN_VISIBLE_FRAMES, 1000 + order, least.clamp(max=MIN_VISIBLE_FRAMES - 1) * 100 + order)
            top, pick = score.max(dim=1)  # (N,)
            better = top > best[todo]
            rows = todo[better]
            best[rows] = top[better]
            chosen[rows] = drawn.view(len(todo), CANDIDATES, *drawn.shape[1:])[better.nonzero().flatten(), pick[better]]
        return chosen

    def loss(self, ids: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Squared errors (in tens of pixels) of the advances, ink rows and strip heights at each sample's size
        against the renderer's, plus the prior's flow-matching loss on the batch's motions (B, T, 3); prompts with text."""
        real = self._real(ids)
        has_text = real.any(1)
        if not has_text.any():
            return torch.zeros((), device=ids.device)
        size = motion[:, 0, 2]
        adv_t = torch.zeros(ids.shape, dtype=torch.float32)
        ink_t = torch.zeros(*ids.shape, 2)
        height_t = torch.zeros(ids.shape[0])
        for b, row in enumerate(ids.detach().cpu().numpy()):
            text = ids_to_text(row)
            if text:
                s = int(size[b])
                where = torch.from_numpy((row != tok.PAD_ID).nonzero()[0])
                adv_t[b, where] = torch.from_numpy(pen_starts(text, font_at(s))).diff().float()
                ink_t[b, where] = torch.tensor([font_at(s).getbbox(ch)[1::2] if ch != "?" else (0, 0) for ch in text]).float()
                height_t[b] = strip_columns(text, s)[2]
        adv_t, ink_t, height_t = adv_t.to(ids.device), ink_t.to(ids.device), height_t.to(ids.device)
        adv_err = ((self.advances(ids, size) - adv_t) / self.SCALE)[real].pow(2).mean()
        ink_err = ((self.ink_rows(ids, size) - ink_t) / self.SCALE)[real].pow(2).mean()
        height_err = ((self.heights(size) - height_t) / self.SCALE)[has_text].pow(2).mean()
        return adv_err + ink_err + height_err + self.prior_loss(ids, motion)

    def prior_loss(self, ids: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """The motion prior's flow-matching loss on motions (B, T, 3) of prompts ids (B, L) (those with text)."""
        has_text = self._real(ids).any(1)
        if not has_text.any():
            return torch.zeros((), device=ids.device)
        return self.prior.loss(motion[has_text], self.prior_condition(ids)[has_text])

    def optimizer_groups(self) -> list[dict]:
        """The width heads learn at LR_SCALE times the denoiser's rate (they must end sub-pixel exact); the
        motion prior, a plain MLP, at the denoiser's rate."""
        prior = {id(p) for p in self.prior.parameters()}
        return [{"params": [p for p in self.parameters() if id(p) not in prior], "lr_scale": self.LR_SCALE},
                {"params": list(self.prior.parameters()), "lr_scale": 1.0}]

    @torch.no_grad()
    def layout(self, ids: torch.Tensor, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids (B, L) moving along motion (B, T, 3) -> (symbol (B, T, H, W) int64, PAD where no glyph
        is; uv (B, T, H, W, 2) float32 in-glyph coordinates in FONT_SIZE pixels), as
        `vidgen.data.layout2d.layout_batch_2d` gives them, from the predicted widths and height (`slots`)."""
        slot, uv = self.slots(ids, motion)
        symbol = ids.gather(1, slot.clamp_min(0).flatten(1)).view_as(slot)  # (B, T, H, W)
        return torch.where(slot == EMPTY, tok.PAD_ID, symbol), uv

    @torch.no_grad()
    def slots(self, ids: torch.Tensor, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids (B, L) moving along motion (B, T, 3) -> (slot (B, T, H, W) int64: the prompt slot of
        the glyph covering each pixel, EMPTY where none does; uv (B, T, H, W, 2) float32), predicted.

        Geometry as the renderer's: glyph i begins at TEXT_X + the advances before it; the spans touch, the
        first opening at 0 and the last closing at the strip width ceil(sum of advances) + 2 TEXT_X; rows
        [0, height) of the strip; the strip's corner at (x_f, y_f) in frame f."""
        real = self._real(ids)  # (B, L)
        size = motion[:, 0, 2].float()  # (B,)
        adv = self.advances(ids, size)  # (B, L)
        starts = TEXT_X + torch.cumsum(adv, dim=1) - adv  # (B, L)
        strip = torch.where(real.any(1), torch.ceil(adv.sum(1) - 1e-4) + 2 * TEXT_X, torch.zeros_like(size))  # (B,)
        rows_in_strip = torch.round(self.heights(size))  # (B,)
        xs, ys = motion[..., 0].float(), motion[..., 1].float()  # (B, T)
        u = torch.arange(self.width, device=ids.device) + 0.5 - xs[:, :, None]  # (B, T, W) strip x of each column centre
        r = torch.arange(self.height, device=ids.device) - ys[:, :, None]  # (B, T, H) strip row of each screen row
        in_cols = (u >= 0) & (u < strip[:, None, None])
        in_rows = (r >= 0) & (r < rows_in_strip[:, None, None])
        later = (starts[:, None, None, 1:] <= u[..., None]) & real[:, None, None, 1:]  # (B, T, W, L-1)
        slot = later.sum(-1)  # (B, T, W)
        scale = (FONT_SIZE / size)[:, None, None]  # (B, 1, 1)
        across = (u - starts.gather(1, slot.flatten(1)).view_as(slot)) * scale  # (B, T, W)
        down = (r + 0.5) * scale  # (B, T, H)
        covered = in_rows[..., None] & in_cols[:, :, None, :]  # (B, T, H, W)
        uv = torch.stack([across[:, :, None, :].expand_as(covered), down[..., None].expand_as(covered)], dim=-1)
        slot = torch.where(covered, slot[:, :, None, :].expand_as(covered), EMPTY)
        return slot, torch.where(covered[..., None], uv, torch.zeros_like(uv)).float()

