"""Linear observation operators y = A x with exact adjoints: identity, blur, downsampling, pixel masks.

Operators work on torch tensors shaped ``(..., H, W)`` (any leading batch/channel dimensions), in
float32 or float64, on any device. As a convenience they also take numpy arrays: ``(H, W)`` or
``(H, W, C)`` with channels last, and give numpy back in the same layout and dtype (integer input
is converted to float32 in [0, 1] by aip's one rule).

Every operator is a ``torch.nn.Module`` (``op(x)`` is ``op.A(x)``), so it sits inside a network or a
training loop on batches, on CPU or GPU. ``op2 @ op1`` (or ``Compose(op2, op1)``) is the operator
``x -> op2(op1(x))``; its adjoint is ``op1^T op2^T``. Every operator here passes
``<A x, y> == <x, A^T y>`` to machine precision.

Each operator also has ``norm(shape)`` (the spectral norm by power iteration, the one implementation in
aip) and ``prox_l2(z, y, gamma)``, the proximal operator of the least-squares data term
``x -> argmin_u 1/2 ||A u - y||^2 + 1/(2 gamma) ||u - z||^2``: conjugate gradients on the normal
equations by default, closed forms where the operator has one (identity, pixel masks, circular blur
through the FFT, circular blur + decimation through the aliasing identity of Zhao et al. 2016), so
solvers never need to know which operator they hold.

Convolution convention: ``(k * x)[i] = sum_m k[m] x[i - m + c]`` with the kernel centre
``c = (kh // 2, kw // 2)``, as ``scipy.ndimage.convolve``.

References
----------
M. Terris et al., "DeepInverse: a Python package for solving imaging inverse problems", 2023
(the operator interface, ``physics/forward.py``).
N. Zhao et al., "Fast single image super-resolution using a new analytical solution for l2-l2
problems", IEEE TIP 25(8), 2016.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from aip._shared.validate import as_image, as_mask, check_int, check_positive, describe
from aip.degrade.kernels import check_psf, gaussian

__all__ = [
    "BLUR_MODES",
    "Blur",
    "Compose",
    "Downsample",
    "Identity",
    "LinearOperator",
    "Mask",
    "bicubic_kernel",
    "conjugate_gradient",
]

BLUR_MODES = ("circular", "reflect", "symmetric", "replicate", "zero", "valid")
BlurMode = Literal["circular", "reflect", "symmetric", "replicate", "zero", "valid"]

Shape = tuple[int, int]


def _torch():
    return torch


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "dim")


class LinearOperator(nn.Module, metaclass=abc.ABCMeta):
    """Base class: a linear map between images, with its exact adjoint, as a ``torch.nn.Module``.

    Subclasses implement ``_forward(t)`` and ``_adjoint(t, in_shape)`` on tensors ``(..., H, W)`` and
    ``output_shape((H, W))``; the public :meth:`A` / :meth:`A_adjoint` add the numpy convenience.
    Subclasses with a closed-form proximal step override :meth:`prox_l2`.
    """

    def __init__(self) -> None:
        super().__init__()

    # --- what subclasses implement -------------------------------------------------------------
    @abc.abstractmethod
    def _forward(self, x):
        """A x on a tensor (..., H, W)."""

    @abc.abstractmethod
    def _adjoint(self, y, in_shape: Shape):
        """A^T y on a tensor (..., h, w), returning spatial shape ``in_shape``."""

    def output_shape(self, shape: Shape) -> Shape:
        """Spatial shape of ``A(x)`` for an input of spatial shape ``shape``."""
        return (int(shape[0]), int(shape[1]))

    def input_shape(self, shape: Shape) -> Shape:
        """Default spatial shape of ``A_adjoint(y)`` for ``y`` of spatial shape ``shape``."""
        return (int(shape[0]), int(shape[1]))

    # --- public interface ----------------------------------------------------------------------
    def A(self, x):
        """Apply the operator. Tensors ``(..., H, W)``; numpy ``(H, W)`` or ``(H, W, C)``."""
        return _apply(x, self._forward, "x")

    def A_adjoint(self, y, *, shape: Shape | None = None):
        """Apply the adjoint. ``shape`` is the spatial shape of the operator's input space, needed only
        when it cannot be inferred from ``y`` (downsampling of a size that is not a multiple of the scale).
        """
        def fn(t):
            s = self.input_shape(tuple(t.shape[-2:])) if shape is None else _check_shape(shape)
            expect = self.output_shape(s)
            if tuple(t.shape[-2:]) != expect:
                raise ValueError(
                    f"y: expected spatial shape {expect} for an input shape {s}, got {tuple(t.shape[-2:])}"
                )
            return self._adjoint(t, s)

        return _apply(y, fn, "y")

    def forward(self, x):
        """``op(x)`` is ``op.A(x)`` (the Module call)."""
        return self.A(x)

    def A_adjoint_A(self, x):
        """``A^T A x`` (the normal operator), the input shape taken from ``x``."""
        def fn(t):
            s = tuple(t.shape[-2:])
            return self._adjoint(self._forward(t), s)

        return _apply(x, fn, "x")

    def __matmul__(self, other: LinearOperator) -> Compose:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Compose(self, other)

    def prox_l2(self, z, y, gamma: float, *, x0=None, n_iter: int = 50, tol: float = 1e-6):
        """Proximal operator of the data term: ``argmin_x 1/2 ||A x - y||^2 + 1/(2 gamma) ||x - z||^2``.

        Solves ``(A^T A + I / gamma) x = A^T y + z / gamma``. This generic version runs conjugate
        gradients (``n_iter`` iterations at most, relative residual ``tol``, started from ``x0`` or
        ``z``), each image of a ``(B, ...)`` batch on its own; operators with a closed form override it.

        Parameters
        ----------
        z : tensor (..., H, W)
            The point to stay close to (input space).
        y : tensor (..., h, w)
            The observation (output space).
        gamma : float
            Step size (> 0): large trusts the data, small stays near ``z``.
        """
        _check_prox_args(z, y, gamma)
        g = float(gamma)
        shape = tuple(z.shape[-2:])
        b = self._adjoint(y, shape) + z / g
        return conjugate_gradient(lambda v: self._adjoint(self._forward(v), shape) + v / g, b,
                                  z if x0 is None else x0, n_iter=n_iter, tol=tol)

    def norm(self, shape: Shape | None = None, *, n_iter: int = 100, dtype=None, device=None,
             seed: int = 0) -> float:
        """Spectral norm ||A||_2 on inputs of spatial ``shape``, by power iteration on A^T A.

        ``shape`` may be left out when the operator fixes it (a mask). Deterministic: the start vector is
        drawn from ``seed``.
        """
        if shape is None:
            shape = self._fixed_shape()
            if shape is None:
                raise ValueError(f"shape: expected the (H, W) of the input space for {self!r}, got None")
        dtype = torch.float64 if dtype is None else dtype
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(_check_shape(shape), generator=g, dtype=dtype).to(device or "cpu")
        x = x / x.norm()
        lam = 0.0
        for _ in range(check_int(n_iter, "n_iter", low=1)):
            z = self._adjoint(self._forward(x), tuple(x.shape))
            lam = float(z.norm())
            if lam == 0.0:
                return 0.0
            x = z / lam
        return math.sqrt(lam)

    def _fixed_shape(self) -> Shape | None:
        """The input shape when the operator fixes it, else None."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_prox_args(z, y, gamma) -> None:
    for name, t in (("z", z), ("y", y)):
        if not _is_tensor(t):
            raise TypeError(f"{name}: expected a torch tensor (..., H, W), got {describe(t)}")
    if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma: expected a positive finite step, got {gamma!r}")


def _batch_sum(t):
    """Per-image sums of squares over a leading batch axis (B, ...) -> (B, 1, ..., 1); whole-tensor
    sum for tensors of 3 or fewer dimensions (one image)."""
    if t.dim() >= 4:
        return t.reshape(t.shape[0], -1).sum(1).reshape(-1, *([1] * (t.dim() - 1)))
    return t.sum().reshape([1] * t.dim())


def conjugate_gradient(apply, b, x0=None, *, n_iter: int = 50, tol: float = 1e-6):
    """Solve ``apply(x) = b`` for a symmetric positive definite linear map by conjugate gradients.

    For batches ``(B, ...)`` (4 or more dimensions) every image is its own system: its own step sizes,
    and it stops changing once its residual is below ``tol`` relative to its ``b``, so a batch gives the
    same result as its images one at a time.
    """
    x = b.clone() if x0 is None else x0.clone()
    r = b - apply(x)
    p = r.clone()
    rs = _batch_sum(r * r)
    limit = (tol * tol) * torch.clamp(_batch_sum(b * b), min=1e-30)
    for _ in range(n_iter):
        active = rs > limit
        if not bool(active.any()):
            break
        ap = apply(p)
        alpha = torch.where(active, rs / torch.clamp(_batch_sum(p * ap), min=1e-30), torch.zeros_like(rs))
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = _batch_sum(r * r)
        beta = torch.where(active, rs_new / torch.clamp(rs, min=1e-30), torch.zeros_like(rs))
        p = torch.where(active, r + beta * p, p)
        rs = torch.where(active, rs_new, rs)
    return x


def _check_shape(shape: Any) -> Shape:
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape: expected (H, W), got {shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"shape: expected positive sizes, got {shape!r}")
    return (h, w)


def _apply(x: Any, fn, name: str):
    """Run a tensor function on a tensor, or on a numpy (H, W) / (H, W, C) array and back."""
    if _is_tensor(x):
        if x.dim() < 2:
            raise ValueError(f"{name}: expected a tensor shaped (..., H, W), got {describe(x)}")
        if not x.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
        return fn(x)
    torch = _torch()
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype.itemsize >= 4:
        if arr.ndim not in (2, 3):
            raise ValueError(f"{name}: expected an (H, W) or (H, W, C) array, got {describe(arr)}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    else:
        arr = as_image(arr, name, ndim=(2, 3), dtype=np.float32)
    if arr.ndim == 2:
        return fn(torch.from_numpy(np.ascontiguousarray(arr))).numpy()
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(arr, -1, 0)))
    return np.ascontiguousarray(np.moveaxis(fn(t).numpy(), 0, -1))


class _TensorCache:
    """Per (dtype, device[, shape]) cache of tensors derived from a numpy array."""

    def __init__(self) -> None:
        self._store: dict = {}

    def get(self, key, make):
        val = self._store.get(key)
        if val is None:
            val = make()
            if len(self._store) > 16:
                self._store.clear()
            self._store[key] = val
        return val


class Identity(LinearOperator):
    """The identity, ``A x = x`` (denoising)."""

    def _forward(self, x):
        return x

    def _adjoint(self, y, in_shape):
        return y

    def prox_l2(self, z, y, gamma: float, **_: Any):
        """Closed form ``(z + gamma y) / (1 + gamma)``."""
        _check_prox_args(z, y, gamma)
        return (z + float(gamma) * y) / (1.0 + float(gamma))


def _pad_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """Source index of every position of a padded axis (-1 for a zero)."""
    j = np.arange(-before, n + after)
    if mode == "zero":
        return np.where((j >= 0) & (j < n), j, -1)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "symmetric":  # ... b a | a b c | c b ...
        period = 2 * n
        m = np.mod(j, period)
        return np.where(m < n, m, period - 1 - m)
    if mode == "reflect":  # ... c b | a b c | b a ...
        if n == 1:
            return np.zeros_like(j)
        period = 2 * n - 2
        m = np.mod(j, period)
        return np.where(m < n, m, period - m)
    raise ValueError(f"mode: unknown padding mode {mode!r}")


class Blur(LinearOperator):
    """Convolution with a point spread function.

    Parameters
    ----------
    psf : array_like
        2-D, finite, non-negative kernel; it is divided by its sum. Centre at ``(kh // 2, kw // 2)``.
    mode : {"circular", "reflect", "symmetric", "replicate", "zero", "valid"}
        Boundary model. ``"circular"``: periodic convolution through the FFT (diagonalised by the DFT,
        see :meth:`otf`). ``"reflect"`` (d c b | a b c d | c b a), ``"symmetric"`` (b a | a b c d | d c),
        ``"replicate"``, ``"zero"``: the image is padded, then convolved; output the size of the input.
        (``allow_negative=True`` admits kernels with negative lobes such as the bicubic one.)
        ``"valid"``: only the fully-supported outputs, ``(H - kh + 1, W - kw + 1)``. Every mode has an
        exact adjoint (the transposed padding folds the reflected contributions back).

    Examples
    --------
    >>> import numpy as np
    >>> from aip.degrade import Blur, gaussian
    >>> op = Blur(gaussian(1.6), mode="reflect")
    >>> y = op.A(np.random.default_rng(0).random((32, 32)))
    >>> y.shape
    (32, 32)
    """

    def __init__(self, psf: Any, mode: BlurMode = "circular", *, allow_negative: bool = False) -> None:
        super().__init__()
        if mode not in BLUR_MODES:
            raise ValueError(f"mode: expected one of {', '.join(BLUR_MODES)}; got {mode!r}")
        self.psf = check_psf(psf, allow_negative=allow_negative)
        self.mode = mode
        kh, kw = self.psf.shape
        self.center = (kh // 2, kw // 2)
        # padding so that a valid correlation of the padded image is the centred convolution
        self._pad = (kh - 1 - kh // 2, kh // 2, kw - 1 - kw // 2, kw // 2)  # top, bottom, left, right
        self._cache = _TensorCache()

    def __repr__(self) -> str:
        return f"Blur(psf={self.psf.shape}, mode={self.mode!r})"

    def output_shape(self, shape: Shape) -> Shape:
        h, w = int(shape[0]), int(shape[1])
        if self.mode == "valid":
            kh, kw = self.psf.shape
            return (h - kh + 1, w - kw + 1)
        return (h, w)

    def input_shape(self, shape: Shape) -> Shape:
        h, w = int(shape[0]), int(shape[1])
        if self.mode == "valid":
            kh, kw = self.psf.shape
            return (h + kh - 1, w + kw - 1)
        return (h, w)

    # --- Fourier side ---------------------------------------------------------------------------
    def otf(self, shape: Shape, *, dtype=None, device=None):
        """Optical transfer function: the DFT of the PSF zero-padded to ``shape`` and circularly shifted
        so its centre sits at (0, 0) (MATLAB's ``psf2otf``). Complex tensor ``(H, W)``; circular blur is
        ``ifft2(otf * fft2(x))``.
        """
        torch = _torch()
        h, w = _check_shape(shape)
        kh, kw = self.psf.shape
        if kh > h or kw > w:
            raise ValueError(f"shape: the PSF {self.psf.shape} is larger than the image {(h, w)}")
        dtype = torch.float64 if dtype is None else dtype
        real = torch.float32 if dtype in (torch.float32, torch.complex64) else torch.float64
        dev = torch.device(device) if device is not None else torch.device("cpu")

        def make():
            pad = np.zeros((h, w))
            pad[:kh, :kw] = self.psf
            pad = np.roll(pad, (-self.center[0], -self.center[1]), axis=(0, 1))
            return torch.fft.fft2(torch.as_tensor(pad, dtype=real, device=dev))

        return self._cache.get(("otf", h, w, real, dev), make)

    def _rotf(self, shape: Shape, real, dev, *, shift: int = 0, full: bool = False):
        """Half-spectrum (``rfft2``) OTF, or the full one with ``full=True``; ``shift`` moves the centre
        by (shift, shift), i.e. the OTF of ``roll(k * x, -shift)``."""
        torch = _torch()
        h, w = shape
        kh, kw = self.psf.shape
        if kh > h or kw > w:
            raise ValueError(f"x: the PSF {self.psf.shape} is larger than the image {(h, w)} in circular mode")

        def make():
            pad = np.zeros((h, w))
            pad[:kh, :kw] = self.psf
            pad = np.roll(pad, (-self.center[0] - shift, -self.center[1] - shift), axis=(0, 1))
            t = torch.as_tensor(pad, dtype=real, device=dev)
            return torch.fft.fft2(t) if full else torch.fft.rfft2(t)

        return self._cache.get(("rotf", h, w, real, dev, shift, full), make)

    def prox_l2(self, z, y, gamma: float, **kwargs: Any):
        """Closed form in the Fourier domain for circular blur (``A^T A`` is diagonal there, with
        eigenvalues ``|H|^2``); conjugate gradients for the other boundary models."""
        if self.mode != "circular":
            return super().prox_l2(z, y, gamma, **kwargs)
        _check_prox_args(z, y, gamma)
        torch = _torch()
        g = float(gamma)
        h, w = z.shape[-2:]
        if tuple(y.shape[-2:]) != (h, w):
            raise ValueError(f"y: expected spatial shape {(h, w)}, got {tuple(y.shape[-2:])}")
        rotf = self._rotf((h, w), z.dtype, z.device)
        num = rotf.conj() * torch.fft.rfft2(y) + torch.fft.rfft2(z) / g
        return torch.fft.irfft2(num / (rotf.abs().pow(2) + 1.0 / g), s=(h, w))

    # --- spatial side ---------------------------------------------------------------------------
    def _weight(self, dtype, dev):
        torch = _torch()
        return self._cache.get(
            ("w", dtype, dev),
            lambda: torch.as_tensor(self.psf[::-1, ::-1].copy(), dtype=dtype, device=dev)[None, None],
        )

    def _indices(self, shape: Shape, dev):
        torch = _torch()
        h, w = shape
        t, b, l, r = self._pad

        def make():
            ri = _pad_index(h, t, b, self.mode)
            ci = _pad_index(w, l, r, self.mode)
            return (torch.as_tensor(ri, device=dev), torch.as_tensor(ci, device=dev))

        return self._cache.get(("idx", h, w, dev), make)

    def _use_fft(self, t) -> bool:
        """Valid convolutions of float64 tensors on the CPU go through the FFT for kernels above 3x3: torch's
        float64 conv2d there unfolds the image (kh * kw copies: 8 GB and 26 s for a 13x13 blur of a 1.9-MP
        RGB image), while the FFT needs a few copies and equals it to float64 rounding."""
        kh, kw = self.psf.shape
        return t.dtype == _torch().float64 and t.device.type == "cpu" and kh * kw > 9

    def _psf_spectrum(self, shape: Shape, dtype, dev):
        """``rfft2`` of the PSF at the top-left of a zero array of ``shape`` (linear convolution by the FFT)."""
        torch = _torch()
        h, w = shape
        kh, kw = self.psf.shape

        def make():
            pad = torch.zeros(h, w, dtype=dtype, device=dev)
            pad[:kh, :kw] = torch.as_tensor(self.psf, dtype=dtype, device=dev)
            return torch.fft.rfft2(pad)

        return self._cache.get(("psfspec", h, w, dtype, dev), make)

    def _conv_valid(self, xp):
        torch = _torch()
        lead = xp.shape[:-2]
        if self._use_fft(xp):  # the valid part of a circular convolution has no wrapped terms
            kh, kw = self.psf.shape
            hp, wp = xp.shape[-2:]
            full = torch.fft.irfft2(torch.fft.rfft2(xp) * self._psf_spectrum((hp, wp), xp.dtype, xp.device),
                                    s=(hp, wp))
            return full[..., kh - 1:, kw - 1:].contiguous()
        z = torch.nn.functional.conv2d(xp.reshape(-1, 1, *xp.shape[-2:]), self._weight(xp.dtype, xp.device))
        return z.reshape(*lead, *z.shape[-2:])

    def _conv_valid_adjoint(self, y):
        torch = _torch()
        lead = y.shape[:-2]
        if self._use_fft(y):  # adjoint of (select the valid part) o (circular convolution)
            kh, kw = self.psf.shape
            hp, wp = y.shape[-2] + kh - 1, y.shape[-1] + kw - 1
            yp = torch.nn.functional.pad(y, (kw - 1, 0, kh - 1, 0))
            return torch.fft.irfft2(torch.fft.rfft2(yp) * self._psf_spectrum((hp, wp), y.dtype, y.device).conj(),
                                    s=(hp, wp))
        z = torch.nn.functional.conv_transpose2d(y.reshape(-1, 1, *y.shape[-2:]), self._weight(y.dtype, y.device))
        return z.reshape(*lead, *z.shape[-2:])

    def _forward(self, x):
        torch = _torch()
        h, w = x.shape[-2:]
        if self.mode == "circular":
            rotf = self._rotf((h, w), x.dtype, x.device)
            return torch.fft.irfft2(torch.fft.rfft2(x) * rotf, s=(h, w))
        if self.mode == "valid":
            kh, kw = self.psf.shape
            if kh > h or kw > w:
                raise ValueError(f"x: the PSF {self.psf.shape} is larger than the image {(h, w)} in valid mode")
            return self._conv_valid(x)
        if self.mode == "zero":
            t, b, l, r = self._pad
            return self._conv_valid(torch.nn.functional.pad(x, (l, r, t, b)))
        ri, ci = self._indices((h, w), x.device)
        return self._conv_valid(x.index_select(-2, ri).index_select(-1, ci))

    def _adjoint(self, y, in_shape):
        torch = _torch()
        h, w = in_shape
        if self.mode == "circular":
            rotf = self._rotf((h, w), y.dtype, y.device)
            return torch.fft.irfft2(torch.fft.rfft2(y) * rotf.conj(), s=(h, w))
        g = self._conv_valid_adjoint(y)
        if self.mode == "valid":
            return g
        t, _, l, _ = self._pad
        if self.mode == "zero":
            return g[..., t:t + h, l:l + w]
        ri, ci = self._indices((h, w), y.device)
        lead = g.shape[:-2]
        g1 = torch.zeros(*lead, h, g.shape[-1], dtype=g.dtype, device=g.device).index_add_(-2, ri, g)
        return torch.zeros(*lead, h, w, dtype=g.dtype, device=g.device).index_add_(-1, ci, g1)


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5, as MATLAB's imresize and Pillow's BICUBIC)."""
    ax = np.abs(x)
    out = np.zeros_like(ax)
    m1 = ax <= 1
    m2 = (ax > 1) & (ax < 2)
    out[m1] = (a + 2) * ax[m1] ** 3 - (a + 3) * ax[m1] ** 2 + 1
    out[m2] = a * ax[m2] ** 3 - 5 * a * ax[m2] ** 2 + 8 * a * ax[m2] - 4 * a
    return out


def bicubic_kernel(scale: int) -> np.ndarray:
    """The anti-aliased bicubic kernel of an integer downscale by ``scale`` (MATLAB ``imresize``/Pillow):
    ``cubic(d / scale) / scale`` at the input-pixel offsets ``d`` from an output pixel's centre.
    Size ``4 * scale`` for even scales (the centre falls between pixels), ``4 * scale - 1`` for odd ones.
    """
    s = check_int(scale, "scale", low=1)
    if s == 1:
        return np.ones((1, 1))
    if s % 2 == 0:
        d = np.arange(-2 * s + 0.5, 2 * s, 1.0)
    else:
        d = np.arange(-2 * s + 1, 2 * s, 1.0)
    k1 = _cubic(d / s)
    k1 /= k1.sum()
    return np.outer(k1, k1)


class Downsample(LinearOperator):
    """Blur then decimation by an integer ``scale``: ``y = (k * x)[o::s, o::s]``.

    Parameters
    ----------
    scale : int
        Decimation factor (>= 1).
    kernel : {"bicubic", "gaussian", "box", "none"} or array_like
        Anti-aliasing kernel: ``"bicubic"`` (the anti-aliased Keys kernel of MATLAB's ``imresize``),
        ``"gaussian"`` (standard deviation ``sigma``, default ``scale / 2``), ``"box"`` (block averaging),
        ``"none"`` (plain decimation), or any PSF array.
    mode : str
        Boundary model of the blur (see :class:`Blur`); ``"circular"`` keeps the operator FFT-friendly,
        ``"symmetric"`` matches ``imresize``.
    offset : int, optional
        First sampled pixel. By default the sampling grid is centred in each ``scale`` x ``scale`` block
        as far as the kernel allows (exactly for bicubic and box kernels).

    Notes
    -----
    The adjoint is exact: zero-filling upsampling followed by the adjoint of the blur. For sizes that
    are not multiples of ``scale`` pass ``shape=`` to :meth:`A_adjoint`.

    Examples
    --------
    >>> import numpy as np
    >>> from aip.degrade import Downsample
    >>> Downsample(2).A(np.ones((16, 16))).shape
    (8, 8)
    """

    def __init__(self, scale: int, kernel: str | Any = "bicubic", *, mode: BlurMode = "circular",
                 sigma: float | None = None, offset: int | None = None) -> None:
        super().__init__()
        self.scale = s = check_int(scale, "scale", low=1)
        if isinstance(kernel, str):
            if kernel == "bicubic":
                k = bicubic_kernel(s)
            elif kernel == "gaussian":
                k = gaussian(s / 2.0 if sigma is None else check_positive(sigma, "sigma"))
            elif kernel == "box":
                k = np.full((s, s), 1.0 / (s * s))
            elif kernel == "none":
                k = np.ones((1, 1))
            else:
                raise ValueError(
                    f"kernel: expected 'bicubic', 'gaussian', 'box', 'none' or a 2-D PSF array; got {kernel!r}"
                )
            self.kernel_name = kernel
        else:
            k = check_psf(kernel, "kernel")
            self.kernel_name = "psf"
        self.kernel = k
        self.blur = Blur(k, mode=mode, allow_negative=self.kernel_name == "bicubic")
        self.mode = mode
        if offset is None:
            kh = k.shape[0]
            delta = (kh // 2) - (kh - 1) / 2.0  # kernel centre relative to the output index
            offset = math.floor((s - 1) / 2.0 - delta + 1e-9)
            offset = max(0, min(offset, s - 1))
        self.offset = check_int(offset, "offset", low=0, high=s - 1)

    def __repr__(self) -> str:
        return f"Downsample(scale={self.scale}, kernel={self.kernel_name!r}, mode={self.mode!r})"

    def otf(self, shape: Shape, *, dtype=None, device=None):
        """Transfer function of the blur part on the high-resolution grid ``shape`` (circular mode)."""
        return self.blur.otf(shape, dtype=dtype, device=device)

    def output_shape(self, shape: Shape) -> Shape:
        bh, bw = self.blur.output_shape(shape)
        s, o = self.scale, self.offset
        return (max(0, -(-(bh - o) // s)), max(0, -(-(bw - o) // s)))

    def input_shape(self, shape: Shape) -> Shape:
        h, w = int(shape[0]), int(shape[1])
        return self.blur.input_shape((h * self.scale, w * self.scale))

    def _forward(self, x):
        s, o = self.scale, self.offset
        z = self.blur._forward(x)
        return z[..., o::s, o::s]

    def prox_l2(self, z, y, gamma: float, **kwargs: Any):
        """Closed form for circular blur + decimation on sizes that are multiples of the scale (Zhao et
        al. 2016): with ``F`` the DFT, ``H`` the OTF and ``alpha = 1 / gamma``,
        ``x = F^-1[(R - conj(H) (H R)_s / ((|H|^2)_s + alpha)) / alpha]`` where ``R = conj(H) F(S^T y) +
        alpha F(z)`` and ``(.)_s`` averages the ``s x s`` aliased copies of the spectrum (the Fourier form
        of decimation followed by zero-filling). Conjugate gradients otherwise."""
        h, w = z.shape[-2:]
        s = self.scale
        if self.mode != "circular" or h % s or w % s:
            return super().prox_l2(z, y, gamma, **kwargs)
        _check_prox_args(z, y, gamma)
        if tuple(y.shape[-2:]) != self.output_shape((h, w)):
            raise ValueError(f"y: expected spatial shape {self.output_shape((h, w))}, got {tuple(y.shape[-2:])}")
        torch = _torch()
        alpha = 1.0 / float(gamma)
        real = z.dtype
        fh = self.blur._rotf((h, w), real, z.device, shift=self.offset, full=True)
        up = torch.zeros(*y.shape[:-2], h, w, dtype=y.dtype, device=y.device)
        up[..., ::s, ::s] = y
        r = fh.conj() * torch.fft.fft2(up) + alpha * torch.fft.fft2(z)

        def fold(t):  # mean of the s x s aliased blocks of a (..., H, W) spectrum -> (..., H/s, W/s)
            t = t.reshape(*t.shape[:-2], s, h // s, s, w // s)
            return t.mean(dim=(-4, -2))

        inv_w = fold(fh.abs().pow(2)) + alpha
        corr = (fold(fh * r) / inv_w).repeat(*([1] * (r.dim() - 2)), s, s)
        return torch.fft.ifft2((r - fh.conj() * corr) / alpha).real.to(real)

    def _adjoint(self, y, in_shape):
        torch = _torch()
        s, o = self.scale, self.offset
        bh, bw = self.blur.output_shape(in_shape)
        z = torch.zeros(*y.shape[:-2], bh, bw, dtype=y.dtype, device=y.device)
        z[..., o::s, o::s] = y
        return self.blur._adjoint(z, in_shape)


class Mask(LinearOperator):
    """Pixel mask for inpainting: ``mask`` is True where pixels are MISSING (as in scikit-image);
    ``A x`` keeps the observed pixels and puts zeros elsewhere. Self-adjoint.

    ``mask`` is a 2-D boolean array ``(H, W)`` (broadcast over leading/channel dimensions).
    """

    def __init__(self, mask: Any) -> None:
        super().__init__()
        self.mask = as_mask(mask).copy()
        self._cache = _TensorCache()

    def __repr__(self) -> str:
        return f"Mask(shape={self.mask.shape}, missing={self.mask.mean():.3f})"

    @property
    def observed(self) -> np.ndarray:
        """Boolean array, True where pixels are observed."""
        return ~self.mask

    def _keep(self, t):
        torch = _torch()
        if tuple(t.shape[-2:]) != self.mask.shape:
            raise ValueError(
                f"x: expected spatial shape {self.mask.shape} to match the mask, got {tuple(t.shape[-2:])}"
            )
        return self._cache.get(
            (t.dtype, t.device), lambda: torch.as_tensor(~self.mask, dtype=t.dtype, device=t.device)
        )

    def output_shape(self, shape: Shape) -> Shape:
        return (int(shape[0]), int(shape[1]))

    def _forward(self, x):
        return x * self._keep(x)

    def _adjoint(self, y, in_shape):
        return y * self._keep(y)

    def _fixed_shape(self) -> Shape:
        return tuple(self.mask.shape)

    def prox_l2(self, z, y, gamma: float, **_: Any):
        """Pointwise closed form: ``(z + gamma y)/(1 + gamma)`` on observed pixels, ``z`` on missing ones."""
        _check_prox_args(z, y, gamma)
        keep = self._keep(z)
        g = float(gamma)
        return (z + g * keep * y) / (1.0 + g * keep)


class Compose(LinearOperator):
    """Composition in mathematical order: ``Compose(B, A)(x) == B(A(x))``, same as ``B @ A``."""

    def __init__(self, *ops: LinearOperator) -> None:
        super().__init__()
        if not ops:
            raise ValueError("Compose: expected at least one operator, got none")
        flat: list[LinearOperator] = []
        for op in ops:
            if not isinstance(op, LinearOperator):
                raise TypeError(f"Compose: expected LinearOperator instances, got {describe(op)}")
            flat.extend(op.ops if isinstance(op, Compose) else [op])
        self.ops = nn.ModuleList(flat)  # mathematical order: the last one is applied first

    def _fixed_shape(self) -> Shape | None:
        return self.ops[-1]._fixed_shape()

    def prox_l2(self, z, y, gamma: float, **kwargs: Any):
        """The closed form of the single operator when it is alone, conjugate gradients otherwise."""
        if len(self.ops) == 1:
            return self.ops[0].prox_l2(z, y, gamma, **kwargs)
        return super().prox_l2(z, y, gamma, **kwargs)

    def __repr__(self) -> str:
        return " @ ".join(repr(op) for op in self.ops)

    def output_shape(self, shape: Shape) -> Shape:
        for op in reversed(self.ops):
            shape = op.output_shape(shape)
        return shape

    def input_shape(self, shape: Shape) -> Shape:
        for op in self.ops:
            shape = op.input_shape(shape)
        return shape

    def _forward(self, x):
        for op in reversed(self.ops):
            x = op._forward(x)
        return x

    def _adjoint(self, y, in_shape):
        shapes = [tuple(in_shape)]
        for op in reversed(self.ops[1:]):
            shapes.append(op.output_shape(shapes[-1]))
        # shapes[i] is the input shape of reversed(self.ops)[i]
        for op, s in zip(self.ops, reversed(shapes)):
            y = op._adjoint(y, s)
        return y
