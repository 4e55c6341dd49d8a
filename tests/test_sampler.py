"""Schedules and the DDIM/DDPM sampler, in the diffusers manner: golden timesteps, exact identities."""
import numpy as np
import pytest
import torch

from vidgen.config import DiffusionConfig, ModelConfig
from vidgen.sampler import DDIMScheduler, check_sampling_args, iter_denoise
from vidgen.schedule import NoiseSchedule, make_betas


class DummyModel(torch.nn.Module):
    """Predicts a fixed fraction of its input: enough to exercise every coefficient."""

    def __init__(self):
        super().__init__()
        self.cfg = ModelConfig(patch=(4, 8, 8), dim=8, depth=1, heads=1, rope=False)
        self.calls = []

    def forward_with_cfg(self, x, t, ids, guidance_scale):
        self.calls.append(guidance_scale)
        return 0.1 * x

    def reset_sampling_state(self):
        pass


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
