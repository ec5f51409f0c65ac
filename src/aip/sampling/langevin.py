"""Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1).

For noise levels sigma_1 > ... > sigma_L and step size ``alpha_i = step_lr * sigma_i^2 / sigma_L^2``:

    x <- x + alpha_i / 2 * s_theta(x, sigma_i) + sqrt(alpha_i) z,  repeated ``n_steps_each`` times per level.

``denoise`` applies the final Tweedie step ``x + sigma_L^2 s_theta(x, sigma_L)`` (Song & Ermon 2020).

References
----------
Song, Ermon, "Generative Modeling by Estimating Gradients of the Data Distribution", NeurIPS 2019.
Song, Ermon, "Improved Techniques for Training Score-Based Generative Models", NeurIPS 2020.
"""

from __future__ import annotations

import math

import torch

from aip._shared.validate import check_int, check_positive
from aip.sampling.schedules import SchedulerOutput, check_step_inputs


class AnnealedLangevinScheduler:
    """Annealed Langevin sampler over a decreasing sequence of noise levels.

    ``timesteps`` lists the noise-level index of every update (each index ``n_steps_each`` times);
    ``step(score, i, x)`` performs one update at level ``i``.

    Example
    -------
    >>> sched = AnnealedLangevinScheduler(torch.tensor([1.0, 0.1]), n_steps_each=2)
    >>> sched.timesteps.tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, sigmas: torch.Tensor, *, n_steps_each: int = 100, step_lr: float = 2e-5) -> None:
        sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
        if sigmas.numel() == 0 or not bool((sigmas > 0).all()) or not bool((sigmas[1:] <= sigmas[:-1]).all()):
            raise ValueError("sigmas: expected a non-empty, non-increasing sequence of positive noise levels")
        self.sigmas = sigmas
        self.step_lr = check_positive(step_lr, "step_lr")
        self.set_timesteps(n_steps_each)

    def set_timesteps(self, n_steps_each: int) -> torch.Tensor:
        """Number of Langevin updates per noise level; returns the level index of each update."""
        self.n_steps_each = check_int(n_steps_each, "n_steps_each", low=1)
        self.timesteps = torch.arange(self.sigmas.numel()).repeat_interleave(self.n_steps_each)
        return self.timesteps

    def step_size(self, i: int) -> float:
        return self.step_lr * float(self.sigmas[int(i)] / self.sigmas[-1]) ** 2

    def step(self, score: torch.Tensor, i: int | torch.Tensor, sample: torch.Tensor, *,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None) -> SchedulerOutput:
        """One Langevin update at level ``i`` given ``score = s_theta(sample, sigma_i)``."""
        check_step_inputs(score, sample)
        i = int(i)
        if not 0 <= i < self.sigmas.numel():
            raise ValueError(f"i: expected a noise-level index in [0, {self.sigmas.numel() - 1}], got {i}")
        alpha = self.step_size(i)
        if noise is None:
            noise = torch.randn(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
        return SchedulerOutput(sample + 0.5 * alpha * score + math.sqrt(alpha) * noise)

    def denoise(self, score: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """Tweedie denoising at the last level: ``x + sigma_L^2 s_theta(x, sigma_L)``."""
        check_step_inputs(score, sample)
        return sample + float(self.sigmas[-1]) ** 2 * score
