"""Restoration by sampling: an unconditional diffusion prior and any degradation operator, zero-shot.

Both samplers run the pipeline's one loop (:func:`~aip.sampling.pipelines.diffusion_sample`) with ancestral DDPM
steps and a correction after each step:

* :func:`repaint` (Lugmayr et al. 2022, Algorithm 1): the known pixels are taken from the observation noised to
  the step's level, the unknown ones from the reverse step; each step is resampled ``resample`` times (noise
  back up one step, denoise again) so the generated part harmonises with the known part. Known pixels come
  out exactly as observed.
* :func:`diffpir` (Zhu et al. 2023): plug-and-play in the sampler: the network's x_0 estimate goes through the
  data term's proximal operator (``operator.prox_l2``, the closed forms the classical solvers use: pointwise for
  masks, FFT for circular blur, CG otherwise) with weight ``rho_t = lam sigma_n^2 / sigma_t^2``, and the next
  x_t mixes the corrected estimate's noise with fresh noise (``zeta``).
* :func:`dps` (Chung et al. 2023, Algorithm 1): after each reverse step, a gradient step on the measurement
  error of the network's x_0 estimate, ``x_{t-1} -= zeta * grad_{x_t} ||y - A(x0_hat(x_t))||^2 / ||y - A(x0_hat)||``,
  for any differentiable ``A`` (an :mod:`aip.degrade` operator: blur, downsampling, mask, their compositions).

Images are (B, C, H, W) tensors in [0, 1]; the pipeline's x is on [-1, 1].

References
----------
Lugmayr et al., "RePaint: Inpainting using Denoising Diffusion Probabilistic Models", CVPR 2022.
Chung, Kim, Mccann, Klasky, Ye, "Diffusion Posterior Sampling for General Noisy Inverse Problems", ICLR 2023.
Zhu, Zhang, Liang, Cao, Wen, Timofte, Van Gool, "Denoising Diffusion Models for Plug-and-Play Image Restoration",
CVPR workshops 2023 (DiffPIR).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from aip._shared.validate import check_int, check_positive
from aip.sampling.pipelines import Conditioning, DiffusionPipeline

__all__ = ["diffpir", "dps", "repaint"]

Operator = Callable[[torch.Tensor], torch.Tensor]


def _check_images(y: torch.Tensor, name: str = "y") -> None:
    if not torch.is_tensor(y) or y.ndim != 4 or not y.is_floating_point():
        raise ValueError(f"{name}: expected a float tensor (B, C, H, W) in [0, 1], got "
                         f"{tuple(y.shape) if torch.is_tensor(y) else type(y).__name__}")


def repaint(pipe: DiffusionPipeline, y: torch.Tensor, known: torch.Tensor, *, steps: int = 100,
            resample: int = 5, jump: int = 1, cond: Conditioning | torch.Tensor | None = None,
            guidance: float = 1.0, generator: torch.Generator | None = None, progress: bool = False) -> torch.Tensor:
    """Inpaint ``y`` where ``known`` is False with the prior ``pipe`` (RePaint); known pixels are kept exactly.

    ``known``: boolean, broadcastable to ``y`` (e.g. (B, 1, H, W)). ``steps`` reverse steps on a respaced
    schedule; after every ``jump`` of them the sample is noised back up ``jump`` steps and walked down again,
    ``resample - 1`` times (the paper's jump length and resampling count; ``resample=1`` is plain replacement).
    The network runs about ``steps * resample`` times.
    """
    _check_images(y)
    known = torch.as_tensor(known, device=y.device).bool()
    try:
        torch.broadcast_shapes(known.shape, y.shape)
    except RuntimeError:
        raise ValueError(f"known: expected a mask broadcastable to y's shape {tuple(y.shape)}, got "
                         f"{tuple(known.shape)}") from None
    check_int(resample, "resample", low=1)
    jump = check_int(jump, "jump", low=1)
    sched = pipe.scheduler("ddpm", steps, clip_sample=True)
    fn = pipe.model_fn(cond, guidance=guidance)
    y_s = (y * 2 - 1).to(pipe.device)
    ab = pipe.schedule.alpha_bar
    ts = sched.timesteps.tolist() + [-1]          # descending, then x_0
    index = {t: i for i, t in enumerate(ts)}

    def noise(like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)

    def merge(x_prev: torch.Tensor, t_prev: int) -> torch.Tensor:
        return torch.where(known, pipe.q_sample(y_s, t_prev, noise(y_s)), x_prev)

    def down(x: torch.Tensor, i: int) -> torch.Tensor:    # one reverse step from ts[i] to ts[i + 1], merged
        return merge(sched.step(fn(x, ts[i]), ts[i], x, generator=generator).prev_sample, ts[i + 1])

    def correct(x_prev, x0, x_t, t):
        i = index[t] + 1                             # x is now at ts[i]
        x = merge(x_prev, ts[i])
        if ts[i] < 0 or i % jump:
            return x
        top = i - jump
        for _ in range(resample - 1):
            ratio = float(ab[ts[top]]) / float(ab[ts[i]])   # the forward process from ts[i] up to ts[top]
            x = math.sqrt(ratio) * x + math.sqrt(1 - ratio) * noise(x)
            for k in range(top, i):
                x = down(x, k)
        return x

    with torch.no_grad():
        x = pipe.sample(y.shape, cond=cond, sampler="ddpm", steps=steps, guidance=guidance, generator=generator,
                        progress=progress, correct=correct)
    return torch.where(known, y, ((x + 1) * 0.5).clamp(0, 1))


def dps(pipe: DiffusionPipeline, y: torch.Tensor, operator: Operator, *, steps: int = 200, zeta: float = 1.0,
        cond: Conditioning | torch.Tensor | None = None, guidance: float = 1.0,
        generator: torch.Generator | None = None, progress: bool = False,
        history: list[float] | None = None) -> torch.Tensor:
    """Diffusion posterior sampling of x from ``y = operator(x) + noise`` with the prior ``pipe``.

    ``operator`` maps a (B, C, H, W) batch in [0, 1] to the measurements' shape and must be differentiable
    (every :mod:`aip.degrade` operator is). ``zeta`` is the step size of the paper (zeta' there, divided by the
    current residual norm, per image). ``history``, when a list, receives the mean measurement residual
    ``||y - A(x0_hat)|| / sqrt(numel)`` (RMS) after each step, to watch consistency improve.
    """
    _check_images(y)
    zeta = check_positive(zeta, "zeta")
    y = y.to(pipe.device)

    def correct(x_prev, x0, x_t, t):
        r = y - operator((x0 + 1) * 0.5)
        sq = r.flatten(1).square().sum(dim=1)
        (g,) = torch.autograd.grad(sq.sum(), x_t)
        norm = sq.detach().sqrt().clamp_min(1e-12).view(-1, *([1] * (x_t.ndim - 1)))
        if history is not None:
            history.append(float((sq.detach() / r[0].numel()).sqrt().mean()))
        return x_prev.detach() - zeta * g / norm

    x = pipe.sample(_signal_shape(operator, y), cond=cond, sampler="ddpm",
                    steps=steps, guidance=guidance, clip_sample=False, generator=generator, progress=progress,
                    correct=correct, grad="step")
    return ((x + 1) * 0.5).clamp(0, 1).detach()


def _signal_shape(operator: Any, y: torch.Tensor) -> tuple[int, ...]:
    """The shape of x for measurements ``y``: the operator's ``input_shape`` (downsampling, valid blur), else y's."""
    shape_fn = getattr(operator, "input_shape", None)
    hw = tuple(y.shape[-2:]) if shape_fn is None else tuple(shape_fn(tuple(y.shape[-2:])))
    return (*y.shape[:-2], *hw)


def diffpir(pipe: DiffusionPipeline, y: torch.Tensor, operator: Any, *, sigma: float = 0.01, steps: int = 100,
            lam: float = 7.0, zeta: float = 0.3, prox: Callable | None = None,
            cond: Conditioning | torch.Tensor | None = None, guidance: float = 1.0,
            generator: torch.Generator | None = None, progress: bool = False) -> torch.Tensor:
    """DiffPIR sampling of x from ``y = operator(x) + noise of std sigma`` (image scale [0, 1]).

    ``operator`` is an :mod:`aip.degrade` LinearOperator (its ``prox_l2``), or give ``prox(z, y, gamma)``
    for ``argmin_x 1/2 ||A x - y||^2 + 1/(2 gamma) ||x - z||^2`` directly (e.g. a different mask per image).
    ``sigma`` is floored at 1e-4 (noiseless data: nearly hard consistency); ``lam`` and ``zeta`` as in the paper
    (7 and 0.3 for deblurring and super-resolution, zeta 1 for inpainting there).
    """
    _check_images(y)
    sigma = max(float(sigma), 1e-4)
    lam = check_positive(lam, "lam")
    if not 0.0 <= float(zeta) <= 1.0:
        raise ValueError(f"zeta: expected a number in [0, 1], got {zeta}")
    prox = prox or operator.prox_l2
    y = y.to(pipe.device)
    sched = pipe.scheduler("ddim", steps, eta=0.0, clip_sample=False)
    ab = pipe.schedule.alpha_bar

    def correct(x_prev, x0, x_t, t):
        a_t = float(ab[t])
        t_prev = sched.prev_timestep(t)
        sigma_t = math.sqrt((1 - a_t) / a_t) / 2          # the x_0 estimate's noise level on the [0, 1] scale
        gamma = sigma_t ** 2 / (lam * sigma ** 2)          # 1 / rho_t
        x0u = prox(((x0 + 1) * 0.5).clamp(0, 1), y, gamma)
        x0s = x0u * 2 - 1
        if t_prev < 0:
            return x0s
        a_p = float(ab[t_prev])
        eps_hat = (x_t - math.sqrt(a_t) * x0s) / math.sqrt(1 - a_t)
        z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return math.sqrt(a_p) * x0s + math.sqrt(1 - a_p) * (math.sqrt(1 - zeta) * eps_hat + math.sqrt(zeta) * z)

    with torch.no_grad():
        x = pipe.sample(_signal_shape(operator, y), cond=cond, sampler="ddim", steps=steps, eta=0.0,
                        guidance=guidance, clip_sample=False, generator=generator, progress=progress,
                        correct=correct)
    return ((x + 1) * 0.5).clamp(0, 1)
