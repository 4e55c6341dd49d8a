"""Where a model's glyph layout comes from (ModelConfig.layout): one class per kind, one registry.

A kind is chosen once, when the model is built (`VideoDenoiser.layout_kind`, from `LAYOUT_KINDS`), and
everything that used to ask "which layout is this?" asks the kind instead, through one interface:

1. what it needs from the data: the worlds it can learn in (`worlds`, `check_world`) and whether it
   takes each video's motion (B, T, 3) where a batch carries one (`follows_motion`);
2. how it feeds the denoiser: the modules it adds to the network (`build`), the glyph-layout features
   the variant reads (`features`, shape `feature_shape`), the losses it adds in training (`auxiliary_losses`
   on the batch, `world_losses` on more draws from its world) and the layout it predicts (`predicted_layout`);
3. what the pipeline and the app ask: whether it can be told a motion (`follows_motion`), where its
   motion comes from when none is given (`draws_motion`, checked against MOTION_SOURCES when the class is
   defined; `draw_motions`, `world_motion`), its label (`label`) and the layout panel beside its steps (`panel`).

The kinds are stateless: each method takes the model it serves, whose `glyph_layout` and
`layout_predictor` modules hold the weights (their names are the checkpoints' keys).

Adding a kind is one class here and one line in LAYOUT_KINDS (docs/architecture.md, "Adding a
conditioning"); tests/test_conditioning.py runs every registered kind through the same checks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn as nn

from ..data.layout2d import frame_layout, motion_tensor, scroll_motions
from ..data.shape import FRAMES
from ..data.world import WORLDS, Motion, WorldConfig, sample_motion
from .aligner import LayoutPredictor
from .aligner2d import LayoutPredictor2D
from .layers import GlyphLayoutFeatures
from .layout2d import GlyphLayout2DFeatures
from ..data.world import TRAINING_SHAPES
from .motion_prior import GATED_PRIORS, PLACED_PRIORS

if TYPE_CHECKING:
    from .base import VideoDenoiser
    from .config import ModelConfig

MOTION_SOURCES = (None, "world", "prior")  # LayoutKind.draws_motion


class LayoutKind:
    """The base of every kind, with a prompt-only model's answers: no glyph layout, no motion."""

    name = ""  # ModelConfig.layout: the string checkpoints store
    label = ""  # the app's words for it, in the model's radio label
    # 1. what it needs from the data
    worlds: tuple[str, ...] = WORLDS  # the worlds whose batches it learns from (TrainConfig.world.name)
    world_refusal = ""  # why it cannot learn in the others, after "a layout=... model "
    # 2. how it feeds the denoiser
    reads_layout = False  # the denoiser reads glyph-layout features (else its `layout` input is None, and the
    # prompt encoder keeps its slot positions: nothing else tells it the symbols' order)
    per_pixel = False  # the features are per pixel, (B, T, H, W, F), rather than per column (B, T, R, W, F)
    predicts_layout = False  # a layout predictor learns beside the denoiser ("alignment" loss)
    # 3. what the pipeline and the app ask
    follows_motion = False  # can be told where the text goes (a motion (B, T, 3)); in training it takes the
    # batch's motions where its world has them
    draws_motion: str | None = None  # with no motion given: None (the text moves as the model learned), "world"
    # (one drawn from the checkpoint's world by the seed) or "prior" (the model's own learned motion prior)
    panel_caption = "glyph layout: NOT given, this model must learn it"  # the app's layout panel

    def __init_subclass__(cls, **kwargs):
        """Refuse a kind whose `draws_motion` is not one of MOTION_SOURCES when its class is defined, not when
        a pipeline first asks it for a motion."""
        super().__init_subclass__(**kwargs)
        if cls.draws_motion not in MOTION_SOURCES:
            raise TypeError(f"{cls.__name__}.draws_motion must be one of {MOTION_SOURCES}, got {cls.draws_motion!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __deepcopy__(self, memo) -> "LayoutKind":  # stateless: a copied model (the EMA) shares its kind
        return self

    # -- 1. the data ----------------------------------------------------------------------------
    def check_world(self, world: str) -> None:
        """Refuse a world this kind cannot learn in, with the reason."""
        if world not in self.worlds:
            raise ValueError(f"a layout={self.name!r} model {self.world_refusal}")

    # -- 2. the denoiser ------------------------------------------------------------------------
    def build(self, cfg: "ModelConfig", template_rows: int) -> tuple[nn.Module | None, nn.Module | None]:
        """The modules this kind adds to the network: (glyph_layout features, layout_predictor), each or None."""
        return None, None

    def feature_shape(self, model: "VideoDenoiser", batch: int) -> tuple[int, ...] | None:
        """The shape of `features` for `batch` prompts: (B, T, R, W, F) or (B, T, H, W, F); None without a layout."""
        return None

    def features(self, model: "VideoDenoiser", ids: torch.Tensor, motion: torch.Tensor | None = None) -> torch.Tensor | None:
        """The glyph layout of prompts ids (B, L) moving along motion (B, T, 3) as `model` reads it (see
        VideoDenoiser.layout_features), or None."""
        if motion is not None:
            self.refuse_motion()
        return None

    def auxiliary_losses(self, model: "VideoDenoiser", ids: torch.Tensor,
                         motion: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Losses besides denoising, for prompts ids (B, L) as the network saw them, moving along motion (B, T, 3)."""
        return {}

    def world_losses(self, model: "VideoDenoiser", ids: torch.Tensor, prompts: list[str], world: WorldConfig,
                     rng: np.random.Generator, n: int) -> dict[str, torch.Tensor]:
        """Losses on n more motions per prompt drawn from `world` by `rng` (TrainConfig.prior_motions), for
        prompts (ids (B, L) on the model's device); empty for kinds that learn nothing from the world alone."""
        return {}

    def predicted_layout(self, model: "VideoDenoiser", ids: torch.Tensor, motion: torch.Tensor | None = None):
        """What the model works out for prompts ids (B, L) (along motion (B, T, 3)); kinds without a predictor raise."""
        raise ValueError(f"a model with layout={self.name!r} does not predict a layout")

    # -- 3. the pipeline and the app --------------------------------------------------------------
    def refuse_motion(self) -> None:
        """Raise the reason a model of this kind cannot be told a motion (`follows_motion` False)."""
        raise ValueError(f"this model reads no glyph layout (layout={self.name!r}), so it cannot be told a motion; "
                         "it moves the text as it learned")

    def draw_motions(self, model: "VideoDenoiser", prompts: list[str], world: WorldConfig, seed: int,
                     encode: Callable[[list[str]], torch.Tensor]) -> list[Motion] | None:
        """The motion each prompt is generated with when none is given (`draws_motion`), drawn by `seed`;
        None when the model moves the text as it learned. `encode` turns prompts into ids (B, L) on the
        model's device (Pipeline.encode)."""
        return None

    @staticmethod
    def world_motion(prompt: str, world: WorldConfig, seed: int, frames: int = FRAMES) -> Motion:
        """A motion of `frames` frames for `prompt` drawn from `world` by `seed`, every glyph seen whole
        (Pipeline.sample_motion, and the motions of kinds that draw from the world)."""
        return sample_motion(prompt, world, np.random.default_rng(seed), frames=frames)

    def panel(self, model: "VideoDenoiser", prompt: str, ids: torch.Tensor,
              motion: Motion | None) -> tuple[str, tuple[np.ndarray, np.ndarray] | None]:
        """(caption, layout) of the app's panel beside the steps for `prompt` (ids (1, L)) moving along
        `motion`: the layout the model is given or predicts, or the true one it is not given (None: the
        renderer's per-column layout of the prompt; per-pixel kinds give (slot, u) numpy (T, H, W))."""
        return self.panel_caption, None


class PromptOnly(LayoutKind):
    """The blog's recipe: prompt tokens only, nothing told about where the glyphs go (layout "none")."""

    name = "none"
    label = "prompt only"


class GivenLayout(LayoutKind):
    """Told the prompt's glyph layout, per frame and pixel column, computed from the ids (layout "glyph")."""

    name = "glyph"
    label = "layout-guided"
    worlds = ("scroll",)
    world_refusal = ("reads a per-column layout of the scroll world; in the motion world use layout 'glyph2d' "
                     "(told the 2D layout) or 'none'")
    reads_layout = True
    follows_motion = True  # horizontally: the strip's left edge in each frame (motion[..., 0])
    panel_caption = "glyph layout: given to this model"

    def build(self, cfg, template_rows):
        return GlyphLayoutFeatures(cfg.vocab_size, cfg.layout_dim, cfg.template_dim, template_rows), None

    def feature_shape(self, model, batch):
        cfg = model.cfg
        rows = model.template_rows(cfg) if cfg.template_dim else 1
        return batch, cfg.frames, rows, cfg.width, model.glyph_layout.num_features

    def features(self, model, ids, motion=None):
        return model.glyph_layout(ids, None if motion is None else motion[..., 0])


class LearnedLayout(GivenLayout):
    """The blog's interface: prompt tokens only, but it predicts the glyph layout from them and reads it as
    "glyph" does; the true layout while training (teacher forcing: vidgen.models.aligner) (layout "learned")."""

    name = "learned"
    label = "prompt only, learned layout"
    predicts_layout = True
    panel_caption = "glyph layout: predicted by this model from the prompt"

    def build(self, cfg, template_rows):
        glyph_layout, _ = super().build(cfg, template_rows)
        return glyph_layout, LayoutPredictor(cfg.vocab_size, cfg.layout_dim, cfg.frames, cfg.width)

    def features(self, model, ids, motion=None):
        if model.training:
            return super().features(model, ids, motion)
        offsets = None if motion is None else motion[..., 0]
        return model.glyph_layout.features(*model.layout_predictor.layout(ids, offsets))

    def auxiliary_losses(self, model, ids, motion=None):
        return {"alignment": model.layout_predictor.loss(ids)}

    def predicted_layout(self, model, ids, motion=None):
        """(slot (B, T, W) int64, EMPTY where no glyph is; offset (B, T, W) float32 pixels into the glyph)."""
        return model.layout_predictor.slots(ids, None if motion is None else motion[..., 0])

    def panel(self, model, prompt, ids, motion):
        slot, offset = self.predicted_layout(model, ids)
        return self.panel_caption, (slot[0].cpu().numpy(), offset[0].cpu().numpy())


class GivenLayout2D(LayoutKind):
    """Told the layout at every pixel, in two dimensions and at any size, for text moving any way (the
    motion world: vidgen.data.layout2d, vidgen.models.layout2d) (layout "glyph2d")."""

    name = "glyph2d"
    label = "layout-guided"
    reads_layout = True
    per_pixel = True
    follows_motion = True  # x, y and size in every frame
    draws_motion = "world"
    panel_caption = "glyph layout: given to this model, where each glyph is in every frame"

    def build(self, cfg, template_rows):
        return GlyphLayout2DFeatures(cfg.vocab_size, cfg.layout_dim, cfg.template_dim, cfg.layout_pen), None

    def feature_shape(self, model, batch):
        cfg = model.cfg
        return batch, cfg.frames, *cfg.layout_size, model.glyph_layout.num_features

    def features(self, model, ids, motion=None):
        return model.glyph_layout(ids, scroll_motions(ids) if motion is None else motion)

    def draw_motions(self, model, prompts, world, seed, encode):
        return [self.world_motion(p, world, seed) for p in prompts]

    def panel(self, model, prompt, ids, motion):
        slot, u, _ = frame_layout(prompt, motion.xs, motion.ys, motion.size, model.cfg.layout_pen)
        return self.panel_caption, (slot, u)


class LearnedLayout2D(GivenLayout2D):
    """The blog's interface in the motion world: it predicts the glyph widths and draws a motion from a
    learned prior (vidgen.models.aligner2d), reading the true layout while training (layout "learned2d")."""

    name = "learned2d"
    label = "prompt only, learned layout and motion"
    worlds = ("motion",)
    world_refusal = "learns a motion prior: train it in the motion world"
    predicts_layout = True
    draws_motion = "prior"

    def build(self, cfg, template_rows):
        glyph_layout, _ = super().build(cfg, template_rows)
        return glyph_layout, LayoutPredictor2D(cfg.vocab_size, cfg.layout_dim, cfg.frames, cfg.height, cfg.width,
                                               placed=cfg.motion_prior in PLACED_PRIORS, pair_kerning=cfg.pair_kerning,
                                               gates=cfg.motion_prior in GATED_PRIORS,
                                               shapes=len(TRAINING_SHAPES) if cfg.motion_prior == "shaped" else 0,
                                               pair_boxes=cfg.pair_boxes)

    def features(self, model, ids, motion=None):
        if model.training:
            return super().features(model, ids, motion)
        motion = model.layout_predictor.sample_motion(ids) if motion is None else motion
        return model.glyph_layout.features(*model.layout_predictor.layout(ids, motion), motion[:, 0, 2])

    def auxiliary_losses(self, model, ids, motion=None):
        return {"alignment": model.layout_predictor.loss(ids, scroll_motions(ids) if motion is None else motion)}

    def world_losses(self, model, ids, prompts, world, rng, n):
        """The motion prior's loss on n more motions per prompt drawn from the world: more of it than the batch
        shows (the prompts repeated n times, in that order)."""
        if not n:
            return {}
        extra = [sample_motion(p, world, rng) for p in prompts * n]
        return {"prior": model.layout_predictor.prior_loss(ids.repeat(n, 1), motion_tensor(extra).to(ids.device))}

    def predicted_layout(self, model, ids, motion=None):
        """(slot (B, T, H, W) int64, EMPTY where no glyph is; uv (B, T, H, W, 2) float32) along motion (B, T, 3),
        by default the one its prior draws with seed 0."""
        return model.layout_predictor.slots(ids, model.layout_predictor.sample_motion(ids) if motion is None else motion)

    def draw_motions(self, model, prompts, world, seed, encode):
        drawn = model.layout_predictor.sample_motion(encode(prompts), seed).cpu().numpy()  # (B, T, 3)
        return [Motion(m[:, 0], m[:, 1], int(m[0, 2]), "learned") for m in drawn]

    def panel(self, model, prompt, ids, motion):
        slot, uv = self.predicted_layout(model, ids, motion_tensor([motion]).to(ids.device))
        who = "drawn by this model's own motion prior" if motion.shape == "learned" else "along the motion you gave"
        return f"glyph layout: predicted by this model, {who}", (slot[0].cpu().numpy(), uv[0, ..., 0].cpu().numpy())


LAYOUT_KINDS: dict[str, LayoutKind] = {
    "none": PromptOnly(),
    "glyph": GivenLayout(),
    "learned": LearnedLayout(),
    "glyph2d": GivenLayout2D(),
    "learned2d": LearnedLayout2D(),
}


def layout_kind(name: str) -> LayoutKind:
    """The kind registered as `name` (a ModelConfig.layout string); an unknown one raises with the known names."""
    if name not in LAYOUT_KINDS:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(LAYOUT_KINDS)} (a checkpoint from a newer vidgen?)")
    return LAYOUT_KINDS[name]
