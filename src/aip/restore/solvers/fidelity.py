"""Data-fidelity terms F(x) of  min_x F(x) + R(x), each with ``value``, ``grad`` and ``prox``.

The proximal step of the least-squares term is the physics' own ``prox_l2`` (closed form where the
operator has one, conjugate gradients otherwise), so nothing here depends on which operator it holds.
"""

from __future__ import annotations

import math

from aip.degrade.operators import conjugate_gradient

__all__ = ["ConstraintFidelity", "L2Fidelity", "adjoint"]


def adjoint(op, q, shape):
    """``op.A_adjoint(q)`` onto the input shape ``shape`` (for operators whose adjoint takes no shape)."""
    try:
        return op.A_adjoint(q, shape=shape)
    except TypeError:  # an operator without the shape keyword
        return op.A_adjoint(q)


class L2Fidelity:
    """Least-squares data term F(x) = 1/2 ||A x - y||^2 for a physics or linear operator ``op``.

    ``prox(v, tau)`` = argmin_x F(x) + ||x - v||^2 / (2 tau) = ``op.prox_l2(v, y, tau)``; an object with
    only ``A`` and ``A_adjoint`` (no ``prox_l2``) is solved by conjugate gradients. Iterative solves are
    warm-started from the previous solution and limited to ``cg_iter`` iterations.
    """

    def __init__(self, op, y, *, cg_iter: int = 30):
        self.op = op
        self.y = y
        self.cg_iter = cg_iter
        self._x_prev = None

    def value(self, x) -> float:
        return float(0.5 * (self.op.A(x) - self.y).pow(2).sum())

    def grad(self, x):
        return adjoint(self.op, self.op.A(x) - self.y, tuple(x.shape[-2:]))

    def prox(self, v, tau: float):
        x0 = v if self._x_prev is None or self._x_prev.shape != v.shape else self._x_prev
        if hasattr(self.op, "prox_l2"):
            x = self.op.prox_l2(v, self.y, tau, x0=x0, n_iter=self.cg_iter)
        else:
            shape = tuple(v.shape[-2:])
            b = adjoint(self.op, self.y, shape) + v / tau
            x = conjugate_gradient(lambda u: adjoint(self.op, self.op.A(u), shape) + u / tau, b, x0,
                                   n_iter=self.cg_iter)
        self._x_prev = x
        return x


class ConstraintFidelity:
    """Indicator of the exact data constraint {x : x = y where ``known``} (noise-free inpainting).

    ``prox`` is the projection: keep v on missing pixels, put y on known ones.
    """

    def __init__(self, y, known):
        import torch

        self.y = y
        self.known = torch.as_tensor(known, device=y.device).bool()

    def value(self, x) -> float:
        return 0.0 if bool(((x - self.y).abs() * self.known).max() < 1e-6) else math.inf

    def prox(self, v, tau: float = 1.0):
        import torch

        return torch.where(self.known, self.y, v)
