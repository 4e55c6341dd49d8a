"""What a video costs in pixels and in a latent (issue 35, docs/latent.md): for each model, its denoiser's tokens and
parameters, its VAE's parameters, and the time of one video at the model's default sampling split into the denoiser's
passes and the VAE's decoding, against a 1024x1024x1024 fp32 matmul timed in the same run; and each VAE's encode and
decode time for one video.

    python -m benchmarks.latent_cost [--models release,latent] [--vaes vae-frame,vae-causal] [--repeats 5] [--json FILE]

Run it on an idle machine (the report says the CPU, the threads, the load average before it started and whether that
counts as idle, and the precision: fp32, forced, so the denoiser and the decoder are timed alike).
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from benchmarks import print_and_save
from benchmarks.speed import time_it
from vidgen.data.layout2d import motion_tensor
from vidgen.data.render import to_model_space
from vidgen.data.world import render_motion
from vidgen.diffusion.sampler import iter_denoise
from vidgen.latent.release import load_vae
from vidgen.pipeline import load_pipeline
from vidgen.precision import cpu_flags, cpu_model
from vidgen.shipped import resolve_vae_path


def time_model(name: str, prompt: str, repeats: int, matmul_s: float) -> dict:
    pipe = load_pipeline(name, precision="fp32")
    sampler, steps = pipe.default_sampling
    motion = pipe.sample_motion(prompt, 0)
    ids = pipe.encode([prompt])
    mt = motion_tensor([motion])

    def denoise():
        last = None
        for last in iter_denoise(pipe.sampling_model, pipe.schedule, ids, steps=steps, guidance_scale=pipe.default_guidance,
                                 sampler=sampler, clip_x0=pipe.vae is None, motion=mt):
            pass
        return last.x_t

    z = denoise()
    denoiser_s = time_it(denoise, repeats)
    decoder_s = time_it(lambda: pipe.to_video(z), repeats) if pipe.vae is not None else 0.0
    cfg = pipe.model.cfg
    row = {"tokens": cfg.num_tokens, "sample_shape": list(cfg.sample_shape), "denoiser_parameters": pipe.model.num_params(),
           "vae_parameters": 0 if pipe.vae is None else pipe.vae.num_params(), "sampling": f"{sampler} {steps}",
           "denoiser_ms": round(1000 * denoiser_s, 1), "decoder_ms": round(1000 * decoder_s, 1),
           "video_ms": round(1000 * (denoiser_s + decoder_s), 1), "video_matmuls": round((denoiser_s + decoder_s) / matmul_s, 1)}
    return row


def time_vae(name: str, prompt: str, repeats: int, matmul_s: float) -> dict:
    vae, _ = load_vae(resolve_vae_path(name))
    from vidgen.data.world import WorldConfig, sample_motion

    scale = vae.cfg.height // 32  # the 64x64 world's VAE codes its world's videos
    world = WorldConfig(name="motion", scale=scale)
    x = to_model_space(render_motion(prompt, sample_motion(prompt, world, np.random.default_rng(0)), scale))[None]
    with torch.no_grad():
        z = vae.encode(x)[0]
        enc = time_it(lambda: vae.encode(x), repeats)
        dec = time_it(lambda: vae.decode(z), repeats)
    return {"kind": vae.cfg.kind, "latent_shape": list(vae.cfg.latent_shape), "parameters": vae.num_params(),
            "encode_ms": round(1000 * enc, 1), "decode_ms": round(1000 * dec, 1), "decode_matmuls": round(dec / matmul_s, 2)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.latent_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="release,latent", help="comma-separated shipped models or directories")
    p.add_argument("--vaes", default="vae-frame,vae-causal", help="comma-separated shipped VAEs or directories")
    p.add_argument("--prompt", default="HELLO")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def main() -> None:
    args = build_parser().parse_args()
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, max(20, args.repeats * 4), warmup=3)
    load = os.getloadavg()[0]
    report = {"cpu": cpu_model(), "flags": cpu_flags(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "load_average_before": round(load, 2), "idle": load < 0.5,
              "precision": "fp32 (forced)", "prompt": args.prompt, "matmul_1024_fp32_ms": round(1000 * matmul_s, 2),
              "models": {n: time_model(n, args.prompt, args.repeats, matmul_s) for n in args.models.split(",") if n},
              "vaes": {n: time_vae(n, args.prompt, args.repeats, matmul_s) for n in args.vaes.split(",") if n}}
    print_and_save(report, args.json)


if __name__ == "__main__":
    main()
