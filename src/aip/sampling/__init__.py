"""Noise schedules, samplers (DDPM, DDIM, annealed Langevin), guidance and thin sampling loops.

Schedulers follow diffusers' shape: ``set_timesteps(n)`` then ``step(model_output, t, sample)``.
Networks live in :mod:`aip.models`; nothing here holds weights.
"""

from aip.sampling.ddim import DDIMScheduler
from aip.sampling.ddpm import DDPMScheduler
from aip.sampling.guidance import classifier_free_guidance, classifier_guidance, classifier_log_prob_grad
from aip.sampling.langevin import AnnealedLangevinScheduler
from aip.sampling.pipelines import ddim_invert, diffusion_sample, langevin_sample
from aip.sampling.schedules import (
    NoiseSchedule,
    SchedulerOutput,
    cosine_alpha_bar,
    cosine_betas,
    geometric_sigmas,
    linear_betas,
    make_betas,
    spaced_timesteps,
)

METHODS = {
    "schedules": ["linear", "cosine", "geometric"],
    "samplers": ["ddpm", "ddim", "langevin"],
    "guidance": ["classifier_free", "classifier"],
}

__all__ = [
    "METHODS",
    "AnnealedLangevinScheduler",
    "DDIMScheduler",
    "DDPMScheduler",
    "NoiseSchedule",
    "SchedulerOutput",
    "classifier_free_guidance",
    "classifier_guidance",
    "classifier_log_prob_grad",
    "cosine_alpha_bar",
    "cosine_betas",
    "ddim_invert",
    "diffusion_sample",
    "geometric_sigmas",
    "langevin_sample",
    "linear_betas",
    "make_betas",
    "spaced_timesteps",
]
