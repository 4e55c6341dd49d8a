"""Where a motion-world model's fidelity goes (docs/latent.md): PSNR against the truth at each stage of making a video.

    python -m vidgen.evaluation.fidelity --model latent --n 32

For prompts along motions drawn from the world (prompt i by seed i, the validation split), three figures in dB:

- `ceiling`: the truth through the model's own autoencoder (encode, decode the posterior mean); a pixel model has none
  (60 dB, PSNR_CAP).
- `one_step[t]`: the truth (its latent, for a latent model) noised to t with fixed noise, one conditional pass
  (guidance 1), its predicted x_0 decoded. This is how well the network knows the video from a state that is on the
  data's path; at t near 0 it tends to the ceiling, at the noisiest t it is what the network can say from the
  conditioning alone.
- `sampled`: the videos made at the model's defaults (sampler, steps, guidance), as the world report makes them.

A model whose `sampled` sits near `one_step` at high t gains nothing from its later steps: the trajectory leaves
the data's path early, and from then on the network denoises toward its own guess, not the truth. Deterministic
(fixed seeds, fp32).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..data.render import to_model_space, to_uint8
from ..data.world import render_motion, sample_motion
from .harness import checkpoint_split, split_prompts
from .metrics import PSNR_CAP, psnr_video
from .motion_metrics import Sampling, generate_many

ONE_STEP_TIMESTEPS = (20, 100, 200, 400, 700, 999)
NOISE_SEED = 0


def _mean_psnr(videos: np.ndarray, truths: np.ndarray) -> float:
    return float(np.mean([psnr_video(v, t) for v, t in zip(videos, truths)]))


@torch.no_grad()
def measure_fidelity(pipe, n: int = 32, timesteps=ONE_STEP_TIMESTEPS, batch: int = 16, settings: tuple[Sampling, ...] = ()) -> dict:
    """The three figures of the module docstring for a motion-world pipeline (fp32 advised: the caller's choice), and
    the sampled PSNR at each of `settings` besides the defaults ("sampled_by_setting", keyed sampler:steps:guidance)."""
    from ..data.layout2d import motion_tensor

    if pipe.world.name != "motion":
        raise ValueError(f"the fidelity breakdown measures motion-world models; this one was trained in the {pipe.world.name!r} world")
    if not pipe.model.layout_kind.follows_motion:
        raise ValueError("the fidelity breakdown needs a model that follows a given motion (layout 'glyph2d')")
    bad = [t for t in timesteps if not 0 <= int(t) < pipe.num_timesteps]
    if bad:
        raise ValueError(f"timesteps must be in [0, {pipe.num_timesteps - 1}], got {bad}")
    prompts = split_prompts("val", n, checkpoint_split(pipe.config))
    motions = [sample_motion(p, pipe.world, np.random.default_rng(i)) for i, p in enumerate(prompts)]
    truths = np.stack([render_motion(p, m, pipe.world.scale) for p, m in zip(prompts, motions)])  # (N, T, H, W) uint8
    vae = pipe.vae
    ceiling, one_step = [], {int(t): [] for t in timesteps}
    for i in range(0, n, batch):
        x = to_model_space(truths[i : i + batch]).to(pipe.device)
        x0 = x if vae is None else vae.to_latent(x)  # what the network denoises
        if vae is not None:
            ceiling.append(to_uint8(pipe.to_video(x0)))
        ids = pipe.encode(prompts[i : i + batch])
        cond = pipe.model.encode_for_guidance(ids, 1.0, motion=motion_tensor(motions[i : i + batch]).to(pipe.device))
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(NOISE_SEED + i)).to(pipe.device)
        for t in one_step:
            tt = torch.full((x0.shape[0],), t, dtype=torch.long, device=pipe.device)
            x_t = pipe.schedule.q_sample(x0, tt, noise)
            out = pipe.model.forward_with_guidance(x_t, tt, None, 1.0, state={}, cond=cond)
            pred, _ = pipe.schedule.split_prediction(out.float(), x_t, tt)
            one_step[t].append(to_uint8(pipe.to_video(pred)))
    sampler, steps = pipe.default_sampling
    sampled = generate_many(pipe, prompts, motions, [0] * n, Sampling(sampler=sampler, steps=steps, batch=batch), False, "")
    by_setting = {f"{s.sampler}:{s.steps}:{s.guidance_scale:g}": _mean_psnr(generate_many(pipe, prompts, motions, [0] * n, s, False, ""), truths)
                  for s in settings}
    return {
        "n": n,
        "ceiling_db": _mean_psnr(np.concatenate(ceiling), truths) if ceiling else PSNR_CAP,
        "one_step_db": {str(t): _mean_psnr(np.concatenate(v), truths) for t, v in one_step.items()},
        "sampled_db": _mean_psnr(sampled, truths),
        "sampling": {"sampler": sampler, "steps": steps, "guidance_scale": pipe.default_guidance},
        **({"sampled_by_setting": by_setting} if by_setting else {}),
    }


def parse_setting(spec: str, batch: int = 16) -> Sampling:
    """'ddim:4:1.5' -> Sampling(sampler ddim, 4 steps, guidance 1.5); a bad spec raises with what was expected."""
    from ..diffusion.sampler import get_sampler

    parts = spec.split(":")
    try:
        sampler, steps, guidance = parts[0], int(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise ValueError(f"a setting is sampler:steps:guidance, e.g. ddim:4:1.5; got {spec!r}") from None
    get_sampler(sampler)  # an unknown sampler says which exist
    if len(parts) != 3 or steps < 1 or guidance < 0:
        raise ValueError(f"a setting is sampler:steps:guidance with steps >= 1 and guidance >= 0; got {spec!r}")
    return Sampling(sampler=sampler, steps=steps, guidance_scale=guidance, batch=batch)


def build_parser() -> argparse.ArgumentParser:
    from ..cli.common import positive_int

    p = argparse.ArgumentParser(prog="python -m vidgen.evaluation.fidelity", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="latent", help="a shipped motion-world model that follows motions, or a checkpoint directory")
    p.add_argument("--n", type=positive_int, default=32, help="validation prompts (default 32)")
    p.add_argument("--settings", default="", help="also sample at these, comma-separated sampler:steps:guidance "
                   "(e.g. ddim:1:1,ddim:4:1,dpm++2m:10:2)")
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    return p


def main(argv=None) -> None:
    from ..pipeline import describe_precision, load_pipeline

    from ..checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        settings = tuple(parse_setting(x.strip()) for x in args.settings.split(",") if x.strip())
    except ValueError as e:
        raise SystemExit(f"error: --settings: {e}") from None
    try:
        pipe = load_pipeline(args.model, precision="fp32")
        report = {"model": args.model, "precision": describe_precision(pipe), **measure_fidelity(pipe, args.n, settings=settings)}
    except (CheckpointError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    print(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
