"""Model-based solvers built from parts: data fidelity, prior, iteration scheme.

A restoration problem  min_x  F(x) + R(x)  is assembled from

- a **data fidelity** ``F`` (:mod:`~aip.restore.solvers.fidelity`): :class:`L2Fidelity`, 1/2 ||A x - y||^2
  for any physics or operator (its ``prox`` is the operator's own ``prox_l2``: closed form or conjugate
  gradients); :class:`ConstraintFidelity`, A x = y exactly (noise-free inpainting);
- a **prior** ``R`` (:mod:`~aip.restore.solvers.priors`): :class:`TVPrior` (Chambolle's projection as its
  prox), :class:`DenoiserPrior` (any denoiser of the batch contract used as a proximal operator);
- an **iteration scheme** (:mod:`~aip.restore.solvers.schemes`): :func:`admm`, :func:`hqs`,
  :func:`proximal_gradient`, and the primal-dual :func:`chambolle_pock` / :func:`pdhg_linear` for TV.

:func:`pnp` puts them together for plug-and-play: any physics, any denoiser, any scheme of ``SCHEMES``.
Everything works on torch tensors (leading dimensions are batched), so it runs on a GPU.

References
----------
S. V. Venkatakrishnan, C. A. Bouman and B. Wohlberg, "Plug-and-play priors for model based reconstruction",
GlobalSIP 2013.
K. Zhang et al., "Plug-and-play image restoration with deep denoiser prior" (DPIR), IEEE TPAMI 44, 2022.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from aip._shared.validate import check_int, check_positive
from aip.degrade.operators import conjugate_gradient
from aip.restore.solvers.fidelity import ConstraintFidelity, L2Fidelity
from aip.restore.solvers.priors import DenoiserPrior, TVPrior
from aip.restore.solvers.schemes import SCHEMES, admm, chambolle_pock, hqs, pdhg_linear, proximal_gradient
from aip.restore.solvers.tv import div, grad, prox_tv, tv_norm

__all__ = [
    "SCHEMES",
    "ConstraintFidelity",
    "DenoiserPrior",
    "L2Fidelity",
    "TVPrior",
    "admm",
    "chambolle_pock",
    "conjugate_gradient",
    "div",
    "grad",
    "hqs",
    "pdhg_linear",
    "pnp",
    "pnp_schedule",
    "prox_tv",
    "proximal_gradient",
    "tv_norm",
]


def pnp_schedule(sigma: float, n_iter: int, sigma_start: float) -> np.ndarray:
    """The denoiser's noise levels of plug-and-play: geometric from ``sigma_start`` down to
    ``max(sigma, 1/255)`` (DPIR's continuation)."""
    s_end = max(float(sigma), 1.0 / 255)
    s0 = max(float(sigma_start), s_end)
    return np.geomspace(s0, s_end, n_iter) if n_iter > 1 else np.array([s_end])


def pnp(y, physics, denoiser: Any, *, sigma: float, scheme: str = "hqs", n_iter: int = 12,
        sigma_start: float = 0.2, lam: float = 0.3, x0=None, cg_iter: int = 30,
        callback: Callable | None = None):
    """Plug-and-play restoration: min_x 1/(2 sigma^2) ||A x - y||^2 + R(x), R given only by a denoiser.

    Parameters
    ----------
    y : tensor (..., h, w)
        The observation; a (B, C, h, w) batch is restored in one run (the denoiser is called once per
        iteration on the whole batch).
    physics : Physics or LinearOperator
        Anything with ``A``, ``A_adjoint`` and ``prox_l2`` (every :mod:`aip.degrade` operator).
    denoiser : denoiser
        The prior, meeting the batch contract (:func:`aip._shared.denoiser.as_denoiser` wraps a numpy
        ``f(image, sigma)``).
    sigma : float
        Noise level of y (> 0; a small value such as 1/255 for noise-free data).
    scheme : {"hqs", "admm", "pgd"}
        Half-quadratic splitting (DPIR), ADMM, or proximal gradient (step 1 / ||A||^2).
    n_iter, sigma_start, lam
        Iterations (one denoiser call each); the denoiser level goes down geometrically from
        ``sigma_start`` to ``max(sigma, 1/255)`` and the splitting schemes' penalty follows it,
        tau_k = s_k^2 / (lam sigma^2).
    x0 : tensor, optional
        Start (default A^T y).

    Returns
    -------
    tensor shaped like the start (not clipped).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: expected one of {', '.join(SCHEMES)}; got {scheme!r}")
    if not (hasattr(physics, "A") and hasattr(physics, "A_adjoint")):
        raise TypeError(f"physics: expected an object with A and A_adjoint (aip.degrade), got "
                        f"{type(physics).__name__}")
    sigma = check_positive(sigma, "sigma")
    n_iter = check_int(n_iter, "n_iter", low=1)
    lam = check_positive(lam, "lam")
    sig = pnp_schedule(sigma, n_iter, check_positive(sigma_start, "sigma_start"))
    fid = L2Fidelity(physics, y, cg_iter=cg_iter)
    prior = DenoiserPrior(denoiser)
    start = physics.A_adjoint(y) if x0 is None else x0
    sigmas = [float(s) for s in sig]
    if scheme == "pgd":
        shape = tuple(start.shape[-2:])
        norm = physics.norm(shape, n_iter=30, dtype=start.dtype, device=start.device)
        return proximal_gradient(fid, prior, start, step=1.0 / max(norm * norm, 1e-12), prior_sigmas=sigmas,
                                 callback=callback)
    taus = [float(s * s / (lam * sigma * sigma)) for s in sig]
    return SCHEMES[scheme](fid, prior, start, tau=taus, prior_sigmas=sigmas, callback=callback)
