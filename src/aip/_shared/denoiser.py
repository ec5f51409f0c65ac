"""The denoiser contract shared by classical methods, learned networks and the solvers that use them.

A denoiser is anything called as ``denoiser(x, sigma) -> tensor`` with

- ``x``: a float tensor ``(B, C, H, W)`` (a batch of gray or colour images, any device);
- ``sigma``: the noise standard deviation on the image's scale, one float for the batch or a ``(B,)``
  tensor (one level per image);
- the result: a tensor of x's shape, dtype and device.

Learned denoisers (``nn.Module``) meet it natively. A classical numpy function ``f(image, sigma)`` is
wrapped once by :class:`ImageDenoiser`, which runs it on every image of the batch (colour images whole,
with ``channel_axis=-1``, when the function takes it). :func:`as_denoiser` turns either into the contract,
so a solver calls ``denoiser(batch, sigma)`` once per iteration whatever its insides.

References
----------
S. V. Venkatakrishnan, C. A. Bouman and B. Wohlberg, "Plug-and-play priors for model based
reconstruction", GlobalSIP 2013.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from aip._shared.validate import describe

__all__ = ["BatchDenoiser", "Denoiser", "ImageDenoiser", "as_denoiser", "check_batch", "sigma_per_image"]


@runtime_checkable
class Denoiser(Protocol):
    """``(B, C, H, W) tensor, sigma (float or (B,) tensor) -> (B, C, H, W) tensor``."""

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor: ...


def check_batch(x: Any, name: str = "x") -> torch.Tensor:
    """``x`` as a floating (B, C, H, W) tensor, or a one-line error."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch tensor (B, C, H, W), got {describe(x)}")
    if x.dim() != 4:
        raise ValueError(f"{name}: expected a tensor shaped (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def sigma_per_image(sigma: Any, x: torch.Tensor) -> torch.Tensor:
    """The noise level of every image of the batch ``x`` as a (B,) tensor (x's dtype and device)."""
    b = x.shape[0]
    s = torch.as_tensor(sigma, dtype=x.dtype).to(x.device) if not isinstance(sigma, torch.Tensor) \
        else sigma.to(dtype=x.dtype, device=x.device)
    if s.dim() == 0:
        s = s.expand(b)
    s = s.reshape(-1)
    if s.shape[0] != b:
        raise ValueError(f"sigma: expected one level or one per image ({b}), got {tuple(s.shape)}")
    if not bool(torch.isfinite(s).all()) or bool((s < 0).any()):
        raise ValueError(f"sigma: expected finite non-negative levels, got {s.tolist()}")
    return s


class BatchDenoiser:
    """Base class of denoisers that take the whole batch (mark your own with it, or be an ``nn.Module``)."""

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def _takes_channel_axis(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "channel_axis" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class ImageDenoiser(BatchDenoiser):
    """A numpy denoiser ``fn(image, sigma, **knobs) -> image`` made to meet the batch contract.

    Gray images are passed as (H, W); colour images as (H, W, C) with ``channel_axis=-1`` when ``fn``
    accepts it, else one channel at a time. Each image gets its own ``sigma``.

    Examples
    --------
    >>> import torch
    >>> from scipy.ndimage import gaussian_filter
    >>> d = ImageDenoiser(lambda img, s: gaussian_filter(img, 1.0), name="gauss")
    >>> d(torch.rand(2, 1, 16, 16), 0.1).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, fn: Callable[..., Any], *, name: str = "", **knobs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"denoiser: expected a callable (image, sigma) -> image, got {describe(fn)}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "denoiser")
        self.knobs = knobs
        self.colour = _takes_channel_axis(fn)

    def __repr__(self) -> str:
        return f"ImageDenoiser({self.name!r})"

    def _one(self, img: np.ndarray, s: float) -> np.ndarray:
        c = img.shape[0]
        if c == 1:
            out = np.asarray(self.fn(np.ascontiguousarray(img[0]), s, **self.knobs))[None]
        elif self.colour:
            hwc = np.ascontiguousarray(np.moveaxis(img, 0, -1))
            out = np.moveaxis(np.asarray(self.fn(hwc, s, channel_axis=-1, **self.knobs)), -1, 0)
        else:
            out = np.stack([np.asarray(self.fn(np.ascontiguousarray(ch), s, **self.knobs)) for ch in img])
        if out.shape != img.shape:
            raise ValueError(f"denoiser {self.name}: expected an output of shape {img.shape[1:]}, got "
                             f"{out.shape[1:]}")
        return out

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        x = check_batch(x)
        s = sigma_per_image(sigma, x).tolist()
        arr = x.detach().cpu().numpy().astype(np.float32)
        out = np.stack([self._one(a, float(si)) for a, si in zip(arr, s)]).astype(np.float32)
        return torch.as_tensor(out).to(dtype=x.dtype, device=x.device)


class _Restorer(BatchDenoiser):
    """A learned restorer (a module whose call is its training loss) seen through its ``restore``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __repr__(self) -> str:
        return f"denoiser({type(self.model).__name__})"

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        x = check_batch(x)
        with torch.no_grad():
            return self.model.restore(x, sigma=sigma_per_image(sigma, x))


def as_denoiser(denoiser: Any) -> Denoiser:
    """The contract form of ``denoiser``: batch denoisers and ``nn.Module`` networks as they are, a learned
    restorer (anything with a ``restore(y, sigma=)`` method) through that method, a plain callable
    ``f(image, sigma)`` on numpy images wrapped in :class:`ImageDenoiser`."""
    if callable(getattr(denoiser, "restore", None)):
        return _Restorer(denoiser)
    if isinstance(denoiser, (BatchDenoiser, torch.nn.Module)):
        return denoiser
    if callable(denoiser):
        return ImageDenoiser(denoiser)
    raise TypeError(f"denoiser: expected a callable (image, sigma) -> image or a batch denoiser, got "
                    f"{describe(denoiser)}")
