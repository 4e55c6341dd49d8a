"""What every video denoiser shares: prompt and timestep conditioning, guidance dropout and the
classifier-free-guided forward. Variants subclass it and implement `denoise`."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..data import tokenizer as tok
from .aligner import LayoutPredictor
from .config import ModelConfig
from .layers import Attention, GlyphLayoutFeatures, PromptEncoder, TimestepEmbedder


@dataclass
class Conditioning:
    """Everything a forward pass reads from the prompts that depends on neither x_t nor t: encoded once
    per generation (`VideoDenoiser.encode_prompts`), before the sampling loop, and reused at every step
    (diffusers' `encode_prompt`)."""

    ids: torch.Tensor  # (B, L) the prompt ids as the network sees them (after guidance dropout)
    text: torch.Tensor  # (B, L, D) encoded prompt tokens, for cross-attention
    mask: torch.Tensor  # (B, L) True where a token is real
    pooled: torch.Tensor  # (B, D) the projected pooled prompt, added to the timestep embedding for adaLN
    glyphs: torch.Tensor | None  # (B, T, R, W, F) glyph-layout features, or None for a model without a layout

    @property
    def batch(self) -> int:
        return self.ids.shape[0]


class VideoDenoiser(nn.Module):
    """Base of all variants: forward(x_t, t, ids) -> model output of x_t's shape (B, T, H, W).

    With cfg.layout == "glyph" the model also reads the prompt's glyph layout (computed from the
    ids, so the interface stays the same) and each variant folds it into its input (`denoise`'s
    `glyphs`); with "learned" it reads a layout it predicts from the ids itself (the true one while
    training, see vidgen.models.aligner); with "none" `glyphs` is None.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.t_embedder = TimestepEmbedder(cfg.dim, cfg.freq_dim)
        self.prompt_encoder = PromptEncoder(cfg.vocab_size, cfg.prompt_len, cfg.dim, cfg.heads, cfg.text_layers, cfg.mlp_ratio,
                                            positional=cfg.layout == "none")
        self.pooled_proj = nn.Linear(cfg.dim, cfg.dim)
        self.glyph_layout = self.layout_predictor = None
        if cfg.layout != "none":
            self.glyph_layout = GlyphLayoutFeatures(cfg.vocab_size, cfg.layout_dim, cfg.template_dim, self.template_rows(cfg))
        if cfg.layout == "learned":
            self.layout_predictor = LayoutPredictor(cfg.vocab_size, cfg.layout_dim, cfg.frames, cfg.width)

    @staticmethod
    def template_rows(cfg: ModelConfig) -> int:
        """Bands of rows with their own glyph-template feature: one per row of tokens."""
        return cfg.grid[1]

    # -- initialisation -----------------------------------------------------------------------
    def learned_positions(self) -> list[nn.Parameter]:
        """The variant's learned position (and latent) tables, drawn from N(0, 0.02) at initialisation."""
        return []

    def initialize_weights(self) -> None:
        """DiT's initialisation, for every variant: xavier-uniform linears with zero bias; layers marked
        by `layers.zero_init` (adaLN modulations, output layers) stay zero so every block starts as the
        identity; the timestep MLP and the learned position tables from N(0, 0.02). Convolutions keep
        PyTorch's default. Each variant calls this once, at the end of its __init__."""
        for module in self.modules():
            if getattr(module, "zero_init", False):
                nn.init.zeros_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for p in self.learned_positions():
            nn.init.normal_(p, std=0.02)

    def enable_qk_norm(self) -> None:
        """Query-key normalisation in every attention layer of the variant (ModelConfig.qk_norm; build_model calls it)."""
        for module in self.modules():
            if isinstance(module, Attention):
                module.enable_qk_norm()

    # -- conditioning -------------------------------------------------------------------------
    def null_prompt(self, batch: int, device=None) -> torch.Tensor:
        """The unconditional prompt: NULL in the first slot, PAD after (B, L)."""
        ids = torch.full((batch, self.cfg.prompt_len), tok.PAD_ID, dtype=torch.long, device=device)
        ids[:, 0] = tok.NULL_ID
        return ids

    def drop_prompts(self, ids: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
        """Replace the prompts where drop (B,) is True by the null prompt (guidance dropout)."""
        return torch.where(drop[:, None], self.null_prompt(ids.shape[0], ids.device), ids)

    def encode_prompts(self, ids: torch.Tensor, drop: torch.Tensor | None = None,
                       offsets: torch.Tensor | None = None) -> Conditioning:
        """Prompt ids (B, L), with drop (B,) bool replacing some by the null prompt (guidance dropout in
        training) and offsets (B, T) a horizontal motion to follow (see layout_features) -> their Conditioning."""
        if ids.shape[1] != self.cfg.prompt_len:
            raise ValueError(f"prompt ids have {ids.shape[1]} slots, the model takes {self.cfg.prompt_len}")
        if drop is not None:
            ids = self.drop_prompts(ids, drop)
        text, mask, pooled = self.prompt_encoder(ids)  # (B, L, D), (B, L), (B, D)
        return Conditioning(ids, text, mask, self.pooled_proj(pooled), self.layout_features(ids, offsets))

    def encode_for_guidance(self, ids: torch.Tensor, guidance_scale: float, offsets: torch.Tensor | None = None) -> Conditioning:
        """The Conditioning `forward_with_cfg` reads for prompts ids (B, L) (and a horizontal motion
        offsets (B, T) to follow): the prompts, and after them the null prompt once per prompt (2B rows;
        its layout is empty wherever it stands), unless guidance_scale == 1 (one pass, B rows)."""
        if guidance_scale == 1.0:
            return self.encode_prompts(ids, offsets=offsets)
        both = None if offsets is None else torch.cat([offsets, offsets])
        return self.encode_prompts(torch.cat([ids, self.null_prompt(ids.shape[0], ids.device)]), offsets=both)

    def layout_features(self, ids: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor | None:
        """The glyph layout of the prompts (B, T, R, W, F), R = 1 or template_rows, or None for a model without one.

        A "learned" model reads its own prediction, except while training (teacher forcing). `offsets`
        (B, T), if given, is a horizontal motion: the strip's left edge in each frame, which both kinds
        then read instead of the scroll's (a "learned" model keeps its predicted glyph widths)."""
        if self.glyph_layout is None:
            if offsets is not None:
                raise ValueError("this model reads no glyph layout (layout='none'), so it cannot be told a motion")
            return None
        if self.layout_predictor is not None and not self.training:
            return self.glyph_layout.features(*self.layout_predictor.layout(ids, offsets))
        return self.glyph_layout(ids, offsets)

    @torch.no_grad()
    def predicted_layout(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What a "learned" model works out for prompts ids (B, L): (slot (B, T, W) int64, EMPTY where no
        glyph is; offset (B, T, W) float32 pixels into the glyph). Other models raise."""
        if self.layout_predictor is None:
            raise ValueError(f"a model with layout={self.cfg.layout!r} does not predict a layout")
        return self.layout_predictor.slots(ids)

    def auxiliary_losses(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses besides denoising for prompts ids (B, L) as the network saw them (after guidance
        dropout): the layout predictor's, for a "learned" model."""
        if self.layout_predictor is None:
            return {}
        return {"alignment": self.layout_predictor.loss(ids)}

    # -- forward ------------------------------------------------------------------------------
    def denoise(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
                glyphs: torch.Tensor | None = None, state: dict | None = None) -> torch.Tensor:
        """x (B, T, H, W), c (B, D), text (B, L, D), mask (B, L), glyphs (B, T, R, W, F) or None -> (B, T, H, W).

        `state` is the trajectory's own dict when the call is a sampling step (the sampler makes a
        fresh one per trajectory and passes it to every step), None otherwise; a variant that carries
        something from one step to the next (SnapVideo's latents) reads and writes it there."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, t: torch.Tensor, ids: torch.Tensor | None = None, drop: torch.Tensor | None = None,
                state: dict | None = None, aux: bool = False, cond: Conditioning | None = None):
        """x (B, T, H, W) noisy video, t (B,) timesteps, and either ids (B, L) prompt ids (with drop (B,)
        bool for guidance dropout during training) or their `cond` from `encode_prompts`; state: see
        `denoise` -> (B, T, H, W); with aux=True (training) -> (that, `auxiliary_losses` of the prompts
        as seen)."""
        if cond is None:
            cond = self.encode_prompts(ids, drop)
        c = self.t_embedder(t) + cond.pooled  # (B, D)
        out = self.denoise(x, c, cond.text, cond.mask, cond.glyphs, state=state)
        return (out, self.auxiliary_losses(cond.ids)) if aux else out

    def forward_with_cfg(self, x: torch.Tensor, t: torch.Tensor, ids: torch.Tensor | None, guidance_scale: float,
                         state: dict | None = None, cond: Conditioning | None = None) -> torch.Tensor:
        """Classifier-free guidance: uncond + s * (cond - uncond), cond and uncond in one batch.

        The prompts come as ids (B, L) or, encoded once per generation, as `cond` =
        `encode_for_guidance(ids, guidance_scale)`. guidance_scale == 1 is the plain conditional model
        and costs one pass. `state`: see `denoise`.
        """
        if cond is None:
            cond = self.encode_for_guidance(ids, guidance_scale)
        if guidance_scale == 1.0:
            return self(x, t, state=state, cond=cond)
        b = x.shape[0]
        out = self(torch.cat([x, x]), torch.cat([t, t]), state=state, cond=cond)
        cond_out, uncond_out = out[:b], out[b:]
        return uncond_out + guidance_scale * (cond_out - uncond_out)

    def optimizer_groups(self) -> list[dict]:
        """Parameter groups for the optimizer: one, or two for a "learned" model, whose layout predictor
        (a small regression that must end sub-pixel exact) learns at `lr_scale` times the network's rate."""
        if self.layout_predictor is None:
            return [{"params": list(self.parameters())}]
        own = {id(p) for p in self.layout_predictor.parameters()}
        return [{"params": [p for p in self.parameters() if id(p) not in own]},
                {"params": list(self.layout_predictor.parameters()), "lr_scale": LayoutPredictor.LR_SCALE}]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
