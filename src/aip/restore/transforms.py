"""Transform-domain restoration: wavelet shrinkage, sliding-window DCT shrinkage, Wiener deconvolution.

All functions take float images in [0, 1], (H, W) or (H, W, C) with ``channel_axis``, and return float32.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from aip._shared.channels import per_channel
from aip._shared.validate import as_channel_image, check_choice, check_int, check_positive

__all__ = ["METHODS", "deblur_wiener", "denoise_dct", "denoise_wavelet"]

#: Public methods of this module by task (listed by ``aip info``).
METHODS = {"denoise": ["wavelet", "dct"], "deblur": ["wiener"]}


# --------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------
def _otf(psf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """OTF of ``psf`` for circular convolution on ``shape`` (the convention of :class:`aip.degrade.Blur`)."""
    from aip.degrade.operators import Blur

    return Blur(psf, mode="circular").otf(shape).numpy()


# --------------------------------------------------------------------------------------------------
# wavelet shrinkage
# --------------------------------------------------------------------------------------------------
def _bayes_threshold(detail: np.ndarray, var: float) -> float:
    # BayesShrink (Chang, Yu & Vetterli 2000): T = sigma^2 / sigma_x, sigma_x^2 = max(E[d^2] - sigma^2, 0)
    dvar = float(np.mean(detail * detail))
    eps = float(np.finfo(detail.dtype).eps)
    return var / np.sqrt(max(dvar - var, eps))


def _wavelet_shrink(img: np.ndarray, sigma: float, wavelet: str, method: str, mode: str,
                    levels: int | None) -> np.ndarray:
    import pywt

    wav = pywt.Wavelet(wavelet)
    if levels is None:
        levels = max(pywt.dwtn_max_level(img.shape, wav) - 3, 1)
    coeffs = pywt.wavedecn(img, wavelet=wav, level=levels)
    var = sigma * sigma
    out = [coeffs[0]]
    for level in coeffs[1:]:
        new = {}
        for key, d in level.items():
            if method == "BayesShrink":
                t = _bayes_threshold(d, var)
            else:  # VisuShrink, the universal threshold of Donoho & Johnstone 1994
                t = sigma * np.sqrt(2.0 * np.log(img.size))
            new[key] = pywt.threshold(d, value=t, mode=mode)
        out.append(new)
    rec = pywt.waverecn(out, wav)
    return rec[: img.shape[0], : img.shape[1]]


def denoise_wavelet(
    image,
    sigma: float,
    *,
    wavelet: str = "db1",
    method: Literal["BayesShrink", "VisuShrink"] = "BayesShrink",
    mode: Literal["soft", "hard"] = "soft",
    levels: int | None = None,
    cycle_spins: int = 3,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Wavelet shrinkage denoising (BayesShrink or VisuShrink) with optional cycle spinning.

    The image is decomposed with PyWavelets (``wavedecn``, symmetric extension), the detail coefficients
    are soft- or hard-thresholded and the image is rebuilt. With ``cycle_spins = s > 0`` the result is
    averaged over the circular shifts (dy, dx) in {0..s}^2 (translation-invariant denoising).

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Float image in [0, 1].
    sigma : float
        Standard deviation of the Gaussian noise, on the image's scale.
    wavelet : str
        Any discrete wavelet PyWavelets knows (``"db1"`` (Haar, the default), ``"db2"``, ``"sym8"``, ...).
    method : {"BayesShrink", "VisuShrink"}
        Subband-adaptive BayesShrink threshold sigma^2 / sigma_x, or the universal
        threshold sigma * sqrt(2 log N).
    mode : {"soft", "hard"}
        Thresholding rule.
    levels : int, optional
        Decomposition levels; default the maximum level minus 3 (at least 1), as scikit-image.
    cycle_spins : int
        Largest circular shift per axis for cycle spinning (0 disables it; cost grows as (s + 1)^2).
    channel_axis : int, optional
        Axis of the colour channels (each channel is denoised on its own).

    Returns
    -------
    ndarray, float32, same shape as ``image``.

    References
    ----------
    D. L. Donoho and I. M. Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 81, 1994.
    S. G. Chang, B. Yu and M. Vetterli, "Adaptive wavelet thresholding for image denoising and
    compression", IEEE TIP 9(9), 2000.
    R. R. Coifman and D. L. Donoho, "Translation-invariant de-noising", Wavelets and Statistics, 1995.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.full((32, 32), 0.5, np.float32)
    >>> y = x + 0.1 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    >>> float(np.abs(denoise_wavelet(y, 0.1) - x).mean()) < float(np.abs(y - x).mean())
    True
    """
    img = as_channel_image(image, channel_axis)
    sigma = check_positive(sigma, "sigma")
    import pywt

    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"wavelet: expected a discrete PyWavelets wavelet such as 'db2', got {wavelet!r}")
    check_choice(method, "method", ("BayesShrink", "VisuShrink"))
    check_choice(mode, "mode", ("soft", "hard"))
    if levels is not None:
        levels = check_int(levels, "levels", low=1)
    spins = check_int(cycle_spins, "cycle_spins", low=0)

    def run(channel: np.ndarray) -> np.ndarray:
        x = channel.astype(np.float64)
        acc = np.zeros_like(x)
        shifts = [(dy, dx) for dy in range(spins + 1) for dx in range(spins + 1)]
        for dy, dx in shifts:
            shifted = np.roll(x, (dy, dx), axis=(0, 1)) if (dy or dx) else x
            den = _wavelet_shrink(shifted, sigma, wavelet, method, mode, levels)
            acc += np.roll(den, (-dy, -dx), axis=(0, 1)) if (dy or dx) else den
        return (acc / len(shifts)).astype(np.float32)

    return per_channel(run, img, channel_axis)


# --------------------------------------------------------------------------------------------------
# sliding-window DCT shrinkage
# --------------------------------------------------------------------------------------------------
def _dct_matrix(n: int) -> np.ndarray:
    # orthonormal DCT-II: C[k, i] = a_k cos(pi (2i + 1) k / (2n))
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    c = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    c[0] /= np.sqrt(2.0)
    return c


def _dct_shrink_torch(x, sigma: float, block: int, threshold: float, weighted: bool,
                      max_patches: int = 1 << 16, pilot=None):
    """Hard-threshold the 2-D DCT of every overlapping block x block patch of x (H, W) and average back.

    With a ``pilot`` estimate (H, W), the coefficients are instead shrunk by the empirical Wiener gain
    P^2 / (P^2 + sigma^2), P the pilot's coefficient, and weighted by 1 / sum(gain^2) (BM3D's second stage
    without block matching).
    """
    import torch
    import torch.nn.functional as F

    h, w = x.shape
    b = block
    dev, dt = x.device, x.dtype
    # symmetric padding by b - 1 so that every pixel is covered by b^2 patches
    pad = b - 1
    mode = "reflect" if min(h, w) > pad else "replicate"
    xp = F.pad(x[None, None], (pad, pad, pad, pad), mode=mode)[0, 0]
    pp = None if pilot is None else F.pad(pilot[None, None], (pad, pad, pad, pad), mode=mode)[0, 0]
    hp, wp = xp.shape
    c = torch.as_tensor(_dct_matrix(b), dtype=dt, device=dev)
    # 2-D DCT of a vectorised patch: kron(C, C) acting on row-major b*b vectors
    c2 = torch.kron(c, c)  # (b*b, b*b)
    thr = threshold * sigma
    num = torch.zeros((hp, wp), dtype=dt, device=dev)
    den = torch.zeros((hp, wp), dtype=dt, device=dev)
    n_rows = hp - b + 1
    n_cols = wp - b + 1
    rows_per_chunk = max(1, max_patches // n_cols)
    for r0 in range(0, n_rows, rows_per_chunk):
        r1 = min(n_rows, r0 + rows_per_chunk)
        strip = xp[r0:r1 + b - 1]
        patches = F.unfold(strip[None, None], kernel_size=b)[0]  # (b*b, L)
        coef = c2 @ patches
        if pp is not None:
            pc = c2 @ F.unfold(pp[r0:r1 + b - 1][None, None], kernel_size=b)[0]
            gain = pc * pc / (pc * pc + sigma * sigma)
            gain[0] = 1.0
            rec = c2.T @ (coef * gain)
            wgt = 1.0 / gain.pow(2).sum(0)
            size = (r1 - r0 + b - 1, wp)
            num[r0:r1 + b - 1] += F.fold((rec * wgt)[None], size, kernel_size=b)[0, 0]
            den[r0:r1 + b - 1] += F.fold(wgt.expand(b * b, -1)[None], size, kernel_size=b)[0, 0]
            continue
        keep = coef.abs() >= thr
        keep[0] = True  # never threshold the DC coefficient
        coef = coef * keep
        rec = c2.T @ coef
        if weighted:
            # aggregation weights 1 / (number of kept coefficients), as in BM3D's first stage
            wgt = 1.0 / keep.sum(0).to(dt)
        else:
            wgt = torch.ones(rec.shape[1], dtype=dt, device=dev)
        size = (r1 - r0 + b - 1, wp)
        num[r0:r1 + b - 1] += F.fold((rec * wgt)[None], size, kernel_size=b)[0, 0]
        den[r0:r1 + b - 1] += F.fold(wgt.expand(b * b, -1)[None], size, kernel_size=b)[0, 0]
    out = num / den
    return out[pad:pad + h, pad:pad + w]


def denoise_dct(
    image,
    sigma: float,
    *,
    block: int = 8,
    threshold: float = 2.7,
    weighted: bool = True,
    wiener: bool = False,
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """Sliding-window DCT denoising: hard thresholding of every overlapping block DCT, averaged back.

    Every ``block`` x ``block`` patch (stride 1, symmetric padding at the border) is transformed by the
    orthonormal 2-D DCT-II, coefficients with magnitude below ``threshold * sigma`` are set to zero (the DC
    coefficient is kept), the patches are transformed back and each pixel is the (weighted) mean of the
    estimates of all patches covering it. Vectorised with ``torch`` (unfold / fold), in strips of bounded
    memory.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Float image in [0, 1].
    sigma : float
        Gaussian noise standard deviation on the image's scale.
    block : int
        Patch size (8 as in the paper).
    threshold : float
        Hard threshold in units of sigma (Yu & Sapiro use 3; 2.7 is slightly better with ``weighted``).
    weighted : bool
        Weight each patch by 1 / (number of kept coefficients) when averaging (sparser patches, which are
        less noisy, count more); False gives the plain average of the paper.
    wiener : bool
        Add a second pass: empirical Wiener shrinkage of every patch DCT with the first result as the pilot
        (as BM3D's second stage, without block matching); about twice the time.
    channel_axis : int, optional
        Axis of the colour channels (each channel is denoised on its own).
    device : str or torch.device, optional
        Where to compute (None: CPU, ``"auto"``: CUDA when present).

    References
    ----------
    G. Yu and G. Sapiro, "DCT image denoising: a simple and effective image denoising algorithm",
    Image Processing On Line 1, 2011.
    R. R. Coifman and D. L. Donoho, "Translation-invariant de-noising", 1995.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.full((32, 32), 0.5, np.float32)
    >>> y = x + 0.1 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    >>> float(np.abs(denoise_dct(y, 0.1) - x).mean()) < 0.5 * float(np.abs(y - x).mean())
    True
    """
    img = as_channel_image(image, channel_axis)
    sigma = check_positive(sigma, "sigma")
    block = check_int(block, "block", low=2, high=32)
    threshold = check_positive(threshold, "threshold", allow_zero=True)
    from aip._shared.torch_bridge import resolve_device, to_numpy, to_tensor

    dev = resolve_device(device)

    def run(channel: np.ndarray) -> np.ndarray:
        t = to_tensor(channel, dev)
        out = _dct_shrink_torch(t, sigma, block, threshold, bool(weighted))
        if wiener:
            out = _dct_shrink_torch(t, sigma, block, threshold, True, pilot=out)
        return to_numpy(out).astype(np.float32)

    return per_channel(run, img, channel_axis)


# --------------------------------------------------------------------------------------------------
# Wiener deconvolution
# --------------------------------------------------------------------------------------------------
def _signal_spectrum(y: np.ndarray, otf: np.ndarray, sigma: float) -> np.ndarray:
    """Power spectrum model S_xx(f) = A / (|f|^2 + f0^2) of the clean image, fitted to the observation.

    |Y|^2 / N ~ |H|^2 S_xx + sigma^2; A is the median of (|Y|^2 / N - sigma^2) (|f|^2 + f0^2) / |H|^2 over
    the frequencies where the blur passes at least half the energy (natural images decay as 1/|f|^2).
    """
    h, w = y.shape
    n = h * w
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f2 = fy * fy + fx * fx
    f0 = 1.0 / max(h, w)
    yf = np.fft.fft2(y - y.mean())
    p = np.abs(yf) ** 2 / n
    h2 = np.abs(otf) ** 2
    sel = (h2 > 0.5) & (f2 > 0)
    if not np.any(sel):
        sel = f2 > 0
    amp = np.median(np.maximum(p[sel] - sigma * sigma, 0.0) * (f2[sel] + f0 * f0) / np.maximum(h2[sel], 1e-12))
    amp = max(float(amp), 1e-12)
    s = amp / (f2 + f0 * f0)
    s[0, 0] = np.inf  # the mean is not regularised
    return s


def deblur_wiener(
    image,
    psf,
    *,
    sigma: float,
    nsr: float | np.ndarray | None = None,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Wiener deconvolution with a known PSF and noise level (circular boundary, Fourier domain).

    X = conj(H) Y / (|H|^2 + NSR), with H the OTF of ``psf`` on the image grid. NSR is the noise-to-signal
    power ratio: a scalar or a per-frequency array given by ``nsr``, or by default sigma^2 / S_xx(f) with a
    1/|f|^2 power spectrum model S_xx fitted to the observation.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Blurred, noisy float image in [0, 1] (circular convolution assumed).
    psf : array (kh, kw)
        Non-negative point spread function (divided by its sum), centred at index (kh // 2, kw // 2),
        the convention of :class:`aip.degrade.Blur`.
    sigma : float
        Noise standard deviation on the image's scale (> 0).
    nsr : float or array (H, W), optional
        Noise-to-signal ratio; overrides the spectrum model. A scalar gives the classical constant-NSR
        Wiener filter.
    channel_axis : int, optional
        Axis of the colour channels.

    References
    ----------
    N. Wiener, "Extrapolation, Interpolation, and Smoothing of Stationary Time Series", MIT Press, 1949.
    R. C. Gonzalez and R. E. Woods, "Digital Image Processing", section 5.8.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((32, 32))
    >>> from aip.degrade import Blur
    >>> psf = np.ones((3, 3)) / 9
    >>> y = Blur(psf, mode="circular").A(x)
    >>> float(np.abs(deblur_wiener(y, psf, sigma=1e-3, nsr=1e-8) - x).max()) < 1e-2
    True
    """
    img = as_channel_image(image, channel_axis)
    from aip.degrade.kernels import check_psf

    k = check_psf(psf)
    sigma = check_positive(sigma, "sigma")
    hw = img.shape[:2] if channel_axis is None else tuple(np.delete(np.array(img.shape), channel_axis % 3))
    if nsr is not None and not np.isscalar(nsr):
        nsr = np.asarray(nsr, dtype=np.float64)
        if nsr.shape != tuple(hw):
            raise ValueError(f"nsr: expected a scalar or an array of shape {tuple(hw)}, got shape {nsr.shape}")
        if not np.all(np.isfinite(nsr)) or nsr.min() < 0:
            raise ValueError("nsr: expected finite non-negative values")
    elif nsr is not None:
        nsr = check_positive(nsr, "nsr", allow_zero=True)

    def run(channel: np.ndarray) -> np.ndarray:
        y = channel.astype(np.float64)
        otf = _otf(k, y.shape)
        reg = sigma * sigma / _signal_spectrum(y, otf, sigma) if nsr is None else nsr
        filt = np.conj(otf) / (np.abs(otf) ** 2 + reg)
        return np.real(np.fft.ifft2(filt * np.fft.fft2(y))).astype(np.float32)

    return per_channel(run, img, channel_axis)
