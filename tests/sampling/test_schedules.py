"""Schedule maths against closed forms and the iterated forward process."""

from __future__ import annotations

import math

import pytest
import torch

from aip.sampling import NoiseSchedule, cosine_alpha_bar, geometric_sigmas, linear_betas, make_betas


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_closed_form_q_matches_iterated_moments(kind):
    sched = NoiseSchedule(kind, 1000)
    x0 = torch.tensor([0.7, -0.3], dtype=torch.float64)
    mean, var = x0.clone(), torch.zeros(2, dtype=torch.float64)
    for t in range(1000):
        a = sched.alphas[t]
        mean, var = a.sqrt() * mean, a * var + sched.betas[t]     # x_t = sqrt(a) x_{t-1} + sqrt(beta) z
        if t in (0, 10, 500, 999):
            m, v = sched.q_mean_variance(x0, t)
            torch.testing.assert_close(m, mean, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(v, var, rtol=1e-10, atol=1e-12)


def test_q_sample_matches_monte_carlo_forward_process():
    sched = NoiseSchedule("linear", 200)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000,), 0.5, dtype=torch.float64)
    x = x0.clone()
    for t in range(120):
        x = sched.alphas[t].sqrt() * x + sched.betas[t].sqrt() * torch.randn(x.shape, generator=g, dtype=x.dtype)
    direct = sched.q_sample(x0, torch.full((20000,), 119), generator=g)
    for sample in (x, direct):
        assert abs(sample.mean().item() - 0.5 * sched.alpha_bar[119].sqrt().item()) < 0.02
        assert abs(sample.var().item() - (1 - sched.alpha_bar[119]).item()) < 0.03


def test_cosine_alpha_bar_end_and_monotone():
    sched = NoiseSchedule("cosine", 1000)
    assert float(sched.alpha_bar[-1]) < 1e-6
    assert float(sched.alpha_bar[0]) > 0.9999
    assert bool((sched.alpha_bar[1:] < sched.alpha_bar[:-1]).all())
    # recomputing alpha_bar from the (clipped) betas reproduces the closed form until the clip is reached
    torch.testing.assert_close(sched.alpha_bar[:990], cosine_alpha_bar(1000)[:990], rtol=1e-9, atol=1e-12)
    lin = NoiseSchedule("linear", 1000)
    assert bool((lin.alpha_bar[1:] < lin.alpha_bar[:-1]).all())
    assert 1e-5 < float(lin.alpha_bar[-1]) < 1e-4          # Ho 2020: alpha_bar_T ~ 4e-5
    # cosine destroys information more slowly at the start (Nichol & Dhariwal Fig. 5)
    assert float(sched.alpha_bar[250]) > float(lin.alpha_bar[250])


def test_linear_betas_endpoints():
    b = linear_betas(1000, 1e-4, 0.02)
    assert b[0].item() == pytest.approx(1e-4) and b[-1].item() == pytest.approx(0.02)
    assert make_betas("linear", 500)[-1].item() == pytest.approx(0.04)   # T-rescaled (Nichol & Dhariwal)


def test_posterior_matches_bayes_rule():
    sched = NoiseSchedule("linear", 1000)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(5, dtype=torch.float64, generator=g)
    xt = torch.randn(5, dtype=torch.float64, generator=g)
    for t in (1, 37, 999):
        a, b, abp = sched.alphas[t], sched.betas[t], sched.alpha_bar[t - 1]
        prec = a / b + 1 / (1 - abp)                 # product of q(x_t|x_{t-1}) and q(x_{t-1}|x_0)
        mean = (a.sqrt() / b * xt + abp.sqrt() / (1 - abp) * x0) / prec
        m, v, logv = sched.posterior_mean_variance(x0, xt, t)
        torch.testing.assert_close(m, mean, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(v.flatten()[0], 1 / prec, rtol=1e-9, atol=1e-15)
        assert logv.flatten()[0].item() == pytest.approx(math.log(1 / prec.item()), rel=1e-9)


def test_x0_eps_round_trip():
    sched = NoiseSchedule("cosine", 100)
    x0, eps = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    t = torch.tensor([0, 50, 99])
    xt = sched.q_sample(x0, t, eps)
    torch.testing.assert_close(sched.predict_x0(xt, t, eps), x0, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sched.predict_eps(xt, t, x0), eps, rtol=1e-6, atol=1e-6)


def test_geometric_sigmas():
    s = geometric_sigmas(1.0, 0.01, 10)
    ratios = s[1:] / s[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 0.01 ** (1 / 9)))
    assert s[0].item() == pytest.approx(1.0) and s[-1].item() == pytest.approx(0.01)


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="schedule: expected one of linear, cosine"):
        NoiseSchedule("quadratic")
    with pytest.raises(ValueError, match="beta_start <= beta_end"):
        linear_betas(10, 0.5, 0.1)
    with pytest.raises(TypeError, match="num_timesteps: expected an integer"):
        NoiseSchedule("linear", 10.5)
    with pytest.raises(ValueError, match=r"t: expected timesteps in \[0, 9\]"):
        NoiseSchedule("linear", 10).check_timesteps(torch.tensor([3, 10]))
    with pytest.raises(ValueError, match="sigma_min <= sigma_max"):
        geometric_sigmas(0.1, 1.0, 3)
