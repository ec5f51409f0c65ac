"""Noise level estimation for additive white Gaussian noise: wavelet MAD and patch PCA."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from aip._shared.validate import as_image, check_choice, check_int

__all__ = ["ESTIMATORS", "estimate_sigma"]

ESTIMATORS = ("wavelet", "pca")

_MAD_TO_SIGMA = 0.6744897501960817  # Phi^-1(3/4): median |n| of N(0, 1)


def _sigma_wavelet(img: np.ndarray) -> float:
    import pywt

    # finest diagonal detail band of a Daubechies-2 DWT, as scikit-image's estimate_sigma
    hh = pywt.dwt2(img, wavelet="db2")[1][2]
    return float(np.median(np.abs(hh)) / _MAD_TO_SIGMA)


def _sigma_pca(img: np.ndarray, patch_size: int, stride: int) -> float:
    p = patch_size
    h, w = img.shape
    if h < p or w < p:
        raise ValueError(f"image: the PCA estimator needs at least {p}x{p} pixels, got {(h, w)}")
    win = np.lib.stride_tricks.sliding_window_view(img, (p, p))[::stride, ::stride]
    x = win.reshape(-1, p * p)
    if x.shape[0] < 2:
        raise ValueError(f"image: too few patches ({x.shape[0]}) for the PCA estimator")
    x = x - x.mean(axis=0, keepdims=True)
    cov = x.T @ x / x.shape[0]
    ev = np.sort(np.linalg.eigvalsh(cov))  # ascending
    ev = np.maximum(ev, 0.0)
    # Chen, Zhu & Heng: the smallest eigenvalues belong to noise alone; keep the largest set whose
    # mean equals its median (as many values above as below the mean), and sigma^2 is that mean.
    mean = ev[0]
    for k in range(ev.size, 0, -1):
        sub = ev[:k]
        mean = sub.mean()
        if np.sum(sub > mean) == np.sum(sub < mean):
            break
    return float(np.sqrt(mean))


def estimate_sigma(image: Any, method: Literal["wavelet", "pca"] = "wavelet", *,
                   channel_axis: int | None = None, patch_size: int = 8, stride: int = 3) -> float:
    """Estimate the standard deviation of additive white Gaussian noise, on the image's scale.

    Parameters
    ----------
    image : array_like
        (H, W), or colour with ``channel_axis`` (the channel estimates are averaged).
    method : {"wavelet", "pca"}
        ``"wavelet"``: median absolute deviation of the finest diagonal wavelet band (Donoho & Johnstone),
        the estimator of ``skimage.restoration.estimate_sigma``; fast, biased upwards on textured images.
        ``"pca"``: eigenvalues of the covariance of ``patch_size`` x ``patch_size`` patches taken every
        ``stride`` pixels; the noise variance is the mean of the trailing eigenvalues that pass the
        mean = median test of Chen, Zhu & Heng (2015); more accurate on textured images.
        Both are within about 7% on camera 256 for sigma 15-50 (on the 0-255 scale); at low noise
        (below about 10) fine texture biases them upwards.

    References
    ----------
    D. L. Donoho and I. M. Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 81(3), 1994.
    G. Chen, F. Zhu and P. A. Heng, "An efficient statistical method for image noise level estimation",
    ICCV 2015.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = 0.5 + 0.1 * rng.standard_normal((128, 128))
    >>> round(estimate_sigma(y), 1), round(estimate_sigma(y, "pca"), 1)
    (0.1, 0.1)
    """
    check_choice(method, "method", ESTIMATORS)
    p = check_int(patch_size, "patch_size", low=2)
    s = check_int(stride, "stride", low=1)
    img = as_image(image, "image", ndim=(2, 3), dtype=np.float64)
    if img.ndim == 3 and channel_axis is None:
        if img.shape[2] == 1:
            img = img[..., 0]
        else:
            raise ValueError(
                f"image: expected a 2-D array when channel_axis is None, got shape {img.shape}; "
                "pass channel_axis=-1 for colour"
            )
    if img.ndim == 2:
        chans = [img]
    else:
        moved = np.moveaxis(img, channel_axis, -1)
        chans = [moved[..., c] for c in range(moved.shape[-1])]
    est = [_sigma_wavelet(c) if method == "wavelet" else _sigma_pca(c, p, s) for c in chans]
    return float(np.mean(est))
