"""DDIM sampling (Song, Meng, Ermon 2021) with ``eta`` and deterministic inversion.

One step from timestep t to the previous chosen timestep s (``alpha_bar_{-1} = 1``):

    x0_hat = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
    sigma = eta * sqrt((1 - a_s) / (1 - a_t)) * sqrt(1 - a_t / a_s)
    x_s = sqrt(a_s) x0_hat + sqrt(1 - a_s - sigma^2) eps + sigma z.

``eta = 0`` is the deterministic DDIM (an Euler step of the probability-flow ODE in the right variables);
``eta = 1`` matches DDPM's ancestral step with ``beta_tilde``. Inversion runs the ``eta = 0`` update
upwards, x_s -> x_t, with the noise estimated at the target timestep (as diffusers' DDIMInverseScheduler).

References
----------
Song, Meng, Ermon, "Denoising Diffusion Implicit Models", ICLR 2021.
"""

from __future__ import annotations

import math

import torch

from aip._shared.validate import check_positive
from aip.sampling.schedules import NoiseSchedule, SchedulerOutput, TimestepScheduler, check_step_inputs


class DDIMScheduler(TimestepScheduler):
    """DDIM sampler; ``set_timesteps(n)`` picks ``n`` evenly spaced timesteps.

    Parameters
    ----------
    schedule : NoiseSchedule
        The training noise schedule.
    eta : float
        Stochasticity (0: deterministic DDIM, 1: DDPM-like); can be overridden per ``step``.
    clip_sample : bool
        Clip the x_0 estimate to [-1, 1] (the noise estimate is then recomputed from it).
    spacing : {"linspace", "leading", "trailing", "quadratic"}
        How ``set_timesteps(n)`` spreads the ``n`` timesteps (see :func:`spaced_timesteps`).

    Example
    -------
    >>> sched = DDIMScheduler(NoiseSchedule("cosine"))
    >>> sched.set_timesteps(50)[:3].tolist()
    [999, 979, 958]
    """

    def __init__(self, schedule: NoiseSchedule | None = None, *, eta: float = 0.0, clip_sample: bool = False,
                 clip_range: float = 1.0, spacing: str = "linspace") -> None:
        self.eta = check_positive(eta, "eta", allow_zero=True)
        super().__init__(schedule, clip_sample=clip_sample, clip_range=clip_range, spacing=spacing)

    def step(self, model_output: torch.Tensor, t: int | torch.Tensor, sample: torch.Tensor, *,
             eta: float | None = None, generator: torch.Generator | None = None,
             variance_noise: torch.Tensor | None = None) -> SchedulerOutput:
        """One DDIM step from timestep ``t`` to the previous chosen timestep."""
        check_step_inputs(model_output, sample)
        eta = self.eta if eta is None else check_positive(eta, "eta", allow_zero=True)
        ab, ab_prev = self.alpha_bars(t)
        x0, eps = self._x0_and_eps(model_output, sample, ab)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(max(1 - ab / ab_prev, 0.0))
        out = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            if variance_noise is None:
                variance_noise = torch.randn(sample.shape, generator=generator, device=sample.device,
                                             dtype=sample.dtype)
            out = out + sigma * variance_noise
        return SchedulerOutput(out, x0)

    def inverse_step(self, model_output: torch.Tensor, t: int | torch.Tensor, sample: torch.Tensor
                     ) -> SchedulerOutput:
        """Deterministic step up from the timestep before ``t`` (or x_0) to ``t``; eps = model(sample, t)."""
        check_step_inputs(model_output, sample)
        ab, ab_prev = self.alpha_bars(t)
        x0 = (sample - math.sqrt(1 - ab_prev) * model_output) / math.sqrt(ab_prev)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_range, self.clip_range)
        return SchedulerOutput(math.sqrt(ab) * x0 + math.sqrt(1 - ab) * model_output, x0)
