"""Finite differences and total variation: the gradient, its adjoint, the TV norm and its prox.

References
----------
A. Chambolle, "An algorithm for total variation minimization and applications", JMIV 20, 2004.
"""

from __future__ import annotations

__all__ = ["div", "grad", "prox_tv", "tv_norm"]


# finite differences (Neumann boundary, as in Chambolle 2004)
def grad(x):
    """Forward differences of x (..., H, W) -> (..., 2, H, W); zero on the last row / column."""
    import torch

    g = torch.zeros(x.shape[:-2] + (2,) + x.shape[-2:], dtype=x.dtype, device=x.device)
    g[..., 0, :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    g[..., 1, :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return g


def div(p):
    """Discrete divergence, the negative adjoint of :func:`grad`: <grad x, p> = -<x, div p>."""
    py, px = p[..., 0, :, :], p[..., 1, :, :]
    d = py.clone()
    d[..., 1:, :] -= py[..., :-1, :]
    d[..., -1, :] = -py[..., -2, :] if py.shape[-2] > 1 else 0.0
    dx = px.clone()
    dx[..., :, 1:] -= px[..., :, :-1]
    dx[..., :, -1] = -px[..., :, -2] if px.shape[-1] > 1 else 0.0
    return d + dx


def tv_norm(x):
    """Isotropic total variation sum sqrt(dx^2 + dy^2) over the last two axes (a tensor of the batch shape)."""
    g = grad(x)
    return g.pow(2).sum(-3).sqrt().sum((-2, -1))


def prox_tv(v, weight: float, *, n_iter: int = 200, eps: float = 2e-4, energies: list | None = None):
    """Proximal operator of weight * TV: argmin_u 1/2 ||u - v||^2 + weight TV(u), by Chambolle's projection.

    The dual iteration p <- (p - tau grad(v - weight div p)/weight) / (1 + tau |grad(...)|/weight) with
    tau = 1/4, stopped when the relative change of the energy falls below ``eps`` (the same update and rule
    as scikit-image's ``denoise_tv_chambolle``). ``energies``, if a list, receives the primal ROF energy
    1/2 ||u - v||^2 + weight TV(u) (summed over the batch) after every iteration.
    """
    import torch

    if weight <= 0:
        return v.clone()
    p = torch.zeros(v.shape[:-2] + (2,) + v.shape[-2:], dtype=v.dtype, device=v.device)
    tau = 0.25
    n = v.numel()
    out = v
    e_init = e_prev = None
    for i in range(n_iter):
        if i > 0:
            d = -div(p)
            out = v + d
        else:
            d = torch.zeros_like(v)
            out = v
        g = grad(out)
        norm = g.pow(2).sum(-3, keepdim=True).sqrt()
        # skimage's stopping energy (of the previous iterate): (||d||^2 + weight TV(out)) / N
        e = float((d.pow(2).sum() + weight * norm.sum()) / n)
        if energies is not None and i > 0:
            energies.append(float(0.5 * d.pow(2).sum() + weight * norm.sum()))
        p = (p - tau * g) / (1.0 + norm * (tau / weight))
        if i == 0:
            e_init = e_prev = e
        else:
            if abs(e_prev - e) < eps * e_init:
                break
            e_prev = e
    return out
