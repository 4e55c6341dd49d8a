"""Every registered sampler through the same checks, so a sampler added to SAMPLER_REGISTRY is tested here
without a line of this file changed: its registration and step signature, the steps it yields and their
shapes, same seed same output, what it does with eta, agreement with DDIM's 1000-step result on an exact
denoiser, and the bad arguments it refuses.

The toy problem: Gaussian data x0 ~ N(mu, s^2) per pixel, whose exact denoiser is
vidgen.diffusion.oracle.GaussianOracle, on the shipped models' schedule (cosine, v, T = 1000). Every good
sampler run long enough lands where DDIM's 1000 steps land (a deterministic one, point by point, since
they solve the same probability-flow ODE from the same x_T) or draws from the same distribution (a
stochastic one: the pixels' mean and spread).
"""
import inspect
import math
from types import SimpleNamespace

import pytest
import torch

from vidgen.cli.main import build_parser
from vidgen.diffusion.oracle import GaussianOracle
from vidgen.diffusion.sampler import (
    ETA_RANGE,
    SAMPLER_REGISTRY,
    SAMPLERS,
    check_sampling_args,
    get_sampler,
    iter_denoise,
    make_scheduler,
)
from vidgen.diffusion.schedule import DiffusionConfig, NoiseSchedule, strided_timesteps

SCHEDULE = NoiseSchedule(DiffusionConfig())  # cosine, v prediction, T = 1000: the shipped models'
T = SCHEDULE.num_timesteps
IDS = torch.zeros(2, 8, dtype=torch.long)  # two prompts: the oracle reads none of them
CONVERGED_STEPS = 100  # "enough steps": DDIM's own mean error against its 1000-step result is 5e-3 here


class ShrinkModel(torch.nn.Module):
    """A tiny stand-in network: predicts a fixed fraction of its input and counts its calls."""

    def __init__(self):
        super().__init__()
        self.cfg = SimpleNamespace(sample_shape=(4, 8, 8))  # the video shape iter_denoise reads
        self.calls = 0

    def encode_for_guidance(self, ids, guidance_scale):
        return ids

    def forward_with_guidance(self, x, t, ids, guidance_scale, state=None, cond=None):
        self.calls += 1
        return 0.1 * x


def run(model, name, steps, eta=0.0, seed=0, clip_x0=False):
    return list(iter_denoise(model, SCHEDULE, IDS, steps=steps, eta=eta, seed=seed, sampler=name, clip_x0=clip_x0))


@pytest.fixture(scope="module")
def oracle():
    return GaussianOracle(SCHEDULE)


@pytest.fixture(scope="module")
def ddim_1000(oracle):
    """DDIM's 1000-step result from seed 0's x_T: the reference every sampler is held to."""
    return run(oracle, "ddim", T)[-1].x_t


# ----------------------------------------------------------------------------- the registry


@pytest.mark.parametrize("name", SAMPLERS)
def test_the_registration_is_complete(name):
    """Its key is its name (lower case: the app lower-cases what it is sent), one help line, a known eta rule."""
    sampler = SAMPLER_REGISTRY[name]
    assert sampler.name == name == name.strip().lower() and get_sampler(name) is sampler
    assert sampler.help.strip() and "\n" not in sampler.help
    assert isinstance(sampler.scheduler.stochastic, bool)
    if sampler.fixed_eta is not None:  # only a noisy scheduler has an eta to fix
        assert sampler.stochastic and ETA_RANGE[0] <= sampler.fixed_eta <= ETA_RANGE[1]


@pytest.mark.parametrize("name", SAMPLERS)
def test_one_step_signature_extra_arguments_by_name(name):
    """step(model_output, index, x_t, *, eta=0.0, generator=None, clip_x0=True), nothing swallowed."""
    params = inspect.signature(SAMPLER_REGISTRY[name].scheduler.step).parameters
    assert list(params) == ["self", "model_output", "index", "x_t", "eta", "generator", "clip_x0"]
    assert [params[k].kind for k in ("eta", "generator", "clip_x0")] == [inspect.Parameter.KEYWORD_ONLY] * 3
    assert (params["eta"].default, params["generator"].default, params["clip_x0"].default) == (0.0, None, True)


def test_the_cli_offers_every_registered_sampler():
    sample = build_parser()._subparsers._group_actions[0].choices["sample"]
    action = next(a for a in sample._actions if "--sampler" in a.option_strings)
    assert tuple(action.choices) == SAMPLERS
    assert all(f"{name}: {SAMPLER_REGISTRY[name].help}" in action.help for name in SAMPLERS)


# ----------------------------------------------------------------------------- steps, shapes, seeds


@pytest.mark.parametrize("name", SAMPLERS)
def test_yields_every_step_with_the_video_shape(name):
    model = ShrinkModel()
    steps = run(model, name, 7, clip_x0=True)
    assert [s.index for s in steps] == list(range(7)) and all(s.num_steps == 7 for s in steps)
    assert [s.t for s in steps] == strided_timesteps(7, T).tolist()
    assert model.calls == 7  # one network call a step: a corrector, if any, reuses it
    for s in steps:
        assert s.x_t.shape == s.pred_x0.shape == (2, 4, 8, 8) and s.x_t.dtype == torch.float32
        assert torch.isfinite(s.x_t).all() and s.pred_x0.abs().max() <= 1.0  # clip_x0 clamps the prediction
    torch.testing.assert_close(steps[-1].x_t, steps[-1].pred_x0)  # the last step lands on the clean end


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_output(name):
    eta = 0.5 if SAMPLER_REGISTRY[name].stochastic else 0.0
    a, b = run(ShrinkModel(), name, 6, eta=eta, seed=3), run(ShrinkModel(), name, 6, eta=eta, seed=3)
    assert all(torch.equal(x.x_t, y.x_t) and torch.equal(x.pred_x0, y.pred_x0) for x, y in zip(a, b))
    assert not torch.allclose(a[-1].x_t, run(ShrinkModel(), name, 6, eta=eta, seed=4)[-1].x_t)


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_scheduler_object_starts_afresh_on_set_timesteps(name, oracle):
    """Multistep state from one run must not leak into the next."""
    scheduler = make_scheduler(name, SCHEDULE)
    x_T = torch.randn((1, 16, 32, 32), generator=torch.Generator().manual_seed(0))
    finals = []
    for _ in range(2):
        x = x_T
        for i, t in enumerate(scheduler.set_timesteps(5)):
            out = oracle.forward_with_guidance(x, torch.full((1,), int(t)), None, 1.0)
            x, _ = scheduler.step(out, i, x, generator=torch.Generator().manual_seed(1), clip_x0=False)
        finals.append(x)
    assert torch.equal(*finals)


@pytest.mark.parametrize("name", SAMPLERS)
def test_one_step_is_the_models_x0_prediction(name, oracle):
    """With one step every sampler jumps from x_T to the clean end: the prediction itself, whatever its order."""
    one = run(oracle, name, 1, eta=1.0)
    torch.testing.assert_close(one[-1].x_t, run(oracle, "ddim", 1)[-1].x_t)


# ----------------------------------------------------------------------------- eta


@pytest.mark.parametrize("name", SAMPLERS)
def test_eta_does_what_the_registry_says(name, oracle):
    sampler = SAMPLER_REGISTRY[name]
    eta0, eta1 = run(oracle, name, 8, eta=0.0)[-1].x_t, run(oracle, name, 8, eta=1.0)[-1].x_t
    if sampler.stochastic and sampler.fixed_eta is None:  # the caller's eta: 0 and 1 differ
        assert not torch.allclose(eta0, eta1)
    else:  # ddpm's fixed eta, or a deterministic solver's 0, whatever is asked (the app notes it is unused)
        assert torch.equal(eta0, eta1)


def test_the_built_in_samplers_eta():
    """What each shipped sampler's steps get when a user asks eta 0.3."""
    got = {name: SAMPLER_REGISTRY[name].step_eta(0.3) for name in ("ddim", "ddpm", "dpm++2m", "unipc")}
    assert got == {"ddim": 0.3, "ddpm": 1.0, "dpm++2m": 0.0, "unipc": 0.0}


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_scheduler_draws_noise_only_if_stochastic(name):
    """A deterministic scheduler refuses eta != 0 and leaves the generator alone; a stochastic one draws from
    it when eta > 0 and not when eta = 0."""
    scheduler = make_scheduler(name, SCHEDULE)
    scheduler.set_timesteps(4)
    x = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(7)
    before = g.get_state()
    scheduler.step(0.1 * x, 0, x, eta=0.0, generator=g)
    assert torch.equal(g.get_state(), before)  # eta 0 draws nothing
    if scheduler.stochastic:
        scheduler.step(0.1 * x, 1, x, eta=1.0, generator=g)
        assert not torch.equal(g.get_state(), before)
    else:
        with pytest.raises(ValueError, match="deterministic: eta must be 0"):
            scheduler.step(0.1 * x, 1, x, eta=0.5, generator=g)


# ----------------------------------------------------------------------------- agreement on the exact denoiser


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("name", SAMPLERS)
def test_lands_where_ddim_1000_does(name, eta, oracle, ddim_1000):
    x = run(oracle, name, CONVERGED_STEPS, eta=eta)[-1].x_t
    if SAMPLER_REGISTRY[name].step_eta(eta) == 0:  # deterministic: the same ODE from the same x_T, point by point
        err = (x - ddim_1000).abs()
        assert err.mean() < 1e-2 and err.max() < 5e-2, (err.mean().item(), err.max().item())
    else:  # stochastic: another draw from the same data distribution, N(0.3, 0.4^2) per pixel
        assert abs(x.mean() - ddim_1000.mean()) < 1e-2 and abs(x.std() - ddim_1000.std()) < 3e-2, (x.mean(), x.std())
        assert abs(ddim_1000.mean() - oracle.mu) < 1e-2 and abs(ddim_1000.std() - oracle.s) < 1e-2


# ----------------------------------------------------------------------------- bad arguments


BAD = [dict(steps=0), dict(steps=T + 1), dict(steps=2.5), dict(steps=True), dict(eta=-0.1), dict(eta=1.5),
       dict(eta=math.nan)]


@pytest.mark.parametrize("bad", BAD, ids=lambda b: "-".join(f"{k}={v}" for k, v in b.items()))
@pytest.mark.parametrize("name", SAMPLERS)
def test_refuses_bad_arguments_before_any_step(name, bad):
    args = dict(steps=10, eta=0.0) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        check_sampling_args(args["steps"], args["eta"], 1.0, T, name)
    model = ShrinkModel()
    with pytest.raises(ValueError, match=next(iter(bad))):
        next(iter_denoise(model, SCHEDULE, IDS, sampler=name, **args))
    assert model.calls == 0


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_scheduler_refuses_bad_step_counts_and_a_step_before_its_timesteps(name):
    scheduler = make_scheduler(name, SCHEDULE)
    x = torch.zeros(1, 4, 8, 8)
    with pytest.raises(RuntimeError, match="set_timesteps"):
        scheduler.step(x, 0, x)
    for steps in (0, T + 1, 2.5):
        with pytest.raises(ValueError, match="steps must be"):
            scheduler.set_timesteps(steps)


@pytest.mark.parametrize("unknown", ["euler", "DDIM", "ddim ", "", None])
def test_an_unknown_name_raises_with_the_known_ones(unknown):
    for call in (lambda: get_sampler(unknown), lambda: make_scheduler(unknown, SCHEDULE),
                 lambda: check_sampling_args(10, 0.0, 1.0, T, unknown),
                 lambda: next(iter_denoise(ShrinkModel(), SCHEDULE, IDS, sampler=unknown))):
        with pytest.raises(ValueError, match="unknown sampler") as info:
            call()
        assert all(name in str(info.value) for name in SAMPLERS)
