"""Noise models N(.) of y = N(A x): Gaussian, Poisson, Poisson-Gaussian, salt-and-pepper; all seeded.

Levels are on the image's scale (a float image in [0, 1] with ``sigma=25/255`` is the usual
"sigma 25"). Nothing is clipped unless ``clip=True``. The same ``rng`` seed gives the same noise;
numpy in gives numpy out, a torch tensor in gives a tensor (same dtype and device) out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aip._shared.validate import as_image, check_positive, describe
from aip.degrade.kernels import _rng

__all__ = [
    "NOISES",
    "GaussianNoise",
    "PoissonGaussianNoise",
    "PoissonNoise",
    "SaltPepperNoise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_poisson_noise",
    "add_salt_pepper_noise",
    "make_noise",
]

RNG = int | np.random.Generator | None


def _as_array(x: Any) -> tuple[np.ndarray, Any]:
    """Return a float64 numpy view of ``x`` and a function turning the result back into x's type."""
    if hasattr(x, "detach") and hasattr(x, "dim"):
        import torch

        t = x
        if not t.is_floating_point():
            raise TypeError(f"image: expected a floating-point tensor, got dtype {t.dtype}")
        arr = t.detach().cpu().numpy().astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("image: expected finite values, got NaN or infinity")
        return arr, lambda a: torch.as_tensor(a, dtype=t.dtype, device=t.device)
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if arr.ndim < 2:
            raise ValueError(f"image: expected an image array (H, W[, C]), got {describe(arr)}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("image: expected finite values, got NaN or infinity")
        dtype = arr.dtype
        return arr.astype(np.float64), lambda a: a.astype(dtype)
    img = as_image(arr, "image")
    return img.astype(np.float64), lambda a: a.astype(np.float32)


@dataclass(frozen=True)
class GaussianNoise:
    """Additive white Gaussian noise, ``y = x + sigma * n``, n ~ N(0, 1)."""

    sigma: float
    clip: bool = False

    def __post_init__(self) -> None:
        check_positive(self.sigma, "sigma")

    def __call__(self, x: Any, *, rng: RNG = 0):
        a, back = _as_array(x)
        y = a + self.sigma * _rng(rng).standard_normal(a.shape)
        return back(np.clip(y, 0.0, 1.0) if self.clip else y)


@dataclass(frozen=True)
class PoissonNoise:
    """Poisson (shot) noise at ``peak`` photons for a value of 1: ``y = Poisson(peak * x) / peak``.

    Mean ``x``, variance ``x / peak``. Needs ``x >= 0``.
    """

    peak: float
    clip: bool = False

    def __post_init__(self) -> None:
        check_positive(self.peak, "peak")

    def __call__(self, x: Any, *, rng: RNG = 0):
        a, back = _as_array(x)
        if a.size and a.min() < 0:
            raise ValueError(f"image: Poisson noise needs non-negative values, got a minimum of {a.min():.3g}")
        y = _rng(rng).poisson(a * self.peak) / self.peak
        return back(np.clip(y, 0.0, 1.0) if self.clip else y)


@dataclass(frozen=True)
class PoissonGaussianNoise:
    """Poisson-Gaussian noise: ``y = Poisson(peak * x) / peak + sigma * n`` (variance ``x / peak + sigma^2``).

    References
    ----------
    A. Foi et al., "Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data",
    IEEE TIP 17(10), 2008.
    """

    peak: float
    sigma: float
    clip: bool = False

    def __post_init__(self) -> None:
        check_positive(self.peak, "peak")
        check_positive(self.sigma, "sigma", allow_zero=True)

    def __call__(self, x: Any, *, rng: RNG = 0):
        a, back = _as_array(x)
        if a.size and a.min() < 0:
            raise ValueError(f"image: Poisson noise needs non-negative values, got a minimum of {a.min():.3g}")
        g = _rng(rng)
        y = g.poisson(a * self.peak) / self.peak + self.sigma * g.standard_normal(a.shape)
        return back(np.clip(y, 0.0, 1.0) if self.clip else y)


@dataclass(frozen=True)
class SaltPepperNoise:
    """Impulse noise: a fraction ``amount`` of the samples is replaced, by ``high`` (salt) with
    probability ``salt_vs_pepper`` and by ``low`` (pepper) otherwise (as ``skimage.util.random_noise``)."""

    amount: float
    salt_vs_pepper: float = 0.5
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        a = check_positive(self.amount, "amount", allow_zero=True)
        if a > 1:
            raise ValueError(f"amount: expected a fraction in [0, 1], got {self.amount!r}")
        s = check_positive(self.salt_vs_pepper, "salt_vs_pepper", allow_zero=True)
        if s > 1:
            raise ValueError(f"salt_vs_pepper: expected a fraction in [0, 1], got {self.salt_vs_pepper!r}")

    def __call__(self, x: Any, *, rng: RNG = 0):
        a, back = _as_array(x)
        g = _rng(rng)
        hit = g.random(a.shape) < self.amount
        salt = g.random(a.shape) < self.salt_vs_pepper
        y = a.copy()
        y[hit & salt] = self.high
        y[hit & ~salt] = self.low
        return back(y)


NOISES = ("gaussian", "poisson", "poisson_gaussian", "salt_pepper")


def add_gaussian_noise(image: Any, sigma: float, *, rng: RNG = 0, clip: bool = False):
    """``image + sigma * N(0, 1)`` (seeded).

    Examples
    --------
    >>> import numpy as np
    >>> y = add_gaussian_noise(np.zeros((256, 256)), 0.1, rng=0)
    >>> round(float(y.std()), 2)
    0.1
    """
    return GaussianNoise(sigma, clip)(image, rng=rng)


def add_poisson_noise(image: Any, peak: float, *, rng: RNG = 0, clip: bool = False):
    """``Poisson(peak * image) / peak`` (seeded)."""
    return PoissonNoise(peak, clip)(image, rng=rng)


def add_poisson_gaussian_noise(image: Any, peak: float, sigma: float, *, rng: RNG = 0, clip: bool = False):
    """``Poisson(peak * image) / peak + sigma * N(0, 1)`` (seeded)."""
    return PoissonGaussianNoise(peak, sigma, clip)(image, rng=rng)


def add_salt_pepper_noise(image: Any, amount: float, *, salt_vs_pepper: float = 0.5, rng: RNG = 0):
    """Replace a fraction ``amount`` of the samples by 0 or 1 (seeded)."""
    return SaltPepperNoise(amount, salt_vs_pepper)(image, rng=rng)


def make_noise(spec: Any, *, scale: float = 1.0):
    """Build a noise model from a spec string, a number (Gaussian sigma) or a noise object.

    Specs: ``gaussian:SIGMA``, ``poisson:PEAK``, ``poisson_gaussian:PEAK:SIGMA``, ``salt_pepper:AMOUNT``.
    Gaussian sigmas are divided by ``scale`` (``scale=255`` reads ``gaussian:25`` on the 0-255 scale,
    as the CLI does); peaks and amounts are not scaled.

    Examples
    --------
    >>> make_noise("gaussian:25", scale=255).sigma == 25 / 255
    True
    """
    if isinstance(spec, (GaussianNoise, PoissonNoise, PoissonGaussianNoise, SaltPepperNoise)):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return GaussianNoise(check_positive(spec, "noise") / scale)
    if not isinstance(spec, str):
        raise TypeError(f"noise: expected a spec string such as 'gaussian:25', a sigma, or a noise object; "
                        f"got {describe(spec)}")
    name, _, rest = spec.partition(":")
    args = [a for a in rest.split(":") if a] if rest else []
    try:
        vals = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"noise: could not read the numbers in {spec!r}") from None
    want = {"gaussian": 1, "poisson": 1, "poisson_gaussian": 2, "salt_pepper": 1}
    if name not in want or len(vals) != want[name]:
        raise ValueError(
            "noise: expected gaussian:SIGMA, poisson:PEAK, poisson_gaussian:PEAK:SIGMA or salt_pepper:AMOUNT; "
            f"got {spec!r}"
        )
    if name == "gaussian":
        return GaussianNoise(check_positive(vals[0], "noise sigma") / scale)
    if name == "poisson":
        return PoissonNoise(vals[0])
    if name == "poisson_gaussian":
        return PoissonGaussianNoise(vals[0], check_positive(vals[1], "noise sigma", allow_zero=True) / scale)
    return SaltPepperNoise(vals[0])
