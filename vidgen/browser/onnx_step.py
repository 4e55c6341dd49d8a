"""A layout-guided motion-world model as two traceable modules, and their ONNX export: what it reads from the prompt
and its layout, once a video (`BrowserCond`), and one deterministic DDIM step (`BrowserStep`), as the library splits
them (`VideoDenoiser.encode_for_guidance` once a generation, `forward_with_guidance` each step).

The library computes a model's glyph layout in numpy (vidgen.data.layout2d: which symbol covers each pixel of each
frame and where inside the glyph it lies), which cannot be traced; a page computes it in JavaScript from the font
tables (vidgen.browser.font_metrics) and hands it in. Everything after the layout is in the graphs: the prompt
encoder, the layout features and their patch embedding (the conditioning), the denoiser (a guidance-distilled
student reads the scale as an input; a teacher runs its two passes, cond and uncond, in one batch) and the DDIM
update with eta = 0 and x0 clipped, exactly as `vidgen.diffusion.ddim.DDIMScheduler.step` does it:

    pred_x0 = clip(sqrt(a_t) x_t - sqrt(1 - a_t) v, -1, 1)             (v prediction)
    eps     = (x_t - sqrt(a_t) pred_x0) / sqrt(1 - a_t)
    x_prev  = sqrt(a_prev) pred_x0 + sqrt(1 - a_prev) eps

BrowserCond (batch B): ids (B, L) int64; symbol (B, T, H, W) int64, the token id covering each pixel (PAD where none);
uv (B, T, H, W, 2) float32 in-glyph coordinates; size (B,) int64 font size -> text (B', L, D), mask (B', L) bool,
pooled (B', D), layout (B', N, D), B' = B for a distilled student, 2B (the prompts, then the null prompt) otherwise.
BrowserStep: x (B, T, H, W) float32; t (B,) int64; the four above; guidance (B,) float32; coef (B, 4) float32, the
step's (sqrt(a_t), sqrt(1 - a_t), sqrt(a_prev), sqrt(1 - a_prev)) taken in float64 as the library does
(`step_coefficients`) -> x_prev (B, T, H, W), pred_x0 (B, T, H, W).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..data import tokenizer as tok
from ..models.base import Conditioning
from .weights import WEIGHT_FORMATS

COND_INPUTS = ("ids", "symbol", "uv", "size")
COND_OUTPUTS = ("text", "mask", "pooled", "layout")
STEP_INPUTS = ("x", "t", *COND_OUTPUTS, "guidance", "coef")
STEP_OUTPUTS = ("x_prev", "pred_x0")
OPSET = 18  # onnxruntime (and onnxruntime-web) run every node the exporter writes at 18


def check_browser_model(model: nn.Module) -> None:
    if model.glyph_layout is None or model.cfg.layout != "glyph2d":
        raise ValueError(f"the browser runs a model told its glyph layout (layout 'glyph2d'), not {model.cfg.layout!r}")
    if model.cfg.layout_pen != "advance":  # the page's layout (web/) places glyphs at their fractional pen positions
        raise ValueError(f"the browser lays glyphs out at their pen positions (layout_pen 'advance'), not {model.cfg.layout_pen!r}")


class BrowserCond(nn.Module):
    """What a layout-guided ("glyph2d") model reads from the prompts and their layout, once a video."""

    def __init__(self, model: nn.Module):
        super().__init__()
        check_browser_model(model)
        self.model = model

    def encode(self, ids, symbol, uv, size):
        m = self.model
        text, mask, pooled = m.prompt_encoder(ids)  # (B, L, D), (B, L), (B, D)
        layout = m.embed_layout(m.glyph_layout.features(symbol, uv, size))  # (B, N, D)
        return text, mask, m.pooled_proj(pooled), layout

    def forward(self, ids, symbol, uv, size):
        if self.model.g_embedder is not None:
            return self.encode(ids, symbol, uv, size)
        null = torch.full_like(ids, tok.PAD_ID)  # the null prompt, whose layout is empty, after the prompts
        null[:, 0] = tok.NULL_ID
        return self.encode(torch.cat([ids, null]), torch.cat([symbol, torch.full_like(symbol, tok.PAD_ID)]),
                           torch.cat([uv, torch.zeros_like(uv)]), torch.cat([size, size]))


class BrowserStep(nn.Module):
    """One DDIM step (eta 0) of the model from its conditioning (see the module's docstring)."""

    def __init__(self, model: nn.Module, prediction: str):
        super().__init__()
        check_browser_model(model)
        if prediction not in ("v", "eps"):
            raise ValueError(f"unknown prediction {prediction!r}")
        self.model = model
        self.prediction = prediction

    def forward(self, x, t, text, mask, pooled, layout, guidance, coef):
        m = self.model
        cond = Conditioning(None, text, mask, pooled, layout)
        if m.g_embedder is not None:
            out = m(x, t, cond=cond, guidance=guidance)
        else:  # the prompts and the null prompt in one batch, mixed by the scale
            b = x.shape[0]
            pair = m(torch.cat([x, x]), torch.cat([t, t]), cond=cond)
            out = pair[b:] + guidance[:, None, None, None] * (pair[:b] - pair[b:])
        a, s, a_prev, s_prev = (coef[:, k, None, None, None] for k in range(4))  # each (B, 1, 1, 1)
        pred_x0 = a * x - s * out if self.prediction == "v" else (x - s * out) / a
        pred_x0 = pred_x0.clamp(-1.0, 1.0)
        eps = (x - a * pred_x0) / s
        x_prev = a_prev * pred_x0 + s_prev * eps
        return x_prev, pred_x0


def example_inputs(model: nn.Module, seed: int = 0) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Random inputs of the conditioning's shapes (batch 1), and the step's own besides the conditioning: (x, t,
    guidance, coef). A real prompt's layout is not needed to trace or to compare."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    t, h, w = cfg.frames, cfg.height, cfg.width
    ids = torch.full((1, cfg.prompt_len), tok.PAD_ID, dtype=torch.long)
    ids[:, :3] = torch.randint(tok.FIRST_SYMBOL_ID, tok.FIRST_SYMBOL_ID + len(tok.SYMBOLS), (1, 3), generator=g)
    symbol = torch.where(torch.rand(1, t, h, w, generator=g) < 0.5, ids[:, :1, None, None].expand(1, t, h, w),
                         torch.full((1, t, h, w), tok.PAD_ID))
    lo, hi = cfg.guidance_range if cfg.guidance_range else (1.0, 7.0)
    cond = (ids, symbol, torch.rand(1, t, h, w, 2, generator=g) * 24, torch.randint(16, 25, (1,), generator=g))
    step = (torch.randn(1, t, h, w, generator=g), torch.randint(0, 1000, (1,), generator=g),
            torch.empty(1).uniform_(lo, hi, generator=g), torch.tensor([[0.6, 0.8, 0.95, 0.31]]))
    return cond, step


def step_coefficients(alphas_cumprod, timesteps) -> list[list[float]]:
    """Each step's coef input: (sqrt(a_t), sqrt(1 - a_t), sqrt(a_prev), sqrt(1 - a_prev)) in float64 (a_prev = 1 after the
    last step), as DDIMScheduler.step computes them."""
    out = []
    for i, t in enumerate(timesteps):
        a = float(alphas_cumprod[int(t)])
        a_prev = float(alphas_cumprod[int(timesteps[i + 1])]) if i + 1 < len(timesteps) else 1.0
        out.append([a**0.5, (1 - a) ** 0.5, a_prev**0.5, max(1 - a_prev, 0.0) ** 0.5])
    return out


def stored_weights(model: nn.Module, weights: str) -> nn.Module:
    """The model whose outputs the exported graphs must reproduce: `model` itself for fp32 storage, a copy with every
    parameter rounded to fp16 for fp16 storage (the graph casts them back to fp32 once, when a runtime loads it)."""
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"unknown weight format {weights!r}; known: {', '.join(WEIGHT_FORMATS)}")
    if weights == "fp32":
        return model
    import copy

    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.half().float())
    return rounded


def store_fp16(proto) -> None:
    """Store every float32 initializer that float16 holds exactly as float16, each followed by a Cast back to float32
    under its own name (so every node reads what it read before; onnxruntime folds the casts when it loads). With the
    parameters rounded to fp16 first (`stored_weights`), that is every weight, also those the exporter folded into
    transposed copies under names of its own; tables computed in fp32 (rotary angles, schedules) stay as they are."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for init in proto.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        with np.errstate(over="ignore"):  # a value past fp16's range becomes inf: not held exactly, left as it is
            half = values.astype(np.float16)
        if values.size < 2 or not np.array_equal(half.astype(np.float32), values):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=f"cast_{name}"))
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(casts + nodes)


def export_module(module: nn.Module, args: tuple, inputs, outputs, path, weights: str = "fp32") -> None:
    """Write `module` as ONNX (opset OPSET, batch 1) to `path`, without the exporter's per-node source notes (a tenth
    of the file, nothing a runtime reads), its parameters stored as `weights` (WEIGHT_FORMATS)."""
    import onnx

    with torch.no_grad():
        program = torch.onnx.export(module, args, input_names=list(inputs), output_names=list(outputs),
                                    opset_version=OPSET, dynamo=True, verbose=False)
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del proto.metadata_props[:]
    del proto.graph.value_info[:]
    if weights == "fp16":
        store_fp16(proto)
    onnx.save_model(proto, str(path))
