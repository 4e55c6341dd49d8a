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

A "placed" prior (ModelConfig.motion_prior) draws paths without a start; the model then places each path
as the world does (`vidgen.data.world.place`): uniformly among the integer starts at which every glyph's
ink box, predicted to the column (ink columns are learned too), is wholly inside the frame twice, and a
path with no such start is the one redrawn.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import tokenizer as tok
from ..data.layout import EMPTY, FONT_SIZE, TEXT_X, ids_to_text, pen_starts
from ..data.layout2d import strip_columns
from ..data.world import FONT_SIZES, MIN_VISIBLE_FRAMES, font_at
from .motion_prior import MotionPrior

INK_CENTRE = 13.0  # pixels: the middle of the capitals' rows at FONT_SIZE (5-21), where the ink head starts
CANDIDATES = 32  # motions the prior draws at a time for each prompt still without one that shows every glyph
ROUNDS = 24  # at most this many draws of CANDIDATES. The world's own draws, before it places them, pass for 2-15% of
# 6-8 symbol prompts (300 draws each of 8 long prompts: 2.3% the least); a prior that learns those draws needs the
# model to redraw as often as the world does: 768 draws miss at 2.3% with odds of 2e-8 (rounds stop at a pass)
SHOWN_MARGIN = 1.0  # pixels: a glyph counts as shown when its predicted box clears the frame's edge by this much
# (the boxes are predicted, 0.2 px off on average); "whole" priors only
PEN_SLACK = 0.1  # pixels: a predicted box edge (pen, ink column and the kerning shift) is up to 0.2 px off, so an edge just past a whole
# pixel is rounded outwards from this much inside it: a box grows by a pixel rather than hide a column of ink
INK_COLUMN_CENTRE = 6.0  # pixels: about the middle of a glyph's ink across at FONT_SIZE, where the column head starts


@functools.lru_cache(maxsize=4096)
def ink_target(ch: str, size: int, columns: bool) -> tuple[int, ...]:
    """The renderer's ink extent of one symbol at font `size`: rows (top, bottom), and with `columns` also
    (left, right) from its pen origin; zeros for a spare token ('?', drawn as nothing)."""
    box = font_at(size).getbbox(ch) if ch != "?" else (0, 0, 0, 0)  # (left, top, right, bottom)
    return (box[1], box[3], box[0], box[2]) if columns else (box[1], box[3])


@functools.lru_cache(maxsize=65536)
def box_pen_shift(text: str, size: int) -> np.ndarray:
    """(n,) float: where the world's glyph boxes (`glyph_boxes`: the prefix's length) put each glyph's pen, less
    where the layout does (`pen_starts`: the kerning of the pair before the glyph included), at font `size`."""
    f = font_at(size)
    world = np.array([f.getlength(text[:i]) if i else 0.0 for i in range(len(text))])
    return world - pen_starts(text, f)[:-1]


def round_seed(seed: int, r: int) -> int:
    """The prior's seed for redraw round r: `seed` itself for the first round, then a 32-bit seed of its own per
    (seed, r). torch's CPU generator keeps only a seed's low 32 bits, so the old seed + r * 2**32 drew the same
    CANDIDATES in every round and a redraw never found anything new."""
    return int(seed) if r == 0 else int(np.random.SeedSequence([int(seed), r]).generate_state(1)[0])


class LayoutPredictor2D(nn.Module):
    """Prompt ids (B, L) -> glyph advances and strip height at any size, and a motion prior."""

    SCALE = 10.0  # pixels: the heads work in tens of pixels
    LR_SCALE = 10.0  # learning rate relative to the denoiser's (a small regression that must end sub-pixel exact)

    def __init__(self, vocab_size: int, dim: int, frames: int, height: int, width: int, placed: bool = False,
                 pair_kerning: bool = False, gates: bool = False, shapes: int = 0, pair_boxes: bool = False):
        super().__init__()
        self.height, self.width = height, width
        self.placed = placed  # the prior draws paths and the model places them ("placed"), or whole motions
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, dim)
        self.context = nn.Conv1d(dim, dim, 3, padding=1)
        self.advance_head = nn.Linear(dim, 1)
        # a learned number per ordered symbol pair added to the first one's advance: the font's kerning table, which
        # a glyph's features mixed with its neighbours' (the convolution) only approximate (ModelConfig.pair_kerning)
        self.kerning = nn.Embedding(vocab_size * vocab_size, 1) if pair_kerning else None
        if self.kerning is not None:
            nn.init.zeros_(self.kerning.weight)
        # each glyph's ink rows [top, bottom) at FONT_SIZE (a Q's tail goes lower), and when placed its ink columns
        # [left, right) from its pen origin
        self.ink_head = nn.Linear(dim, 4 if placed else 2)
        # placed: a learned correction of each symbol's ink box at each font size (a font's boxes are whole pixels that
        # hinting rounds size by size, up to a pixel from the FONT_SIZE box scaled; placing needs them to the pixel)
        self.ink_table = nn.Embedding(vocab_size * len(FONT_SIZES), 4) if placed else None
        if self.ink_table is not None:
            nn.init.zeros_(self.ink_table.weight)
        # placed: a learned shift of each glyph's ink columns per ordered pair (the glyph ahead, this one): the world's
        # boxes measure from the pen before the pair's kerning, which the ink head's features only approximate
        self.box_shift = nn.Embedding(vocab_size * vocab_size, 1) if pair_boxes and placed else None
        if pair_boxes and not placed:
            raise ValueError("pair_boxes shifts the ink columns a placed prior's boxes have")
        if self.box_shift is not None:
            nn.init.zeros_(self.box_shift.weight)
        self.strip_height = nn.Linear(1, 1)  # the strip's rows at font size s: a + b s, learned
        self.prior = MotionPrior(frames, learns_start=not placed, gates=gates, shapes=shapes)
        nn.init.normal_(self.embed.weight, std=0.02)

    @staticmethod
    def _real(ids: torch.Tensor) -> torch.Tensor:
        """(B, L) bool: slots holding a glyph; none for the null prompt."""
        has_text = ~(ids == tok.NULL_ID).any(dim=1, keepdim=True)
        return (ids != tok.PAD_ID) & has_text

    def _features(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L, E) float32: each slot's symbol in the context of its neighbours (kerning)."""
        if self.kerning is None:  # the first predictors: a prompt filling every slot ends on the convolution's zeros
            h = self.embed(ids).float()  # (B, L, E)
            return h + F.gelu(self.context(h.transpose(1, 2))).transpose(1, 2)
        # a pair-kerning predictor sees a PAD after the last slot, in its table and here, so a prompt filling every
        # slot ends on the PAD its last glyph saw in training (the zeros put its eighth glyph 1.1-1.4 px off)
        h = self.embed(F.pad(ids, (0, 1), value=tok.PAD_ID)).float()  # (B, L+1, E)
        return (h + F.gelu(self.context(h.transpose(1, 2))).transpose(1, 2))[:, :-1]

    def ink_rows(self, ids: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """Predicted ink rows [top, bottom) of each slot's glyph in strip pixels at font size `size` (B,): (B, L, 2)."""
        with torch.autocast(ids.device.type, enabled=False):
            return self.ink_extents(ids, size)[..., :2]

    def ink_extents(self, ids: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """What the ink head predicts at font size `size` (B,), in pixels of that size: (B, L, 2) ink rows [top,
        bottom), or (B, L, 4) for a "placed" model, also the ink columns [left, right) from the glyph's layout pen
        (the world's boxes measure from the pen before the kerning of the pair ahead: `box_pen_shift`)."""
        with torch.autocast(ids.device.type, enabled=False):
            out = self.ink_head(self._features(ids)) * self.SCALE  # (B, L, 2 or 4)
            centre = torch.tensor([INK_CENTRE, INK_CENTRE, INK_COLUMN_CENTRE, INK_COLUMN_CENTRE][: out.shape[-1]], device=ids.device)
            extents = (out + centre) * (size.float()[:, None, None] / FONT_SIZE)
            if self.ink_table is not None:
                at = (size.long() - FONT_SIZES[0]).clamp(0, len(FONT_SIZES) - 1)[:, None]  # (B, 1)
                extents = extents + self.ink_table(ids * len(FONT_SIZES) + at) * self.SCALE
            if self.box_shift is not None:  # both columns, by the pair (the glyph ahead, this one), scaled with the size
                ahead = F.pad(ids[:, :-1], (1, 0), value=tok.PAD_ID)  # (B, L) the slot before's symbol (PAD before the first)
                shift = self.box_shift(ahead * self.vocab_size + ids) * self.SCALE * (size.float()[:, None, None] / FONT_SIZE)
                extents = extents + torch.cat([torch.zeros_like(extents[..., :2]), shift.expand(-1, -1, 2)], dim=-1)
            return extents

    def ink_boxes(self, ids: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """Predicted ink box [left, top, right, bottom) of each slot's glyph in strip pixels at font size `size`
        (B,), as the world's `glyph_boxes` lays them (the ink columns learned from the pen it uses), rows rounded to
        whole pixels and columns outwards: (B, L, 4) float32 ("placed" only)."""
        with torch.autocast(ids.device.type, enabled=False):
            ink = self.ink_extents(ids, size)  # (B, L, 4)
            rows, cols = ink[..., :2], ink[..., 2:]
            adv = self.advances(ids, size)
            pen = TEXT_X + torch.cumsum(adv, dim=1) - adv  # (B, L)
            rows = torch.round(rows)  # whole pixels; the columns carry the pen's kerning shift (`box_pen_shift`)
            return torch.stack([torch.floor(pen + cols[..., 0] - PEN_SLACK), rows[..., 0],
                                torch.ceil(pen + cols[..., 1] + PEN_SLACK), rows[..., 1]], dim=-1)

    def advances(self, ids: torch.Tensor, size: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted pen advance of each slot's glyph (B, L) float32 pixels at font size `size` (B,) (FONT_SIZE
        if None), 0 where no glyph is. Always float32 (a bf16 width moves glyph edges by a column)."""
        with torch.autocast(ids.device.type, enabled=False):
            adv = F.softplus(self.advance_head(self._features(ids)).squeeze(-1)) * self.SCALE  # (B, L) at FONT_SIZE
            if self.kerning is not None:
                after = F.pad(ids[:, 1:], (0, 1), value=tok.PAD_ID)  # (B, L) the next slot's symbol (PAD after the last)
                adv = adv + self.kerning(ids * self.vocab_size + after).squeeze(-1) * self.SCALE
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
    def placements(self, ids: torch.Tensor, paths: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One prompt ids (1, L) and K paths (K, T, 3) starting at (0, 0) -> (ok (K,) bool: some start shows every
        glyph whole twice; motions (K, T, 3): each path from a start drawn uniformly among those (rng), or where
        none does, from the start that shows its least-seen glyph most; least (K,) int: that glyph's frames).
        The world's `valid_starts`, on the predicted ink boxes: glyph i is inside in frame f iff
        x0 in [-(dx_f + left_i), W - (dx_f + right_i)] and likewise y0; counted over a grid of starts at once."""
        k = paths.shape[0]
        boxes = self.ink_boxes(ids.expand(k, -1), paths[:, 0, 2])  # (K, L, 4)
        counted = self._real(ids)[0] & (ids[0] != tok.SPACE_ID)  # (L,) a space has no ink to show
        boxes = boxes[:, counted]  # (K, n, 4)
        if not counted.any():  # the null prompt: no glyph to show, any start will do
            return torch.ones(k, dtype=torch.bool), paths.clone(), torch.full((k,), paths.shape[1])
        d = paths[..., :2].float()  # (K, T, 2)
        x_lo = -(d[:, :, None, 0] + boxes[:, None, :, 0])  # (K, T, n)
        x_hi = self.width - (d[:, :, None, 0] + boxes[:, None, :, 2])
        y_lo = -(d[:, :, None, 1] + boxes[:, None, :, 1])
        y_hi = self.height - (d[:, :, None, 1] + boxes[:, None, :, 3])
        xg = torch.arange(int(x_lo.min()), int(x_hi.max()) + 1, device=ids.device).float()  # (X,)
        yg = torch.arange(int(y_lo.min()), int(y_hi.max()) + 1, device=ids.device).float()  # (Y,)
        in_x = ((xg[:, None, None, None] >= x_lo) & (xg[:, None, None, None] <= x_hi)).permute(1, 3, 0, 2)  # (K, n, X, T)
        in_y = ((yg[:, None, None, None] >= y_lo) & (yg[:, None, None, None] <= y_hi)).permute(1, 3, 2, 0)  # (K, n, T, Y)
        seen = torch.matmul(in_x.float(), in_y.float()).amin(dim=1)  # (K, X, Y) frames the least-seen glyph is whole
        good = (seen >= MIN_VISIBLE_FRAMES).flatten(1)  # (K, X*Y)
        ok = good.any(dim=1)
        count = good.sum(dim=1)
        nth = torch.from_numpy(np.floor(rng.random(k) * count.cpu().numpy())).long().to(ids.device)  # (K,) uniform
        pick = torch.where(ok, (good.cumsum(dim=1) > nth[:, None]).float().argmax(dim=1), seen.flatten(1).argmax(dim=1))
        x0, y0 = xg[pick // len(yg)].long(), yg[pick % len(yg)].long()  # (K,)
        motions = paths.clone()
        motions[..., 0] += x0[:, None]
        motions[..., 1] += y0[:, None]
        return ok, motions, seen.flatten(1).amax(dim=1).long()

    @torch.no_grad()
    def sample_motion(self, ids: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """A motion (B, T, 3) for each prompt, drawn from the learned prior by `seed`: the first draw that shows
        every glyph wholly on screen in MIN_VISIBLE_FRAMES frames by the model's own predicted boxes (the world's
        invariant judged by the model's own layout: the world redraws its own draws by the same rule). A "whole"
        prior's draw is judged as drawn, its boxes SHOWN_MARGIN inside the edges (`_judge_whole`); a "placed"
        prior's path is placed uniformly among the starts that show every glyph, at a font size the training
        motions had (`_judge_placed`). Draws come CANDIDATES at a time, for the prompts still without one, for up
        to ROUNDS rounds; a prompt none of whose draws passes gets the one that shows its least-seen glyph most."""
        b = ids.shape[0]
        best = torch.full((b,), -1, dtype=torch.long, device=ids.device)  # the chosen draw's score
        chosen = torch.zeros(b, self.prior.frames, 3, dtype=torch.long, device=ids.device)
        order = torch.arange(CANDIDATES, 0, -1, device=ids.device)  # earlier draws first
        judge = self._judge_placed if self.placed else self._judge_whole
        for r in range(ROUNDS):
            todo = (best < 1000).nonzero().flatten()  # (N,) prompts without a passing draw
            if not len(todo):
                break
            many = ids[todo].repeat_interleave(CANDIDATES, dim=0)  # (N*K, L)
            drawn = self.prior.sample(self.prior_condition(many), round_seed(seed, r))  # (N*K, T, 3)
            rng = np.random.default_rng([int(seed), r])  # a placed prior's starts, apart from the paths' noise
            least, known, motions = judge(ids[todo], drawn, rng)  # (N, K), (N, K), (N, K, T, 3)
            score = torch.where(known & (least >= MIN_VISIBLE_FRAMES), 1000 + order,
                                torch.where(known, least.clamp(max=MIN_VISIBLE_FRAMES - 1) * 100 + order, order))
            top, pick = score.max(dim=1)  # (N,)
            better = top > best[todo]
            rows = todo[better]
            best[rows] = top[better]
            chosen[rows] = motions[better.nonzero().flatten(), pick[better]]
        return chosen

    def _judge_whole(self, ids: torch.Tensor, drawn: torch.Tensor, rng: np.random.Generator):
        """Prompts (N, L) and a "whole" prior's draws (N*K, T, 3) -> (the frames each draw shows its least-seen glyph
        (N, K); whether its size may be judged (N, K), always; the draws as motions (N, K, T, 3))."""
        n = ids.shape[0]
        many = ids.repeat_interleave(CANDIDATES, dim=0)
        least = self.glyphs_shown(many, drawn, SHOWN_MARGIN).min(dim=1).values.view(n, CANDIDATES)
        return least, torch.ones_like(least, dtype=torch.bool), drawn.view(n, CANDIDATES, *drawn.shape[1:])

    def _judge_placed(self, ids: torch.Tensor, paths: torch.Tensor, rng: np.random.Generator):
        """Prompts (N, L) and a "placed" prior's paths (N*K, T, 3) -> (the frames the best start shows each path's
        least-seen glyph (N, K); whether the path's size is one the training motions had (N, K); the paths placed
        (`placements`) (N, K, T, 3))."""
        lo, hi = self.prior.size_range.tolist()
        known = ((paths[:, 0, 2] >= lo) & (paths[:, 0, 2] <= hi)).view(ids.shape[0], CANDIDATES)
        least, motions = [], []
        for j in range(ids.shape[0]):
            _, placed, shown = self.placements(ids[j : j + 1], paths[j * CANDIDATES : (j + 1) * CANDIDATES], rng)
            least.append(shown)
            motions.append(placed)
        return torch.stack(least), known, torch.stack(motions)

    def loss(self, ids: torch.Tensor, motion: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        """Squared errors (in tens of pixels) of the advances, ink rows and strip heights at each sample's size
        against the renderer's, plus the prior's loss on the batch's motions (B, T, 3) (and their path shapes (B,), which
        a "shaped" prior learns from); prompts with text."""
        real = self._real(ids)
        has_text = real.any(1)
        if not has_text.any():
            return torch.zeros((), device=ids.device)
        size = motion[:, 0, 2]
        adv_t = torch.zeros(ids.shape, dtype=torch.float32)
        ink_t = torch.zeros(*ids.shape, 4 if self.placed else 2)
        height_t = torch.zeros(ids.shape[0])
        for b, row in enumerate(ids.detach().cpu().numpy()):
            text = ids_to_text(row)
            if text:
                s = int(size[b])
                where = torch.from_numpy((row != tok.PAD_ID).nonzero()[0])
                adv_t[b, where] = torch.from_numpy(pen_starts(text, font_at(s))).diff().float()
                ink_t[b, where] = torch.tensor([ink_target(ch, s, self.placed) for ch in text]).float()
                if self.placed:  # columns as the world's boxes place them: from the pen before the pair's kerning
                    ink_t[b, where, 2:] += torch.from_numpy(box_pen_shift(text, s)).float()[:, None]
                height_t[b] = strip_columns(text, s)[2]
        adv_t, ink_t, height_t = adv_t.to(ids.device), ink_t.to(ids.device), height_t.to(ids.device)
        adv_err = ((self.advances(ids, size) - adv_t) / self.SCALE)[real].pow(2).mean()
        ink_err = ((self.ink_extents(ids, size) - ink_t) / self.SCALE)[real].pow(2).mean()
        height_err = ((self.heights(size) - height_t) / self.SCALE)[has_text].pow(2).mean()
        return adv_err + ink_err + height_err + self.prior_loss(ids, motion, shape)

    def prior_loss(self, ids: torch.Tensor, motion: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        """The motion prior's loss on motions (B, T, 3) of prompts ids (B, L) (those with text), and their path shapes (B,)."""
        has_text = self._real(ids).any(1)
        if not has_text.any():
            return torch.zeros((), device=ids.device)
        return self.prior.loss(motion[has_text], self.prior_condition(ids)[has_text], shape=None if shape is None else shape[has_text])

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

