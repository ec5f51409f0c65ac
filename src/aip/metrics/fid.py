"""Fréchet distance between Gaussians fitted to features (FID), in float64.

FID (Heusel et al. 2017) fits a Gaussian to the features of real and generated images and reports

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).

Inception weights cannot be downloaded here, so aip ships LeNet-style classifiers for its built-in data
(:mod:`aip.models.lenet`, "FID-LeNet"); any feature network can be passed as a callable instead.

References
----------
Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter, "GANs trained by a two time-scale update rule converge
to a local Nash equilibrium", NeurIPS 2017.
Dowson & Landau, "The Fréchet distance between multivariate normal distributions", J. Multivariate
Anal. 1982.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from aip._shared.validate import describe


def _as_features(f: Any, name: str) -> np.ndarray:
    if hasattr(f, "detach"):
        f = f.detach().cpu().numpy()
    a = np.asarray(f, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (N, D) feature array, got {describe(a)}")
    if a.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 feature vectors, got {a.shape[0]}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite features, got NaN or infinity")
    return a


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64."""
    f = _as_features(features, "features")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, eps: float = 1e-6) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    Computed in float64 with ``scipy.linalg.sqrtm``; if the product of covariances is singular, ``eps``
    is added to both diagonals (as pytorch-fid does, here whenever scipy reports a singular matrix) and the tiny imaginary part of the root is dropped.

    Example
    -------
    >>> import numpy as np
    >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2)), 6)
    2.0
    """
    import scipy.linalg

    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,):
        raise ValueError(f"mu1, mu2: expected two vectors of one length, got shapes {mu1.shape} and {mu2.shape}")
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"sigma1, sigma2: expected ({d}, {d}) matrices, got {s1.shape} and {s2.shape}")
    diff = mu1 - mu2
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    if caught or not np.all(np.isfinite(covmean)):  # singular product: regularise both covariances
        off = np.eye(d) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = scipy.linalg.sqrtm((s1 + off) @ (s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def fid_from_features(features1: Any, features2: Any) -> float:
    """FID between two (N, D) feature sets: Fréchet distance of their fitted Gaussians (float64)."""
    mu1, s1 = feature_statistics(_as_features(features1, "features1"))
    mu2, s2 = feature_statistics(_as_features(features2, "features2"))
    if mu1.shape != mu2.shape:
        raise ValueError(f"features1, features2: expected the same feature dimension, got {mu1.shape[0]} and "
                         f"{mu2.shape[0]}")
    return frechet_distance(mu1, s1, mu2, s2)


def extract_features(images: Any, feature_fn: Callable[[Any], Any], *, batch_size: int = 256) -> np.ndarray:
    """Run ``feature_fn`` over (N, C, H, W) images in batches (no gradients), as (N, D) float64."""
    import torch

    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images, np.float32))
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            f = feature_fn(x[i:i + batch_size])
            f = f.detach().cpu().numpy() if hasattr(f, "detach") else np.asarray(f)
            out.append(f.reshape(f.shape[0], -1).astype(np.float64))
    return np.concatenate(out)


def fid(images1: Any, images2: Any, feature_fn: Callable[[Any], Any], *, batch_size: int = 256) -> float:
    """FID between two image sets with a user-supplied feature network.

    Parameters
    ----------
    images1, images2 : tensor or array (N, C, H, W)
        Float images in [0, 1] (whatever ``feature_fn`` expects).
    feature_fn : callable
        Maps a batch of images to (B, D) features, e.g. a pretrained network's penultimate layer.
    batch_size : int
        Images per call of ``feature_fn``.

    Example
    -------
    >>> import torch
    >>> x = torch.rand(50, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> fid(x, x, lambda b: b.flatten(1)[:, :4]) < 1e-6
    True
    """
    return fid_from_features(extract_features(images1, feature_fn, batch_size=batch_size),
                             extract_features(images2, feature_fn, batch_size=batch_size))


def classifier_score(probs: Any) -> float:
    """Inception-style score exp(E_x KL(p(y|x) || p(y))) of (N, K) class probabilities.

    1 when every prediction is the marginal, K when predictions are one-hot and classes balanced.

    References
    ----------
    Salimans et al., "Improved techniques for training GANs", NeurIPS 2016.
    """
    p = _as_features(probs, "probs")
    if np.any(p < 0) or not np.allclose(p.sum(1), 1.0, atol=1e-4):
        raise ValueError("probs: expected rows of probabilities summing to 1")
    marg = p.mean(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(p) - np.log(marg)), 0.0).sum(1)
    return float(np.exp(kl.mean()))
