"""Sampling pipelines: a network and a noise schedule, one loop, and the samplers from one table.

A :class:`DiffusionPipeline` owns an noise-prediction network (``net(x_t, t, y)``, e.g. :class:`aip.models.unet.UNet`)
and its :class:`~aip.sampling.schedules.NoiseSchedule` (diffusers' shape: the pipeline holds the weights, the
scheduler only does arithmetic). Every diffusion use goes through it: unconditional and class-conditional
sampling with classifier-free and classifier guidance, DDIM inversion, and the restoration samplers
(posterior sampling, inpainting, super-resolution, latent) through the ``correct`` hook of :func:`diffusion_sample`
and a general :class:`Conditioning` (a label, a vector, or an image concatenated to x_t).

Samplers are named in :data:`SAMPLERS`; :func:`make_scheduler` builds one by name, so adding a sampler is one
row there. The loops call only the network and the scheduler's ``step``:

* :func:`diffusion_sample`: ``scheduler.timesteps`` from x_T to x_0, with an optional correction after each step
  (``correct(x_prev, x0_hat, x_t, t)``); ``grad="step"`` gives the correction a graph from x_t (DPS needs
  ``d x0_hat / d x_t``), ``grad="chain"`` keeps the graph through the whole chain (to differentiate x_0 in x_T).
* :func:`ddim_invert`: the deterministic DDIM update run upwards (x_0 -> x_T).
* :func:`langevin_sample`: annealed Langevin dynamics for score networks (NCSN).

Example
-------
>>> from aip.models.unet import UNet, UNetConfig
>>> net = UNet(UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_classes=3))
>>> pipe = DiffusionPipeline(net, NoiseSchedule("linear", 100))
>>> pipe.sample((2, 1, 8, 8), cond=Conditioning(label=torch.tensor([0, 2])), steps=4, guidance=2.0).shape
torch.Size([2, 1, 8, 8])
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from aip._shared.progress import progress as progress_bar
from aip._shared.validate import check_choice, check_int, check_positive
from aip.sampling.ddim import DDIMScheduler
from aip.sampling.ddpm import DDPMScheduler
from aip.sampling.guidance import classifier_free_guidance, classifier_guidance
from aip.sampling.langevin import AnnealedLangevinScheduler
from aip.sampling.ode import DPMSolverPPScheduler, HeunScheduler
from aip.sampling.schedules import NoiseSchedule, TimestepScheduler

ModelFn = Callable[[torch.Tensor, int], torch.Tensor]
Correction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]

__all__ = [
    "SAMPLERS",
    "Conditioning",
    "DiffusionPipeline",
    "SamplerSpec",
    "ddim_invert",
    "diffusion_sample",
    "langevin_sample",
    "make_scheduler",
]


# --------------------------------------------------------------------------------------------------
# the sampler table
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplerSpec:
    """One row of :data:`SAMPLERS`: the scheduler class, whether its default is every training timestep
    (ancestral DDPM) or the pipeline's ``steps``, the options its constructor takes, whether it is
    deterministic (needs no noise after x_T; ``None``: depends on an option such as DDIM's ``eta``), and its
    default timestep spacing (DPM-Solver++: ``"trailing"``, so no evaluation is spent at t = 0, where the
    multistep extrapolation over the last, longest log-SNR interval is least accurate)."""

    cls: type[TimestepScheduler]
    all_steps_by_default: bool
    options: tuple[str, ...]
    deterministic: bool | None
    summary: str
    spacing: str = "linspace"


SAMPLERS: dict[str, SamplerSpec] = {
    "ddpm": SamplerSpec(DDPMScheduler, True, ("variance",), False,
                        "ancestral sampling (Ho et al. 2020, Algorithm 2), respaced for fewer steps"),
    "ddim": SamplerSpec(DDIMScheduler, False, ("eta",), None,
                        "DDIM (Song et al. 2021): deterministic at eta=0, DDPM-like at eta=1"),
    "dpm++": SamplerSpec(DPMSolverPPScheduler, False, ("order",), True,
                         "DPM-Solver++(2M) (Lu et al. 2022): multistep second order in the data prediction",
                         spacing="trailing"),
    "heun": SamplerSpec(HeunScheduler, False, (), True,
                        "Heun's second-order ODE sampler (Karras et al. 2022); steps = network evaluations"),
}


def make_scheduler(name: str, schedule: NoiseSchedule, steps: int | None = None, *, default_steps: int = 50,
                   clip_sample: bool = True, spacing: str | None = None, **options: Any) -> TimestepScheduler:
    """The scheduler ``name`` (a key of :data:`SAMPLERS`) on ``schedule`` with ``steps`` timesteps set.

    ``steps=None`` means every training timestep for ancestral DDPM and ``default_steps`` otherwise; ``steps``
    counts network evaluations (for Heun, two per corrected interval). ``spacing=None`` is the sampler's own
    default (:attr:`SamplerSpec.spacing`). Options the
    sampler takes (``eta`` for DDIM, ``variance`` for DDPM) are passed on; ``None`` values are dropped, and an
    option the sampler does not take is an error.

    Example
    -------
    >>> make_scheduler("ddim", NoiseSchedule("linear", 1000), 4).timesteps.tolist()
    [999, 666, 333, 0]
    """
    spec = SAMPLERS[check_choice(name, "sampler", tuple(SAMPLERS))]
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(f"sampler {name}: expected options among {list(spec.options)}, got {unknown}")
    sched = spec.cls(schedule, clip_sample=clip_sample, spacing=spacing or spec.spacing, **options)
    T = schedule.num_timesteps
    if steps is None:
        steps = T if spec.all_steps_by_default else default_steps
    sched.set_timesteps(check_int(steps, "steps", low=1, high=T))
    return sched


# --------------------------------------------------------------------------------------------------
# the loops
# --------------------------------------------------------------------------------------------------
def _initial_noise(shape: Sequence[int] | torch.Tensor, generator: torch.Generator | None,
                   device: Any, dtype: torch.dtype) -> torch.Tensor:
    if torch.is_tensor(shape):
        return shape
    return torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)


GRAD_MODES = ("none", "step", "chain")


def diffusion_sample(model_fn: ModelFn, scheduler: Any, shape_or_noise: Sequence[int] | torch.Tensor, *,
                     generator: torch.Generator | None = None, device: Any = "cpu",
                     dtype: torch.dtype = torch.float32, progress: bool = False,
                     correct: Correction | None = None, grad: str = "none", **step_kwargs: Any) -> torch.Tensor:
    """Run ``scheduler.timesteps`` (DDPM or DDIM) from Gaussian noise (or the given x_T) to x_0.

    ``correct(x_prev, x0_hat, x_t, t)``, when given, replaces each step's result (RePaint's known-pixel merge,
    DPS's gradient step). ``grad``: ``"none"`` (no autograd), ``"step"`` (x_t is a fresh leaf needing grad at
    each step, so the correction can differentiate the network's x_0 estimate in x_t; the result is detached),
    or ``"chain"`` (one graph through every step).
    """
    check_choice(grad, "grad", GRAD_MODES)
    x = _initial_noise(shape_or_noise, generator, device, dtype)
    for t in progress_bar(scheduler.timesteps.tolist(), progress, "sampling"):
        with torch.set_grad_enabled(grad != "none"):
            if grad == "step":
                x = x.detach().requires_grad_(True)
            out = scheduler.step(model_fn(x, t), t, x, generator=generator, **step_kwargs)
            prev = out.prev_sample if correct is None else correct(out.prev_sample, out.pred_original_sample, x, t)
        x = prev.detach() if grad == "step" else prev
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


# --------------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------------
@dataclass
class Conditioning:
    """What a conditional network sees besides x_t and t, each per image and each optional:

    * ``label`` (B,) integer classes, replaced by the network's null label for the unconditional branch;
    * ``vector`` (B, D) features (a semantic code, an embedding), replaced by zeros for the unconditional branch;
    * ``image`` (B, C', H, W) concatenated to x_t along channels (a low-resolution image upsampled for SR3, a
      masked image and its mask for Palette-style inpainting); kept in both branches.
    """

    label: torch.Tensor | None = None
    vector: torch.Tensor | None = None
    image: torch.Tensor | None = None

    def __post_init__(self) -> None:
        for name in ("label", "vector", "image"):
            v = getattr(self, name)
            if v is not None and not torch.is_tensor(v):
                raise TypeError(f"conditioning {name}: expected a tensor or None, got {type(v).__name__}")
        if self.vector is not None and self.vector.ndim != 2:
            raise ValueError(f"conditioning vector: expected shape (B, D), got {tuple(self.vector.shape)}")
        if self.image is not None and self.image.ndim != 4:
            raise ValueError(f"conditioning image: expected shape (B, C, H, W), got {tuple(self.image.shape)}")

    @property
    def guidable(self) -> bool:
        """Whether classifier-free guidance has a conditional branch to contrast (a label or a vector)."""
        return self.label is not None or self.vector is not None

    def check_batch(self, n: int) -> None:
        for name in ("label", "vector", "image"):
            v = getattr(self, name)
            if v is not None and v.shape[0] != n:
                raise ValueError(f"conditioning {name}: expected a batch of {n}, got {v.shape[0]}")

    def to(self, device: Any) -> Conditioning:
        return Conditioning(*(None if v is None else v.to(device) for v in (self.label, self.vector, self.image)))

    def doubled(self, null_label: int | None) -> Conditioning:
        """[unconditional; conditional] stacked, for one batched call of both guidance branches."""
        label = vector = image = None
        if self.label is not None:
            label = torch.cat([torch.full_like(self.label, null_label), self.label])
        if self.vector is not None:
            vector = torch.cat([torch.zeros_like(self.vector), self.vector])
        if self.image is not None:
            image = torch.cat([self.image, self.image])
        return Conditioning(label, vector, image)

    def unconditional(self, null_label: int | None) -> Conditioning:
        label = None if self.label is None else torch.full_like(self.label, null_label)
        vector = None if self.vector is None else torch.zeros_like(self.vector)
        return Conditioning(label, vector, self.image)


@dataclass
class SamplerDefaults:
    """What :meth:`DiffusionPipeline.sample` uses when an argument is None (a model's config sets these)."""

    sampler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    guidance: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


class DiffusionPipeline:
    """A noise-prediction network with its noise schedule: guided noise estimates, sampling and inversion.

    Parameters
    ----------
    network : nn.Module
        ``network(x_t, t, y)`` returning eps (or v) of x_t's shape; networks taking a vector or an image
        condition accept them as ``vector=`` and ``image=`` keywords (:class:`aip.models.unet.UNet`).
    schedule : NoiseSchedule
        The training noise schedule.
    prediction : {"eps", "v"}
        What the network predicts; v is converted to eps (Salimans & Ho 2022), so the samplers are shared.
    defaults : SamplerDefaults, optional
        Sampler, steps, eta and guidance used when :meth:`sample` is not told.

    Images are on the diffusion scale [-1, 1] in and out; :class:`aip.models.diffusion.DDPM` converts to [0, 1].
    """

    def __init__(self, network: nn.Module, schedule: NoiseSchedule, *, prediction: str = "eps",
                 defaults: SamplerDefaults | None = None) -> None:
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule: expected a NoiseSchedule, got {type(schedule).__name__}")
        self.network = network
        self.schedule = schedule
        self.prediction = check_choice(prediction, "prediction", ("eps", "v"))
        self.defaults = defaults or SamplerDefaults()

    @property
    def null_label(self) -> int | None:
        return getattr(self.network, "null_label", None)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def _net(self, x: torch.Tensor, t: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        kw = {k: v for k, v in (("vector", cond.vector), ("image", cond.image)) if v is not None}
        return self.network(x, t, cond.label, **kw)

    def eps(self, x: torch.Tensor, t: int | torch.Tensor, cond: Conditioning | torch.Tensor | None = None, *,
            guidance: float = 1.0) -> torch.Tensor:
        """Guided noise estimate ``eps_u + guidance * (eps_c - eps_u)`` (one batched call when mixing).

        ``cond`` is a :class:`Conditioning` or a label tensor. A v-prediction network's outputs are combined
        first and the guided v is then converted to eps; the conversion is affine in v with the same x_t in
        both branches, so this equals guiding the two eps.
        """
        cond = as_conditioning(cond)
        n = x.shape[0]
        t = torch.as_tensor(t, device=x.device).expand(n) if torch.as_tensor(t).ndim == 0 else t
        if not cond.guidable or guidance == 1.0:
            out = self._net(x, t, cond)
        elif guidance == 0.0:
            out = self._net(x, t, cond.unconditional(self.null_label))
        else:
            both = self._net(torch.cat([x, x]), torch.cat([t, t]), cond.doubled(self.null_label))
            out = classifier_free_guidance(both[:n], both[n:], guidance)
        return self.schedule.eps_from_v(x, t, out) if self.prediction == "v" else out

    def scheduler(self, sampler: str | None = None, steps: int | None = None, *, eta: float | None = None,
                  clip_sample: bool = True, spacing: str | None = None, **options: Any) -> TimestepScheduler:
        """The named sampler's scheduler on this schedule (defaults from :attr:`defaults`)."""
        d = self.defaults
        sampler = sampler or d.sampler
        if sampler == "ddim" and eta is None:
            eta = d.eta
        return make_scheduler(sampler, self.schedule, steps, default_steps=d.steps, clip_sample=clip_sample,
                              spacing=spacing, eta=eta, **options)

    def model_fn(self, cond: Conditioning | torch.Tensor | None = None, *, guidance: float | None = None,
                 classifier: nn.Module | None = None, classifier_scale: float = 1.0) -> ModelFn:
        """``(x, t) -> eps`` with this conditioning and guidance, as the loops take it."""
        cond = as_conditioning(cond)
        guidance = self.defaults.guidance if guidance is None else check_positive(guidance, "guidance",
                                                                                    allow_zero=True)
        if classifier is not None and cond.label is None:
            raise ValueError("classifier: classifier guidance needs labels y, got None")

        def fn(x: torch.Tensor, t: int) -> torch.Tensor:
            e = self.eps(x, t, cond, guidance=guidance)
            if classifier is not None:
                e = classifier_guidance(e, x, t, cond.label, classifier, classifier_scale, self.schedule.alpha_bar)
            return e
        return fn

    def sample(self, shape_or_noise: Sequence[int] | torch.Tensor, *, cond: Conditioning | torch.Tensor | None = None,
               sampler: str | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, classifier: nn.Module | None = None, classifier_scale: float = 1.0,
               clip_sample: bool = True, spacing: str | None = None, generator: torch.Generator | None = None,
               progress: bool = False, correct: Correction | None = None, grad: str = "none") -> torch.Tensor:
        """x_0 on the [-1, 1] scale from noise of ``shape`` (or from the given x_T), in eval mode.

        ``correct`` and ``grad`` are those of :func:`diffusion_sample`.
        """
        cond = as_conditioning(cond)
        n = shape_or_noise.shape[0] if torch.is_tensor(shape_or_noise) else int(shape_or_noise[0])
        cond.check_batch(n)
        device = self.device
        fn = self.model_fn(cond.to(device), guidance=guidance, classifier=classifier,
                           classifier_scale=classifier_scale)
        sched = self.scheduler(sampler, steps, eta=eta, clip_sample=clip_sample, spacing=spacing)
        with _eval(self.network):
            return diffusion_sample(fn, sched, shape_or_noise, generator=generator, device=device,
                                    progress=progress, correct=correct, grad=grad)

    def invert(self, x0: torch.Tensor, *, cond: Conditioning | torch.Tensor | None = None, steps: int = 50,
               guidance: float = 1.0, progress: bool = False) -> torch.Tensor:
        """DDIM inversion of ``x0`` ([-1, 1]): the x_T that deterministic DDIM (eta 0, same steps) maps back."""
        cond = as_conditioning(cond)
        cond.check_batch(x0.shape[0])
        sched = DDIMScheduler(self.schedule, eta=0.0)
        sched.set_timesteps(check_int(steps, "steps", low=1, high=self.schedule.num_timesteps))
        fn = self.model_fn(cond.to(x0.device), guidance=guidance)
        with _eval(self.network):
            return ddim_invert(fn, sched, x0, progress=progress)

    def q_sample(self, x0: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise at one timestep (t = -1 returns x_0)."""
        if t < 0:
            return x0
        ab = float(self.schedule.alpha_bar[int(t)])
        return math.sqrt(ab) * x0 + math.sqrt(1 - ab) * noise


def as_conditioning(cond: Conditioning | torch.Tensor | None) -> Conditioning:
    """A :class:`Conditioning` from one, a label tensor, or None."""
    if cond is None:
        return Conditioning()
    if isinstance(cond, Conditioning):
        return cond
    if torch.is_tensor(cond):
        return Conditioning(label=cond)
    raise TypeError(f"cond: expected a Conditioning, a label tensor or None, got {type(cond).__name__}")


@contextlib.contextmanager
def _eval(module: nn.Module):
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)
