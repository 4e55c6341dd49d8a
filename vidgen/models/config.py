"""The network's shape: one dataclass every variant is built from, stored as JSON in every checkpoint."""
from __future__ import annotations

from dataclasses import dataclass

from ..data import tokenizer as tok
from ..data.layout2d import check_pen
from ..data.shape import FRAMES, HEIGHT, WIDTH
from .conditioning import LAYOUT_KINDS, LayoutKind, layout_kind
from .motion_prior import MOTION_PRIORS, PLACED_PRIORS

TEXT_PLACEMENTS = ("between", "spatial", "both")  # Latte's prompt cross-attention: thesis models v1, v2, v3
LAYOUTS = tuple(LAYOUT_KINDS)  # where the model's glyph layout comes from (ModelConfig.layout; vidgen.models.conditioning)


TEMPORAL_MASKS = ("full", "causal")  # ModelConfig.temporal


@dataclass(frozen=True)
class ModelConfig:
    """Network shape. Every field is plain JSON so a checkpoint stores it as is."""

    variant: str = "full"  # architecture: see vidgen.models.VARIANTS
    frames: int = FRAMES  # T of the video
    height: int = HEIGHT  # H
    width: int = WIDTH  # W
    patch: tuple[int, int, int] = (2, 4, 4)  # (pt, ph, pw): 2x4x4 -> 8*8*8 = 512 tokens
    channels: int = 1  # C of what is denoised: 1, a grayscale video (B, T, H, W); more, a VAE's latent (B, C, T, H, W)
    # (vidgen.latent), frames, height and width then being the latent's
    cell: int = 1  # world pixels per position of x, across and down: a latent model's VAE's spatial factor over its
    # world's scale (vidgen.data.world.WorldConfig.scale). Its glyph layout is still told per world pixel (height * cell
    # rows), a token's patch of it ph * cell rows high
    dim: int = 128  # transformer width
    depth: int = 6  # number of blocks
    heads: int = 4  # attention heads (dim must divide evenly)
    mlp_ratio: float = 4.0  # hidden width of the MLP / dim
    vocab_size: int = tok.VOCAB_SIZE  # prompt vocabulary, spare slots included
    prompt_len: int = tok.PROMPT_SLOTS  # prompt slots
    text_layers: int = 2  # small transformer over the prompt tokens before cross-attention
    rope: bool = True  # 3D rotary position in self-attention (relative positions) on top of learned ones
    conv_mlp: bool = True  # depthwise 3x3 convolution over each frame's tokens inside the MLP (weights shared across positions)
    freq_dim: int = 256  # size of the sinusoidal timestep features
    qk_norm: bool = False  # RMS-normalise each head's queries and keys before the dot product (in every
    # attention layer of every variant), which bounds the attention logits (ViT-22B, SD3)
    layout: str = "none"  # "none": the blog's model, prompt tokens only; "glyph": also told which symbol covers
    # every frame and pixel column and how far into the glyph it lies (vidgen.data.layout), and its prompt
    # encoder has no slot positions, so a symbol reaches the pixels the same way wherever it stands;
    # "learned": prompt tokens only, like the blog's, but the model predicts the glyph layout from them
    # (vidgen.models.aligner, trained on the renderer's widths and offsets) and reads it as "glyph" does;
    # "glyph2d": told the layout at every pixel, in two dimensions and at any size, for text moving any way
    # (the motion world: vidgen.data.layout2d, vidgen.models.layout2d); "learned2d": the blog's interface in
    # the motion world, predicting the glyph widths and drawing a motion from a learned prior (vidgen.models.aligner2d)
    layout_pen: str = "advance"  # "glyph2d" only: where the layout says each glyph begins (vidgen.data.layout2d.PENS):
    # "advance", its pen position as the font's advances add up (fractional; every checkpoint before 2026-12-05), or
    # "drawn", the pixel the renderer draws it at (the pen rounded: the ink then sits where the layout says)
    layout_dim: int = 32  # glyph layout: width of the per-symbol embedding
    template_dim: int = 0  # glyph layout: width of a learned feature per (symbol, in-glyph pixel column, row),
    # a glyph template in feature space that the model learns from the denoising loss alone (0 = none: the
    # layout reaches every row of a column alike and the network must work out each glyph's rows itself)
    motion_prior: str = "whole"  # "learned2d" only: "whole" learns the motion with its start (every checkpoint
    # before 2026-12-04); "placed" learns the path and size only and places the start uniformly among the starts
    # that show every glyph whole twice by the model's own predicted ink boxes, as the world places its paths
    # (vidgen.models.aligner2d; the boxes then include ink columns); "gated" is "placed" with a gate per step that
    # writes a pause as a step of exactly 0 px (a flow over steps alone spreads the world's pauses over fractions of
    # a pixel); "shaped" is "gated" drawing a path shape first and the path in its own frame (vidgen.models.motion_prior)
    pair_kerning: bool = False  # "learned2d" only: the width head adds a learned number per ordered symbol pair (the
    # font's kerning table) to each glyph's advance, so a prompt's widths can add up exactly (vidgen.models.aligner2d)
    pair_boxes: bool = False  # a placed "learned2d" model only: its ink columns add a learned shift per ordered symbol
    # pair (the world measures a glyph's box from the pen before the kerning of the pair ahead), so a kerned pair's
    # box does not err inwards by a pixel and hide ink its placement counted on (vidgen.models.aligner2d)
    # variant-specific fields; the other variants ignore them
    text_placement: str = "spatial"  # latte: prompt cross-attention "between" the spatial and temporal blocks
    # (the thesis's Latte v1), inside the "spatial" block (v2) or inside "both" spatial and temporal blocks (v3)
    latent_groups: int = 2  # snapvideo: the H' x W' token grid is cut into latent_groups^2 regions, each spanning all frames
    latents_per_group: int = 16  # snapvideo: latent tokens that read from (and write to) each region
    latent_layers: int = 2  # snapvideo: self-attention layers over all latents inside each block ("compute")
    temporal: str = "full"  # self-attention across frames: "full" (every token sees every frame) or "causal" (a
    # token sees its own and earlier temporal tokens: seed 003's causal temporal attention, for long videos made
    # window by window and streamed with a cache, vidgen.long); only the "full" variant has it
    guidance_range: tuple[float, float] | None = None  # a guidance-distilled student (vidgen.training.distill):
    # the guidance scale is an input of one pass instead of two passes mixed, for scales in this range; None:
    # an ordinary model, guided by classifier-free guidance

    def __post_init__(self):
        object.__setattr__(self, "patch", tuple(int(p) for p in self.patch))
        if len(self.patch) != 3:
            raise ValueError(f"patch must be (pt, ph, pw), got {self.patch}")
        for size, p, name in zip((self.frames, self.height, self.width), self.patch, "THW"):
            if p <= 0 or size % p:
                raise ValueError(f"patch {self.patch} does not tile {name}={size}")
        if self.channels < 1 or self.cell < 1:
            raise ValueError(f"channels and cell must be >= 1, got {self.channels} and {self.cell}")
        if self.latent and self.layout not in ("none", "glyph2d"):
            raise ValueError(f"a latent model (channels {self.channels}, cell {self.cell}) reads the layout 'glyph2d' or "
                             f"none, got layout={self.layout!r}")
        if self.dim <= 0 or self.depth <= 0 or self.heads <= 0 or self.dim % self.heads:
            raise ValueError(f"dim={self.dim} must be positive and divisible by heads={self.heads}")
        if self.rope and (self.dim // self.heads) % 2:
            raise ValueError("rope needs an even head dimension")
        if self.vocab_size < tok.VOCAB_SIZE or self.prompt_len < 1:
            raise ValueError(f"vocab_size must be >= {tok.VOCAB_SIZE} and prompt_len >= 1")
        kind = layout_kind(self.layout)  # an unknown name raises with the known ones
        if self.layout_dim < 1:
            raise ValueError(f"layout_dim must be >= 1, got {self.layout_dim}")
        if self.template_dim < 0 or (self.template_dim and not kind.reads_layout):
            readers = ", ".join(repr(name) for name, k in LAYOUT_KINDS.items() if k.reads_layout)
            raise ValueError(f"template_dim must be >= 0 and needs a layout ({readers}), got {self.template_dim} "
                             f"with layout={self.layout!r}")
        check_pen(self.layout_pen)
        if self.layout_pen != "advance" and self.layout != "glyph2d":
            raise ValueError(f"layout_pen={self.layout_pen!r} needs layout='glyph2d' (the model told its 2D layout), got "
                             f"layout={self.layout!r}")
        if self.motion_prior not in MOTION_PRIORS:
            raise ValueError(f"unknown motion_prior {self.motion_prior!r}; known: {', '.join(MOTION_PRIORS)}")
        if self.pair_kerning and self.layout != "learned2d":
            raise ValueError(f"pair_kerning needs layout='learned2d' (the model that predicts its glyph widths), got "
                             f"layout={self.layout!r}")
        if self.pair_boxes and (self.layout != "learned2d" or self.motion_prior not in PLACED_PRIORS):
            raise ValueError(f"pair_boxes needs layout='learned2d' and a placed motion prior ({', '.join(PLACED_PRIORS)}): "
                             f"the model that places its paths by its predicted ink boxes, got layout={self.layout!r}, "
                             f"motion_prior={self.motion_prior!r}")
        if self.motion_prior != "whole" and self.layout != "learned2d":
            raise ValueError(f"motion_prior={self.motion_prior!r} needs layout='learned2d' (the model that draws its own "
                             f"motions), got layout={self.layout!r}")
        if self.text_placement not in TEXT_PLACEMENTS:
            raise ValueError(f"unknown text_placement {self.text_placement!r}; known: {', '.join(TEXT_PLACEMENTS)}")
        if self.temporal not in TEMPORAL_MASKS:
            raise ValueError(f"unknown temporal attention {self.temporal!r}; known: {', '.join(TEMPORAL_MASKS)}")
        if self.latents_per_group < 1 or self.latent_layers < 0:
            raise ValueError("latents_per_group >= 1 and latent_layers >= 0 are required")
        if self.guidance_range is not None:
            try:
                lo, hi = (float(g) for g in self.guidance_range)
            except (TypeError, ValueError) as e:
                raise ValueError(f"guidance_range must be two numbers (lo, hi) or None, got {self.guidance_range!r}") from e
            if not 0.0 <= lo < hi:
                raise ValueError(f"guidance_range must satisfy 0 <= lo < hi, got {self.guidance_range!r}")
            object.__setattr__(self, "guidance_range", (lo, hi))

    def check_guidance(self, guidance_scale: float) -> None:
        """Raise ValueError if this is a guidance-distilled student (guidance_range) not trained for the scale;
        the model, the CLI and the app all ask this one rule."""
        if self.guidance_range is not None:
            lo, hi = self.guidance_range
            if not lo <= guidance_scale <= hi:
                raise ValueError(f"this guidance-distilled model was trained for guidance scales in [{lo:g}, {hi:g}], "
                                 f"got {guidance_scale:g} (its teacher takes any)")

    @property
    def layout_kind(self) -> LayoutKind:
        """The layout kind `layout` names (vidgen.models.conditioning.LAYOUT_KINDS)."""
        return LAYOUT_KINDS[self.layout]

    @property
    def pixel_layout(self) -> bool:
        """Whether the layout is told per pixel in two dimensions (a motion-world model)."""
        return self.layout_kind.per_pixel

    @property
    def latent(self) -> bool:
        """Whether the model denoises a VAE's latent rather than pixels."""
        return self.channels > 1 or self.cell > 1

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape as the model denoises it: (T, H, W), or (C, T, H, W) for a latent."""
        return (self.channels, self.frames, self.height, self.width) if self.latent else (self.frames, self.height, self.width)

    @property
    def layout_size(self) -> tuple[int, int]:
        """(H, W) in world pixels, where the glyph layout is told (the video's size unless its world is scaled)."""
        return self.height * self.cell, self.width * self.cell

    @property
    def world_patch(self) -> tuple[int, int, int]:
        """(frames, rows, columns) of the world's pixels one token covers: the patch, times the cell of a latent model."""
        pt, ph, pw = self.patch
        return pt, ph * self.cell, pw * self.cell

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (T', H', W')."""
        pt, ph, pw = self.patch
        return self.frames // pt, self.height // ph, self.width // pw

    @property
    def words(self) -> bool:
        """Whether the model takes sentences (spaces between words): a long-video model's prompt slots."""
        return self.prompt_len > tok.PROMPT_SLOTS

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w
