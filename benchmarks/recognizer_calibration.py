"""Calibration of the shipped recognizer on ground-truth renders (the numbers quoted in reports).

    OMP_NUM_THREADS=1 python -m benchmarks.recognizer_calibration [--recognizer DIR]

Prints one JSON object: sentence accuracy and CER on clean validation, held-out and 7-8-symbol
prompts, on videos of another prompt, and under rising Gaussian noise, blur and frame jitter.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from vidgen.data.prompts import SplitConfig, heldout_prompts, validation_prompts
from vidgen.data.render import render_video
from vidgen.evaluation.metrics import character_error_rate
from vidgen.evaluation.recognizer import default_reader
from vidgen.training.recognizer import _gaussian_blur, _jitter, random_prompts


def score(reader, videos, prompts) -> dict:
    texts = reader.read(videos).texts
    return {"n": len(prompts), "sentence_acc": float(np.mean([t == p for t, p in zip(texts, prompts)])),
            "cer": float(np.mean([character_error_rate(t, p) for t, p in zip(texts, prompts)]))}


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--recognizer", default=None)
    return ap


def main() -> None:
    ap = build_parser()
    args = ap.parse_args()
    torch.set_num_threads(1)
    reader = default_reader(args.recognizer)
    split = SplitConfig()
    render = lambda ps: np.stack([render_video(p) for p in ps])  # noqa: E731
    t0 = time.time()
    val = list(validation_prompts(split))
    held = list(heldout_prompts(split, n=600, seed=123))
    longer = [p for p in random_prompts(np.random.default_rng(5), 3000, 8) if len(p) >= 7][:500]
    out = {"clean_validation_all": score(reader, render(val), val),
           "clean_heldout": score(reader, render(held), held),
           "clean_length_7_8": score(reader, render(longer), longer)}
    sub = val[::4]
    out["video_of_another_prompt"] = score(reader, render(sub[1:] + sub[:1]), sub)
    clean = torch.from_numpy(render(sub)).float() / 255
    rng = np.random.default_rng(0)
    out["gaussian_noise_std"] = {}
    for s in (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8):
        noisy = np.clip(clean.numpy() + rng.normal(0, s, clean.shape), 0, 1)
        out["gaussian_noise_std"][str(s)] = score(reader, np.round(noisy * 255).astype(np.uint8), sub)["sentence_acc"]
    out["blur_sigma"] = {str(s): score(reader, (_gaussian_blur(clean, torch.full((len(sub),), s)) * 255).round().byte().numpy(), sub)["sentence_acc"]
                         for s in (0.5, 1.0, 1.5, 2.0)}
    gen = torch.Generator().manual_seed(0)
    out["jitter_1px_per_frame_p"] = {str(p): score(reader, (_jitter(clean, gen, p) * 255).round().byte().numpy(), sub)["sentence_acc"]
                                     for p in (0.25, 0.5, 1.0)}
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
