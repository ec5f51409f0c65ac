"""Noise schedules, samplers (DDPM, DDIM, DPM-Solver++, Heun, annealed Langevin), guidance, and the pipelines that run them.

Schedulers follow diffusers' shape: ``set_timesteps(n)`` then ``step(model_output, t, sample)``; they are
named in one table, :data:`SAMPLERS`. A :class:`DiffusionPipeline` owns a network (from :mod:`aip.models`)
and its schedule and runs every diffusion loop: sampling with guidance, inversion, and the restoration
samplers' corrected loops.
"""

from aip.sampling.ddim import DDIMScheduler
from aip.sampling.ddpm import DDPMScheduler
from aip.sampling.guidance import classifier_free_guidance, classifier_guidance, classifier_log_prob_grad
from aip.sampling.langevin import AnnealedLangevinScheduler
from aip.sampling.ode import DPMSolverPPScheduler, HeunScheduler
from aip.sampling.pipelines import (
    SAMPLERS,
    Conditioning,
    DiffusionPipeline,
    SamplerDefaults,
    ddim_invert,
    diffusion_sample,
    langevin_sample,
    make_scheduler,
)
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
    "samplers": [*SAMPLERS, "langevin"],
    "guidance": ["classifier_free", "classifier"],
}

__all__ = [
    "METHODS",
    "SAMPLERS",
    "AnnealedLangevinScheduler",
    "Conditioning",
    "DDIMScheduler",
    "DDPMScheduler",
    "DPMSolverPPScheduler",
    "DiffusionPipeline",
    "HeunScheduler",
    "NoiseSchedule",
    "SamplerDefaults",
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
    "make_scheduler",
    "spaced_timesteps",
]
