"""Blur kernels (point spread functions): Gaussian, box, disk, linear motion, random motion, user PSFs.

Every kernel is a 2-D float64 array, non-negative, summing to 1, with its centre at ``(kh // 2, kw // 2)``
(the convention of :class:`aip.degrade.Blur` and of ``scipy.ndimage.convolve``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aip._shared.validate import check_int, check_positive, describe

__all__ = ["KERNELS", "box", "check_kernel_size", "check_psf", "disk", "gaussian", "kernel_shape", "make_kernel",
           "motion", "random_motion"]


def check_psf(psf: Any, name: str = "psf", *, normalize: bool = True,
              allow_negative: bool = False) -> np.ndarray:
    """Validate a user PSF: a 2-D, finite, non-negative array with a positive sum.

    Returns a float64 copy, divided by its sum when ``normalize`` (the default). ``allow_negative``
    admits interpolation kernels with negative lobes (bicubic); physical PSFs are non-negative.

    Examples
    --------
    >>> float(check_psf([[1, 1], [1, 1]]).sum())
    1.0
    """
    if hasattr(psf, "detach") and hasattr(psf, "cpu"):
        psf = psf.detach().cpu().numpy()
    try:
        arr = np.asarray(psf, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a 2-D numeric array, got {describe(psf)}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got {describe(arr)}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected a non-empty array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    if not allow_negative and np.any(arr < 0):
        raise ValueError(f"{name}: expected non-negative values, got a minimum of {arr.min():.3g}")
    total = arr.sum()
    if total <= 0:
        raise ValueError(f"{name}: expected a positive sum, got {total:.3g}")
    return arr / total if normalize else arr.copy()


def gaussian(sigma: float, size: int | None = None) -> np.ndarray:
    """Isotropic Gaussian kernel of standard deviation ``sigma`` pixels.

    ``size`` defaults to ``2 * ceil(3 * sigma) + 1`` (odd, +-3 sigma).

    Examples
    --------
    >>> k = gaussian(1.6)
    >>> k.shape, round(float(k.sum()), 12)
    ((11, 11), 1.0)
    """
    s = check_positive(sigma, "sigma")
    n = 2 * math.ceil(3 * s) + 1 if size is None else check_int(size, "size", low=1)
    r = np.arange(n, dtype=np.float64) - n // 2
    g = np.exp(-0.5 * (r / s) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def box(size: int, width: int | None = None) -> np.ndarray:
    """Uniform ``size`` x ``width`` kernel (``width`` defaults to ``size``)."""
    h = check_int(size, "size", low=1)
    w = h if width is None else check_int(width, "width", low=1)
    return np.full((h, w), 1.0 / (h * w))


def disk(radius: float, *, supersample: int = 8) -> np.ndarray:
    """Out-of-focus (pill-box) kernel: the area fraction of each pixel inside a disk of ``radius``.

    Pixel coverage is computed by ``supersample`` x ``supersample`` sub-sampling, so the edge is
    anti-aliased (like MATLAB's ``fspecial('disk')``).
    """
    r = check_positive(radius, "radius")
    ss = check_int(supersample, "supersample", low=1)
    half = math.ceil(r - 0.5) if r > 0.5 else 0
    n = 2 * half + 1
    sub = (np.arange(n * ss, dtype=np.float64) + 0.5) / ss - n / 2.0
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    inside = (xx * xx + yy * yy) <= r * r
    k = inside.reshape(n, ss, n, ss).mean(axis=(1, 3))
    if k.sum() == 0:  # radius smaller than a sub-sample: a delta
        k[half, half] = 1.0
    return k / k.sum()


def motion(length: float, angle: float = 0.0, *, size: int | None = None, supersample: int = 8) -> np.ndarray:
    """Linear motion blur: a line segment of ``length`` pixels at ``angle`` degrees (counter-clockwise
    from the x axis), centred, rasterised by sub-pixel sampling of the segment (each sample counts
    for the pixel it falls in, so the kernel is the length of path inside each pixel).
    ``motion(9, 0)`` is a 1 x 9 average in a 9 x 9 kernel, like MATLAB's ``fspecial('motion', 9, 0)``.

    ``size`` (odd) defaults to the smallest odd size holding the segment.
    """
    length = check_positive(length, "length")
    angle = float(angle)
    if not math.isfinite(angle):
        raise ValueError(f"angle: expected a finite number of degrees, got {angle!r}")
    t = np.deg2rad(angle)
    r = length / 2.0
    half = max(0, math.ceil(max(abs(r * math.cos(t)), abs(r * math.sin(t))) - 0.5 - 1e-9))
    n = 2 * half + 1 if size is None else check_int(size, "size", low=1)
    c = n // 2
    n_samples = max(1, math.ceil(length * supersample))
    s = (np.arange(n_samples) + 0.5) / n_samples * length - r  # mid-points of equal pieces
    xs = np.rint(c + s * math.cos(t)).astype(int)
    ys = np.rint(c - s * math.sin(t)).astype(int)  # rows grow downwards
    k = np.zeros((n, n))
    ok = (ys >= 0) & (ys < n) & (xs >= 0) & (xs < n)
    np.add.at(k, (ys[ok], xs[ok]), 1.0)
    if k.sum() == 0:
        k[c, c] = 1.0
    return k / k.sum()


def random_motion(size: int = 17, *, rng: int | np.random.Generator | None = None, intensity: float = 0.5,
                  n_steps: int | None = None) -> np.ndarray:
    """Random camera-shake kernel from a seeded random walk (after Schuler et al. / DeblurGAN's trajectories).

    A 2-D trajectory with momentum and random jerks is traced, splatted with bilinear weights onto a
    ``size`` x ``size`` grid, and centred by its centre of mass. ``intensity`` in [0, 1] scales the
    jerkiness. The same ``rng`` seed gives the same kernel.

    References
    ----------
    G. Boracchi and A. Foi, "Modeling the performance of image restoration from motion blur",
    IEEE TIP 21(8), 2012.
    """
    n = check_int(size, "size", low=3)
    it = check_positive(intensity, "intensity", allow_zero=True)
    gen = _rng(rng)
    steps = 4 * n if n_steps is None else check_int(n_steps, "n_steps", low=2)
    # random walk with momentum: velocity changes by small Gaussian steps and occasional jerks
    v = np.exp(1j * gen.uniform(0, 2 * np.pi))
    pos = np.zeros(steps, dtype=complex)
    for i in range(1, steps):
        jerk = gen.normal() + 1j * gen.normal()
        if gen.random() < 0.05 * it:
            jerk *= 4.0
        v = v + it * 0.4 * jerk - 0.05 * pos[i - 1] / max(n / 4.0, 1.0)
        v = v / max(abs(v), 1e-12)
        pos[i] = pos[i - 1] + v
    pos -= pos.mean()
    extent = max(np.abs(pos.real).max(), np.abs(pos.imag).max(), 1e-12)
    pos *= (n / 2.0 - 1.5) / extent if extent > n / 2.0 - 1.5 else 1.0
    xs = pos.real + n // 2
    ys = pos.imag + n // 2
    k = np.zeros((n, n))
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < n) & (xx >= 0) & (xx < n)
        np.add.at(k, (yy[ok], xx[ok]), w[ok])
    return k / k.sum()


def _rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng: expected an int seed, a numpy Generator or None, got {describe(rng)}")


KERNELS = ("gaussian", "box", "disk", "motion", "random_motion")


# Spec strings without an image to compare with are bounded by this side (4097^2 float64 = 134 MB; a
# Gaussian of sigma 680). With the image's shape the bound is twice its larger side + 1.
MAX_KERNEL_SIDE = 4097


def kernel_shape(spec: Any) -> tuple[int, int] | None:
    """The (height, width) a spec string would give, computed without building the kernel.

    None for arrays, files and specs that do not parse (:func:`make_kernel` words those errors).

    Examples
    --------
    >>> kernel_shape("gaussian:1.6"), kernel_shape("box:9"), kernel_shape("motion:9:30")
    ((11, 11), (9, 9), (9, 9))
    """
    if not isinstance(spec, str):
        return None
    name, _, rest = spec.partition(":")
    args = [a for a in rest.split(":") if a != ""] if rest else []
    try:
        vals = [float(a) for a in args]
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in vals) or any(v <= 0 for v in vals[:1]):
        return None
    n = None
    if name == "gaussian" and 1 <= len(vals) <= 2:
        n = vals[1] if len(vals) > 1 else 2 * math.ceil(3 * vals[0]) + 1
    elif name == "box" and len(vals) == 1:
        n = vals[0]
    elif name == "disk" and len(vals) == 1:
        n = 2 * (math.ceil(vals[0] - 0.5) if vals[0] > 0.5 else 0) + 1
    elif name == "motion" and 1 <= len(vals) <= 2:
        t, r = math.radians(vals[1] if len(vals) > 1 else 0.0), vals[0] / 2.0
        n = 2 * max(0, math.ceil(max(abs(r * math.cos(t)), abs(r * math.sin(t))) - 0.5 - 1e-9)) + 1
    elif name == "random_motion" and len(vals) <= 1:
        n = vals[0] if vals else 17
    if n is None:
        return None
    return int(n), int(n)


def check_kernel_size(spec: Any, shape: Any, name: str = "kernel") -> None:
    """Refuse (one-line ValueError) a spec whose kernel has a side over twice the image's larger side + 1.

    A larger kernel blurs nothing more than the image holds but costs its size squared in memory
    (``box:100000`` is 74.5 GiB); the check runs on the spec, before anything is allocated.
    """
    h, w = (int(v) for v in tuple(shape)[:2])
    limit = 2 * max(h, w) + 1
    ks = kernel_shape(spec)
    if ks is not None and max(ks) > limit:
        raise ValueError(f"{name}: expected a kernel of at most {limit}x{limit} pixels (twice the larger side "
                         f"of the {w}x{h} image, + 1), got {spec!r} = {ks[1]}x{ks[0]}")


def make_kernel(spec: str | np.ndarray, *, rng: int | np.random.Generator | None = None,
                shape: Any = None) -> np.ndarray:
    """Build a kernel from a spec string or validate an array.

    Spec strings: ``gaussian:SIGMA[:SIZE]``, ``box:SIZE``, ``disk:RADIUS``, ``motion:LENGTH[:ANGLE]``,
    ``random_motion[:SIZE]`` (seeded with ``rng``), or the path of a ``.npy`` / image file holding a PSF.
    With ``shape`` (the image's (H, W)), specs are bounded by :func:`check_kernel_size` first; without,
    by :data:`MAX_KERNEL_SIDE` pixels a side (both checked on the spec, before allocating).

    Examples
    --------
    >>> make_kernel("box:3").shape
    (3, 3)
    """
    if not isinstance(spec, str):
        return check_psf(spec)
    if shape is not None:
        check_kernel_size(spec, shape)
    else:
        ks = kernel_shape(spec)
        if ks is not None and max(ks) > MAX_KERNEL_SIDE:
            raise ValueError(f"kernel: expected at most {MAX_KERNEL_SIDE} pixels a side, got {spec!r} = "
                             f"{ks[1]}x{ks[0]}")
    name, _, rest = spec.partition(":")
    args = [a for a in rest.split(":") if a != ""] if rest else []
    try:
        if name == "gaussian":
            if not 1 <= len(args) <= 2:
                raise ValueError
            return gaussian(float(args[0]), int(args[1]) if len(args) > 1 else None)
        if name == "box":
            if len(args) != 1:
                raise ValueError
            return box(int(args[0]))
        if name == "disk":
            if len(args) != 1:
                raise ValueError
            return disk(float(args[0]))
        if name == "motion":
            if not 1 <= len(args) <= 2:
                raise ValueError
            return motion(float(args[0]), float(args[1]) if len(args) > 1 else 0.0)
        if name == "random_motion":
            if len(args) > 1:
                raise ValueError
            return random_motion(int(args[0]) if args else 17, rng=rng)
    except ValueError as exc:
        if str(exc):
            raise
        raise ValueError(
            f"kernel: could not parse {spec!r}; expected gaussian:SIGMA[:SIZE], box:SIZE, disk:RADIUS, "
            "motion:LENGTH[:ANGLE], random_motion[:SIZE] or a .npy/image file"
        ) from None
    from pathlib import Path

    p = Path(spec)
    if p.is_file():
        if p.suffix.lower() == ".npy":
            return check_psf(np.load(p, allow_pickle=False), name=str(p))
        from aip.io import read_image

        return check_psf(read_image(p, gray=True), name=str(p))
    raise ValueError(
        f"kernel: expected gaussian:SIGMA[:SIZE], box:SIZE, disk:RADIUS, motion:LENGTH[:ANGLE], "
        f"random_motion[:SIZE] or an existing .npy/image file; got {spec!r}"
    )
