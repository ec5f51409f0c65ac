"""Thin sampling loops: they only call the network and the scheduler's ``step``.

``model_fn(x, t)`` returns the network's output (noise estimate for diffusion, score for Langevin) for the
batch ``x`` at integer timestep (or noise-level index) ``t``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from aip._shared.progress import progress as progress_bar
from aip.sampling.ddim import DDIMScheduler
from aip.sampling.langevin import AnnealedLangevinScheduler

ModelFn = Callable[[torch.Tensor, int], torch.Tensor]


def _initial_noise(shape: Sequence[int] | torch.Tensor, generator: torch.Generator | None,
                   device: Any, dtype: torch.dtype) -> torch.Tensor:
    if torch.is_tensor(shape):
        return shape
    return torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)


@torch.no_grad()
def diffusion_sample(model_fn: ModelFn, scheduler: Any, shape_or_noise: Sequence[int] | torch.Tensor, *,
                     generator: torch.Generator | None = None, device: Any = "cpu",
                     dtype: torch.dtype = torch.float32, progress: bool = False, **step_kwargs: Any
                     ) -> torch.Tensor:
    """Run ``scheduler.timesteps`` (DDPM or DDIM) from Gaussian noise (or the given x_T) to x_0."""
    x = _initial_noise(shape_or_noise, generator, device, dtype)
    for t in progress_bar(scheduler.timesteps.tolist(), progress, "sampling"):
        x = scheduler.step(model_fn(x, t), t, x, generator=generator, **step_kwargs).prev_sample
    return x


@torch.no_grad()
def ddim_invert(model_fn: ModelFn, scheduler: DDIMScheduler, x0: torch.Tensor, *,
                progress: bool = False) -> torch.Tensor:
    """Map x_0 to x_T with the deterministic DDIM update run upwards over ``scheduler.timesteps``."""
    if not isinstance(scheduler, DDIMScheduler):
        raise TypeError(f"scheduler: expected a DDIMScheduler, got {type(scheduler).__name__}")
    x = x0
    for t in progress_bar(scheduler.timesteps.flip(0).tolist(), progress, "inverting"):
        x = scheduler.inverse_step(model_fn(x, t), t, x).prev_sample
    return x


@torch.no_grad()
def langevin_sample(score_fn: ModelFn, scheduler: AnnealedLangevinScheduler,
                    shape_or_init: Sequence[int] | torch.Tensor, *, generator: torch.Generator | None = None,
                    device: Any = "cpu", dtype: torch.dtype = torch.float32, denoise: bool = True,
                    init: str = "uniform", progress: bool = False) -> torch.Tensor:
    """Annealed Langevin dynamics from uniform noise on [0, 1] (Song & Ermon 2019) or a given start."""
    if torch.is_tensor(shape_or_init):
        x = shape_or_init
    elif init == "uniform":
        x = torch.rand(tuple(shape_or_init), generator=generator, device=device, dtype=dtype)
    else:
        x = torch.randn(tuple(shape_or_init), generator=generator, device=device, dtype=dtype)
        x = x * float(scheduler.sigmas[0])
    for i in progress_bar(scheduler.timesteps.tolist(), progress, "langevin"):
        x = scheduler.step(score_fn(x, i), i, x, generator=generator).prev_sample
    if denoise:
        last = int(scheduler.sigmas.numel()) - 1
        x = scheduler.denoise(score_fn(x, last), x)
    return x
