"""What a page needs to run a model: `export_browser` writes DIR/cond.onnx (what the model reads from the prompt and
its layout, once a video), DIR/step.onnx (one DDIM step; both vidgen.browser.onnx_step) and DIR/vidgen.json (the
tokenizer, the world's constants, the font tables, the model's own steps and their coefficients), after checking
them: onnxruntime gives torch's conditioning and step, chained, within PARITY_TOLERANCE on random inputs, and the
font tables reproduce the library's layout geometry of `check_prompts` at every size. Either failing raises.

The files are a function of the checkpoint: the same weights give the same vidgen.json and an ONNX graph with the
same weights and nodes (tests/test_browser.py rebuilds them and compares with what web/ serves).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..data import tokenizer as tok
from ..data.layout import EMPTY, FONT_SIZE, TEXT_X
from ..data.prompts import LOOKALIKE_GROUPS
from ..data.shape import FRAMES, HEIGHT, WIDTH
from ..data.world import MIN_VISIBLE_FRAMES, WorldConfig
from ..diffusion.schedule import strided_timesteps
from .font_metrics import SIZES, check_font_tables, font_tables
from .onnx_step import (COND_INPUTS, COND_OUTPUTS, OPSET, STEP_INPUTS, STEP_OUTPUTS, BrowserCond, BrowserStep, example_inputs,
                        export_module, step_coefficients, stored_weights)
from .weights import DEFAULT_WEIGHTS

FORMAT = "vidgen-browser-1"
COND_FILE, STEP_FILE, CONFIG_FILE = "cond.onnx", "step.onnx", "vidgen.json"
PARITY_TOLERANCE = 1e-4  # max |onnxruntime - torch| of either output, in model units ([-1, 1])
PARITY_TRIES = 3


def check_prompts(n: int = 400, seed: int = 0) -> list[str]:
    """Prompts the font tables are proved on: every symbol alone, every ordered pair, the look-alike groups, and `n`
    random prompts of 1-8 symbols."""
    rng = np.random.default_rng(seed)
    pairs = [a + b for a in tok.SYMBOLS for b in tok.SYMBOLS]
    lookalikes = ["".join(g) for g in LOOKALIKE_GROUPS]
    randoms = ["".join(rng.choice(list(tok.SYMBOLS), int(rng.integers(1, tok.PROMPT_SLOTS + 1)))) for _ in range(n)]
    return list(tok.SYMBOLS) + pairs + lookalikes + randoms


def onnx_parity(cond: BrowserCond, step: BrowserStep, out: Path) -> float:
    """The largest |onnxruntime - torch| over PARITY_TRIES random inputs, every output of the conditioning and of the
    step run on onnxruntime's conditioning; raises past PARITY_TOLERANCE."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(out / f), providers=["CPUExecutionProvider"]) for f in (COND_FILE, STEP_FILE)]
    worst = 0.0
    for seed in range(PARITY_TRIES):
        cond_args, (x, t, guidance, coef) = example_inputs(step.model, seed=seed)
        with torch.no_grad():
            want_cond = cond(*cond_args)
            want = step(x, t, *want_cond, guidance, coef)
        got_cond = sessions[0].run(None, {name: a.numpy() for name, a in zip(COND_INPUTS, cond_args)})
        feeds = {"x": x.numpy(), "t": t.numpy(), **dict(zip(COND_OUTPUTS, got_cond)), "guidance": guidance.numpy(),
                 "coef": coef.numpy()}
        got = sessions[1].run(None, feeds)
        pairs = [*zip(got_cond, want_cond), *zip(got, want)]
        worst = max(worst, *(float(np.abs(g.astype(np.float32) - w.float().numpy()).max()) for g, w in pairs))
    if not worst <= PARITY_TOLERANCE:
        raise ValueError(f"the ONNX graphs differ from torch by {worst:.3g} (> {PARITY_TOLERANCE}): not exported")
    return worst


def file_entry(path: Path, inputs, outputs) -> dict:
    data = path.read_bytes()
    return {"file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "inputs": list(inputs),
            "outputs": list(outputs)}


def browser_config(pipe, name: str, out: Path, parity: float, tables: dict) -> dict:
    """vidgen.json: everything besides the network a page needs (see the module's docstring)."""
    cfg = pipe.model.cfg
    sampler, steps = pipe.default_sampling
    if sampler != "ddim":
        raise ValueError(f"the page runs DDIM (eta 0); this model's own sampler is {sampler!r}")
    timesteps = strided_timesteps(steps, pipe.num_timesteps)
    world = WorldConfig(name="motion")
    return {
        "format": FORMAT,
        "model": {"name": name, "frames": cfg.frames, "height": cfg.height, "width": cfg.width, "prompt_len": cfg.prompt_len,
                  "prediction": pipe.schedule.prediction, "guidance_distilled": pipe.model.g_embedder is not None},
        "onnx": {"opset": OPSET, "parity_max_abs": parity, "cond": file_entry(out / COND_FILE, COND_INPUTS, COND_OUTPUTS),
                 "step": file_entry(out / STEP_FILE, STEP_INPUTS, STEP_OUTPUTS)},
        "sampling": {"sampler": "ddim", "eta": 0.0, "steps": int(steps), "timesteps": [int(t) for t in timesteps],
                     "coef": step_coefficients(pipe.schedule.alphas_cumprod.numpy(), timesteps),
                     "guidance": pipe.default_guidance,
                     "guidance_range": list(cfg.guidance_range) if cfg.guidance_range else None},
        "tokenizer": {"symbols": tok.SYMBOLS, "first_symbol_id": tok.FIRST_SYMBOL_ID, "pad_id": tok.PAD_ID,
                      "null_id": tok.NULL_ID, "slots": cfg.prompt_len},
        "world": {"frames": FRAMES, "height": HEIGHT, "width": WIDTH, "min_visible_frames": MIN_VISIBLE_FRAMES,
                  "sizes": list(world.sizes), "speeds": list(world.speeds), "size_range": [SIZES[0], SIZES[-1]],
                  "text_x": TEXT_X, "font_size": FONT_SIZE, "empty": EMPTY},
        "font": tables,
    }


def export_browser(pipe, name: str, out: Path, weights: str = DEFAULT_WEIGHTS) -> dict:
    """Write DIR/cond.onnx, DIR/step.onnx and DIR/vidgen.json for the layout-guided pipeline `pipe`, its parameters
    stored as `weights` (fp16 halves the files; the graphs compute in fp32 either way); -> the config written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = font_tables()
    check_font_tables(tables, check_prompts())
    model = stored_weights(pipe.model.float(), weights)  # parity is checked against the weights as stored
    cond, step = BrowserCond(model).eval(), BrowserStep(model, pipe.schedule.prediction).eval()
    cond_args, (x, t, guidance, coef) = example_inputs(model)
    with torch.no_grad():
        encoded = cond(*cond_args)
    export_module(cond, cond_args, COND_INPUTS, COND_OUTPUTS, out / COND_FILE, weights)
    export_module(step, (x, t, *encoded, guidance, coef), STEP_INPUTS, STEP_OUTPUTS, out / STEP_FILE, weights)
    parity = onnx_parity(cond, step, out)
    config = browser_config(pipe, name, out, parity, tables)
    config["onnx"]["weights"] = weights
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=None, separators=(",", ":")) + "\n")
    return config
