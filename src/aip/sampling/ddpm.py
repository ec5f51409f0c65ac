"""Ancestral sampling of DDPM (Ho et al. 2020, Algorithm 2), diffusers-style ``set_timesteps`` / ``step``.

With the full set of timesteps one step is

    x_{t-1} = mu_t(x_t, x0_hat) + sigma_t z,  x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_bar_t),

which equals Algorithm 2's ``1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) + sigma_t z`` when x0_hat
is not clipped. ``sigma_t^2`` is ``beta_tilde_t`` ("fixed_small") or ``beta_t`` ("fixed_large"). With fewer
timesteps the respaced process uses ``beta_t' = 1 - alpha_bar_t / alpha_bar_prev`` (Nichol & Dhariwal 2021).

References
----------
Ho, Jain, Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from aip._shared.validate import check_choice
from aip.sampling.schedules import NoiseSchedule, SchedulerOutput, TimestepScheduler, check_step_inputs


class DDPMScheduler(TimestepScheduler):
    """Ancestral DDPM sampler.

    Parameters
    ----------
    schedule : NoiseSchedule
        The training noise schedule.
    variance : {"fixed_small", "fixed_large"}
        ``sigma_t^2 = beta_tilde_t`` or ``beta_t`` (Ho 2020 reports both work similarly).
    clip_sample : bool
        Clip the x_0 estimate to [-1, 1] before forming the posterior mean (as in Ho 2020's code).
    spacing : {"linspace", "leading", "trailing", "quadratic"}
        How ``set_timesteps(n)`` spreads ``n < T`` timesteps (see :func:`spaced_timesteps`).

    Example
    -------
    >>> sched = DDPMScheduler(NoiseSchedule("linear", 1000))
    >>> x = torch.randn(2, 1, 8, 8)
    >>> for t in sched.timesteps[:2]:
    ...     x = sched.step(torch.zeros_like(x), t, x).prev_sample
    """

    def __init__(self, schedule: NoiseSchedule | None = None, *,
                 variance: Literal["fixed_small", "fixed_large"] = "fixed_small",
                 clip_sample: bool = True, clip_range: float = 1.0, spacing: str = "linspace") -> None:
        self.variance = check_choice(variance, "variance", ("fixed_small", "fixed_large"))
        super().__init__(schedule, clip_sample=clip_sample, clip_range=clip_range, spacing=spacing)

    def step(self, model_output: torch.Tensor, t: int | torch.Tensor, sample: torch.Tensor, *,
             generator: torch.Generator | None = None, variance_noise: torch.Tensor | None = None
             ) -> SchedulerOutput:
        """One ancestral step from timestep ``t`` to the previous one; ``model_output`` is eps_theta(x_t, t)."""
        check_step_inputs(model_output, sample)
        t = int(t)
        ab, ab_prev = self.alpha_bars(t)
        beta = 1 - ab / ab_prev
        x0, _ = self._x0_and_eps(model_output, sample, ab)
        coef_x0 = math.sqrt(ab_prev) * beta / (1 - ab)
        coef_xt = math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)
        mean = coef_x0 * x0 + coef_xt * sample
        if self.prev_timestep(t) < 0:
            return SchedulerOutput(mean, x0)
        var = beta * (1 - ab_prev) / (1 - ab) if self.variance == "fixed_small" else beta
        if variance_noise is None:
            variance_noise = torch.randn(sample.shape, generator=generator, device=sample.device,
                                         dtype=sample.dtype)
        return SchedulerOutput(mean + math.sqrt(var) * variance_noise, x0)
