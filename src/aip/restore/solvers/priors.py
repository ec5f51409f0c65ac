"""Priors R(x) of  min_x F(x) + R(x): total variation, and any denoiser as an implicit prior.

References
----------
A. Chambolle, "An algorithm for total variation minimization and applications", JMIV 20, 2004.
S. V. Venkatakrishnan, C. A. Bouman and B. Wohlberg, "Plug-and-play priors for model based
reconstruction", GlobalSIP 2013.
"""

from __future__ import annotations

import math
from typing import Any

from aip._shared.denoiser import as_denoiser
from aip.restore.solvers.tv import prox_tv, tv_norm

__all__ = ["DenoiserPrior", "TVPrior"]


class TVPrior:
    """R(x) = weight * TV(x) (isotropic); prox by Chambolle's projection algorithm."""

    def __init__(self, weight: float, *, n_iter: int = 50, eps: float = 1e-4):
        self.weight = float(weight)
        self.n_iter = n_iter
        self.eps = eps

    def value(self, x) -> float:
        return float(self.weight * tv_norm(x).sum())

    def prox(self, v, tau: float):
        return prox_tv(v, self.weight * tau, n_iter=self.n_iter, eps=self.eps)


class DenoiserPrior:
    """A denoiser used as the proximal operator of an implicit prior (plug-and-play).

    ``denoiser`` meets the batch contract of :mod:`aip._shared.denoiser` (``(B, C, H, W) tensor, sigma ->
    tensor``: a learned network, or a classical numpy ``f(image, sigma)`` wrapped by ``as_denoiser``).
    ``prox(v, tau)`` calls it once on the whole of ``v`` with noise level sqrt(weight * tau), or with
    ``sigma=`` given explicitly (a float, or one level per image). ``v`` may be (H, W), (C, H, W) or
    (B, C, H, W); the result has v's shape.
    """

    def __init__(self, denoiser: Any, *, weight: float = 1.0):
        self.denoiser = as_denoiser(denoiser)
        self.weight = float(weight)

    def prox(self, v, tau: float = 1.0, *, sigma: Any = None):
        s = math.sqrt(self.weight * tau) if sigma is None else sigma
        if v.dim() > 4 or v.dim() < 2:
            raise ValueError(f"v: expected (H, W), (C, H, W) or (B, C, H, W), got shape {tuple(v.shape)}")
        batch = v.reshape((1,) * (4 - v.dim()) + tuple(v.shape))
        out = self.denoiser(batch, s)
        if out.shape != batch.shape:
            raise ValueError(f"denoiser: expected an output of shape {tuple(batch.shape)}, got {tuple(out.shape)}")
        return out.reshape(v.shape).to(dtype=v.dtype, device=v.device)
