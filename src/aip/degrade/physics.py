"""The observation model ``y = N(A x)`` as one ``torch.nn.Module``: a linear operator and a noise model.

A :class:`Physics` is what a solver, a learned restorer or a training loop needs from a degradation:
``A``, ``A_adjoint``, ``prox_l2`` and ``norm`` of the linear part, and ``physics(x, rng=...)`` drawing fresh
observations on batches ``(B, C, H, W)``, on CPU or GPU.

References
----------
M. Terris et al., "DeepInverse: a Python package for solving imaging inverse problems", 2023
(``physics/forward.py``: the same split of operator and noise).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from aip._shared.validate import describe
from aip.degrade.noise import RNG, NoiseModel, make_noise
from aip.degrade.operators import Identity, LinearOperator, Shape

__all__ = ["Physics"]


class Physics(nn.Module):
    """``y = N(A x)``: a linear operator ``A`` (default the identity) and a noise model ``N`` (default none).

    Parameters
    ----------
    operator : LinearOperator, optional
        Any :mod:`aip.degrade` operator (Blur, Downsample, Mask, Compose, ...).
    noise : noise model, spec string or float, optional
        A :class:`~aip.degrade.noise.NoiseModel`, a spec such as ``"gaussian:0.1"`` (image scale), or a
        Gaussian sigma; a ``GaussianNoise((low, high))`` draws a level per image.

    Examples
    --------
    >>> import torch
    >>> from aip.degrade import Blur, GaussianNoise, Physics, gaussian
    >>> physics = Physics(Blur(gaussian(1.0)), GaussianNoise(0.05))
    >>> physics(torch.zeros(2, 1, 16, 16), rng=0).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, operator: LinearOperator | None = None, noise: Any = None) -> None:
        super().__init__()
        if operator is None:
            operator = Identity()
        if not isinstance(operator, LinearOperator):
            raise TypeError(f"operator: expected an aip.degrade LinearOperator, got {describe(operator)}")
        self.operator = operator
        self.noise: NoiseModel | None = None if noise is None else make_noise(noise)

    def __repr__(self) -> str:
        return f"Physics({self.operator!r}, noise={self.noise!r})"

    @property
    def sigma(self) -> float | tuple[float, float] | None:
        """The Gaussian noise level (or range) of the model, None without one."""
        return getattr(self.noise, "sigma", None)

    # --- the linear part --------------------------------------------------------------------------
    def A(self, x):
        """The noiseless observation ``A x``."""
        return self.operator.A(x)

    def A_adjoint(self, y, *, shape: Shape | None = None):
        return self.operator.A_adjoint(y, shape=shape)

    def A_adjoint_A(self, x):
        return self.operator.A_adjoint_A(x)

    def prox_l2(self, z, y, gamma: float, **kwargs: Any):
        """``argmin_x 1/2 ||A x - y||^2 + 1/(2 gamma) ||x - z||^2`` (the operator's own closed form or CG)."""
        return self.operator.prox_l2(z, y, gamma, **kwargs)

    def norm(self, shape: Shape | None = None, **kwargs: Any) -> float:
        """Spectral norm of ``A`` (see :meth:`LinearOperator.norm`)."""
        return self.operator.norm(shape, **kwargs)

    def output_shape(self, shape: Shape) -> Shape:
        return self.operator.output_shape(shape)

    # --- drawing observations ---------------------------------------------------------------------
    def degrade(self, x, *, rng: RNG = None) -> dict[str, Any]:
        """``{"y": N(A x), "sigma": the Gaussian level drawn per image ((B,) for a batch) or None}``.

        ``rng=None`` draws fresh noise; an int seed or a Generator makes the draw reproducible.
        """
        ax = self.operator.A(x)
        if self.noise is None:
            return {"y": ax, "sigma": None}
        return self.noise.sample(ax, rng=rng)

    def forward(self, x, *, rng: RNG = None):
        """``N(A x)`` with fresh noise (``rng=None``) or seeded noise."""
        return self.degrade(x, rng=rng)["y"]
