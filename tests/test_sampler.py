"""Schedules and each scheduler's own maths, in the diffusers manner: golden timesteps, exact identities. What
every registered sampler must do is checked once for all in tests/test_sampler_conformance.py."""
import numpy as np
import pytest
import torch

from vidgen.diffusion.ddim import DDIMScheduler
from vidgen.diffusion.dpm_solver import DPMSolverMultistepScheduler
from vidgen.diffusion.oracle import GaussianOracle, solver_errors
from vidgen.diffusion.sampler import check_sampling_args, iter_denoise, make_scheduler
from vidgen.diffusion.unipc import UniPCMultistepScheduler
from vidgen.diffusion.schedule import DiffusionConfig, NoiseSchedule, make_betas
from vidgen.models.config import ModelConfig


class DummyModel(torch.nn.Module):
    """Predicts a fixed fraction of its input: enough to exercise every coefficient."""

    def __init__(self):
        super().__init__()
        self.cfg = ModelConfig(patch=(4, 8, 8), dim=8, depth=1, heads=1, rope=False)
        self.calls = []

    def encode_for_guidance(self, ids, guidance_scale):
        return ids  # what forward_with_guidance reads as cond

    def forward_with_guidance(self, x, t, ids, guidance_scale, state=None, cond=None):
        self.calls.append(guidance_scale)
        return 0.1 * x



def test_golden_timesteps():
    sched = DDIMScheduler(NoiseSchedule(DiffusionConfig(num_timesteps=1000)))
    assert sched.set_timesteps(1).tolist() == [999]
    assert sched.set_timesteps(2).tolist() == [999, 0]
    assert sched.set_timesteps(5).tolist() == [999, 749, 500, 250, 0]
    ts = sched.set_timesteps(1000)
    assert ts.tolist() == list(range(999, -1, -1))
    ts = sched.set_timesteps(50)
    assert len(ts) == 50 and len(set(ts.tolist())) == 50 and ts[0] == 999 and ts[-1] == 0


def test_previous_alpha_is_the_strided_one():
    """The blog's bug: with fewer steps than T, alpha_prev must be the next *chosen* timestep's."""
    schedule = NoiseSchedule(DiffusionConfig(schedule="linear", prediction="eps"))
    sched = DDIMScheduler(schedule)
    sched.set_timesteps(5)  # 999, 749, 500, 250, 0
    x_t = torch.randn(1, 16, 32, 32, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(1, 16, 32, 32, generator=torch.Generator().manual_seed(1))
    x_prev, x0 = sched.step(eps, 1, x_t, eta=0.0, clip_x0=False)
    a_t, a_prev = schedule.alphas_cumprod[749].item(), schedule.alphas_cumprod[500].item()
    expected_x0 = (x_t - (1 - a_t) ** 0.5 * eps) / a_t**0.5
    expected = a_prev**0.5 * expected_x0 + (1 - a_prev) ** 0.5 * eps
    torch.testing.assert_close(x0, expected_x0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_prev, expected, rtol=1e-5, atol=1e-5)
    # the final step lands on alpha_bar = 1: x_prev is the predicted x0
    x_last, x0_last = sched.step(eps, 4, x_t, eta=1.0, clip_x0=False)
    torch.testing.assert_close(x_last, x0_last)


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_ddim_full_steps_eta1_matches_ddpm_posterior(prediction, kind):
    schedule = NoiseSchedule(DiffusionConfig(schedule=kind, prediction=prediction))
    sched = DDIMScheduler(schedule)
    sched.set_timesteps(1000)
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(2, 16, 32, 32, generator=g)
    out = torch.randn(2, 16, 32, 32, generator=g)
    for index in (0, 500, 998):
        t = int(sched.timesteps[index])
        tt = torch.full((2,), t)
        x0, _ = schedule.split_prediction(out, x_t, tt)
        mean, var = schedule.q_posterior(x0, x_t, tt)
        # sigma^2 of DDIM at eta = 1 equals the posterior variance
        x_prev_det, _ = sched.step(out, index, x_t, eta=0.0, clip_x0=False)
        a_t = schedule.alphas_cumprod[t].item()
        a_prev = schedule.alphas_cumprod[t - 1].item()
        sigma2 = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        assert sigma2 == pytest.approx(var.flatten()[0].item(), rel=1e-5)
        # the eta = 1 step is mean + sigma z: draw z with the same generator to compare exactly
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        x_prev, _ = sched.step(out, index, x_t, eta=1.0, clip_x0=False, generator=g1)
        z = torch.randn(x_t.shape, generator=g2)
        torch.testing.assert_close(x_prev, mean + var.sqrt() * z, rtol=1e-4, atol=1e-4)


def test_q_sample_and_targets():
    schedule = NoiseSchedule(DiffusionConfig(prediction="v"))
    x0 = torch.rand(3, 16, 32, 32) * 2 - 1
    noise = torch.randn(3, 16, 32, 32)
    t = torch.tensor([0, 400, 999])
    x_t = schedule.q_sample(x0, t, noise)
    v = schedule.target(x0, noise, t)
    px0, peps = schedule.split_prediction(v, x_t, t)
    torch.testing.assert_close(px0, x0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(peps, noise, rtol=1e-4, atol=1e-4)


def test_schedules():
    lin = make_betas("linear", 1000)
    assert lin[0] == pytest.approx(1e-4) and lin[-1] == pytest.approx(0.02)  # alpha from 0.9999 to 0.98
    cos = NoiseSchedule(DiffusionConfig(schedule="cosine"))
    ac = cos.alphas_cumprod.numpy()
    assert np.all(np.diff(ac) < 0) and ac[-1] < 1e-3 and ac[0] > 0.999
    with pytest.raises(ValueError, match="known"):
        make_betas("quadratic", 10)
    with pytest.raises(ValueError, match="known"):
        DiffusionConfig(schedule="sigmoid")
    with pytest.raises(ValueError, match="known"):
        DiffusionConfig(prediction="x0")


def test_min_snr_weights():
    s = NoiseSchedule(DiffusionConfig(prediction="eps"))
    t = torch.tensor([0, 999])
    w = s.loss_weight(t, "min_snr", 5.0)
    assert w[0].item() == pytest.approx(5.0 / s.snr[0].item(), rel=1e-5)  # high SNR is capped
    assert w[1].item() == pytest.approx(1.0)  # low SNR keeps weight 1 for eps
    assert torch.all(s.loss_weight(t, "none") == 1)


def test_iter_denoise_yields_every_step_and_is_deterministic():
    schedule = NoiseSchedule(DiffusionConfig())
    model = DummyModel()
    ids = torch.zeros(2, 8, dtype=torch.long)
    steps = list(iter_denoise(model, schedule, ids, steps=7, eta=0.5, guidance_scale=2.0, seed=3))
    assert [s.index for s in steps] == list(range(7))
    assert steps[0].t == 999 and steps[-1].t == 0
    assert all(s.x_t.shape == (2, 16, 32, 32) and s.pred_x0.shape == (2, 16, 32, 32) for s in steps)
    again = list(iter_denoise(model, schedule, ids, steps=7, eta=0.5, guidance_scale=2.0, seed=3))
    torch.testing.assert_close(steps[-1].x_t, again[-1].x_t)
    other = list(iter_denoise(model, schedule, ids, steps=7, eta=0.5, guidance_scale=2.0, seed=4))
    assert not torch.allclose(steps[-1].x_t, other[-1].x_t)
    assert set(model.calls) == {2.0}


def test_sampling_builds_no_autograd_graph():
    """A real network with trainable weights: no step's output keeps a graph (one did, once, and a batch of 36 took 24 GB)."""
    from vidgen.models import build_model

    model = build_model(ModelConfig(patch=(4, 8, 8), dim=32, depth=1, heads=2, text_layers=1))
    assert any(p.requires_grad for p in model.parameters())
    steps = list(iter_denoise(model, NoiseSchedule(DiffusionConfig()), torch.zeros(1, 8, dtype=torch.long), steps=2))
    assert not any(s.x_t.requires_grad or s.pred_x0.requires_grad for s in steps)


def test_eta0_is_deterministic_given_the_start():
    schedule = NoiseSchedule(DiffusionConfig())
    sched = DDIMScheduler(schedule)
    sched.set_timesteps(10)
    x = torch.randn(1, 16, 32, 32)
    a, _ = sched.step(0.3 * x, 2, x, eta=0.0, generator=torch.Generator().manual_seed(0))
    b, _ = sched.step(0.3 * x, 2, x, eta=0.0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "kwargs",
    [dict(steps=0), dict(steps=1001), dict(steps=2.5), dict(eta=-0.1), dict(eta=1.5), dict(guidance_scale=-1),
     dict(guidance_scale=float("nan")), dict(guidance_scale=100), dict(sampler="euler")],
)
def test_out_of_range_arguments_raise(kwargs):
    args = dict(steps=10, eta=0.0, guidance_scale=1.0, sampler="ddim")
    args.update(kwargs)
    with pytest.raises(ValueError):
        check_sampling_args(args["steps"], args["eta"], args["guidance_scale"], 1000, args["sampler"])
    schedule = NoiseSchedule(DiffusionConfig())
    with pytest.raises(ValueError):
        next(iter_denoise(DummyModel(), schedule, torch.zeros(1, 8, dtype=torch.long), **args))


# ----------------------------------------------------------------------------- DPM-Solver++(2M)


def _final(model, schedule, steps, sampler, seed=0):
    ids = torch.zeros(2, 8, dtype=torch.long)
    out = list(iter_denoise(model, schedule, ids, steps=steps, sampler=sampler, seed=seed, clip_x0=False))
    return out[-1].x_t


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_dpm_solver_lands_where_the_ode_does_and_beats_ddim_at_few_steps(prediction):
    """docs/sampling.md's figures (python -m benchmarks.solvers prints them: 1.9x, 8.6x and 14.5x closer
    than DDIM at 10, 20 and 50 steps), with a little room for another CPU's rounding."""
    err = solver_errors(NoiseSchedule(DiffusionConfig(prediction=prediction)))
    # at every step both solve the same ODE and meet its exact end point (and each other)
    assert err["ddim", 1000] < 5e-3 and err["dpm++2m", 1000] < 5e-3
    # second order: at few steps it is far closer than first-order DDIM, and converges faster
    for steps, ratio in ((10, 1.8), (20, 8.0), (50, 14.0)):
        assert err["ddim", steps] > ratio * err["dpm++2m", steps], (steps, err)
    assert err["dpm++2m", 50] < err["dpm++2m", 20] < err["dpm++2m", 10]


def test_dpm_solver_edge_steps():
    schedule = NoiseSchedule(DiffusionConfig())
    oracle = GaussianOracle(schedule)
    x = torch.randn((1, 16, 32, 32), generator=torch.Generator().manual_seed(1))
    # one step: straight from t = T-1 to the clean end, which is the predicted x0 (as DDIM's is)
    one_dpm, one_ddim = _final(oracle, schedule, 1, "dpm++2m"), _final(oracle, schedule, 1, "ddim")
    torch.testing.assert_close(one_dpm, one_ddim)
    # two steps: the first is first order, i.e. exactly DDIM's step
    a, b = DPMSolverMultistepScheduler(schedule), DDIMScheduler(schedule)
    a.set_timesteps(2), b.set_timesteps(2)
    t = torch.full((1,), 999, dtype=torch.long)
    out = oracle.forward_with_guidance(x, t, None, 1.0)
    torch.testing.assert_close(a.step(out, 0, x)[0], b.step(out, 0, x)[0], atol=1e-5, rtol=1e-5)
    # the last step returns the predicted x0 itself, and a new set_timesteps forgets the previous run
    x_prev, x0 = a.step(out, 1, x)
    assert torch.equal(x_prev, x0)
    a.set_timesteps(3)
    assert a._prev_x0 is None
    with pytest.raises(RuntimeError, match="set_timesteps"):
        DPMSolverMultistepScheduler(schedule).step(out, 0, x)


@pytest.mark.parametrize("steps", [0, -1, 1001, 2.5, True])
def test_dpm_solver_bad_step_counts_raise(steps):
    with pytest.raises(ValueError, match="steps must be"):
        list(iter_denoise(DummyModel(), NoiseSchedule(DiffusionConfig()), torch.zeros(1, 8, dtype=torch.long),
                          steps=steps, sampler="dpm++2m"))
    with pytest.raises(ValueError, match="steps must be"):
        DPMSolverMultistepScheduler(NoiseSchedule(DiffusionConfig())).set_timesteps(steps if steps is not True else 0)


def test_dpm_solver_with_guidance_is_deterministic_and_yields_every_step():
    model = DummyModel()
    ids = torch.zeros(2, 8, dtype=torch.long)
    schedule = NoiseSchedule(DiffusionConfig())
    a = list(iter_denoise(model, schedule, ids, steps=7, guidance_scale=3.0, sampler="dpm++2m", seed=4))
    b = list(iter_denoise(model, schedule, ids, steps=7, guidance_scale=3.0, sampler="dpm++2m", seed=4, eta=1.0))
    assert [s.index for s in a] == list(range(7)) and model.calls.count(3.0) == 14
    assert all(torch.equal(x.x_t, y.x_t) for x, y in zip(a, b))  # deterministic: eta is not used
    with pytest.raises(ValueError, match="unknown sampler"):
        make_scheduler("euler", schedule)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_denoising_errors_are_zero_for_the_true_target_and_grow_with_the_error(prediction):
    schedule = NoiseSchedule(DiffusionConfig(prediction=prediction))
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 4, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([10, 500, 990])
    x_t = schedule.q_sample(x0, t, noise)
    target_mse, x0_mse = schedule.denoising_errors(schedule.target(x0, noise, t), x_t, x0, noise, t)
    assert target_mse.shape == x0_mse.shape == (3,)
    assert target_mse.abs().max() < 1e-10 and x0_mse.max() < 1e-8
    off = schedule.target(x0, noise, t) + 0.1
    target_mse, _ = schedule.denoising_errors(off, x_t, x0, noise, t)
    assert torch.allclose(target_mse, torch.full((3,), 0.01), atol=1e-6)


@pytest.mark.parametrize("solver", [DPMSolverMultistepScheduler, UniPCMultistepScheduler])
def test_each_scheduler_stands_alone_and_refuses_what_it_does_not_take(solver):
    """A deterministic solver is not a DDIM subclass, and its step refuses an eta it would not use: an error,
    not silently ignored (iter_denoise hands it 0 by design)."""
    schedule = NoiseSchedule(DiffusionConfig())
    assert not issubclass(solver, DDIMScheduler) and solver.__mro__[1] is object
    dpm = solver(schedule)
    dpm.set_timesteps(4)
    x = torch.zeros(1, 16, 32, 32)
    with pytest.raises(ValueError, match="deterministic: eta must be 0, got 0.5"):
        dpm.step(x, 0, x, eta=0.5)
    with pytest.raises(TypeError):
        dpm.step(x, 0, x, 0.5)  # extra arguments by name only
    np.testing.assert_array_equal(dpm.timesteps, DDIMScheduler(schedule).set_timesteps(4))  # one strided chain for all


# ----------------------------------------------------------------------------- UniPC


def test_unipc_corrector_is_adams_moulton_in_the_small_step_limit():
    """UniC-2's weights on (D_1, x0_t - x0_s) tend to Adams-Moulton's third-order 1/12 and 5/12 with equal steps
    (r = -1) as h -> 0, whatever B(h) is: a wrong b_k or a swapped solve would not."""
    rho_1, rho_t = UniPCMultistepScheduler._corrector_rhos(1e-4, -1.0)
    assert rho_1 == pytest.approx(1 / 12, abs=1e-4) and rho_t == pytest.approx(5 / 12, abs=1e-4)
    # on an uneven step (r = -2: the step before twice as long) the limit is the quadratic through the three points
    rho_1, rho_t = UniPCMultistepScheduler._corrector_rhos(1e-4, -2.0)
    assert rho_1 == pytest.approx(1 / 18, abs=1e-4) and rho_t == pytest.approx(4 / 9, abs=1e-4)


def test_unipc_corrects_the_first_step_by_the_trapezoid_rule():
    """Three steps (999, 500, 0), written out in DDIM's form: a DDIM step to 500; there, the same step taken again
    with the mean of the two x0 predictions (UniC-1); then a first-order step into t = 0 from the corrected x."""
    schedule = NoiseSchedule(DiffusionConfig())
    oracle = GaussianOracle(schedule)
    abar = schedule.alphas_cumprod.tolist()

    def ddim(x_s, s, t, x0):  # x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps, eps implied by x_s and x0 (DDIM eq. 12)
        return abar[t] ** 0.5 * x0 + (1 - abar[t]) ** 0.5 * (x_s - abar[s] ** 0.5 * x0) / (1 - abar[s]) ** 0.5

    unipc = UniPCMultistepScheduler(schedule)
    assert unipc.set_timesteps(3).tolist() == [999, 500, 0]
    x_T = torch.randn((1, 16, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.float64).float()
    out = lambda x, t: oracle.forward_with_guidance(x, torch.full((1,), t), None, 1.0)  # noqa: E731
    x_500, m_999 = unipc.step(out(x_T, 999), 0, x_T, clip_x0=False)
    torch.testing.assert_close(x_500, ddim(x_T, 999, 500, m_999), rtol=1e-5, atol=1e-5)
    x_0, m_500 = unipc.step(out(x_500, 500), 1, x_500, clip_x0=False)
    corrected = ddim(x_T, 999, 500, 0.5 * (m_999 + m_500))
    torch.testing.assert_close(x_0, ddim(corrected, 500, 0, m_500), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(x_0, ddim(x_500, 500, 0, m_500), atol=1e-3)  # the correction did something


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_unipc_lands_where_the_ode_does(prediction):
    """python -m benchmarks.solvers: UniPC lands 1.14x closer than DPM-Solver++(2M) at 10 steps, 0.96x at 20
    and 7.6x at 50 on the exact Gaussian denoiser, with a little room for another CPU's rounding."""
    err = solver_errors(NoiseSchedule(DiffusionConfig(prediction=prediction)), samplers=("dpm++2m", "unipc"),
                        steps=(10, 20, 50, 1000))
    assert err["unipc", 1000] < 5e-3
    assert err["unipc", 10] < err["dpm++2m", 10] and err["unipc", 20] < 1.1 * err["dpm++2m", 20], err
    assert err["unipc", 50] < err["dpm++2m", 50] / 6, err
