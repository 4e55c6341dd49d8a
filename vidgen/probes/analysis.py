"""Interpretability probes: what a trained denoiser learned about space, time and the prompt.

Every probe returns data (numpy arrays, dicts of plain numbers); `vidgen.probes.figures` draws them,
`python -m vidgen probe` writes them to disk and the web app's explorer shows them.

Coordinates are patch (token) coordinates on the grid (T', H', W') = cfg.grid, token order (t h w)
as in the patcher: token n = (t * H' + h) * W' + w. Probes accept a model or a Pipeline; a model
that lacks what a probe reads (a learned `pos_embed`, `blocks[i].cross_attn`, ...) raises ValueError.

| probe                          | blog                               |
| ------------------------------ | ---------------------------------- |
| position_similarity_cube       | Figure 11 (similarity to one position) |
| position_similarity_matrix     | Figure 12 (all-to-all, 512 x 512)  |
| prompt_position_similarity     | Figure 13 (prompt slots, 8 x 8)    |
| timestep_features              | Figure 10 (sinusoidal features)    |
| trace_attention, attention maps| "future work": self- and cross-attention |
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from einops import rearrange

from ..data import tokenizer as tok
from ..data.layout import glyph_layout
from ..data.prompts import make_batch, validation_prompts
from ..data.layout2d import frame_layout
from ..data.render import render_video, to_model_space
from ..data.world import Motion, render_motion, scroll_motion
from ..data.shape import FRAMES, HEIGHT, WIDTH
from ..diffusion.sampler import DEFAULT_GUIDANCE, EVAL_SAMPLER, EVAL_STEPS
from ..diffusion.schedule import NoiseSchedule
from ..models.attention_calls import MAP_KINDS
from ..models.base import VideoDenoiser
from ..models.layers import Attention, sinusoidal_embedding
from ..trajectory import Trajectory, TrajectoryRecorder

INK_THRESHOLD = 127  # a pixel above this (uint8) is part of a drawn symbol
MIN_INK_PIXELS = 3  # a patch "shows" a symbol when at least this many of its pixels are that symbol's ink


# ----------------------------------------------------------------------------- access


class ProbeNotApplicable(ValueError):
    """The model has nothing this probe reads (no learned positions, no joint attention, ...): the
    probe report skips the probe and says why. Any other error is a real one and is raised."""


def as_model(obj) -> nn.Module:
    """A Pipeline or a model -> the model."""
    model = getattr(obj, "model", obj) if not isinstance(obj, nn.Module) else obj
    if not isinstance(model, nn.Module) or not hasattr(model, "cfg"):
        raise ValueError(f"expected a vidgen model or Pipeline, got {type(obj).__name__}")
    return model


def probe_batch(obj, prompts: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    """The probes' data, as the model denoises it: (x0, ids), x0 the scroll renders (B, T, H, W) in [-1, 1], or for a
    latent model (a Pipeline's, with its VAE) their latents (B, C, T', H', W'), drawn at the VAE's world scale."""
    model = as_model(obj)
    if not model.cfg.latent:
        return make_batch(prompts, device=device)
    vae = getattr(obj, "vae", None)
    if vae is None:
        raise ValueError("a latent model's probes on data need its VAE: pass its Pipeline (vidgen.load_pipeline), not the model")
    scale = vae.cfg.height // HEIGHT  # the 64x64 world's VAE is told its world's 2x
    videos = np.stack([render_motion(p, scroll_motion(p), scale) for p in prompts])  # (B, T, H, W) uint8
    ids = torch.from_numpy(tok.encode_batch(list(prompts))).to(device)
    with torch.no_grad():
        return vae.to_latent(to_model_space(videos).to(next(vae.parameters()).device)).to(device), ids


def _variant(model) -> str:
    return getattr(model.cfg, "variant", type(model).__name__)


def _parameter(model, path: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """model.<path> as float64 numpy after checking it exists and has `shape`."""
    obj = model
    for name in path.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            raise ProbeNotApplicable(f"model variant {_variant(model)!r} has no {what} `{path}`; this probe needs one")
    if not torch.is_tensor(obj) or tuple(obj.shape) != shape:
        got = tuple(obj.shape) if torch.is_tensor(obj) else type(obj).__name__
        raise ValueError(f"model variant {_variant(model)!r}: `{path}` is {got}, expected a tensor of shape {shape}")
    return obj.detach().double().cpu().numpy()


def check_position(pos, grid: tuple[int, int, int], what: str = "position") -> tuple[int, int, int]:
    if len(pos) != 3:
        raise ValueError(f"{what} must be (t, h, w), got {pos!r}")
    pos = tuple(int(p) for p in pos)
    for p, g, axis in zip(pos, grid, "thw"):
        if not 0 <= p < g:
            raise ValueError(f"{what} {pos}: {axis}={p} is outside the token grid {grid} (0 <= {axis} < {g})")
    return pos


def check_index(i: int, n: int, what: str) -> int:
    """Python-style index into n items (negatives count from the end) -> 0..n-1, else ValueError."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
        raise ValueError(f"{what} must be an integer in [{-n}, {n - 1}], got {i!r}")
    return int(i) % n


def token_index(pos: tuple[int, int, int], grid: tuple[int, int, int]) -> int:
    """(t, h, w) patch coordinates -> index in the (t h w) token sequence."""
    t, h, w = check_position(pos, grid)
    return (t * grid[1] + h) * grid[2] + w


def cosine_similarity_matrix(x: np.ndarray) -> np.ndarray:
    """Rows of x (N, D) -> (N, N) cosine similarities (a zero row is similar to nothing)."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norm > 0, norm, 1.0)
    return unit @ unit.T


# ----------------------------------------------------------------------------- positional embeddings


def video_position_embeddings(model) -> np.ndarray:
    """The learned video positional embedding, (N, D) in token order (t h w)."""
    model = as_model(model)
    n, d = model.cfg.num_tokens, model.cfg.dim
    return _parameter(model, "pos_embed", (1, n, d), "learned video positional embedding")[0]


def position_similarity_matrix(model) -> np.ndarray:
    """Cosine similarity of every video position embedding to every other: (N, N) (blog Fig. 12)."""
    return cosine_similarity_matrix(video_position_embeddings(model))


def position_similarity_cube(model, t: int, h: int, w: int) -> np.ndarray:
    """Cosine similarity of every video position embedding to the one at (t, h, w): (T', H', W') (blog Fig. 11)."""
    model = as_model(model)
    grid = model.cfg.grid
    emb = video_position_embeddings(model)  # (N, D)
    ref = emb[token_index((t, h, w), grid)]  # (D,)
    norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(ref)
    sim = emb @ ref / np.where(norms > 0, norms, 1.0)  # (N,)
    return rearrange(sim, "(t h w) -> t h w", t=grid[0], h=grid[1], w=grid[2])


def prompt_position_similarity(model) -> np.ndarray:
    """Cosine similarity of the learned prompt-slot embeddings: (L, L) (blog Fig. 13)."""
    model = as_model(model)
    shape = (1, model.cfg.prompt_len, model.cfg.dim)
    emb = _parameter(model, "prompt_encoder.pos_embed", shape, "learned prompt positional embedding")[0]
    return cosine_similarity_matrix(emb)


def symbol_embedding_similarity(model) -> np.ndarray:
    """Cosine similarity of a glyph-layout model's learned symbol embeddings, A-Z then 0-9: (36, 36).
    Symbols the model finds alike to draw end up alike here."""
    model = as_model(model)
    shape = (model.cfg.vocab_size, model.cfg.layout_dim)
    emb = _parameter(model, "glyph_layout.symbol_embed.weight", shape, "glyph-layout symbol embedding")
    ids = [int(tok.encode(s)[0]) for s in tok.SYMBOLS]
    return cosine_similarity_matrix(emb[ids])


def similarity_by_distance(sim: np.ndarray, grid: tuple[int, int, int]) -> dict:
    """Mean similarity of position pairs as a function of their distance, one axis at a time.

    sim (N, N) over the grid's tokens. "time"/"height"/"width": pairs that differ only along that
    axis, by |delta| = 0..size-1. "space": pairs in the same frame, by their Euclidean distance in
    patches (0, 1, 1.414, 2, ...). Each is {"distance": [...], "mean": [...], "pairs": [...]}.
    """
    sim = np.asarray(sim, dtype=np.float64)
    n = grid[0] * grid[1] * grid[2]
    if sim.shape != (n, n):
        raise ValueError(f"similarity matrix is {sim.shape}, expected ({n}, {n}) for grid {grid}")
    coords = np.stack(np.meshgrid(*(np.arange(g) for g in grid), indexing="ij"), -1).reshape(n, 3)  # (N, 3) in (t h w) order
    delta = np.abs(coords[:, None, :] - coords[None, :, :])  # (N, N, 3)
    out = {}
    for axis, name in enumerate(("time", "height", "width")):
        others = np.delete(delta, axis, axis=2).sum(-1) == 0  # (N, N) pairs equal on the other two axes
        out[name] = _profile(sim, delta[..., axis], others, range(grid[axis]))
    same_frame = delta[..., 0] == 0
    dist = np.round(np.hypot(delta[..., 1], delta[..., 2]), 3)  # (N, N) exact Euclidean distances: 0, 1, 1.414, 2, ...
    out["space"] = _profile(sim, dist, same_frame, np.unique(dist[same_frame]))
    return out


def _profile(sim, dist, keep, distances) -> dict:
    rows = {"distance": [], "mean": [], "pairs": []}
    for d in distances:
        sel = keep & (dist == d)
        if sel.any():
            rows["distance"].append(int(d) if float(d).is_integer() else float(d))
            rows["mean"].append(float(sim[sel].mean()))
            rows["pairs"].append(int(sel.sum()))
    return rows


# ----------------------------------------------------------------------------- timestep embedding


def timestep_features(timesteps, dim: int) -> np.ndarray:
    """The raw sinusoidal features the model feeds its timestep MLP: (len(timesteps), dim) (blog Fig. 10).

    Layout as in `vidgen.models.layers.sinusoidal_embedding`: [cos(w_k t) | sin(w_k t)], with
    frequencies w_k falling from 1 (left) to 1/10000 (right of each half).
    """
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    t = torch.as_tensor(np.asarray(timesteps, dtype=np.float64)).reshape(-1)
    return sinusoidal_embedding(t, dim).double().numpy()


@torch.no_grad()
def timestep_embedding(model, timesteps, after_mlp: bool = False) -> np.ndarray:
    """The model's timestep embedding: its sinusoidal features (n, freq_dim) or, with after_mlp,
    the learned MLP's output (n, D)."""
    model = as_model(model)
    embedder = getattr(model, "t_embedder", None)
    if embedder is None or not hasattr(embedder, "freq_dim") or not hasattr(embedder, "mlp"):
        raise ProbeNotApplicable(f"model variant {_variant(model)!r} has no sinusoidal `t_embedder` (freq_dim, mlp)")
    feats = timestep_features(timesteps, embedder.freq_dim)  # (n, F)
    if not after_mlp:
        return feats
    p = next(embedder.mlp.parameters())
    return embedder.mlp(torch.as_tensor(feats, dtype=p.dtype, device=p.device)).double().cpu().numpy()  # (n, D)


# ----------------------------------------------------------------------------- what is drawn where


def symbol_pixels(prompt: str, motion: Motion | None = None) -> np.ndarray:
    """Which prompt symbol each pixel of the ground-truth video shows (the scroll's, or along `motion`):
    int (T, H, W), -1 = background."""
    prompt = tok.normalize_prompt(prompt)
    if motion is None:
        video = render_video(prompt)  # (T, H, W) uint8
        symbol, _ = glyph_layout(prompt).frame_columns()  # (T, W) slot of the glyph covering each column
        labels = np.broadcast_to(symbol[:, None, :], video.shape).copy()  # (T, H, W)
    else:
        video = render_motion(prompt, motion)
        labels, _, _ = frame_layout(prompt, motion.xs, motion.ys, motion.size)  # (T, H, W)
    labels[video <= INK_THRESHOLD] = -1
    return labels


def symbol_ownership(prompt: str, patch: tuple[int, int, int], min_pixels: int = MIN_INK_PIXELS,
                     motion: Motion | None = None) -> np.ndarray:
    """Which prompt symbol each patch shows (the scroll's, or along `motion`): int (T', H', W'), the
    symbol with the most ink pixels in the patch, or -1 where fewer than `min_pixels` are ink."""
    pt, ph, pw = patch
    if FRAMES % pt or HEIGHT % ph or WIDTH % pw:
        raise ValueError(f"patch {patch} does not tile the ({FRAMES}, {HEIGHT}, {WIDTH}) video")
    labels = symbol_pixels(prompt, motion)  # (T, H, W)
    n = len(tok.normalize_prompt(prompt))
    per_patch = rearrange(labels, "(t pt) (h ph) (w pw) -> t h w (pt ph pw)", pt=pt, ph=ph, pw=pw)  # (T', H', W', P)
    counts = np.stack([(per_patch == i).sum(-1) for i in range(n)], axis=-1)  # (T', H', W', n)
    return np.where(counts.max(-1) >= min_pixels, counts.argmax(-1), -1)


def alignment_score(cross: np.ndarray, ownership: np.ndarray) -> dict:
    """How often a patch's strongest cross-attention points at the symbol drawn there.

    cross (..., N, n): attention of each patch over the prompt's n symbol tokens (any leading axes,
    e.g. layers, are scored separately); ownership (N,) or (T', H', W'): symbol index per patch, -1
    for background (not scored). -> {"rate": (...) array, "patches": scored patches, "chance": 1/n,
    "majority": share of the most common symbol, what always pointing at one token would score}.
    """
    own = np.asarray(ownership).reshape(-1)  # (N,)
    cross = np.asarray(cross)
    if cross.shape[-2] != own.shape[0]:
        raise ValueError(f"attention covers {cross.shape[-2]} patches, ownership {own.shape[0]}")
    n = cross.shape[-1]
    scored = own >= 0
    k = int(scored.sum())
    if k == 0:
        return {"rate": np.full(cross.shape[:-2], np.nan), "patches": 0, "chance": 1.0 / n, "majority": float("nan")}
    hits = cross.argmax(-1)[..., scored] == own[scored]  # (..., k)
    majority = np.bincount(own[scored], minlength=n).max() / k
    return {"rate": hits.mean(-1), "patches": k, "chance": 1.0 / n, "majority": float(majority)}


# ----------------------------------------------------------------------------- attention recording


def attention_modules(model, kind: str) -> list[Attention]:
    """The per-block attention modules over every space-time token, as the variant declares them
    (`VideoDenoiser.attention_layers`): kind "self" -> joint self-attention, "cross" -> prompt cross-attention."""
    model = as_model(model)
    if kind not in MAP_KINDS:
        raise ValueError(f"unknown attention kind {kind!r}; known: {', '.join(MAP_KINDS)}")
    mods = model.attention_layers(kind) if isinstance(model, VideoDenoiser) else []
    if not mods or not all(isinstance(m, Attention) for m in mods):
        raise ProbeNotApplicable(f"model variant {_variant(model)!r} has no {kind}-attention layers over every "
                                 f"space-time token; the {kind}-attention probes need them")
    return mods


def _has_attention(model, kind: str) -> bool:
    try:
        attention_modules(model, kind)
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def recording_attention(modules):
    """Within the block, the modules keep their last attention weights; afterwards they stop and forget."""
    before = [m.store_attention for m in modules]
    for m in modules:
        m.store_attention = True
    try:
        yield modules
    finally:
        for m, b in zip(modules, before):
            m.store_attention = b
            m.last_attention = None


def _conditional(weights: torch.Tensor, batch: int, keys: int, num_tokens: int, variant: str) -> np.ndarray:
    """The conditional half of recorded weights (B or 2B with guidance, heads, N, keys) -> (B, heads, N, keys)."""
    if weights is None or weights.ndim != 4 or weights.shape[0] not in (batch, 2 * batch) or weights.shape[2:] != (num_tokens, keys):
        shape = None if weights is None else tuple(weights.shape)
        raise ProbeNotApplicable(f"model variant {variant!r} records attention of shape {shape}, expected (B, heads, "
                         f"{num_tokens}, {keys}); attention that is not over all {num_tokens} tokens is not supported")
    return weights[:batch].float().cpu().numpy()


@dataclass
class AttentionTrace:
    """Attention recorded while sampling one prompt; step indices count denoising steps from the noisiest (0)."""

    prompt: str  # normalised prompt
    grid: tuple[int, int, int]  # (T', H', W')
    patch: tuple[int, int, int]  # (pt, ph, pw)
    trajectory: Trajectory  # the traced sample's steps (timesteps, x_t, pred_x0)
    cross: np.ndarray  # (S, layers, heads, N, n) float32: patches -> the prompt's n symbol tokens (padding gets 0)
    self_steps: tuple[int, ...]  # step indices whose self-attention was kept
    self_attn: np.ndarray  # (len(self_steps), layers, heads, N, N) float16
    ownership: np.ndarray  # (T', H', W') symbol index drawn in each patch of the ground truth, -1 background

    @property
    def num_steps(self) -> int:
        return self.trajectory.num_steps

    @property
    def timesteps(self) -> np.ndarray:
        """(S,) t of each step."""
        return self.trajectory.timesteps

    @property
    def pred_x0(self) -> np.ndarray:
        """(S, T, H, W) uint8: the model's clean-video estimate at each step."""
        return self.trajectory.pred_x0

    @property
    def video(self) -> np.ndarray:
        """(T, H, W) uint8: the sampled video."""
        return self.trajectory.video

    @property
    def symbols(self) -> list[str]:
        return list(self.prompt)


@torch.no_grad()
def trace_attention(pipe, prompt: str, seed: int = 0, steps: int = EVAL_STEPS, guidance_scale: float = DEFAULT_GUIDANCE,
                    eta: float = 0.0, self_attention_steps=None, motion: Motion | None = None) -> AttentionTrace:
    """Sample `prompt` with the pipeline (along `motion`, for a model that follows one) and record every
    block's cross-attention at every step, and self-attention at `self_attention_steps` (step indices;
    default: first, middle and last when the model has joint self-attention blocks[i].attn, none
    otherwise; () for none)."""

    if not hasattr(pipe, "iter_steps"):
        raise ValueError(f"trace_attention needs a Pipeline (vidgen.pipeline.load_pipeline), got {type(pipe).__name__}")
    model = as_model(pipe)
    cfg = model.cfg
    prompt = tok.normalize_prompt(prompt, max_len=cfg.prompt_len)
    cross_mods = attention_modules(model, "cross")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if self_attention_steps is None:
        has_self = _has_attention(model, "self")
        self_attention_steps = (0, steps // 2, steps - 1) if has_self else ()
    keep = tuple(sorted({check_index(i, steps, "self-attention step") for i in self_attention_steps}))
    self_mods = attention_modules(model, "self") if keep else []
    chosen = pipe.motions([prompt], motion, seed)  # a motion-world model's own draw when none is given
    motion = None if chosen is None else chosen[0]
    n, N, variant = len(prompt), cfg.num_tokens, _variant(model)
    cross, self_attn, rec = [], [], TrajectoryRecorder()
    with recording_attention(cross_mods + self_mods):
        for out in pipe.iter_steps([prompt], steps=steps, eta=eta, guidance_scale=guidance_scale, seed=seed, sampler=EVAL_SAMPLER,
                                   motion=motion):
            rec.add(out)
            layers = [_conditional(m.last_attention, 1, cfg.prompt_len, N, variant)[0, :, :, :n] for m in cross_mods]
            cross.append(np.stack(layers))  # (layers, heads, N, n)
            if out.index in keep:
                layers = [_conditional(m.last_attention, 1, N, N, variant)[0] for m in self_mods]
                self_attn.append(np.stack(layers).astype(np.float16))  # (layers, heads, N, N)
    return AttentionTrace(
        prompt=prompt, grid=cfg.grid, patch=cfg.world_patch, trajectory=rec.trajectory(), cross=np.stack(cross),
        self_steps=keep, self_attn=np.stack(self_attn) if self_attn else np.zeros((0,), np.float16),
        ownership=symbol_ownership(prompt, cfg.world_patch, motion=motion),
    )


def _reduce(a: np.ndarray, layer, head, num_layers: int, num_heads: int) -> np.ndarray:
    """a (layers, heads, ...) -> (...): one layer/head, or the mean where None."""
    a = a.mean(0) if layer is None else a[check_index(layer, num_layers, "layer")]
    return a.mean(0) if head is None else a[check_index(head, num_heads, "head")]


def cross_attention_maps(trace: AttentionTrace, step: int = -1, layer: int | None = None, head: int | None = None) -> np.ndarray:
    """Cross-attention of every patch to each prompt symbol at one step, as maps over the frames:
    (n, T', H', W'); layer/head None = averaged."""
    step = check_index(step, trace.num_steps, "step")
    _, layers, heads, _, _ = trace.cross.shape
    a = _reduce(trace.cross[step], layer, head, layers, heads)  # (N, n)
    t, h, w = trace.grid
    return rearrange(a, "(t h w) k -> k t h w", t=t, h=h, w=w)


def self_attention_map(trace: AttentionTrace, query, step: int | None = None, layer: int | None = None,
                       head: int | None = None) -> np.ndarray:
    """Self-attention from the patch `query` (t, h, w) to every patch: (T', H', W').

    `step` is a denoising step index among trace.self_steps (default: the last kept); layer/head
    None = averaged.
    """
    if not trace.self_steps:
        raise ValueError("this trace kept no self-attention (the model has no joint self-attention, or "
                         "self_attention_steps was empty)")
    step = trace.self_steps[-1] if step is None else check_index(step, trace.num_steps, "step")
    if step not in trace.self_steps:
        raise ValueError(f"self-attention was kept at steps {list(trace.self_steps)} only, not {step}")
    _, layers, heads, _, _ = trace.self_attn.shape
    q = token_index(query, trace.grid)
    a = _reduce(trace.self_attn[trace.self_steps.index(step)][:, :, q].astype(np.float32), layer, head, layers, heads)  # (N,)
    t, h, w = trace.grid
    return rearrange(a, "(t h w) -> t h w", t=t, h=h, w=w)


def alignment_over_steps(trace: AttentionTrace) -> dict:
    """Attention alignment (see `alignment_score`) at every denoising step, per layer and for the
    layer-and-head average: {"timesteps", "per_layer" (S, layers), "mean" (S,), "chance", "majority", "patches"}."""
    per_layer = trace.cross.mean(2)  # (S, layers, N, n): heads averaged
    layer_rate = alignment_score(per_layer, trace.ownership)
    mean_rate = alignment_score(per_layer.mean(1), trace.ownership)
    return {"timesteps": trace.timesteps.tolist(), "per_layer": np.asarray(layer_rate["rate"]).tolist(),
            "mean": np.asarray(mean_rate["rate"]).tolist(), "chance": layer_rate["chance"],
            "majority": layer_rate["majority"], "patches": layer_rate["patches"]}


# ----------------------------------------------------------------------------- on the data (teacher-forced)


def probe_prompts(n: int, min_len: int = 1) -> list[str]:
    """n fixed validation prompts (never trained on), evenly spread over the length-sorted list."""
    pool = [p for p in validation_prompts() if len(p) >= min_len]
    if n < 1:
        raise ValueError(f"need at least one prompt, got {n}")
    idx = np.unique(np.linspace(0, len(pool) - 1, min(n, len(pool))).round().astype(int))
    return [pool[i] for i in idx]


def _timesteps(timesteps, num_timesteps: int) -> np.ndarray:
    t = np.asarray(timesteps, dtype=np.int64).reshape(-1)
    if t.size == 0 or t.min() < 0 or t.max() >= num_timesteps:
        raise ValueError(f"timesteps must be in [0, {num_timesteps - 1}], got {np.asarray(timesteps).tolist()}")
    return t


def evenly_spaced_timesteps(count: int, num_timesteps: int) -> np.ndarray:
    """`count` timesteps spread over [0, T-1], both ends included."""
    if count < 1:
        raise ValueError(f"need at least one timestep, got {count}")
    return np.unique(np.rint(np.linspace(0, num_timesteps - 1, count)).astype(np.int64))


@torch.no_grad()
def loss_by_noise_level(model, schedule: NoiseSchedule, timesteps, prompts, seed: int = 0) -> dict:
    """Denoising loss over the noise level on fixed prompts and noise (deterministic, fp32).

    -> {"timesteps", "target_mse": MSE of the network output against its training target (eps or
    v), "x0_mse": MSE of the implied clean-video estimate, "snr", "prediction", "prompts"}.
    """
    data, model = model, as_model(model)
    t_all = _timesteps(timesteps, schedule.num_timesteps)
    device = next(model.parameters()).device
    x0, ids = probe_batch(data, list(prompts), device)  # (B, [C,] T, H, W), (B, L)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(int(seed))).to(device)
    target_mse, x0_mse = [], []
    for t_val in t_all:
        t = torch.full((x0.shape[0],), int(t_val), dtype=torch.long, device=device)
        x_t = schedule.q_sample(x0, t, noise)
        target_err, x0_err = schedule.denoising_errors(model(x_t, t, ids), x_t, x0, noise, t, clamp_x0=False)  # (B,), (B,)
        target_mse.append(float(target_err.mean()))
        x0_mse.append(float(x0_err.mean()))
    return {"timesteps": t_all.tolist(), "target_mse": target_mse, "x0_mse": x0_mse,
            "snr": schedule.snr[t_all].tolist(), "prediction": schedule.prediction, "prompts": list(prompts)}


@torch.no_grad()
def alignment_on_data(model, schedule: NoiseSchedule, timesteps, prompts, seed: int = 0) -> dict:
    """Attention alignment with the ground-truth video noised to each t (teacher-forced, conditional pass).

    Prompts with one symbol are skipped (their alignment is 1 by construction). Rates count every
    scored patch of every prompt: {"timesteps", "per_layer" (K, layers), "mean" (K,), "chance",
    "majority", "patches", "prompts"}.
    """
    data, model = model, as_model(model)
    mods = attention_modules(model, "cross")
    t_all = _timesteps(timesteps, schedule.num_timesteps)
    prompts = [tok.normalize_prompt(p) for p in prompts if len(tok.normalize_prompt(p)) > 1]
    if not prompts:
        raise ValueError("attention alignment needs prompts with at least two symbols")
    cfg, device = model.cfg, next(model.parameters()).device
    x0, ids = probe_batch(data, prompts, device)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(int(seed))).to(device)
    owners = [symbol_ownership(p, cfg.world_patch).reshape(-1) for p in prompts]  # B x (N,)
    hits = np.zeros((len(t_all), len(mods) + 1))  # last column: layers averaged
    scored = chance = majority = 0.0
    with recording_attention(mods):
        for k, t_val in enumerate(t_all):
            t = torch.full((len(prompts),), int(t_val), dtype=torch.long, device=device)
            model(schedule.q_sample(x0, t, noise), t, ids)
            attn = np.stack([_conditional(m.last_attention, len(prompts), cfg.prompt_len, cfg.num_tokens, _variant(model))
                             for m in mods], 1).mean(2)  # (B, layers, N, L): heads averaged
            for b, (p, own) in enumerate(zip(prompts, owners)):
                a = attn[b, :, :, : len(p)]  # (layers, N, n)
                s = alignment_score(np.concatenate([a, a.mean(0, keepdims=True)]), own)
                hits[k] += np.nan_to_num(s["rate"]) * s["patches"]
                if k == 0:
                    scored += s["patches"]
                    chance += s["chance"] * s["patches"]
                    majority += (s["majority"] if s["patches"] else 0.0) * s["patches"]
    rates = hits / max(scored, 1)
    return {"timesteps": t_all.tolist(), "per_layer": rates[:, :-1].tolist(), "mean": rates[:, -1].tolist(),
            "chance": chance / max(scored, 1), "majority": majority / max(scored, 1), "patches": int(scored),
            "prompts": prompts}


def position_summary(model) -> dict:
    """Numbers behind Figures 11-13: similarity by temporal and spatial distance, same vs other frame,
    and the prompt slots' neighbour similarity (absent for a model without prompt-slot embeddings,
    such as a glyph-layout one)."""
    model = as_model(model)
    sim = position_similarity_matrix(model)
    grid = model.cfg.grid
    frame = np.arange(sim.shape[0]) // (grid[1] * grid[2])  # (N,) frame of each token
    same = frame[:, None] == frame[None, :]
    off_diag = ~np.eye(sim.shape[0], dtype=bool)
    out = {
        "by_distance": similarity_by_distance(sim, grid),
        "mean_same_frame": float(sim[same & off_diag].mean()) if (same & off_diag).any() else float("nan"),
        "mean_other_frames": float(sim[~same].mean()) if (~same).any() else float("nan"),
    }
    if model.prompt_encoder.pos_embed is not None:
        prompt = prompt_position_similarity(model)
        out["prompt_neighbour_mean"] = float(np.diag(prompt, 1).mean()) if len(prompt) > 1 else float("nan")
        out["prompt_far_mean"] = float(prompt[np.triu_indices(len(prompt), 2)].mean()) if len(prompt) > 2 else float("nan")
    return out
