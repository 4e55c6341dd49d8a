"""What a video costs in pixels and in a latent (issue 35, docs/latent.md): for each model, its denoiser's tokens and
parameters, its VAE's parameters, and the time of one video at the model's default sampling split into the denoiser's
passes and the VAE's decoding, against a 1024x1024x1024 fp32 matmul timed in the same run; and each VAE's encode and
decode time for one video.

    python -m benchmarks.latent_cost [--models release,latent] [--vaes vae-frame,vae-causal] [--repeats 5]
        [--precision auto] [--json FILE]

Run it on an idle machine (the report says the CPU, the threads, the load average before it started and whether that
counts as idle). The models' parts are timed round by round, interleaved, so they share the machine's slow spells; each
model's video time is also given over the default model's (release-2step), when it is among them. Precision: by
default the denoiser and the decoder are each timed in fp32 and in bf16 and run at the faster, as the pipeline's "auto"
decides on this machine (both timings and the choice are in the report); --precision fp32 or bf16 times one. The VAEs'
own encode and decode times are fp32.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

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
from vidgen.precision import cpu_flags, cpu_model, decide
from vidgen.shipped import DEFAULT_MODEL, resolve_vae_path


def video_parts(name: str, prompt: str) -> tuple[object, dict]:
    """A model's pipeline and its video's parts to time: {("denoiser" | "decoder", "fp32" | "bf16"): fn}, the denoiser
    the model's default sampling of `prompt` along its seed-0 motion, the decoder its VAE decoding that latent."""
    pipe = load_pipeline(name, precision="fp32")
    sampler, steps = pipe.default_sampling
    ids, mt = pipe.encode([prompt]), motion_tensor([pipe.sample_motion(prompt, 0)])

    def denoise(bf16: bool):
        last = None
        for last in iter_denoise(pipe.sampling_model, pipe.schedule, ids, steps=steps, guidance_scale=pipe.default_guidance,
                                 sampler=sampler, clip_x0=pipe.vae is None, motion=mt, autocast_bf16=bf16):
            pass
        return last.x_t

    def decode(bf16: bool):
        pipe.bf16 = bf16  # forces the decoder's precision with it
        return pipe.to_video(z)

    z = denoise(False)
    parts = {("denoiser", p): (lambda b=p == "bf16": denoise(b)) for p in ("fp32", "bf16")}
    if pipe.vae is not None:
        parts.update({("decoder", p): (lambda b=p == "bf16": decode(b)) for p in ("fp32", "bf16")})
    return pipe, parts


def time_interleaved(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Median seconds of each of `fns`, timed round by round (each once a round, in turn), so a slow spell of the
    machine falls on every one alike rather than on whichever ran then."""
    times = {k: [] for k in fns}
    for r in range(warmup + repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if r >= warmup:
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def time_models(names: list[str], prompt: str, repeats: int, matmul_s: float, precisions: tuple[str, ...]) -> dict:
    """Each model's video at its default sampling, its denoiser and its decoder timed in each of `precisions`, all
    interleaved, and each part run at the faster (bf16 only when it wins by vidgen.precision.MARGIN, as "auto"
    decides)."""
    loaded = {n: video_parts(n, prompt) for n in names}
    fns = {(n, *k): fn for n, (_, parts) in loaded.items() for k, fn in parts.items() if k[1] in precisions}
    seconds = time_interleaved(fns, repeats)
    rows = {}
    for n, (pipe, _) in loaded.items():
        by = {part: {p: 1000 * seconds[(n, part, p)] for p in precisions if (n, part, p) in seconds}
              for part in ("denoiser", "decoder")}
        chosen = {part: ("none" if not ms else decide(ms) if len(ms) == 2 else precisions[0]) for part, ms in by.items()}
        denoiser_ms, decoder_ms = by["denoiser"][chosen["denoiser"]], by["decoder"].get(chosen["decoder"], 0.0)
        cfg, (sampler, steps) = pipe.model.cfg, pipe.default_sampling
        rows[n] = {"tokens": cfg.num_tokens, "sample_shape": list(cfg.sample_shape),
                   "denoiser_parameters": pipe.model.num_params(), "vae_parameters": 0 if pipe.vae is None else pipe.vae.num_params(),
                   "sampling": f"{sampler} {steps}",
                   "denoiser_ms_by_precision": {p: round(v, 1) for p, v in by["denoiser"].items()},
                   "decoder_ms_by_precision": {p: round(v, 1) for p, v in by["decoder"].items()} or None,
                   "denoiser_precision": chosen["denoiser"], "decoder_precision": chosen["decoder"],
                   "denoiser_ms": round(denoiser_ms, 1), "decoder_ms": round(decoder_ms, 1),
                   "video_ms": round(denoiser_ms + decoder_ms, 1),
                   "video_matmuls": round((denoiser_ms + decoder_ms) / 1000 / matmul_s, 1)}
    if DEFAULT_MODEL in rows:  # the yardstick: the default 32x32 video's time
        for row in rows.values():
            row["video_over_default"] = round(row["video_ms"] / rows[DEFAULT_MODEL]["video_ms"], 2)
    return rows


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


PRECISION_NOTES = {"auto": "each part at its faster of fp32 and bf16 (timed here)", "fp32": "fp32 (forced)",
                   "bf16": "bf16 (forced)"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.latent_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="release,latent", help="comma-separated shipped models or directories")
    p.add_argument("--vaes", default="vae-frame,vae-causal", help="comma-separated shipped VAEs or directories")
    p.add_argument("--prompt", default="HELLO")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="auto: time the denoiser and the decoder in fp32 and in bf16 and run each at the faster (the "
                        "pipeline's own rule); fp32 or bf16: that one alone")
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def main() -> None:
    args = build_parser().parse_args()
    precisions = ("fp32", "bf16") if args.precision == "auto" else (args.precision,)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    matmul_s = time_it(lambda: a @ b, max(20, args.repeats * 4), warmup=3)
    load = os.getloadavg()[0]
    report = {"cpu": cpu_model(), "flags": cpu_flags(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "load_average_before": round(load, 2), "idle": load < 0.5,
              "precision": PRECISION_NOTES[args.precision], "prompt": args.prompt, "matmul_1024_fp32_ms": round(1000 * matmul_s, 2),
              "models": time_models([n for n in args.models.split(",") if n], args.prompt, args.repeats, matmul_s, precisions),
              "vaes": {n: time_vae(n, args.prompt, args.repeats, matmul_s) for n in args.vaes.split(",") if n}}
    print_and_save(report, args.json)


if __name__ == "__main__":
    main()
