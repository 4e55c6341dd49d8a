"""A model that works out its own glyph layout (ModelConfig.layout = "learned").

The blog's interface, prompt tokens in and video out, with FastSpeech's answer to the same problem
in speech (which phoneme is spoken in which audio frame): a small predictor reads the prompt tokens
and says how wide each glyph is (a length regulator: the advance, kerning with the next glyph
included) and where the strip stands in each frame; the glyph layout follows from those numbers
exactly as the renderer lays it out (vidgen.data.layout), and the denoiser reads it through the
same glyph-layout features as a layout-guided model.

Training teaches the predictor the renderer's widths and scroll offsets (free labels, like the
per-patch symbol labels of attention supervision) and, as FastSpeech does with its durations,
feeds the denoiser the true layout (teacher forcing, while `model.training`); sampling is told
nothing but the prompt tokens and uses the predicted layout. The predictor is separate from the
denoiser, so neither loss pulls on the other's weights.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import tokenizer as tok
from ..data.layout import EMPTY, TEXT_X, alignment_targets


class LayoutPredictor(nn.Module):
    """Prompt ids (B, L) -> the glyph layout a renderer would give them, predicted.

    The advance of a glyph depends on it and, through kerning, on its neighbours: one embedding per
    symbol and a width-3 convolution along the prompt. The strip's left edge in frame f is a_f + b_f * S
    for the strip width S (the strip crosses the screen in a fixed number of frames, so a longer prompt
    moves faster): one learned line per frame, the renderer's rule if it learns it.
    """

    SCALE = 10.0  # pixels: the heads work in tens of pixels, so their targets start near unit scale
    LR_SCALE = 30.0  # learning rate relative to the denoiser's: at 1e-3 x 30, trained alone for 800 steps of
    # batch 16 with a decaying rate, it places > 99% of validation columns right (tests/test_binding.py)

    def __init__(self, vocab_size: int, dim: int, frames: int, width: int):
        super().__init__()
        self.width = width
        self.embed = nn.Embedding(vocab_size, dim)
        self.context = nn.Conv1d(dim, dim, 3, padding=1)
        self.advance_head = nn.Linear(dim, 1)
        self.motion = nn.Linear(1, frames)
        nn.init.normal_(self.embed.weight, std=0.02)

    @staticmethod
    def _real(ids: torch.Tensor) -> torch.Tensor:
        """(B, L) bool: slots holding a glyph; none for the null prompt."""
        has_text = ~(ids == tok.NULL_ID).any(dim=1, keepdim=True)  # (B, 1)
        return (ids != tok.PAD_ID) & has_text

    def advances(self, ids: torch.Tensor) -> torch.Tensor:
        """Predicted pen advance of each slot's glyph in pixels (B, L) float32, 0 where no glyph is.

        Always in float32, also under bf16 autocast: bf16 keeps about three digits, a third of a pixel
        at the strip widths here, which moves glyph edges by a column (measured on the shipped blog
        model: 99.38% of validation cells right under autocast, 99.66% in float32)."""
        with torch.autocast(ids.device.type, enabled=False):
            h = self.embed(ids).float()  # (B, L, E)
            h = h + F.gelu(self.context(h.transpose(1, 2))).transpose(1, 2)  # (B, L, E)
            adv = F.softplus(self.advance_head(h).squeeze(-1)) * self.SCALE  # (B, L)
        return adv * self._real(ids)

    def offsets(self, strip_width: torch.Tensor) -> torch.Tensor:
        """Strip width (B,) pixels -> the strip's left edge in each frame (B, F) pixels, in float32."""
        with torch.autocast(strip_width.device.type, enabled=False):
            return self.motion(strip_width[:, None].float() / self.SCALE) * self.SCALE

    def loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean squared error (in tens of pixels) of the advances and of the offsets against the
        renderer's, for the prompts with text; the offsets are read from the true strip width, so the
        motion line is learned apart from the width errors."""
        target = alignment_targets(ids)
        real, has_text = target["real"], target["has_text"]
        if not has_text.any():
            return torch.zeros((), device=ids.device)
        adv_err = ((self.advances(ids) - target["advance"]) / self.SCALE)[real].pow(2).mean()
        off_err = ((self.offsets(target["strip_width"]) - target["offsets"]) / self.SCALE)[has_text].pow(2).mean()
        return adv_err + off_err

    @torch.no_grad()
    def slots(self, ids: torch.Tensor, offsets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids (B, L) -> (slot (B, F, W) int64: the prompt slot of the glyph covering each frame
        and column, EMPTY where none does; offset (B, F, W) float32: the column's distance from that
        glyph's pen origin, 0 where empty), from the predicted advances and motion.

        Geometry as in the renderer: glyph i begins at TEXT_X + the advances before it; the spans touch,
        the first opening at 0 and the last closing at the strip width ceil(sum of advances) + 2 TEXT_X;
        the offsets are rounded to whole pixels; `offsets` (B, F), if given, replace the predicted motion
        (the strip's left edge in each frame: a horizontal motion the model is told). Slots hold the
        glyphs from the first one on (the tokenizer pads at the end)."""
        real = self._real(ids)  # (B, L)
        adv = self.advances(ids)  # (B, L)
        starts = TEXT_X + torch.cumsum(adv, dim=1) - adv  # (B, L) pen origin of each slot's glyph
        strip = torch.where(real.any(1), torch.ceil(adv.sum(1) - 1e-4) + 2 * TEXT_X, torch.zeros_like(adv[:, 0]))  # (B,)
        off = torch.round(self.offsets(strip)) if offsets is None else offsets.to(adv.dtype)  # (B, F)
        u = torch.arange(self.width, device=ids.device) + 0.5 - off[:, :, None]  # (B, F, W) strip x of each column centre
        inside = (u >= 0) & (u < strip[:, None, None])  # (B, F, W)
        later = (starts[:, None, None, 1:] <= u[..., None]) & real[:, None, None, 1:]  # (B, F, W, L-1): glyph k+1 began
        slot = later.sum(-1)  # (B, F, W)
        offset = u - starts.gather(1, slot.flatten(1)).view_as(slot)
        return torch.where(inside, slot, EMPTY), torch.where(inside, offset, torch.zeros_like(u)).float()

    @torch.no_grad()
    def layout(self, ids: torch.Tensor, offsets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids (B, L) -> (symbol (B, F, W) int64, PAD where no glyph is; offset (B, F, W) float32),
        as `vidgen.data.layout.layout_batch` gives them, predicted (with the given strip `offsets`, if any)."""
        slot, offset = self.slots(ids, offsets)
        symbol = ids.gather(1, slot.clamp_min(0).flatten(1)).view_as(slot)  # (B, F, W)
        return torch.where(slot == EMPTY, tok.PAD_ID, symbol), offset
