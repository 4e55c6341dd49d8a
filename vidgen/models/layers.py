"""Building blocks shared by the video denoisers: patcher, embedders, attention, MLP, final layer."""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from ..data import tokenizer as tok
from ..data.layout import layout_batch


def per_token(m: torch.Tensor, tokens: int) -> torch.Tensor:
    """A modulation (B, D), one per video, -> (B, 1, D); or (B, T', D), one per temporal token of a model given
    a timestep per frame, -> (B, N, D) for N = tokens in (t h w) order (each temporal token's H'W' tokens)."""
    if m.ndim == 2:
        return m.unsqueeze(1)
    return m.repeat_interleave(tokens // m.shape[1], dim=1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation: x (B, N, D), shift/scale (B, D) or (B, T', D) (see per_token)."""
    return x * (1 + per_token(scale, x.shape[1])) + per_token(shift, x.shape[1])


def zero_init(module: nn.Module) -> nn.Module:
    """Zero a layer's weight and bias and mark it (`module.zero_init`), so that
    VideoDenoiser.initialize_weights keeps it zero: adaLN modulations, output layers, residual branches
    that must start as the identity."""
    nn.init.zeros_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    module.zero_init = True
    return module


def ada_ln_zero(dim: int, chunks: int) -> nn.Sequential:
    """c (B, D) -> chunks * D modulation values (shift/scale/gate...), zero-initialised so that a
    freshly built block is the identity (DiT's adaLN-Zero)."""
    return nn.Sequential(nn.SiLU(), zero_init(nn.Linear(dim, chunks * dim)))


class Patcher(nn.Module):
    """(B, T, H, W) video, or (B, C, T, H, W) latent, <-> (B, N, C*pt*ph*pw) sequence of 3D patches, exactly inverted."""

    def __init__(self, frames: int, height: int, width: int, patch: tuple[int, int, int], channels: int | None = None):
        """channels None: videos (B, T, H, W); a number: latents (B, C, T, H, W)."""
        super().__init__()
        self.patch = patch
        self.channels = channels
        self.grid = (frames // patch[0], height // patch[1], width // patch[2])

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        pt, ph, pw = self.patch
        if self.channels is None:
            return rearrange(x, "b (t pt) (h ph) (w pw) -> b (t h w) (pt ph pw)", pt=pt, ph=ph, pw=pw)  # (B, N, P)
        return rearrange(x, "b c (t pt) (h ph) (w pw) -> b (t h w) (c pt ph pw)", pt=pt, ph=ph, pw=pw)  # (B, N, C*P)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        pt, ph, pw = self.patch
        t, h, w = self.grid
        if self.channels is None:
            return rearrange(x, "b (t h w) (pt ph pw) -> b (t pt) (h ph) (w pw)", t=t, h=h, w=w, pt=pt, ph=ph, pw=pw)
        return rearrange(x, "b (t h w) (c pt ph pw) -> b c (t pt) (h ph) (w pw)", t=t, h=h, w=w, c=self.channels, pt=pt,
                         ph=ph, pw=pw)


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of (possibly fractional) timesteps: t (B,) -> (B, dim), [cos | sin]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)


class TimestepEmbedder(nn.Module):
    """Scalar timestep -> vector: sinusoidal features then an MLP (as in DiT)."""

    def __init__(self, dim: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        freqs = sinusoidal_embedding(t, self.freq_dim).to(self.mlp[0].weight.dtype)  # (B, freq_dim)
        return self.mlp(freqs)  # (B, D)


def rope_tables(grid: tuple[int, int, int], head_dim: int, base: float = 100.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (N, head_dim/2) of a 3D rotary embedding over the token grid (T', H', W').

    The head's rotation pairs are split between the axes; width gets the remainder because the
    text moves along it.
    """
    pairs = head_dim // 2
    n_t = n_h = pairs // 4
    n_w = pairs - n_t - n_h
    coords = torch.stack(
        torch.meshgrid(*(torch.arange(g, dtype=torch.float32) for g in grid), indexing="ij"), dim=-1
    ).reshape(-1, 3)  # (N, 3)
    angles = []
    for axis, n in enumerate((n_t, n_h, n_w)):
        if n == 0:
            continue
        freqs = base ** (-torch.arange(n, dtype=torch.float32) / n)  # (n,)
        angles.append(coords[:, axis : axis + 1] * freqs[None])  # (N, n)
    angles = torch.cat(angles, dim=-1)  # (N, pairs)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, heads, N, hd) by the tables (N, hd/2) (rotate-half convention)."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def quiet_known_warnings() -> None:
    """Hide torch's note that RMSNorm's fp32 gain on bf16-autocast queries takes the unfused path (the
    one the qk-norm models were trained with): noise to a user. The entry points (the CLI, the app)
    call this; importing vidgen changes no warning filter."""
    warnings.filterwarnings("ignore", message="Mismatch dtype between input and weight", category=UserWarning)


class Attention(nn.Module):
    """Multi-head attention through scaled_dot_product_attention; self- or cross-attention.

    Set `store_attention = True` to keep the attention weights of the last call in
    `last_attention` (B, heads, Nq, Nk) for the probes; that path computes them explicitly. With
    `keep_attention_grad` too they keep their gradient, for a loss on them (attention supervision).
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(context_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.store_attention = self.keep_attention_grad = False
        self.last_attention: torch.Tensor | None = None
        self.q_norm = self.k_norm = None

    def enable_qk_norm(self) -> None:
        """RMS-normalise each head's queries and keys (learned gain, starting at 1) before RoPE."""
        head_dim = self.to_q.out_features // self.heads
        self.q_norm, self.k_norm = nn.RMSNorm(head_dim, eps=1e-6), nn.RMSNorm(head_dim, eps=1e-6)

    def forward(self, x, context=None, mask=None, rope=None, attn_mask=None, past=None, keep_kv=False):
        """x (B, N, D); context (B, M, Dc) or None for self-attention; mask (B, M) bool, True = attend;
        attn_mask (N, M) bool, True = attend (causal temporal attention), or None. A key-value cache (streaming
        a causal model, vidgen.long): `past` = (k, v) (B, h, M0, hd) of earlier tokens, attended before x's own;
        keep_kv=True -> (output, x's own (k, v)) to cache."""
        context = x if context is None else context
        q = rearrange(self.to_q(x), "b n (h d) -> b h n d", h=self.heads)  # (B, h, N, hd)
        k, v = rearrange(self.to_kv(context), "b m (two h d) -> two b h m d", two=2, h=self.heads)  # (B, h, M, hd)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        own = (k, v)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, h, M0 + M, hd)
        keep = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, M)
        if attn_mask is not None:
            keep = attn_mask if keep is None else keep & attn_mask
        attn_mask = keep
        if self.store_attention:
            scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, h, N, M)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            self.last_attention = weights if self.keep_attention_grad else weights.detach()
            out = (weights @ v.float()).to(q.dtype)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, h, N, hd)
        out = self.proj(rearrange(out, "b h n d -> b n (h d)"))
        return (out, own) if keep_kv else out


class Mlp(nn.Module):
    """Two-layer GELU MLP; with `conv_grid` a depthwise 3x3 convolution over each frame's token grid
    sits between the layers, so every position shares the same local filters. (2D, not 3x3x3:
    depthwise Conv3d is ~10x slower on CPU, and attention already mixes frames.)"""

    def __init__(self, dim: int, hidden: int, conv_grid: tuple[int, int, int] | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.conv_grid = conv_grid
        self.conv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden) if conv_grid else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)  # (B, N, Dh)
        if self.conv is not None:
            _, hh, w = self.conv_grid
            t = h.shape[1] // (hh * w)  # a run of whole temporal tokens: all T' of them, or a streamed few
            g = rearrange(h, "b (t h w) c -> (b t) c h w", t=t, h=hh, w=w)  # (B*T', Dh, H', W')
            h = h + rearrange(self.conv(g), "(b t) c h w -> b (t h w) c", t=t)  # (B, N, Dh)
        return self.fc2(F.gelu(h, approximate="tanh"))


class TextBlock(nn.Module):
    """Pre-norm transformer block over the prompt tokens (self-attention with a padding mask)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.mlp(self.norm2(x))


class PromptEncoder(nn.Module):
    """Token ids (B, L) -> token features (B, L, D), padding mask (B, L) and pooled vector (B, D).

    Token embedding plus a learned positional embedding per prompt slot (the blog's, probed by
    vidgen.probes.analysis), then a few transformer layers so each token can see its neighbours (how many
    symbols there are and how wide they are decides where each one is drawn).
    """

    def __init__(self, vocab_size: int, prompt_len: int, dim: int, heads: int, layers: int, mlp_ratio: float,
                 positional: bool = True):
        super().__init__()
        self.token_embed = nn.Embedding(vocab_size, dim)
        # without slot positions the encoder sees the prompt as a set of symbols (a glyph-layout
        # model is told the order by its layout instead)
        self.pos_embed = nn.Parameter(torch.zeros(1, prompt_len, dim)) if positional else None
        self.blocks = nn.ModuleList(TextBlock(dim, heads, mlp_ratio) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        if positional:
            nn.init.normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.token_embed.weight, std=0.02)

    def forward(self, ids: torch.Tensor):
        mask = ids != tok.PAD_ID  # (B, L)
        x = self.token_embed(ids)  # (B, L, D)
        if self.pos_embed is not None:
            x = x + self.pos_embed[:, : ids.shape[1]]
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, L, 1)
        pooled = (x * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, D)
        return x, mask, pooled


class GlyphLayoutFeatures(nn.Module):
    """Prompt ids -> features of the glyph layout at every frame, row and pixel column (B, T, R, W, F).

    Each column gets the learned embedding of the symbol covering it (PAD where none does; the
    token's id, not its slot, so a symbol means the same wherever it stands) and sin/cos features of
    its distance from that glyph's pen origin, which say which part of the glyph the column shows.
    These are the same down the column (R = 1).

    With template_dim > 0 each of `rows` bands of rows also gets a learned vector per (symbol,
    in-glyph pixel column): a glyph template in feature space, learned from the denoising loss alone,
    that tells an M's top row from a W's without the network having to work it out (R = rows).

    The null prompt's layout is empty, so guidance dropout and `forward_with_guidance` need nothing more.
    """

    PERIODS = (32.0, 16.0, 8.0, 4.0)  # pixels: from "which half of a wide glyph" to stroke scale
    OFFSET_BINS = 32  # template columns: pen-origin distance -1..30 px (the widest advance is about 20)

    def __init__(self, vocab_size: int, dim: int, template_dim: int = 0, rows: int = 1):
        super().__init__()
        self.symbol_embed = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.symbol_embed.weight, std=0.02)
        self.rows = rows if template_dim else 1
        self.template = None
        if template_dim:
            self.template = nn.Embedding(vocab_size * self.OFFSET_BINS, rows * template_dim)  # (symbol, column) -> rows
            nn.init.normal_(self.template.weight, std=0.02)
        self.num_features = dim + 2 * len(self.PERIODS) + template_dim

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Prompt ids (B, L) -> features of their true layout (B, T, R, W, F); offsets (B, T), if given,
        place the strips where a horizontal motion puts them instead of the scroll's."""
        return self.features(*layout_batch(ids, offsets))

    def features(self, symbol: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        """symbol (B, T, W) token ids (PAD where empty), offset (B, T, W) pixels -> (B, T, R, W, F)."""
        periods = torch.tensor(self.PERIODS, device=offset.device)
        angle = 2 * math.pi * offset[..., None] / periods  # (B, T, W, P)
        covered = (symbol != tok.PAD_ID)[..., None].to(angle.dtype)  # (B, T, W, 1)
        fourier = torch.cat([angle.sin(), angle.cos()], dim=-1) * covered  # (B, T, W, 2P)
        emb = self.symbol_embed(symbol)  # (B, T, W, E)
        columns = torch.cat([emb, fourier.to(emb.dtype)], dim=-1)[:, :, None]  # (B, T, 1, W, F0)
        if self.template is None:
            return columns
        column = (offset.floor().long() + 1).clamp(0, self.OFFSET_BINS - 1)  # (B, T, W)
        rows = self.template(symbol * self.OFFSET_BINS + column)  # (B, T, W, R*E)
        rows = rearrange(rows, "b t w (r e) -> b t r w e", r=self.rows)  # (B, T, R, W, E)
        return torch.cat([columns.expand(-1, -1, self.rows, -1, -1), rows], dim=-1)  # (B, T, R, W, F)


class FinalLayer(nn.Module):
    """adaLN-modulated LayerNorm then a linear map back to patch pixels (zero-initialised)."""

    def __init__(self, dim: int, patch_volume: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = zero_init(nn.Linear(dim, patch_volume))
        self.adaLN_modulation = ada_ln_zero(dim, 2)

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))  # (B, N, P)
