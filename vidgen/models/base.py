"""What every video denoiser shares: prompt and timestep conditioning, guidance dropout and the
classifier-free-guided forward. Variants subclass it and implement `denoise`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from ..data import tokenizer as tok
from .attention_calls import MAP_KINDS, AttentionCall
from .config import ModelConfig
from .layers import Attention, PromptEncoder, TimestepEmbedder, zero_init

# VideoDenoiser.SPACE_TIME: "joint" attention over every space-time token at once; attention over space and over
# time in separate layers "in-block" (one block holds both) or in "alternating" spatial and temporal blocks;
# tokens read into a few "latent"s that compute and write back; factorised space and time "convolution"s
SPACE_TIME_KINDS = ("joint", "in-block", "alternating", "latent", "convolution")


@dataclass
class Conditioning:
    """Everything a forward pass reads from the prompts that depends on neither x_t nor t: encoded once
    per generation (`VideoDenoiser.encode_prompts`), before the sampling loop, and reused at every step
    (diffusers' `encode_prompt`)."""

    ids: torch.Tensor  # (B, L) the prompt ids as the network sees them (after guidance dropout)
    text: torch.Tensor  # (B, L, D) encoded prompt tokens, for cross-attention
    mask: torch.Tensor  # (B, L) True where a token is real
    pooled: torch.Tensor  # (B, D) the projected pooled prompt, added to the timestep embedding for adaLN
    layout: torch.Tensor | None  # the glyph layout as the variant reads it (`VideoDenoiser.embed_layout`): the raw
    # features (B, T, R, W, F) or, for a token variant, one vector per token (B, N, D); None without a layout

    @property
    def batch(self) -> int:
        return self.ids.shape[0]


GUIDANCE_FEATURE_SCALE = 100.0  # a guidance scale s is embedded as the timestep 100 s would be (s in 0..10 spans
# the sinusoids' range as t in 0..1000 does)


class VideoDenoiser(nn.Module):
    """Base of all variants: forward(x_t, t, ids) -> model output of x_t's shape (B, T, H, W).

    Where the glyph layout comes from is the model's `layout_kind` (vidgen.models.conditioning), chosen
    once from cfg.layout: with "glyph" the model also reads the prompt's glyph layout (computed from
    the ids, so the interface stays the same) and each variant folds it into its input (`denoise`'s
    `layout`); with "learned" it reads a layout it predicts from the ids itself (the true one while
    training, see vidgen.models.aligner); with "none" `layout` is None.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.layout_kind = cfg.layout_kind  # where the glyph layout comes from, chosen once
        self.t_embedder = TimestepEmbedder(cfg.dim, cfg.freq_dim)
        self.prompt_encoder = PromptEncoder(cfg.vocab_size, cfg.prompt_len, cfg.dim, cfg.heads, cfg.text_layers, cfg.mlp_ratio,
                                            positional=not self.layout_kind.reads_layout)
        self.pooled_proj = nn.Linear(cfg.dim, cfg.dim)
        self.g_embedder = None
        if cfg.guidance_range is not None:  # a guidance-distilled student: the scale is an input, added like t
            self.g_embedder = TimestepEmbedder(cfg.dim, cfg.freq_dim)
            zero_init(self.g_embedder.mlp[2])  # starts as the teacher's conditional model
        self.glyph_layout, self.layout_predictor = self.layout_kind.build(cfg, self.template_rows(cfg))  # each or None

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
                       motion: torch.Tensor | None = None) -> Conditioning:
        """Prompt ids (B, L), with drop (B,) bool replacing some by the null prompt (guidance dropout in
        training) and motion (B, T, 3) the text's motion to follow (see layout_features) -> their Conditioning."""
        if ids.shape[1] != self.cfg.prompt_len:
            raise ValueError(f"prompt ids have {ids.shape[1]} slots, the model takes {self.cfg.prompt_len}")
        if drop is not None:
            ids = self.drop_prompts(ids, drop)
        text, mask, pooled = self.prompt_encoder(ids)  # (B, L, D), (B, L), (B, D)
        layout = self.layout_features(ids, motion)  # (B, T, R, W, F) or None
        return Conditioning(ids, text, mask, self.pooled_proj(pooled), None if layout is None else self.embed_layout(layout))

    def encode_for_guidance(self, ids: torch.Tensor, guidance_scale: float, motion: torch.Tensor | None = None) -> Conditioning:
        """The Conditioning `forward_with_guidance` reads for prompts ids (B, L) (and a motion (B, T, 3) to
        follow): the prompts, and after them the null prompt once per prompt (2B rows; its layout is empty
        wherever it stands), unless guidance_scale == 1 (one pass, B rows)."""
        if guidance_scale == 1.0 or self.g_embedder is not None:
            return self.encode_prompts(ids, motion=motion)
        both = None if motion is None else torch.cat([motion, motion])
        return self.encode_prompts(torch.cat([ids, self.null_prompt(ids.shape[0], ids.device)]), motion=both)

    def layout_features(self, ids: torch.Tensor, motion: torch.Tensor | None = None) -> torch.Tensor | None:
        """The glyph layout of the prompts (B, T, R, W, F), R = 1, template_rows or H (per pixel, "glyph2d"),
        or None for a model without one (`layout_kind.features`; its shape: `layout_kind.feature_shape`).

        `motion` (B, T, 3) long, if given, is where the text is: per frame its strip's x, y and the font
        size (vidgen.data.layout2d.motion_tensor). A "glyph2d" model reads all of it (without one, each
        prompt's scroll-world motion); a "learned2d" one too (without one, a motion its prior draws with
        seed 0; in training, the scroll's); the scroll world's models read x alone, the strip's left edge
        in each frame, instead of the scroll's; a "none" model refuses one. "learned" and "learned2d"
        models read the layout they predict (keeping their predicted glyph widths), except while
        training (teacher forcing: the true layout)."""
        return self.layout_kind.features(self, ids, motion)

    @torch.no_grad()
    def predicted_layout(self, ids: torch.Tensor, motion: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """What a "learned" model works out for prompts ids (B, L): (slot (B, T, W) int64, EMPTY where no
        glyph is; offset (B, T, W) float32 pixels into the glyph); a "learned2d" one, per pixel along
        motion (B, T, 3) (`layout_kind.predicted_layout`). Other models raise."""
        return self.layout_kind.predicted_layout(self, ids, motion)

    def auxiliary_losses(self, ids: torch.Tensor, motion: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Losses besides denoising for prompts ids (B, L) as the network saw them (after guidance
        dropout), moving along motion (B, T, 3): the layout predictor's, for a "learned" or "learned2d" model."""
        return self.layout_kind.auxiliary_losses(self, ids, motion)

    # -- forward ------------------------------------------------------------------------------
    def embed_layout(self, layout: torch.Tensor) -> torch.Tensor:
        """The layout features (B, T, R, W, F) as the variant reads them in `denoise` (a token variant
        embeds them once per generation into `layout_tokens` (B, N, D), see TokenDenoiser); here unchanged."""
        return layout

    def denoise(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
                layout: torch.Tensor | None = None, state: dict | None = None) -> torch.Tensor:
        """x (B, T, H, W), c (B, D), text (B, L, D), mask (B, L), layout as `embed_layout` returns it or None
        -> (B, T, H, W). A token variant names it `layout_tokens` (B, N, D).

        `state` is the trajectory's own dict when the call is a sampling step (the sampler makes a
        fresh one per trajectory and passes it to every step), None otherwise; a variant that carries
        something from one step to the next (SnapVideo's latents) reads and writes it there."""
        raise NotImplementedError

    def condition(self, t: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """adaLN's conditioning vector: timestep embedding plus the pooled prompt. t (B,) -> (B, D); t (B, T), a
        timestep per frame (equal within each temporal patch; variants with PER_FRAME_TIME) -> (B, T', D)."""
        if t.ndim == 1:
            return self.t_embedder(t) + pooled  # (B, D)
        if not self.PER_FRAME_TIME or self.cfg.latent:
            raise ValueError(f"{type(self).__name__} takes one timestep per video, not one per frame"
                             + (" (a latent model)" if self.cfg.latent else ""))
        pt = self.cfg.patch[0]
        if t.shape != (pooled.shape[0], self.cfg.frames):
            raise ValueError(f"per-frame timesteps must be (B, {self.cfg.frames}), got {tuple(t.shape)}")
        per_token = t[:, ::pt]  # (B, T')
        if not torch.equal(per_token.repeat_interleave(pt, dim=1), t):
            raise ValueError(f"per-frame timesteps must be equal within each temporal patch of {pt} frames")
        emb = self.t_embedder(per_token.reshape(-1)).view(*per_token.shape, -1)  # (B, T', D)
        return emb + pooled[:, None]

    def forward(self, x: torch.Tensor, t: torch.Tensor, ids: torch.Tensor | None = None, drop: torch.Tensor | None = None,
                state: dict | None = None, aux: bool = False, cond: Conditioning | None = None,
                motion: torch.Tensor | None = None, guidance: torch.Tensor | None = None):
        """x (B, T, H, W) noisy video, t (B,) timesteps (or (B, T), one per frame: `condition`), and either ids (B, L) prompt ids (with drop (B,)
        bool for guidance dropout during training) or their `cond` from `encode_prompts`; state: see
        `denoise` -> (B, T, H, W); with aux=True (training) -> (that, `auxiliary_losses` of the prompts
        as seen); motion (B, T, 3): where the text is (see layout_features); guidance (B,): the guidance
        scale, read by a guidance-distilled student alone (and required by it)."""
        if cond is None:
            cond = self.encode_prompts(ids, drop, motion)
        c = self.condition(t, cond.pooled)  # (B, D), or (B, T', D) with a timestep per frame
        if self.g_embedder is not None:
            if guidance is None:
                raise ValueError("a guidance-distilled model takes the guidance scale as an input (guidance=)")
            g = self.g_embedder(guidance * GUIDANCE_FEATURE_SCALE)  # (B, D)
            c = c + (g if c.ndim == 2 else g[:, None])
        out = self.denoise(x, c, cond.text, cond.mask, cond.layout, state=state)
        return (out, self.auxiliary_losses(cond.ids, motion)) if aux else out

    def forward_with_guidance(self, x: torch.Tensor, t: torch.Tensor, ids: torch.Tensor | None, guidance_scale: float,
                              state: dict | None = None, cond: Conditioning | None = None) -> torch.Tensor:
        """Classifier-free guidance: uncond + s * (cond - uncond), cond and uncond in one batch.

        The prompts come as ids (B, L) or, encoded once per generation, as `cond` =
        `encode_for_guidance(ids, guidance_scale)`. guidance_scale == 1 is the plain conditional model
        and costs one pass. `state`: see `denoise`.
        """
        if cond is None:
            cond = self.encode_for_guidance(ids, guidance_scale)
        if self.g_embedder is not None:  # guidance distilled: one pass at any scale of its range
            self.cfg.check_guidance(guidance_scale)
            return self(x, t, state=state, cond=cond, guidance=torch.full((x.shape[0],), float(guidance_scale), device=x.device))
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
        if hasattr(self.layout_predictor, "optimizer_groups"):
            predictor = self.layout_predictor.optimizer_groups()
        else:
            predictor = [{"params": list(self.layout_predictor.parameters()), "lr_scale": type(self.layout_predictor).LR_SCALE}]
        return [{"params": [p for p in self.parameters() if id(p) not in own]}, *predictor]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- what the variant declares, so that nothing outside it keeps a list of variant names --------
    ATTENTION_MAPS: ClassVar[tuple[str, ...]] = ()  # the kinds of `attention_layers` the variant has
    COMPARED: ClassVar[tuple[str, ...]] = ("",)  # the presets `python -m vidgen compare` trains by default, as
    # suffixes to the variant's name ("": its own; Latte adds "-between" and "-both", its other text placements)
    PRESETS_BY_SIZE_ALONE: ClassVar[bool] = False  # its presets are "tiny", "small", ... (the blog's network), not
    # "<size>-<variant>"
    SPACE_TIME: ClassVar[str] = ""  # how it mixes space and time, one of SPACE_TIME_KINDS: the rows the comparison's
    # findings (vidgen/evaluation/compare_report.py) read it in
    LATENT: ClassVar[bool] = False  # denoises a VAE's latent too (ModelConfig.channels, cell): its patches read channels
    PER_FRAME_TIME: ClassVar[bool] = False  # takes a timestep per frame, t (B, T) (Diffusion Forcing, vidgen.long)
    OUTPUT_LAYER: ClassVar[str] = "final_layer.linear"  # the zero-initialised layer that writes the prediction, as
    # a submodule path (TokenDenoiser's adaLN final layer); the layer whose gradient lets the start leave zero

    @classmethod
    def attention_calls(cls, cfg: ModelConfig) -> list[AttentionCall]:
        """Every attention call of one forward pass for one video, outside the prompt encoder (the cost
        model, vidgen.evaluation.cost, sums them; tests/test_variant_conformance.py counts them)."""
        raise NotImplementedError(f"{cls.__name__} does not declare its attention calls")

    def attention_layers(self, kind: str) -> list[Attention]:
        """The layers, one per block, whose attention spans every space-time token: kind "cross" -> the
        prompt cross-attention, weights (B, heads, N, L), which attention supervision pulls and the attention
        probes read; "self" -> joint self-attention, (B, heads, N, N). [] for a kind not in ATTENTION_MAPS."""
        if kind not in MAP_KINDS:
            raise ValueError(f"unknown attention kind {kind!r}; known: {', '.join(MAP_KINDS)}")
        return []
