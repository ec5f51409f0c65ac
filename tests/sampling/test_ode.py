"""DPM-Solver++(2M) and Heun against closed forms: on Gaussian data the exact noise prediction is known and
the probability-flow ODE maps x_T to x_0 by a known affine map, so each solver's error can be measured."""

import math

import pytest
import torch

from aip.sampling import (
    SAMPLERS,
    DDIMScheduler,
    DPMSolverPPScheduler,
    HeunScheduler,
    NoiseSchedule,
    diffusion_sample,
    make_scheduler,
    spaced_timesteps,
)

MU, S = 0.3, 0.5


def _gaussian(kind: str):
    """(schedule, exact eps(x, t) for data N(MU, S^2), x_T, the exact ODE image of x_T at x_0)."""
    sch = NoiseSchedule(kind, 1000)
    ab = sch.alpha_bar

    def eps(x, t):
        a = float(ab[int(t)])
        return (x - math.sqrt(a) * MU) * math.sqrt(1 - a) / (a * S * S + 1 - a)

    z = torch.randn(2000, 1, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a_T = float(ab[-1])
    return sch, eps, z, MU + S * (z - math.sqrt(a_T) * MU) / math.sqrt(a_T * S * S + 1 - a_T)


def _err(name, kind, n, **kw):
    sch, eps, z, exact = _gaussian(kind)
    x = diffusion_sample(eps, make_scheduler(name, sch, n, clip_sample=False, **kw), z.clone(), dtype=torch.float64)
    return float((x - exact).pow(2).mean().sqrt())


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("n", [20, 50])
def test_second_order_solvers_beat_ddim_at_equal_evaluations(kind, n):
    ddim = _err("ddim", kind, n)
    assert _err("dpm++", kind, n) < 0.35 * ddim
    assert _err("heun", kind, n) < 0.6 * ddim


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_heun_converges_at_second_order(kind):
    """From 20 to 50 evaluations the error falls faster than (20/50)^1.5 (first order: 20/50)."""
    assert _err("heun", kind, 50) < (20 / 50) ** 1.5 * _err("heun", kind, 20)


def test_dpm_solver_first_order_is_ddim():
    sch, eps, z, _ = _gaussian("linear")
    for spacing in ("linspace", "trailing"):
        a = diffusion_sample(eps, make_scheduler("dpm++", sch, 12, clip_sample=False, order=1, spacing=spacing),
                             z.clone(), dtype=torch.float64)
        b = diffusion_sample(eps, make_scheduler("ddim", sch, 12, clip_sample=False, spacing=spacing), z.clone(),
                             dtype=torch.float64)
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_dpm_solver_matches_diffusers():
    diffusers = pytest.importorskip("diffusers")
    sch, eps, z, _ = _gaussian("linear")
    z = z[:64]
    ours = diffusion_sample(eps, make_scheduler("dpm++", sch, 10, clip_sample=False), z.clone(), dtype=torch.float64)
    d = diffusers.DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                              beta_schedule="linear", algorithm_type="dpmsolver++", solver_order=2,
                                              timestep_spacing="trailing", final_sigmas_type="zero")
    d.set_timesteps(10)
    x = z.clone()
    for t in d.timesteps:
        x = d.step(eps(x, t), t, x).prev_sample
    torch.testing.assert_close(x, ours, atol=2e-6, rtol=0)  # diffusers' betas are float32


@pytest.mark.parametrize("n", [1, 2, 5, 10, 21, 50])
def test_heun_uses_at_most_n_evaluations(n):
    for kind in ("linear", "cosine"):
        s = make_scheduler("heun", NoiseSchedule(kind, 1000), n)
        assert s.num_inference_steps == len(s.timesteps) <= n
        assert len(s.timesteps) >= n - 1  # at most one evaluation left unused
        assert s.timesteps[-1] == s.distinct_timesteps[-1]


def test_solvers_restart_a_fresh_chain_and_keep_shapes():
    sch, eps, z, _ = _gaussian("cosine")
    for name in ("dpm++", "heun"):
        s = make_scheduler(name, sch, 8, clip_sample=False)
        a = diffusion_sample(eps, s, z.clone(), dtype=torch.float64)
        b = diffusion_sample(eps, s, z.clone(), dtype=torch.float64)  # the same scheduler object again
        torch.testing.assert_close(a, b, atol=0, rtol=0)
        assert SAMPLERS[name].deterministic


def test_karras_spacing():
    sch = NoiseSchedule("linear", 1000)
    ts = spaced_timesteps(1000, 20, "karras", schedule=sch)
    assert ts.tolist() == sorted(set(ts.tolist()), reverse=True) and ts[0] == 999 and ts[-1] == 0
    assert (ts < 100).sum() > 2 * (spaced_timesteps(1000, 20) < 100).sum()  # denser at small noise (rho = 7)
    assert spaced_timesteps(1000, 1000, "karras", schedule=sch).tolist() == list(range(999, -1, -1))
    with pytest.raises(ValueError, match="karras"):
        spaced_timesteps(1000, 5, "karras")


def test_bad_options():
    with pytest.raises(ValueError, match="order"):
        DPMSolverPPScheduler(order=3)
    with pytest.raises(ValueError, match="options"):
        make_scheduler("heun", NoiseSchedule(), 10, eta=0.5)
    assert isinstance(make_scheduler("heun", NoiseSchedule(), 10), HeunScheduler)
    assert isinstance(make_scheduler("ddim", NoiseSchedule(), 10), DDIMScheduler)


def test_ddpm_model_samples_with_every_sampler():
    from aip.models.diffusion import DDPM, DDPMConfig

    torch.manual_seed(0)
    m = DDPM(DDPMConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_classes=3, num_timesteps=50))
    for name in ("dpm++", "heun"):
        x = m.sample(3, sampler=name, steps=6, guidance=2.0, generator=torch.Generator().manual_seed(0))
        assert x.shape == (3, 1, 8, 8) and torch.isfinite(x).all() and 0 <= x.min() and x.max() <= 1
