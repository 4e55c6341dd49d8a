"""The samplers by name (one registry, SAMPLER_REGISTRY), their defaults and ranges, and the generator that
yields every denoising step.

A sampler is a name, a scheduler class and a help line. Each scheduler stands alone in its own file and has
one shape (`Scheduler`): `set_timesteps(n)` chooses the strided timesteps once, then
`step(model_output, index, x_t, *, eta=0.0, generator=None, clip_x0=True)` returns (x_prev, pred_x0). A
deterministic scheduler (`stochastic = False`) refuses eta != 0 at its step, and `iter_denoise` hands it
eta = 0 whatever the caller asked (the app notes that the eta is not used). Adding a sampler is one new
file with its scheduler and one `Sampler(...)` line in SAMPLER_REGISTRY (docs/sampling.md, "Adding a
sampler"); tests/test_sampler_conformance.py then checks it with every other.

- "ddim" (diffusion/ddim.py): eta = 0 is deterministic DDIM; eta = 1 with all T steps is DDPM's ancestral
  sampler.
- "ddpm": the same scheduler at eta = 1 with any number of steps (the posterior of the strided chain).
- "dpm++2m" (diffusion/dpm_solver.py): the deterministic second-order multistep solver of the
  probability-flow ODE (Lu et al. 2022, the solver behind diffusers' DPMSolverMultistepScheduler).
- "unipc" (diffusion/unipc.py): UniPC (Zhao et al. 2023, diffusers' UniPCMultistepScheduler, bh2, order 2):
  DPM-Solver++(2M)'s step with a corrector that reuses the next network output, deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np
import torch

from .ddim import DDIMScheduler
from .dpm_solver import DPMSolverMultistepScheduler
from .schedule import NoiseSchedule
from .unipc import UniPCMultistepScheduler


class Scheduler(Protocol):
    """The shape of every scheduler (none subclasses another). A step takes its extra arguments by name."""

    stochastic: bool  # whether step draws fresh noise (uses eta and generator); if not, it refuses eta != 0
    timesteps: np.ndarray | None  # set by set_timesteps: T-1 down to 0

    def __init__(self, schedule: NoiseSchedule): ...

    def set_timesteps(self, num_steps: int) -> np.ndarray: ...

    def step(self, model_output: torch.Tensor, index: int, x_t: torch.Tensor, *, eta: float = 0.0,
             generator: torch.Generator | None = None, clip_x0: bool = True) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class Sampler:
    """One registered sampler: what a user types, its name in tables and prose, the scheduler class that
    steps it, one help line for the CLI and the app, and the eta it always uses where it fixes one (ddpm: 1)."""

    name: str
    title: str  # "DPM-Solver++": how docs and reports name it
    scheduler: type[Scheduler]
    help: str
    fixed_eta: float | None = None  # None: the caller's eta (a deterministic scheduler always gets 0)

    @property
    def stochastic(self) -> bool:
        """Whether its steps draw fresh noise, i.e. whether eta means anything to it."""
        return self.scheduler.stochastic

    def step_eta(self, eta: float) -> float:
        """The eta its scheduler's step gets when the caller asks for `eta`."""
        if not self.stochastic:
            return 0.0
        return eta if self.fixed_eta is None else self.fixed_eta


# One line a sampler. Its name is what --sampler, the app's radio and GenerationRequest.sampler take.
SAMPLER_REGISTRY: dict[str, Sampler] = {s.name: s for s in (
    Sampler("ddim", "DDIM", DDIMScheduler, "DDIM, eta 0 deterministic, eta 1 as noisy as DDPM"),
    Sampler("ddpm", "DDPM", DDIMScheduler, "ancestral DDPM (eta forced to 1)", fixed_eta=1.0),
    Sampler("dpm++2m", "DPM-Solver++", DPMSolverMultistepScheduler,
            "DPM-Solver++(2M), deterministic, good in 10-20 steps (no eta)"),
    Sampler("unipc", "UniPC", UniPCMultistepScheduler,
            "UniPC (bh2, order 2), DPM-Solver++(2M) plus a free corrector, deterministic (no eta)"),
)}
SAMPLERS = tuple(SAMPLER_REGISTRY)  # the names, in the registry's order


def samplers_help() -> str:
    """Every sampler's help line, "name: help; ...", for the CLI's --sampler and the app's radio."""
    return "; ".join(f"{s.name}: {s.help}" for s in SAMPLER_REGISTRY.values())


MAX_SEED = 2**32 - 1  # seeds in [0, MAX_SEED]: what numpy and torch generators both take
DEFAULT_GUIDANCE = 3.0  # classifier-free guidance scale when a checkpoint's config names no "default_guidance"
# generating (the app, `sample`, Pipeline): the fewest steps measured to read back within 1 point of 50-step
# DDIM on the release with PSNR within 2 dB of it (docs/sampling.md)
DEFAULT_SAMPLER = "dpm++2m"  # one of SAMPLERS
DEFAULT_STEPS = 10
# measuring (eval, experiments, compare, probes): the reference every reported figure uses
EVAL_SAMPLER = "ddim"
EVAL_STEPS = 50
ETA_RANGE = (0.0, 1.0)  # 0: deterministic DDIM, 1: as much fresh noise as DDPM
GUIDANCE_RANGE = (0.0, 20.0)  # classifier-free guidance scale s: uncond + s (cond - uncond)


@dataclass
class StepOutput:
    """One denoising step: its index (0-based), the timestep t it started from, x_{t_prev} and the
    predicted clean video, each (B, T, H, W) float in model space (what the model denoises: a latent model's are its
    latents (B, C, T, H', W') until the pipeline decodes them)."""

    index: int
    num_steps: int
    t: int
    x_t: torch.Tensor
    pred_x0: torch.Tensor
    latent_x_t: torch.Tensor | None = None  # a latent model's own x_{t_prev} and pred_x0 (B, C, T, H', W'), x_t and pred_x0
    latent_x0: torch.Tensor | None = None  # then being their decoded videos (Pipeline.iter_steps); None for a pixel model


def get_sampler(name: str) -> Sampler:
    """The registered sampler of a name; unknown names raise with the known ones."""
    if not isinstance(name, str) or name not in SAMPLER_REGISTRY:
        raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")
    return SAMPLER_REGISTRY[name]


def make_scheduler(sampler: str, schedule: NoiseSchedule) -> Scheduler:
    """A new scheduler object for a sampler name; unknown names raise with the known ones."""
    return get_sampler(sampler).scheduler(schedule)


def check_sampling_args(steps: int, eta: float, guidance_scale: float, num_timesteps: int, sampler: str = DEFAULT_SAMPLER) -> None:
    """Raise ValueError with the allowed range for any argument out of range."""
    get_sampler(sampler)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be an integer in [1, {num_timesteps}], got {steps!r}")
    if not isinstance(eta, (int, float)) or not ETA_RANGE[0] <= eta <= ETA_RANGE[1]:
        raise ValueError(f"eta must be in [{ETA_RANGE[0]:g}, {ETA_RANGE[1]:g}], got {eta!r}")
    if not isinstance(guidance_scale, (int, float)) or not GUIDANCE_RANGE[0] <= guidance_scale <= GUIDANCE_RANGE[1]:
        raise ValueError(f"guidance_scale must be in [{GUIDANCE_RANGE[0]:g}, {GUIDANCE_RANGE[1]:g}], got {guidance_scale!r}")


def check_seed(seed) -> int:
    """A seed numpy and torch both take (0..MAX_SEED), else ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number in [0, {MAX_SEED}], got {seed!r}")
    return int(seed)


def initial_noise(noise, shape: tuple[int, ...]) -> torch.Tensor:
    """A caller's x_T as float32 of `shape` (B, T, H, W) (a latent's (B, C, T, H, W)); one sample's shape stands for every
    row; else ValueError."""
    x = torch.as_tensor(np.asarray(noise) if not torch.is_tensor(noise) else noise).float()
    if tuple(x.shape) == shape[1:]:
        x = x.expand(shape).clone()
    if tuple(x.shape) != shape:
        raise ValueError(f"noise must be the video's shape {shape} (or {shape[1:]}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("noise must be finite")
    return x


@torch.no_grad()
def iter_denoise(
    model,
    schedule: NoiseSchedule,
    ids: torch.Tensor,
    steps: int = DEFAULT_STEPS,
    eta: float = 0.0,
    guidance_scale: float = 1.0,
    seed: int = 0,
    sampler: str = DEFAULT_SAMPLER,
    clip_x0: bool = True,
    autocast_bf16: bool = False,
    motion: torch.Tensor | None = None,
    noise=None,
) -> Iterator[StepOutput]:
    """Sample videos for the prompt ids (B, L), yielding every step. Same seed, same output. `noise`, if given, is
    the initial x_T (B, T, H, W) (or (T, H, W) for one prompt) instead of the seed's: a numpy array or a tensor.

    The model encodes the prompts once, `cond = model.encode_for_guidance(ids, guidance_scale)`, and
    each step calls `model.forward_with_guidance(x_t, t, None, guidance_scale, state=..., cond=cond)`.

    Noise is drawn on the CPU from `seed`, so a seed gives the same start on any device.
    """
    check_sampling_args(steps, eta, guidance_scale, schedule.num_timesteps, sampler)
    check_seed(seed)
    chosen = get_sampler(sampler)
    eta = chosen.step_eta(eta)  # ddpm's 1; 0 for a deterministic scheduler, whatever was asked
    device = ids.device
    cfg = model.cfg
    scheduler = make_scheduler(sampler, schedule)
    timesteps = scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(int(seed))
    shape = (ids.shape[0], *cfg.sample_shape)
    x = torch.randn(shape, generator=generator).to(device) if noise is None else initial_noise(noise, shape).to(device)  # (B, [C,] T, H, W)
    state: dict = {}  # the trajectory's own: what a variant carries from one step to the next
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
        # the prompts' encoding and layout, once; motion (B, T, 3): where the text is to go (layout2d.motion_tensor)
        cond = (model.encode_for_guidance(ids, guidance_scale) if motion is None
                else model.encode_for_guidance(ids, guidance_scale, motion=motion.to(device)))
    for i, t in enumerate(timesteps):
        tt = torch.full((ids.shape[0],), int(t), dtype=torch.long, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            out = model.forward_with_guidance(x, tt, None, guidance_scale, state=state, cond=cond)
        x, pred_x0 = scheduler.step(out.float(), i, x, eta=eta, generator=generator, clip_x0=clip_x0)
        yield StepOutput(index=i, num_steps=len(timesteps), t=int(t), x_t=x, pred_x0=pred_x0)
