"""Noise models N(.) of y = N(A x): Gaussian, Poisson, Poisson-Gaussian, salt-and-pepper.

Each model is a ``torch.nn.Module``: ``noise(x, rng=...)`` on a tensor ``(..., H, W)`` (any batch, on any
device) or on a numpy image, and ``noise.sample(x, rng=...)`` also gives the noise level drawn per image.
Levels are on the image's scale (a float image in [0, 1] with ``sigma=25/255`` is the usual "sigma 25").
A Gaussian ``sigma`` may be a range ``(low, high)``: every image of a ``(B, C, H, W)`` batch then draws its
own level uniformly from it (blind-denoiser training data). Nothing is clipped unless ``clip=True``.

Randomness (``rng``), the same rule everywhere in aip:

- ``None`` draws fresh noise at every call (torch's global generator for tensors, so
  ``torch.manual_seed`` makes a training run reproducible; fresh OS entropy for numpy);
- an ``int`` seed or a ``torch.Generator`` / ``numpy.random.Generator`` makes it reproducible. Tensors
  draw with torch (an int seeds a ``torch.Generator`` on the tensor's device), numpy arrays with numpy (an
  int seeds ``numpy.random.default_rng``), so seeded numpy results are the same as in earlier versions.

Numpy in gives numpy out; a tensor in gives a tensor (same dtype and device) out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from aip._shared.validate import as_image, check_positive, describe

__all__ = [
    "NOISES",
    "GaussianNoise",
    "NoiseModel",
    "PoissonGaussianNoise",
    "PoissonNoise",
    "SaltPepperNoise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_poisson_noise",
    "add_salt_pepper_noise",
    "make_noise",
]

RNG = int | np.random.Generator | torch.Generator | None


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


class _Draws:
    """Random draws shaped like ``x``, in x's kind: torch tensors (dtype, device) or float64 numpy."""

    def __init__(self, x: Any, rng: RNG) -> None:
        self.tensor = _is_tensor(x)
        self.like = x
        self.np_gen: np.random.Generator | None = None
        self.gen: torch.Generator | None = None
        if isinstance(rng, bool) or not (rng is None or isinstance(rng, (int, np.integer, np.random.Generator,
                                                                          torch.Generator))):
            raise TypeError(f"rng: expected None, an int seed, a torch.Generator or a numpy Generator; "
                            f"got {describe(rng)}")
        if isinstance(rng, np.random.Generator):
            self.np_gen = rng
        elif self.tensor:
            if isinstance(rng, torch.Generator):
                self.gen = rng
            elif rng is not None:
                self.gen = torch.Generator(device=x.device).manual_seed(int(rng))
        else:
            if isinstance(rng, torch.Generator):
                self.gen = rng
            else:
                self.np_gen = np.random.default_rng(None if rng is None else int(rng))

    def _out(self, t: torch.Tensor):
        if self.tensor:
            return t.to(device=self.like.device, dtype=self.like.dtype)
        return t.detach().cpu().numpy().astype(np.float64)

    def _torch_kw(self) -> dict:
        dev = self.gen.device if self.gen is not None else (self.like.device if self.tensor else "cpu")
        dtype = self.like.dtype if self.tensor else torch.float64
        return {"generator": self.gen, "device": dev, "dtype": dtype}

    def _back(self, arr: np.ndarray):
        if self.tensor:
            return torch.as_tensor(arr, dtype=self.like.dtype, device=self.like.device)
        return arr

    def normal(self, shape: tuple[int, ...]):
        if self.np_gen is not None:
            return self._back(self.np_gen.standard_normal(shape))
        return self._out(torch.randn(shape, **self._torch_kw()))

    def uniform(self, shape: tuple[int, ...]):
        if self.np_gen is not None:
            return self._back(self.np_gen.random(shape))
        return self._out(torch.rand(shape, **self._torch_kw()))

    def poisson(self, lam):
        if self.np_gen is not None:
            arr = lam.detach().cpu().numpy() if self.tensor else lam
            return self._back(self.np_gen.poisson(arr).astype(np.float64))
        kw = self._torch_kw()
        rate = torch.as_tensor(lam, dtype=kw["dtype"]).to(kw["device"])
        return self._out(torch.poisson(rate, generator=self.gen))


def _check_input(x: Any) -> tuple[Any, Any]:
    """Validate ``x``; return the array/tensor to compute on and a function giving results back in x's type."""
    if _is_tensor(x):
        if not x.is_floating_point():
            raise TypeError(f"image: expected a floating-point tensor, got dtype {x.dtype}")
        if x.dim() < 2:
            raise ValueError(f"image: expected a tensor shaped (..., H, W), got {describe(x)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("image: expected finite values, got NaN or infinity")
        return x, lambda t: t
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


def _n_images(x: Any) -> int:
    """Images in ``x``: the leading axis of a (B, C, H, W) tensor, else 1."""
    return int(x.shape[0]) if _is_tensor(x) and x.dim() >= 4 else 1


def _per_image(values, x: Any):
    """Broadcast one value per image (B,) against x's shape (B, 1, 1, 1), or a scalar for one image."""
    if _is_tensor(x) and x.dim() >= 4:
        return values.reshape(-1, *([1] * (x.dim() - 1)))
    return values.reshape(()) if _is_tensor(values) else float(np.asarray(values).reshape(()))


def _check_level(value: Any, name: str, *, allow_zero: bool = False) -> float | tuple[float, float]:
    """A positive level, or a (low, high) range of them."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected a number or a (low, high) range, got {value!r}")
        lo = check_positive(value[0], f"{name} low", allow_zero=True)
        hi = check_positive(value[1], f"{name} high", allow_zero=allow_zero)
        if hi < lo:
            raise ValueError(f"{name}: expected low <= high, got {value!r}")
        return (float(lo), float(hi))
    return float(check_positive(value, name, allow_zero=allow_zero))


class NoiseModel(nn.Module):
    """Base class of the noise models: ``noise(x, rng=None)`` gives y; :meth:`sample` also the level.

    Models compare equal when they are of the same type with the same parameters.
    """

    def _params(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._params()))

    def __repr__(self) -> str:
        names = self._param_names()
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in zip(names, self._params()))})"

    def _param_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def sample(self, x: Any, *, rng: RNG = None) -> dict[str, Any]:
        """``{"y": noisy x, "sigma": the Gaussian level per image ((B,) tensor for a batch, a float for one
        image) or None}``."""
        raise NotImplementedError

    def forward(self, x: Any, *, rng: RNG = None):
        return self.sample(x, rng=rng)["y"]

    @property
    def sigma_max(self) -> float | None:
        """The largest Gaussian level this model draws (None without a Gaussian part)."""
        s = getattr(self, "sigma", None)
        if s is None:
            return None
        return float(max(s)) if isinstance(s, tuple) else float(s)


def _draw_level(level, d: _Draws, x: Any):
    """The level per image: a constant, or uniform draws from a (low, high) range."""
    n = _n_images(x)
    if isinstance(level, tuple):
        lo, hi = level
        u = d.uniform((n,))
        vals = lo + (hi - lo) * u
    else:
        vals = torch.full((n,), level, dtype=x.dtype, device=x.device) if _is_tensor(x) else np.full((n,), level)
    return vals


def _clip(y, clip: bool):
    if not clip:
        return y
    return y.clamp(0.0, 1.0) if _is_tensor(y) else np.clip(y, 0.0, 1.0)


def _level_out(vals, x: Any):
    return vals if _is_tensor(x) and x.dim() >= 4 else float(np.asarray(
        vals.detach().cpu() if _is_tensor(vals) else vals).reshape(-1)[0])


class GaussianNoise(NoiseModel):
    """Additive white Gaussian noise, ``y = x + sigma * n``, n ~ N(0, 1).

    ``sigma`` is a level (> 0) or a range ``(low, high)`` drawn uniformly per image.

    Examples
    --------
    >>> import torch
    >>> noise = GaussianNoise((0.0, 0.2))
    >>> out = noise.sample(torch.zeros(4, 1, 8, 8), rng=0)
    >>> out["sigma"].shape
    torch.Size([4])
    """

    def __init__(self, sigma: float | tuple[float, float], clip: bool = False) -> None:
        super().__init__()
        self.sigma = _check_level(sigma, "sigma")
        self.clip = bool(clip)

    def _params(self) -> tuple:
        return (self.sigma, self.clip)

    def _param_names(self) -> tuple[str, ...]:
        return ("sigma", "clip")

    def sample(self, x: Any, *, rng: RNG = None) -> dict[str, Any]:
        a, back = _check_input(x)
        d = _Draws(a, rng)
        vals = _draw_level(self.sigma, d, a)
        y = a + _per_image(vals, a) * d.normal(tuple(a.shape))
        return {"y": back(_clip(y, self.clip)), "sigma": _level_out(vals, a)}


class PoissonNoise(NoiseModel):
    """Poisson (shot) noise at ``peak`` photons for a value of 1: ``y = Poisson(peak * x) / peak``.

    Mean ``x``, variance ``x / peak``. Needs ``x >= 0``.
    """

    def __init__(self, peak: float, clip: bool = False) -> None:
        super().__init__()
        self.peak = float(check_positive(peak, "peak"))
        self.clip = bool(clip)

    def _params(self) -> tuple:
        return (self.peak, self.clip)

    def _param_names(self) -> tuple[str, ...]:
        return ("peak", "clip")

    def sample(self, x: Any, *, rng: RNG = None) -> dict[str, Any]:
        a, back = _check_input(x)
        _check_non_negative(a)
        y = _Draws(a, rng).poisson(a * self.peak) / self.peak
        return {"y": back(_clip(y, self.clip)), "sigma": None}


def _check_non_negative(a) -> None:
    lo = float(a.min()) if (a.numel() if _is_tensor(a) else a.size) else 0.0
    if lo < 0:
        raise ValueError(f"image: Poisson noise needs non-negative values, got a minimum of {lo:.3g}")


class PoissonGaussianNoise(NoiseModel):
    """Poisson-Gaussian noise: ``y = Poisson(peak * x) / peak + sigma * n`` (variance ``x / peak + sigma^2``).

    References
    ----------
    A. Foi et al., "Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data",
    IEEE TIP 17(10), 2008.
    """

    def __init__(self, peak: float, sigma: float, clip: bool = False) -> None:
        super().__init__()
        self.peak = float(check_positive(peak, "peak"))
        self.sigma = _check_level(sigma, "sigma", allow_zero=True)
        self.clip = bool(clip)

    def _params(self) -> tuple:
        return (self.peak, self.sigma, self.clip)

    def _param_names(self) -> tuple[str, ...]:
        return ("peak", "sigma", "clip")

    def sample(self, x: Any, *, rng: RNG = None) -> dict[str, Any]:
        a, back = _check_input(x)
        _check_non_negative(a)
        d = _Draws(a, rng)
        shot = d.poisson(a * self.peak) / self.peak
        vals = _draw_level(self.sigma, d, a)
        y = shot + _per_image(vals, a) * d.normal(tuple(a.shape))
        return {"y": back(_clip(y, self.clip)), "sigma": _level_out(vals, a)}


class SaltPepperNoise(NoiseModel):
    """Impulse noise: a fraction ``amount`` of the samples is replaced, by ``high`` (salt) with
    probability ``salt_vs_pepper`` and by ``low`` (pepper) otherwise (as ``skimage.util.random_noise``)."""

    def __init__(self, amount: float, salt_vs_pepper: float = 0.5, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        a = check_positive(amount, "amount", allow_zero=True)
        if a > 1:
            raise ValueError(f"amount: expected a fraction in [0, 1], got {amount!r}")
        s = check_positive(salt_vs_pepper, "salt_vs_pepper", allow_zero=True)
        if s > 1:
            raise ValueError(f"salt_vs_pepper: expected a fraction in [0, 1], got {salt_vs_pepper!r}")
        self.amount, self.salt_vs_pepper = float(a), float(s)
        self.low, self.high = float(low), float(high)

    def _params(self) -> tuple:
        return (self.amount, self.salt_vs_pepper, self.low, self.high)

    def _param_names(self) -> tuple[str, ...]:
        return ("amount", "salt_vs_pepper", "low", "high")

    def sample(self, x: Any, *, rng: RNG = None) -> dict[str, Any]:
        a, back = _check_input(x)
        d = _Draws(a, rng)
        shape = tuple(a.shape)
        hit = d.uniform(shape) < self.amount
        salt = d.uniform(shape) < self.salt_vs_pepper
        if _is_tensor(a):
            y = torch.where(hit & salt, torch.full_like(a, self.high),
                            torch.where(hit & ~salt, torch.full_like(a, self.low), a))
        else:
            y = a.copy()
            y[hit & salt] = self.high
            y[hit & ~salt] = self.low
        return {"y": back(y), "sigma": None}


NOISES = ("gaussian", "poisson", "poisson_gaussian", "salt_pepper")


def add_gaussian_noise(image: Any, sigma: float, *, rng: RNG = None, clip: bool = False):
    """``image + sigma * N(0, 1)`` (fresh noise unless ``rng`` is given).

    Examples
    --------
    >>> import numpy as np
    >>> y = add_gaussian_noise(np.zeros((256, 256)), 0.1, rng=0)
    >>> round(float(y.std()), 2)
    0.1
    """
    return GaussianNoise(sigma, clip)(image, rng=rng)


def add_poisson_noise(image: Any, peak: float, *, rng: RNG = None, clip: bool = False):
    """``Poisson(peak * image) / peak`` (fresh noise unless ``rng`` is given)."""
    return PoissonNoise(peak, clip)(image, rng=rng)


def add_poisson_gaussian_noise(image: Any, peak: float, sigma: float, *, rng: RNG = None, clip: bool = False):
    """``Poisson(peak * image) / peak + sigma * N(0, 1)`` (fresh noise unless ``rng`` is given)."""
    return PoissonGaussianNoise(peak, sigma, clip)(image, rng=rng)


def add_salt_pepper_noise(image: Any, amount: float, *, salt_vs_pepper: float = 0.5, rng: RNG = None):
    """Replace a fraction ``amount`` of the samples by 0 or 1 (fresh noise unless ``rng`` is given)."""
    return SaltPepperNoise(amount, salt_vs_pepper)(image, rng=rng)


def make_noise(spec: Any, *, scale: float = 1.0):
    """Build a noise model from a spec string, a number (Gaussian sigma) or a noise object.

    Specs: ``gaussian:SIGMA``, ``gaussian:LOW-HIGH`` (a level drawn per image from the range),
    ``poisson:PEAK``, ``poisson_gaussian:PEAK:SIGMA``, ``salt_pepper:AMOUNT``.
    Gaussian sigmas are divided by ``scale`` (``scale=255`` reads ``gaussian:25`` on the 0-255 scale,
    as the CLI does); peaks and amounts are not scaled.

    Examples
    --------
    >>> make_noise("gaussian:25", scale=255).sigma == 25 / 255
    True
    """
    if isinstance(spec, NoiseModel):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return GaussianNoise(check_positive(spec, "noise") / scale)
    if not isinstance(spec, str):
        raise TypeError(f"noise: expected a spec string such as 'gaussian:25', a sigma, or a noise object; "
                        f"got {describe(spec)}")
    name, _, rest = spec.partition(":")
    if name == "gaussian" and "-" in rest.strip("-"):
        lo_s, _, hi_s = rest.partition("-")
        try:
            lo, hi = float(lo_s), float(hi_s)
        except ValueError:
            raise ValueError(f"noise: could not read the range in {spec!r}; expected gaussian:LOW-HIGH") from None
        return GaussianNoise((check_positive(lo, "noise sigma low", allow_zero=True) / scale,
                              check_positive(hi, "noise sigma high") / scale))
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
