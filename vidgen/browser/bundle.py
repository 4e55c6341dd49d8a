"""What a page needs to run a model: `export_browser` writes DIR/model.onnx (one DDIM step, vidgen.browser.onnx_step)
and DIR/vidgen.json (the tokenizer, the world's constants, the font tables, the model's own steps and their
coefficients), after checking both: onnxruntime gives the torch step within PARITY_TOLERANCE on random inputs, and
the font tables reproduce the library's layout geometry of CHECK_PROMPTS at every size. Either failing raises.

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
from .onnx_step import INPUT_NAMES, OPSET, BrowserStep, example_inputs, export_step, step_coefficients

FORMAT = "vidgen-browser-1"
MODEL_FILE, CONFIG_FILE = "model.onnx", "vidgen.json"
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


def onnx_parity(step: BrowserStep, path: Path) -> float:
    """The largest |onnxruntime - torch| over PARITY_TRIES random inputs, both outputs; raises past PARITY_TOLERANCE."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for seed in range(PARITY_TRIES):
        args = example_inputs(step.model, seed=seed)
        with torch.no_grad():
            want = step(*args)
        got = session.run(None, {name: a.numpy() for name, a in zip(INPUT_NAMES, args)})
        worst = max(worst, *(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want)))
    if not worst <= PARITY_TOLERANCE:
        raise ValueError(f"the ONNX step differs from torch by {worst:.3g} (> {PARITY_TOLERANCE}): not exported")
    return worst


def browser_config(pipe, name: str, onnx_path: Path, parity: float, tables: dict) -> dict:
    """vidgen.json: everything besides the network a page needs (see the module's docstring)."""
    cfg = pipe.model.cfg
    sampler, steps = pipe.default_sampling
    if sampler != "ddim":
        raise ValueError(f"the page runs DDIM (eta 0); this model's own sampler is {sampler!r}")
    timesteps = strided_timesteps(steps, pipe.num_timesteps)
    world = WorldConfig(name="motion")
    data = onnx_path.read_bytes()
    return {
        "format": FORMAT,
        "model": {"name": name, "frames": cfg.frames, "height": cfg.height, "width": cfg.width, "prompt_len": cfg.prompt_len,
                  "prediction": pipe.schedule.prediction, "guidance_distilled": pipe.model.g_embedder is not None},
        "onnx": {"file": MODEL_FILE, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "opset": OPSET,
                 "inputs": list(INPUT_NAMES), "parity_max_abs": parity},
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


def export_browser(pipe, name: str, out: Path) -> dict:
    """Write DIR/model.onnx and DIR/vidgen.json for the layout-guided pipeline `pipe` (fp32); -> the config written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = font_tables()
    check_font_tables(tables, check_prompts())
    step = BrowserStep(pipe.model.float(), pipe.schedule.prediction).eval()
    onnx_path = out / MODEL_FILE
    export_step(step, onnx_path)
    parity = onnx_parity(step, onnx_path)
    config = browser_config(pipe, name, onnx_path, parity, tables)
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=None, separators=(",", ":")) + "\n")
    return config
