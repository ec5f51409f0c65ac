"""Full-reference quality metrics."""

from __future__ import annotations

import numpy as np

from aip._shared.validate import as_image, check_positive, check_same_shape


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    x = as_image(a, "reference", dtype=np.float64)
    y = as_image(b, "test", dtype=np.float64)
    check_same_shape(x, y, "reference and test")
    return x, y


def mse(reference, test) -> float:
    """Mean squared error between two images of the same shape."""
    x, y = _pair(reference, test)
    return float(np.mean((x - y) ** 2))


def psnr(reference, test, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE).

    ``data_range`` is explicit (1.0 for aip's float images, 255 for 8-bit values). Identical images give inf.
    """
    dr = check_positive(data_range, "data_range")
    m = mse(reference, test)
    if m == 0:
        return float("inf")
    return float(10.0 * np.log10(dr * dr / m))


def ssim(reference, test, *, data_range: float, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
         channel_axis: int | None = None, full: bool = False):
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) with a Gaussian window.

    Local statistics use a Gaussian of ``sigma`` truncated at 3.5 sigma (an 11x11 window for 1.5),
    population (biased) covariances, and the mean is taken over the interior away from the border
    of half a window, as scikit-image does with ``gaussian_weights=True, use_sample_covariance=False``.

    References
    ----------
    Z. Wang et al., "Image quality assessment: from error visibility to structural similarity",
    IEEE TIP 13(4), 2004.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((64, 64))
    >>> round(ssim(x, x, data_range=1.0), 6)
    1.0
    """
    dr = check_positive(data_range, "data_range")
    x, y = _pair(reference, test)
    if channel_axis is not None or x.ndim == 3:
        if x.ndim != 3:
            raise ValueError(f"channel_axis given but images are 2-D with shape {x.shape}")
        ax = -1 if channel_axis is None else channel_axis
        xs, ys = np.moveaxis(x, ax, -1), np.moveaxis(y, ax, -1)
        vals = [_ssim2d(xs[..., c], ys[..., c], dr, sigma, k1, k2) for c in range(xs.shape[-1])]
        mean = float(np.mean([v[0] for v in vals]))
        if full:
            return mean, np.stack([v[1] for v in vals], axis=-1)
        return mean
    mean, smap = _ssim2d(x, y, dr, sigma, k1, k2)
    return (mean, smap) if full else mean


def _ssim2d(x, y, dr, sigma, k1, k2):
    truncate = 3.5
    r = int(truncate * sigma + 0.5)
    win = 2 * r + 1
    if min(x.shape) < win:
        raise ValueError(f"ssim: images must be at least {win}x{win} for sigma={sigma}, got {x.shape}")

    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()

    def filt(a):
        return _separable(a, taps)

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (k1 * dr) ** 2, (k2 * dr) ** 2
    smap = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(smap[pad:-pad, pad:-pad].mean()), smap


def _separable(a: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Correlate a 2-D array with ``taps`` along both axes, edges mirrored (scipy's ``mode="reflect"``).

    Written with numpy alone so that commands reporting SSIM (``aip fractal encode``) skip the scipy.ndimage
    import; equal to ``scipy.ndimage.gaussian_filter`` to rounding (tests/metrics).
    """
    r = len(taps) // 2
    p = np.pad(np.asarray(a, dtype=np.float64), r, mode="symmetric")
    h, w = a.shape
    rows = sum(t * p[:, k:k + w] for k, t in enumerate(taps))
    return sum(t * rows[k:k + h] for k, t in enumerate(taps))


def high_frequency_ratio(reference, test, *, cutoff: float = 0.25) -> float:
    """Sharpness of ``test`` against ``reference``: the energy of ``test`` above the radial frequency
    ``cutoff`` (cycles per pixel, in (0, 0.5]) over that of ``reference`` (both means removed, 2-D spectra;
    colour: summed over channels).

    1 means as much fine detail as the reference, below 1 smoother (a PSNR-trained super-resolver's
    typical blur), above 1 more (noise, ringing or hallucinated texture). For super-resolution by ``s``,
    ``cutoff = 0.5 / s`` is the low-resolution image's Nyquist frequency: the band the input cannot carry.
    """
    x, y = _pair(reference, test)
    c = float(cutoff)
    if not 0.0 < c <= 0.5:
        raise ValueError(f"cutoff: expected a frequency in (0, 0.5] cycles per pixel, got {cutoff}")
    h, w = x.shape[:2]
    r = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    band = r > c

    def energy(a: np.ndarray) -> float:
        a = a.reshape(h, w, -1)
        spec = np.fft.fft2(a - a.mean(axis=(0, 1)), axes=(0, 1))
        return float(np.sum(np.abs(spec[band]) ** 2))

    ref = energy(x)
    if ref == 0.0:
        raise ValueError("reference: expected some energy above the cutoff frequency, got a flat band")
    return energy(y) / ref
