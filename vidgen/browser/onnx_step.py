"""One deterministic DDIM step of a layout-guided motion-world model as a traceable module, and its ONNX export.

The library computes a model's glyph layout in numpy (vidgen.data.layout2d: which symbol covers each pixel of each
frame and where inside the glyph it lies), which cannot be traced; a page computes it in JavaScript from the font
tables (vidgen.browser.font_metrics) and hands it in. Everything after the layout is in the graph: the prompt
encoder, the layout features, the denoiser (a guidance-distilled student reads the scale as an input; a teacher
runs its two passes, cond and uncond, in one batch) and the DDIM update with eta = 0 and x0 clipped, exactly as
`vidgen.diffusion.ddim.DDIMScheduler.step` does it:

    pred_x0 = clip(sqrt(a_t) x_t - sqrt(1 - a_t) v, -1, 1)             (v prediction)
    eps     = (x_t - sqrt(a_t) pred_x0) / sqrt(1 - a_t)
    x_prev  = sqrt(a_prev) pred_x0 + sqrt(1 - a_prev) eps

Inputs (batch B): x (B, T, H, W) float32; t (B,) int64; ids (B, L) int64; symbol (B, T, H, W) int64, the token id
covering each pixel (PAD where none); uv (B, T, H, W, 2) float32 in-glyph coordinates; size (B,) int64 font size;
guidance (B,) float32; coef (B, 4) float32, the step's (sqrt(a_t), sqrt(1 - a_t), sqrt(a_prev), sqrt(1 - a_prev)), taken
in float64 as the library does (`step_coefficients`). Outputs: x_prev (B, T, H, W) and pred_x0.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..data import tokenizer as tok
from ..models.base import Conditioning

INPUT_NAMES = ("x", "t", "ids", "symbol", "uv", "size", "guidance", "coef")
OUTPUT_NAMES = ("x_prev", "pred_x0")
OPSET = 18  # onnxruntime (and onnxruntime-web) run every node the exporter writes at 18


class BrowserStep(nn.Module):
    """A layout-guided ("glyph2d") model's DDIM step from its layout as inputs (see the module's docstring)."""

    def __init__(self, model: nn.Module, prediction: str):
        super().__init__()
        if model.glyph_layout is None or model.cfg.layout != "glyph2d":
            raise ValueError(f"the browser runs a model told its glyph layout (layout 'glyph2d'), not {model.cfg.layout!r}")
        if prediction not in ("v", "eps"):
            raise ValueError(f"unknown prediction {prediction!r}")
        self.model = model
        self.prediction = prediction
        self.distilled = model.g_embedder is not None

    def cond(self, ids, symbol, uv, size) -> Conditioning:
        m = self.model
        text, mask, pooled = m.prompt_encoder(ids)  # (B, L, D), (B, L), (B, D)
        layout = m.glyph_layout.features(symbol, uv, size)  # (B, T, H, W, F)
        return Conditioning(ids, text, mask, m.pooled_proj(pooled), m.embed_layout(layout))

    def forward(self, x, t, ids, symbol, uv, size, guidance, coef):
        m = self.model
        if self.distilled:
            out = m(x, t, cond=self.cond(ids, symbol, uv, size), guidance=guidance)
        else:  # the prompt and the null prompt (whose layout is empty) in one batch, mixed by the scale
            b = x.shape[0]
            null = torch.full_like(ids, tok.PAD_ID)
            null[:, 0] = tok.NULL_ID
            both = self.cond(torch.cat([ids, null]), torch.cat([symbol, torch.full_like(symbol, tok.PAD_ID)]),
                             torch.cat([uv, torch.zeros_like(uv)]), torch.cat([size, size]))
            pair = m(torch.cat([x, x]), torch.cat([t, t]), cond=both)
            g = guidance[:, None, None, None]
            out = pair[b:] + g * (pair[:b] - pair[b:])
        a, s, a_prev, s_prev = (coef[:, k, None, None, None] for k in range(4))  # each (B, 1, 1, 1)
        if self.prediction == "v":
            pred_x0 = a * x - s * out
        else:
            pred_x0 = (x - s * out) / a
        pred_x0 = pred_x0.clamp(-1.0, 1.0)
        eps = (x - a * pred_x0) / s
        x_prev = a_prev * pred_x0 + s_prev * eps
        return x_prev, pred_x0


def example_inputs(model: nn.Module, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the step's shapes (a real prompt's layout is not needed to trace or to compare)."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    t, h, w = cfg.frames, cfg.height, cfg.width
    ids = torch.full((batch, cfg.prompt_len), tok.PAD_ID, dtype=torch.long)
    ids[:, :3] = torch.randint(tok.FIRST_SYMBOL_ID, tok.FIRST_SYMBOL_ID + len(tok.SYMBOLS), (batch, 3), generator=g)
    symbol = torch.where(torch.rand(batch, t, h, w, generator=g) < 0.5, ids[:, :1, None, None].expand(batch, t, h, w),
                         torch.full((batch, t, h, w), tok.PAD_ID))
    lo, hi = (cfg.guidance_range if cfg.guidance_range else (1.0, 7.0))
    return (torch.randn(batch, t, h, w, generator=g), torch.randint(0, 1000, (batch,), generator=g), ids, symbol,
            torch.rand(batch, t, h, w, 2, generator=g) * 24, torch.randint(16, 25, (batch,), generator=g),
            torch.empty(batch).uniform_(lo, hi, generator=g), torch.tensor([[0.6, 0.8, 0.95, 0.31]] * batch))


def step_coefficients(alphas_cumprod, timesteps) -> list[list[float]]:
    """Each step's coef input: (sqrt(a_t), sqrt(1 - a_t), sqrt(a_prev), sqrt(1 - a_prev)) in float64 (a_prev = 1 after the
    last step), as DDIMScheduler.step computes them."""
    out = []
    for i, t in enumerate(timesteps):
        a = float(alphas_cumprod[int(t)])
        a_prev = float(alphas_cumprod[int(timesteps[i + 1])]) if i + 1 < len(timesteps) else 1.0
        out.append([a**0.5, (1 - a) ** 0.5, a_prev**0.5, max(1 - a_prev, 0.0) ** 0.5])
    return out


def export_step(step: BrowserStep, path) -> None:
    """Write the step as ONNX (opset OPSET, batch 1) to `path`, without the exporter's per-node source notes (a tenth
    of the file, nothing a runtime reads)."""
    import onnx

    args = example_inputs(step.model)
    with torch.no_grad():
        program = torch.onnx.export(step, args, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                                    opset_version=OPSET, dynamo=True, verbose=False)
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del proto.metadata_props[:]
    del proto.graph.value_info[:]
    onnx.save_model(proto, str(path))
