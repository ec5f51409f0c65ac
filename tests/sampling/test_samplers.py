"""Samplers against closed forms: Gaussian data has an exact noise predictor and score."""

from __future__ import annotations

import math

import pytest
import torch

from aip.sampling import (
    AnnealedLangevinScheduler,
    DDIMScheduler,
    DDPMScheduler,
    NoiseSchedule,
    classifier_free_guidance,
    classifier_guidance,
    classifier_log_prob_grad,
    ddim_invert,
    diffusion_sample,
    geometric_sigmas,
    langevin_sample,
    spaced_timesteps,
)

MU, S = 0.3, 0.5          # data x0 ~ N(MU, S^2) per coordinate


def gaussian_eps(schedule):
    """E[eps | x_t] for x0 ~ N(MU, S^2): sqrt(1-ab) (x_t - sqrt(ab) MU) / (ab S^2 + 1 - ab)."""
    def fn(x, t):
        ab = float(schedule.alpha_bar[int(t)])
        return math.sqrt(1 - ab) * (x - math.sqrt(ab) * MU) / (ab * S**2 + 1 - ab)
    return fn


def test_ddpm_step_equals_algorithm_2():
    sched = NoiseSchedule("linear", 1000)
    ddpm = DDPMScheduler(sched, clip_sample=False)
    g = torch.Generator().manual_seed(0)
    x, eps, z = (torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64) for _ in range(3))
    for t in (999, 500, 1):
        a, b, ab = sched.alphas[t], sched.betas[t], sched.alpha_bar[t]
        expected = (x - b / (1 - ab).sqrt() * eps) / a.sqrt() + sched.posterior_variance[t].sqrt() * z
        torch.testing.assert_close(ddpm.step(eps, t, x, variance_noise=z).prev_sample, expected)
    expected0 = (x - sched.betas[0] / (1 - sched.alpha_bar[0]).sqrt() * eps) / sched.alphas[0].sqrt()
    torch.testing.assert_close(ddpm.step(eps, 0, x).prev_sample, expected0)   # no noise at t = 0


def test_ddim_eta1_variance_is_posterior_variance_and_eta0_is_deterministic():
    sched = NoiseSchedule("cosine", 100)
    ddim = DDIMScheduler(sched)
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    eps = torch.randn_like(x)
    z = torch.randn_like(x)
    t = 40
    out1 = ddim.step(eps, t, x, eta=1.0, variance_noise=z).prev_sample
    out1_noiseless = ddim.step(eps, t, x, eta=1.0, variance_noise=torch.zeros_like(z)).prev_sample
    sigma = ((out1 - out1_noiseless) / z).mean()
    assert sigma.item() == pytest.approx(sched.posterior_variance[t].sqrt().item(), rel=1e-9)
    # eta = 1 on the full grid gives DDPM's posterior mean
    ddpm = DDPMScheduler(sched, clip_sample=False)
    torch.testing.assert_close(out1_noiseless, ddpm.step(eps, t, x, variance_noise=torch.zeros_like(z)).prev_sample)
    fn = gaussian_eps(sched)
    ddim.set_timesteps(20)
    a = diffusion_sample(fn, ddim, x.clone(), generator=torch.Generator().manual_seed(1))
    b = diffusion_sample(fn, ddim, x.clone(), generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_samplers_with_exact_model_recover_the_data_distribution(kind):
    sched = NoiseSchedule(kind, 1000)
    fn = gaussian_eps(sched)
    g = torch.Generator().manual_seed(0)
    # DDIM is a first-order discretisation: at 200 steps its error is a few percent at most
    for scheduler, steps in ((DDIMScheduler(sched), 200), (DDIMScheduler(sched, eta=1.0), 200),
                             (DDPMScheduler(sched, clip_sample=False), 1000)):
        scheduler.set_timesteps(steps)
        x = diffusion_sample(fn, scheduler, (20000,), generator=g, dtype=torch.float64)
        assert x.mean().item() == pytest.approx(MU, abs=0.02), type(scheduler).__name__
        assert x.std().item() == pytest.approx(S, rel=0.04), type(scheduler).__name__


@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing", "quadratic"])
def test_timestep_spacings(spacing):
    for T, n in ((1000, 50), (1000, 1000), (10, 3), (7, 1)):
        ts = spaced_timesteps(T, n, spacing)
        assert ts.numel() == n and len(set(ts.tolist())) == n
        assert bool((ts[:-1] > ts[1:]).all()) and 0 <= int(ts[-1]) and int(ts[0]) <= T - 1
        if n == T:
            assert ts.tolist() == list(range(T - 1, -1, -1))
    expected = {"linspace": [999, 979, 958], "leading": [980, 960, 940], "trailing": [999, 979, 959],
                "quadratic": [999, 958, 919]}
    assert spaced_timesteps(1000, 50, spacing)[:3].tolist() == expected[spacing]
    last = {"linspace": 0, "leading": 0, "trailing": 19, "quadratic": 0}
    assert int(spaced_timesteps(1000, 50, spacing)[-1]) == last[spacing]
    assert DDIMScheduler(NoiseSchedule("linear", 1000), spacing=spacing).set_timesteps(50).tolist() == \
        spaced_timesteps(1000, 50, spacing).tolist()


@pytest.mark.parametrize("spacing", ["leading", "trailing", "quadratic"])
def test_ddim_with_exact_model_recovers_the_data_for_every_spacing(spacing):
    sched = NoiseSchedule("linear", 1000)
    ddim = DDIMScheduler(sched, spacing=spacing)
    ddim.set_timesteps(100)
    x = diffusion_sample(gaussian_eps(sched), ddim, (20000,), generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64)
    assert x.mean().item() == pytest.approx(MU, abs=0.02)
    assert x.std().item() == pytest.approx(S, rel=0.05)


def test_ddim_inversion_round_trip():
    sched = NoiseSchedule("linear", 1000)
    fn = gaussian_eps(sched)
    ddim = DDIMScheduler(sched)
    ddim.set_timesteps(200)
    x0 = MU + S * torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    xT = ddim_invert(fn, ddim, x0)
    # the latent of Gaussian data under the exact flow is ~ standard normal
    assert xT.std().item() == pytest.approx(1.0, rel=0.15)
    back = diffusion_sample(fn, ddim, xT)
    err200 = (back - x0).abs().max().item()
    assert err200 < 0.03
    ddim.set_timesteps(50)                        # first order: 4x fewer steps, about 4x the error
    err50 = (diffusion_sample(fn, ddim, ddim_invert(fn, ddim, x0)) - x0).abs().max().item()
    assert 2.5 < err50 / err200 < 6
    # a point mass has an exact x0 predictor: the round trip is exact
    point = torch.full((1, 1, 2, 2), 0.25, dtype=torch.float64)

    def fn_point(x, t):
        return sched.predict_eps(x, int(t), point)
    xT = ddim_invert(fn_point, ddim, point)
    torch.testing.assert_close(diffusion_sample(fn_point, ddim, xT), point)


def test_annealed_langevin_reaches_the_noisy_gaussian():
    sigmas = geometric_sigmas(1.0, 0.01, 10)

    def score(x, i):
        return -(x - MU) / (S**2 + float(sigmas[int(i)]) ** 2)
    sched = AnnealedLangevinScheduler(sigmas, n_steps_each=100, step_lr=2e-4)
    x = langevin_sample(score, sched, (20000,), generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64, denoise=False)
    assert x.mean().item() == pytest.approx(MU, abs=0.02)
    assert x.std().item() == pytest.approx(math.sqrt(S**2 + 0.01**2), rel=0.05)


def test_classifier_free_guidance_combination():
    eu, ec = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.equal(classifier_free_guidance(eu, ec, 1.0), ec)
    assert torch.equal(classifier_free_guidance(eu, ec, 0.0), eu)
    torch.testing.assert_close(classifier_free_guidance(eu, ec, 3.0), 3 * ec - 2 * eu)
    with pytest.raises(ValueError, match="guidance scale"):
        classifier_free_guidance(eu, ec, -1.0)


def test_classifier_gradient_matches_closed_form():
    torch.manual_seed(0)
    W = torch.randn(3, 8, dtype=torch.float64)

    def clf(x, t):
        return x.flatten(1) @ W.T
    x = torch.randn(4, 2, 2, 2, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    grad = classifier_log_prob_grad(clf, x, torch.zeros(4, dtype=torch.long), y).flatten(1)
    p = torch.softmax(x.flatten(1) @ W.T, 1)
    expected = W[y] - p @ W                                 # d/dx log softmax_y(Wx)
    torch.testing.assert_close(grad, expected)
    sched = NoiseSchedule("linear", 100)
    eps = torch.zeros_like(x)
    shifted = classifier_guidance(eps, x, 30, y, clf, 2.0, sched.alpha_bar)
    torch.testing.assert_close(shifted.flatten(1), -2.0 * (1 - sched.alpha_bar[30]).sqrt() * expected)


def test_scheduler_errors():
    ddim = DDIMScheduler(NoiseSchedule("linear", 100))
    ddim.set_timesteps(10)
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="expected one of the scheduler's timesteps"):
        ddim.step(x, 50, x)
    with pytest.raises(ValueError, match="expected model_output of the sample's shape"):
        ddim.step(torch.zeros(1, 1, 3, 3), 99, x)
    with pytest.raises(ValueError, match=r"num_inference_steps: expected an integer in \[1, 100\]"):
        ddim.set_timesteps(101)
    with pytest.raises(ValueError, match="spacing: expected one of"):
        DDIMScheduler(spacing="uniform")
    with pytest.raises(ValueError, match="variance: expected one of"):
        DDPMScheduler(variance="learned")
    with pytest.raises(TypeError, match="schedule: expected a NoiseSchedule"):
        DDIMScheduler("linear")
    with pytest.raises(ValueError, match="non-increasing"):
        AnnealedLangevinScheduler(torch.tensor([0.1, 1.0]))
