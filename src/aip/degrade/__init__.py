"""The observation model y = N(A x): linear operators, kernels, masks, noise, and noise level estimation.

- Operators (:mod:`aip.degrade.operators`): :class:`Identity`, :class:`Blur`, :class:`Downsample`,
  :class:`Mask`, :class:`Compose` (``op2 @ op1``), each with ``A``, ``A_adjoint`` and exact adjoints,
  on torch tensors ``(..., H, W)`` or numpy ``(H, W[, C])``.
- Kernels (:mod:`aip.degrade.kernels`): :func:`gaussian`, :func:`box`, :func:`disk`, :func:`motion`,
  :func:`random_motion`, :func:`check_psf`, :func:`make_kernel` (spec strings such as ``"gaussian:1.6"``).
- Masks (:mod:`aip.degrade.masks`, True = missing): :func:`random_mask`, :func:`block_mask`,
  :func:`text_mask`, :func:`scribble_mask`, :func:`load_mask`, :func:`make_mask`.
- Noise (:mod:`aip.degrade.noise`): Gaussian (a level or a per-image range), Poisson, Poisson-Gaussian,
  salt-and-pepper, as torch modules; ``rng=None`` draws fresh noise, a seed or Generator reproduces it.
- :class:`Physics` (:mod:`aip.degrade.physics`): ``y = N(A x)`` as one module, on batches, CPU or GPU.
- :func:`estimate_sigma` (wavelet MAD or patch PCA) and :func:`degrade`, the whole chain in one call.

Example
-------
>>> from aip.degrade import degrade
>>> from aip.io import load_sample
>>> out = degrade(load_sample("camera", size=64), blur="gaussian:1.6", noise=0.05, rng=0)
>>> out.y.shape, out.psf.shape
((64, 64), (11, 11))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aip._shared.validate import as_image, check_int, describe
from aip.degrade.estimate import ESTIMATORS, estimate_sigma
from aip.degrade.kernels import KERNELS, box, check_psf, disk, gaussian, make_kernel, motion, random_motion
from aip.degrade.masks import (
    MASKS,
    block_mask,
    load_mask,
    make_mask,
    random_mask,
    scribble_mask,
    text_mask,
)
from aip.degrade.noise import (
    NOISES,
    GaussianNoise,
    NoiseModel,
    PoissonGaussianNoise,
    PoissonNoise,
    SaltPepperNoise,
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    add_poisson_noise,
    add_salt_pepper_noise,
    make_noise,
)
from aip.degrade.operators import (
    BLUR_MODES,
    Blur,
    Compose,
    Downsample,
    Identity,
    LinearOperator,
    Mask,
    bicubic_kernel,
    conjugate_gradient,
)
from aip.degrade.physics import Physics

__all__ = [
    "BLUR_MODES",
    "METHODS",
    "Blur",
    "Compose",
    "Degraded",
    "Downsample",
    "GaussianNoise",
    "Identity",
    "LinearOperator",
    "Mask",
    "NoiseModel",
    "Physics",
    "PoissonGaussianNoise",
    "PoissonNoise",
    "SaltPepperNoise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_poisson_noise",
    "add_salt_pepper_noise",
    "bicubic_kernel",
    "block_mask",
    "box",
    "check_psf",
    "conjugate_gradient",
    "degrade",
    "disk",
    "estimate_sigma",
    "gaussian",
    "load_mask",
    "make_kernel",
    "make_mask",
    "make_noise",
    "motion",
    "random_mask",
    "random_motion",
    "scribble_mask",
    "text_mask",
]

METHODS = {
    "operators": ["identity", "blur", "downsample", "mask"],
    "kernels": list(KERNELS),
    "masks": list(MASKS),
    "noise": list(NOISES),
    "sigma_estimators": list(ESTIMATORS),
}


@dataclass
class Degraded:
    """What :func:`degrade` made: the observation ``y`` and the parts of the model.

    ``operator`` is the linear part ``A`` (``y = noise(A x)``), ``psf`` the blur kernel (None if no blur),
    ``mask`` the missing-pixel mask on y's grid (None if no mask), ``scale`` the downsampling factor,
    ``noise`` the noise model (None if noiseless) and ``sigma`` its Gaussian standard deviation when it has one.
    """

    y: np.ndarray
    operator: LinearOperator
    psf: np.ndarray | None = None
    mask: np.ndarray | None = None
    scale: int = 1
    noise: Any = None
    sigma: float | None = None
    extras: dict = field(default_factory=dict)

    @property
    def physics(self) -> Physics:
        """The model as one :class:`Physics` (``operator`` and ``noise``), e.g. to hand to a solver."""
        return Physics(self.operator, self.noise)

    def __iter__(self):  # y, info = degrade(...)
        yield self.y
        yield {"operator": self.operator, "psf": self.psf, "mask": self.mask, "scale": self.scale,
               "noise": self.noise, "sigma": self.sigma}


def degrade(image: Any, *, blur: Any = None, downsample: Any = None, mask: Any = None, noise: Any = None,
            mode: str = "symmetric", rng: int | np.random.Generator | None = None) -> Degraded:
    """Simulate an observation ``y = N(M D B x)``: blur, then downsampling, then a mask, then noise.

    Parameters
    ----------
    image : array_like
        Clean float image in [0, 1], (H, W) or (H, W, C) (integers converted by aip's rule).
    blur : str, array or Blur, optional
        A kernel spec (``"gaussian:1.6"``, ``"box:9"``, ``"disk:3"``, ``"motion:9:30"``,
        ``"random_motion:17"``), a PSF array, or a :class:`Blur`.
    downsample : int or Downsample, optional
        Scale factor. With ``blur`` the blur kernel is the anti-aliasing kernel (``y = (k * x)``
        decimated, the classical SR model); without it the bicubic kernel is used.
    mask : str, array or Mask, optional
        A mask spec (``"random:0.5"``, ``"blocks"``, ``"text"``, ``"scribble"``, a file) or a boolean
        array on the (downsampled) grid, True where pixels are missing. Missing pixels are 0 in ``y``.
    noise : str, float or noise model, optional
        ``"gaussian:SIGMA"``, ``"poisson:PEAK"``, ``"poisson_gaussian:PEAK:SIGMA"``, ``"salt_pepper:AMOUNT"``
        on the image's scale, or a float (Gaussian sigma). The noise is added to all pixels, masked
        ones are set back to 0 afterwards.
    mode : str
        Boundary model of blur and downsampling (see :class:`Blur`): ``"symmetric"`` by default (a
        photograph's blur is not periodic; :func:`aip.restore.deblur` mirrors edges by default to match),
        ``"circular"`` for the periodic model of the DPIR benchmarks (then deblur with ``edges="circular"``).
    rng : int, Generator or None
        Seed for every random part (kernel, mask, noise); the same seed gives the same result, None
        draws fresh ones.

    Returns
    -------
    Degraded
        ``.y`` (float32 numpy, same layout as the input) and the parts (``.operator``, ``.psf``, ``.mask``,
        ``.scale``, ``.noise``, ``.sigma``). Also unpacks as ``y, info = degrade(...)``.
    """
    from aip.degrade.kernels import _rng

    x = as_image(image, "image", dtype=np.float64)
    g = _rng(rng)
    ops: list[LinearOperator] = []  # application order
    psf = None
    if blur is not None:
        if isinstance(blur, Blur):
            blur_op = blur
        else:
            blur_op = Blur(make_kernel(blur, rng=g), mode=mode)
        psf = blur_op.psf
    scale = 1
    if downsample is not None:
        if isinstance(downsample, Downsample):
            if blur is not None:
                ops.append(blur_op)
            ds = downsample
        else:
            s = check_int(downsample, "downsample", low=1)
            ds = Downsample(s, kernel=psf if psf is not None else "bicubic", mode=mode)
        scale = ds.scale
        ops.append(ds)
    elif blur is not None:
        ops.append(blur_op)
    op: LinearOperator = Compose(*reversed(ops)) if ops else Identity()
    y = op.A(x)
    m = None
    if mask is not None:
        if isinstance(mask, Mask):
            mask_op = mask
            if mask_op.mask.shape != y.shape[:2]:
                raise ValueError(f"mask: expected shape {y.shape[:2]} (the observed grid), got {mask_op.mask.shape}")
        else:
            mask_op = Mask(make_mask(mask, y.shape[:2], rng=g))
        m = mask_op.mask
        op = mask_op @ op if ops else mask_op
    nz = None
    sigma = None
    if noise is not None:
        nz = make_noise(noise)
        y = nz(y, rng=g)
        sigma = getattr(nz, "sigma", None)
    if m is not None:
        y = y * (~m if y.ndim == 2 else ~m[..., None])
    if not isinstance(y, np.ndarray):  # pragma: no cover - defensive
        raise TypeError(f"internal: expected a numpy result, got {describe(y)}")
    return Degraded(y=y.astype(np.float32), operator=op, psf=psf, mask=m, scale=scale, noise=nz, sigma=sigma)
