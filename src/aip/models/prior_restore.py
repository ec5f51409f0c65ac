"""Restoration with a generative prior on numpy images: the front doors ``aip.restore.inpaint(..., "repaint")``,
and ``"dps"``, ``"diffpir"`` (diffusion priors) and ``"pulse"`` (a GAN prior) for ``inpaint``, ``deblur`` and
``upscale``.

The prior is a trained diffusion model, ``prior="shipped:ddpm"`` (the digit DDPM in the package, used
unconditionally through its null label, or conditioned on ``label``) or a run folder of ``aip train ddpm``.
The image must have the prior's size and channels (the shipped prior: 28 x 28 gray digits). DPS's step size ``zeta`` defaults to 2,
the best of 0.5, 1 and 2 on training digits (``benchmarks/diffusion_restore.py``). ``pulse`` searches the latent space of a GAN (``prior="shipped:cgan"``, every
class tried) for the image whose degradation matches the observation (Menon et al. 2020). The samplers are
:func:`aip.sampling.posterior.repaint`, :func:`~aip.sampling.posterior.dps` and
:func:`~aip.sampling.posterior.diffpir`, with the same
:mod:`aip.degrade` operators as the classical solvers. Results are samples: ``seed`` makes them reproducible.

Example
-------
>>> import numpy as np
>>> from aip.restore import inpaint
>>> x = np.zeros((28, 28)); mask = np.zeros((28, 28), bool); mask[10:18] = True
>>> inpaint(x, mask, "repaint", steps=4, resample=1).shape
(28, 28)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aip._shared.validate import check_int
from aip.sampling.pipelines import Conditioning, DiffusionPipeline

__all__ = [
    "deblur_diffpir",
    "deblur_dps",
    "deblur_pulse",
    "inpaint_diffpir",
    "inpaint_dps",
    "inpaint_pulse",
    "inpaint_repaint",
    "load_prior",
    "upscale_diffpir",
    "upscale_dps",
    "upscale_pulse",
]

DEFAULT_PRIOR = "shipped:ddpm"
DEFAULT_GAN = "shipped:cgan"

_CACHE: dict[tuple[str, str], DiffusionPipeline] = {}


def _load_model(prior: str, dev: Any) -> Any:
    if prior.startswith("shipped:"):
        from aip.train.shipped import load_shipped

        return load_shipped(prior[len("shipped:"):], device=dev)
    from pathlib import Path

    from aip.train.run import load_run

    if not Path(prior).is_dir():
        raise ValueError(f"prior: expected 'shipped:NAME' or a training run folder, got {prior!r}")
    return load_run(prior, device=dev)[0]


def load_gan(prior: Any = DEFAULT_GAN, *, device: Any = None) -> Any:
    """The GAN of ``prior`` (``"shipped:cgan"``, a run folder of ``aip train cgan|dcgan|gan``, or a GAN model)."""
    from aip._shared.torch_bridge import resolve_device

    model = prior if not isinstance(prior, str) else _load_model(prior, resolve_device(device))
    if not hasattr(model, "restore_latent"):
        raise ValueError(f"prior: expected a GAN (gan, dcgan, cgan), got a {getattr(model, 'name', type(model).__name__)}"
                         f" model from {prior!r}")
    return model.eval()


def load_prior(prior: Any = DEFAULT_PRIOR, *, device: Any = None) -> DiffusionPipeline:
    """The :class:`~aip.sampling.DiffusionPipeline` of ``prior``: ``"shipped:NAME"``, a run folder of
    ``aip train``, a model with a ``pipeline()`` method, or a pipeline (returned as it is)."""
    from aip._shared.torch_bridge import resolve_device

    if isinstance(prior, DiffusionPipeline):
        return prior
    if hasattr(prior, "pipeline"):
        return prior.pipeline()
    if not isinstance(prior, str):
        raise TypeError(f"prior: expected 'shipped:NAME', a run folder or a diffusion model, got {type(prior).__name__}")
    dev = resolve_device(device)
    key = (prior, str(dev))
    if key not in _CACHE:
        model = _load_model(prior, dev)
        if not hasattr(model, "pipeline"):
            raise ValueError(f"prior: expected a diffusion model (ddpm), got a {model.name} model from {prior!r}")
        _CACHE[key] = model.eval().pipeline()
    return _CACHE[key]


_DEBLUR_HINT = " (deblur pads mirrored edges unless told edges='circular', --edges circular)"


def _batch(image: np.ndarray, channel_axis: int | None, pipe: Any, *, size: tuple[int, int] | None = None,
           hint: str = "") -> torch.Tensor:
    """A numpy image as a (1, C, H, W) tensor on the prior's device, checked against the prior's image size
    (``pipe``: a diffusion pipeline, or a GAN: anything with a config or a network with one)."""
    x = np.asarray(image, dtype=np.float32)
    x = x[None] if x.ndim == 2 else np.moveaxis(x, channel_axis, 0)
    cfg = getattr(getattr(pipe, "network", pipe), "config", None)
    want_c = getattr(cfg, "in_channels", x.shape[0])
    want = size or (getattr(cfg, "image_size", x.shape[1]),) * 2
    if x.shape[0] != want_c or tuple(x.shape[1:]) != tuple(want):
        raise ValueError(f"image: the prior models {want[0]}x{want[1]} images with {want_c} channel(s), got "
                         f"{x.shape[1]}x{x.shape[2]} with {x.shape[0]}{hint}")
    device = pipe.device if isinstance(pipe, DiffusionPipeline) else next(pipe.parameters()).device
    return torch.from_numpy(np.ascontiguousarray(x))[None].to(device)


def _back(t: torch.Tensor, image: np.ndarray, channel_axis: int | None) -> np.ndarray:
    out = t[0].detach().cpu().numpy().astype(np.float64)
    return out[0] if np.ndim(image) == 2 else np.moveaxis(out, 0, channel_axis)


def _cond(label: int | None, pipe: DiffusionPipeline) -> Conditioning | None:
    if label is None:
        return None
    if pipe.null_label is None:
        raise ValueError(f"label: the prior is unconditional, got label {label}")
    check_int(label, "label", low=0, high=pipe.null_label - 1)
    return Conditioning(label=torch.tensor([int(label)], device=pipe.device))


def _generator(seed: int, pipe: DiffusionPipeline) -> torch.Generator:
    return torch.Generator(device=pipe.device).manual_seed(int(seed))


def inpaint_repaint(image: np.ndarray, mask: np.ndarray, *, prior: Any = DEFAULT_PRIOR, steps: int = 100,
                    resample: int = 4, label: int | None = None, seed: int = 0, channel_axis: int | None = None,
                    device: Any = None, progress: bool = False) -> np.ndarray:
    """RePaint (Lugmayr et al. 2022): fill the pixels where ``mask`` is True by sampling the diffusion prior,
    the observed pixels kept exactly; ``steps`` reverse steps each resampled ``resample`` times."""
    from aip.sampling.posterior import repaint

    pipe = load_prior(prior, device=device)
    y = _batch(image, channel_axis, pipe)
    known = torch.from_numpy(~np.asarray(mask, bool))[None, None].to(pipe.device)
    out = repaint(pipe, y, known, steps=steps, resample=resample, cond=_cond(label, pipe),
                  generator=_generator(seed, pipe), progress=progress)
    return _back(out, image, channel_axis)


def _dps(image, operator, *, prior, steps, zeta, label, seed, channel_axis, device, progress, size=None, hint=""):
    from aip.sampling.posterior import dps

    pipe = load_prior(prior, device=device)
    y = _batch(image, channel_axis, pipe, size=size, hint=hint)
    out = dps(pipe, y, operator.to(pipe.device) if hasattr(operator, "to") else operator, steps=steps, zeta=zeta,
              cond=_cond(label, pipe), generator=_generator(seed, pipe), progress=progress)
    return _back(out, image, channel_axis)


def inpaint_dps(image: np.ndarray, mask: np.ndarray, *, prior: Any = DEFAULT_PRIOR, steps: int = 100,
                zeta: float = 2.0, label: int | None = None, seed: int = 0, channel_axis: int | None = None,
                device: Any = None, progress: bool = False) -> np.ndarray:
    """Diffusion posterior sampling (Chung et al. 2023) with the mask operator (``mask`` True = missing)."""
    from aip.degrade import Mask

    return _dps(image, Mask(np.asarray(mask, bool)), prior=prior, steps=steps, zeta=zeta, label=label, seed=seed,
                channel_axis=channel_axis, device=device, progress=progress)


def deblur_dps(image: np.ndarray, psf: np.ndarray, *, sigma: float | None = None, prior: Any = DEFAULT_PRIOR,
               steps: int = 100, zeta: float = 2.0, label: int | None = None, seed: int = 0,
               channel_axis: int | None = None, device: Any = None, progress: bool = False) -> np.ndarray:
    """Diffusion posterior sampling with a circular blur by ``psf`` (``sigma`` is not needed: the step size
    ``zeta`` weighs the measurements)."""
    from aip.degrade import Blur

    return _dps(image, Blur(psf, "circular"), prior=prior, steps=steps, zeta=zeta, label=label, seed=seed,
                channel_axis=channel_axis, device=device, progress=progress,
                hint=_DEBLUR_HINT)


def upscale_dps(image: np.ndarray, scale: int, *, prior: Any = DEFAULT_PRIOR, steps: int = 100, zeta: float = 2.0,
                label: int | None = None, seed: int = 0, channel_axis: int | None = None, device: Any = None,
                progress: bool = False) -> np.ndarray:
    """Diffusion posterior sampling with bicubic downsampling by ``scale``: a prior-sized image from a
    ``scale`` times smaller one (28 x 28 from 14 x 14 at x2 with the shipped prior)."""
    from aip.degrade import Downsample

    pipe = load_prior(prior, device=device)
    s = getattr(pipe.network.config, "image_size", 0)
    if s % scale:
        raise ValueError(f"scale: expected a divisor of the prior's image size {s}, got {scale}")
    return _dps(image, Downsample(scale, "bicubic", mode="circular"), prior=pipe, steps=steps, zeta=zeta,
                label=label, seed=seed, channel_axis=channel_axis, device=device, progress=progress,
                size=(s // scale, s // scale))


def _diffpir(image, operator, *, prior, sigma, steps, lam, zeta, label, seed, channel_axis, device, progress,
             size=None, hint=""):
    from aip.sampling.posterior import diffpir

    pipe = load_prior(prior, device=device)
    y = _batch(image, channel_axis, pipe, size=size, hint=hint)
    out = diffpir(pipe, y, operator.to(pipe.device), sigma=sigma, steps=steps, lam=lam, zeta=zeta,
                  cond=_cond(label, pipe), generator=_generator(seed, pipe), progress=progress)
    return _back(out, image, channel_axis)


def inpaint_diffpir(image: np.ndarray, mask: np.ndarray, *, prior: Any = DEFAULT_PRIOR, sigma: float = 0.0,
                    steps: int = 100, lam: float = 7.0, zeta: float = 1.0, label: int | None = None, seed: int = 0,
                    channel_axis: int | None = None, device: Any = None, progress: bool = False) -> np.ndarray:
    """DiffPIR (Zhu et al. 2023) with the mask operator (``mask`` True = missing): the observed pixels are
    enforced by the mask's pointwise proximal step at every reverse step (``sigma``: their noise level)."""
    from aip.degrade import Mask

    return _diffpir(image, Mask(np.asarray(mask, bool)), prior=prior, sigma=sigma, steps=steps, lam=lam, zeta=zeta,
                    label=label, seed=seed, channel_axis=channel_axis, device=device, progress=progress)


def deblur_diffpir(image: np.ndarray, psf: np.ndarray, *, sigma: float = 0.01, prior: Any = DEFAULT_PRIOR,
                   steps: int = 100, lam: float = 7.0, zeta: float = 0.3, label: int | None = None, seed: int = 0,
                   channel_axis: int | None = None, device: Any = None, progress: bool = False) -> np.ndarray:
    """DiffPIR with a circular blur by ``psf``: its FFT proximal step (the one the classical solvers use)."""
    from aip.degrade import Blur

    return _diffpir(image, Blur(psf, "circular"), prior=prior, sigma=sigma, steps=steps, lam=lam, zeta=zeta,
                    label=label, seed=seed, channel_axis=channel_axis, device=device, progress=progress,
                    hint=_DEBLUR_HINT)


def upscale_diffpir(image: np.ndarray, scale: int, *, prior: Any = DEFAULT_PRIOR, sigma: float = 0.0,
                    steps: int = 100, lam: float = 7.0, zeta: float = 0.3, label: int | None = None, seed: int = 0,
                    channel_axis: int | None = None, device: Any = None, progress: bool = False) -> np.ndarray:
    """DiffPIR with bicubic downsampling by ``scale`` (its proximal step by conjugate gradients)."""
    from aip.degrade import Downsample

    pipe = load_prior(prior, device=device)
    s = getattr(pipe.network.config, "image_size", 0)
    if s % scale:
        raise ValueError(f"scale: expected a divisor of the prior's image size {s}, got {scale}")
    return _diffpir(image, Downsample(scale, "bicubic", mode="circular"), prior=pipe, sigma=sigma, steps=steps,
                    lam=lam, zeta=zeta, label=label, seed=seed, channel_axis=channel_axis, device=device,
                    progress=progress, size=(s // scale, s // scale))


def _pulse(image, operator, *, prior, steps, restarts, label, seed, channel_axis, device, size=None, hint=""):
    gan = load_gan(prior, device=device)
    dev = next(gan.parameters()).device
    y = _batch(image, channel_axis, gan, size=size, hint=hint)
    labels = None
    if label is not None:
        check_int(label, "label", low=0, high=max(int(getattr(gan.config, "num_classes", 0)) - 1, 0))
        labels = torch.tensor([int(label)], device=dev)
    out, _ = gan.restore_latent(y, operator.to(dev), steps=steps, restarts=restarts, y=labels,
                                generator=torch.Generator().manual_seed(int(seed)))
    return _back(out, image, channel_axis)


def inpaint_pulse(image: np.ndarray, mask: np.ndarray, *, prior: Any = DEFAULT_GAN, steps: int = 200,
                  restarts: int = 1, label: int | None = None, seed: int = 0, channel_axis: int | None = None,
                  device: Any = None) -> np.ndarray:
    """GAN-prior inpainting: the generated image matching the observed pixels (the GAN's output everywhere)."""
    from aip.degrade import Mask

    return _pulse(image, Mask(np.asarray(mask, bool)), prior=prior, steps=steps, restarts=restarts, label=label,
                  seed=seed, channel_axis=channel_axis, device=device)


def deblur_pulse(image: np.ndarray, psf: np.ndarray, *, sigma: float | None = None, prior: Any = DEFAULT_GAN,
                 steps: int = 200, restarts: int = 1, label: int | None = None, seed: int = 0,
                 channel_axis: int | None = None, device: Any = None) -> np.ndarray:
    """GAN-prior deblurring with a circular blur by ``psf``."""
    from aip.degrade import Blur

    return _pulse(image, Blur(psf, "circular"), prior=prior, steps=steps, restarts=restarts, label=label, seed=seed,
                  channel_axis=channel_axis, device=device,
                  hint=_DEBLUR_HINT)


def upscale_pulse(image: np.ndarray, scale: int, *, prior: Any = DEFAULT_GAN, steps: int = 200, restarts: int = 1,
                  label: int | None = None, seed: int = 0, channel_axis: int | None = None,
                  device: Any = None) -> np.ndarray:
    """PULSE-style super-resolution: a GAN image whose bicubic downsampling by ``scale`` matches the input."""
    from aip.degrade import Downsample

    gan = load_gan(prior, device=device)
    s = gan.config.image_size
    if s % scale:
        raise ValueError(f"scale: expected a divisor of the prior's image size {s}, got {scale}")
    return _pulse(image, Downsample(scale, "bicubic", mode="circular"), prior=gan, steps=steps, restarts=restarts,
                  label=label, seed=seed, channel_axis=channel_axis, device=device, size=(s // scale, s // scale))
