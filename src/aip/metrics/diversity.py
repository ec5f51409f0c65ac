"""Precision, recall and within-class diversity of generated samples, on features (e.g. LeNet's).

FID mixes fidelity and coverage into one number; these separate them. Precision: the fraction of generated
samples that land on the real data's manifold; recall: the fraction of real samples that land on the
generated one. Each manifold is the union of balls around its points, each of radius the distance to that
point's k-th nearest neighbour in its own set (Kynkaanniemi et al. 2019). Within-class diversity: the mean
pairwise distance between samples of the same class, against the same figure for real images; a
mode-collapsed conditional model scores far below 1.

References
----------
T. Kynkaanniemi, T. Karras, S. Laine, J. Lehtinen, T. Aila, "Improved precision and recall metric for
assessing generative models", NeurIPS 2019.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _features(f: Any, name: str) -> np.ndarray:
    a = np.asarray(f.detach().cpu().numpy() if hasattr(f, "detach") else f, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise ValueError(f"{name}: expected an (N, D) array of features with N >= 2, got shape {a.shape}")
    return a


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    dist, _ = nn.kneighbors(x)            # column 0 is the point itself
    return dist[:, k]


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """For each point: is it within radii[j] of some centre j."""
    from scipy.spatial.distance import cdist

    out = np.empty(len(points), dtype=bool)
    for i in range(0, len(points), chunk):
        d = cdist(points[i:i + chunk], centres)
        out[i:i + chunk] = (d <= radii[None, :]).any(axis=1)
    return out


def precision_recall(real: Any, fake: Any, *, k: int = 3) -> dict[str, float]:
    """Improved precision and recall of ``fake`` features against ``real`` ones (k-NN manifolds).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 8))
    >>> precision_recall(x, x)["precision"]
    1.0
    """
    r, f = _features(real, "real"), _features(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"fake: expected features of dimension {r.shape[1]}, got {f.shape[1]}")
    if not 1 <= k < min(len(r), len(f)):
        raise ValueError(f"k: expected 1 <= k < {min(len(r), len(f))} (the smaller set), got {k}")
    precision = float(_inside(f, r, _kth_radius(r, k)).mean())
    recall = float(_inside(r, f, _kth_radius(f, k)).mean())
    return {"precision": precision, "recall": recall}


def mean_pairwise_distance(x: np.ndarray) -> float:
    from scipy.spatial.distance import pdist

    return float(pdist(x).mean()) if len(x) > 1 else float("nan")


def within_class_diversity(fake: Any, fake_labels: Any, real: Any, real_labels: Any) -> dict[str, Any]:
    """Mean within-class pairwise feature distance of ``fake`` over that of ``real`` (per class and the
    mean over classes present in both with at least 2 samples each)."""
    f, r = _features(fake, "fake"), _features(real, "real")
    fl, rl = np.asarray(fake_labels).ravel(), np.asarray(real_labels).ravel()
    if len(fl) != len(f) or len(rl) != len(r):
        raise ValueError("labels: expected one label per feature row")
    per = {}
    for c in np.intersect1d(fl, rl):
        a, b = f[fl == c], r[rl == c]
        if len(a) >= 2 and len(b) >= 2:
            per[int(c)] = mean_pairwise_distance(a) / mean_pairwise_distance(b)
    if not per:
        raise ValueError("labels: expected at least one class with 2 or more samples in both sets")
    return {"diversity_ratio": float(np.mean(list(per.values()))), "diversity_per_class": per}


def border_haze(images: Any, *, width: int = 3, threshold: float = 0.02) -> float:
    """Background artefacts of generated images on a black background (digits): the fraction of the pixels in
    the outer ring ``width`` pixels wide that are above ``threshold`` (images in [0, 1], (N, C, H, W) or
    (N, H, W)). Real 28x28 digits keep the 3-pixel ring black (about 1% of it above 0.02); a grey haze or a
    grid texture of a sampler shows as tens of percent (24% for DDIM samples of an eps-prediction DDPM with a
    2x2 space-to-depth stem)."""
    a = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images, dtype=np.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise ValueError(f"images: expected (N, C, H, W) or (N, H, W), got shape {a.shape}")
    w = int(width)
    if w < 1 or 2 * w >= min(a.shape[-2:]):
        raise ValueError(f"width: expected 1 <= width < {min(a.shape[-2:]) / 2:g} (half the image side), got {width}")
    ring = np.ones(a.shape[-2:], dtype=bool)
    ring[w:-w, w:-w] = False
    return float((a[..., ring] > threshold).mean())
