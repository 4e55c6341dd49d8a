"""How well a video autoencoder keeps this world (docs/latent.md): `python -m vidgen vae-report --vae NAME`.

Each split's prompts move along motions drawn from the motion world (prompt i by seed i); the VAE encodes the
true video and decodes its posterior mean. Measured on the reconstructions: PSNR over whole videos and per frame
index, readability by the motion reader and by the nearest render (which learned nothing; 1 px of slack a frame),
the background's bias (mean level where the truth is black), and temporal consistency with the true motion:
warping error (the frame before, moved by the true step, against the next), its excess over the truth's, and
VBench's flicker score against the truth's. Seed 004's question ("why does a 2D VAE cause seams?") is then a
number: a per-frame VAE's frames are coded apart, so any frame-to-frame inconsistency shows in these figures.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.prompts import SplitConfig
from ..data.render import to_model_space, to_uint8
from ..data.world import WorldConfig, downscale, render_motion, sample_motion
from ..jsonconfig import config_from_dict
from ..precision import cpu_model
from .harness import split_prompts
from .long_reading import long_nearest_reads
from .metrics import psnr_video
from .recognizer import TextReader
from .temporal import flicker, warping_error, warping_errors

VAE_SPLITS = {"val": 200, "heldout": 200, "lookalike": 96, "long": 48}  # the world report's
BACKGROUND = 0  # a truth pixel of this level is background (the world draws white ink on black)


def reconstruct(vae, videos: np.ndarray, batch: int = 16) -> tuple[np.ndarray, float]:
    """uint8 (N, T, H, W) -> (uint8 reconstructions from the posterior means, seconds spent)."""
    out, t0 = [], time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(videos), batch):
            x = to_model_space(videos[i : i + batch])
            out.append(to_uint8(vae.decode(vae.encode(x)[0])))
    return np.concatenate(out), time.perf_counter() - t0


def frame_psnr(recon: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(T,) PSNR in dB of each frame index, the MSE pooled over the videos."""
    mse = ((recon.astype(np.float64) - truth.astype(np.float64)) ** 2).mean(axis=(0, 2, 3))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def measure_split(vae, prompts: list[str], reader: TextReader, world: WorldConfig) -> dict:
    motions = [sample_motion(p, world, np.random.default_rng(i)) for i, p in enumerate(prompts)]
    full = np.stack([render_motion(p, m, world.scale) for p, m in zip(prompts, motions)])  # (N, T, H, W) uint8
    full_recon, seconds = reconstruct(vae, full)
    # judged at the world's 32x32 (a scaled world's shrunk back, as the world report judges), PSNR at the videos' own size
    recon, truths = downscale(full_recon, world.scale), np.stack([render_motion(p, m) for p, m in zip(prompts, motions)])
    texts = reader.read(recon).texts
    nearest = long_nearest_reads(recon, prompts, motions)
    background = full == BACKGROUND
    pairs = np.array([warping_errors(r, m) for r, m in zip(recon, motions)])  # (N, T-1), NaN where a pair shows nothing
    warp = np.nanmean(pairs, axis=1)
    warp_truth = np.array([warping_error(t, m) for t, m in zip(truths, motions)])
    return {
        "n": len(prompts),
        "psnr_db": float(np.mean([psnr_video(r, t) for r, t in zip(full_recon, full)])),
        "psnr_by_frame_db": frame_psnr(full_recon, full).round(2).tolist(),
        "readability": float(np.mean([t == p for t, p in zip(texts, prompts)])),
        "readability_nearest_render": float(np.mean([t == p for t, p in zip(nearest, prompts)])),
        "background_bias": float(full_recon[background].astype(np.float64).mean() - BACKGROUND),  # in 0..255 units
        "warping_error": float(np.nanmean(warp)),
        "warping_error_truth": float(np.nanmean(warp_truth)),
        "warping_error_by_pair": np.nanmean(pairs, axis=0).round(6).tolist(),  # frame f -> f+1, mean over the videos
        "flicker": float(np.mean([flicker(r) for r in recon])),
        "flicker_truth": float(np.mean([flicker(t) for t in truths])),
        "ms_per_video": 1000 * seconds / len(prompts),
        "misread": [(p, t) for p, t in zip(prompts, texts) if t != p][:10],
        "misread_nearest_render": [(p, t) for p, t in zip(prompts, nearest) if t != p][:10],
    }


def measure_vae(vae, raw: dict, reader: TextReader, splits: dict[str, int] = VAE_SPLITS, progress: bool = True) -> dict:
    """Every figure above for one VAE (`raw`: its config.json) on the given splits (prompts per split)."""
    train = raw.get("train", {})
    world = config_from_dict(WorldConfig, train.get("world", {"name": "motion"}), "world")
    split = config_from_dict(SplitConfig, train.get("split", {}), "split")
    out = {"vae": raw["vae"], "step": raw.get("step"), "train_seconds": raw.get("train_seconds"), "cpu": cpu_model(),
           "threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in vae.parameters()),
           "latent_shape": list(vae.cfg.latent_shape), "splits": {}}
    for name, n in tqdm(splits.items(), desc="splits", disable=not progress):
        out["splits"][name] = measure_split(vae, split_prompts(name, n, split), reader, world)
    return out
