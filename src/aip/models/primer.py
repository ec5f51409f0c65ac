"""First principles of generative modelling, small enough to read in one sitting (``aip demo --topic ...``).

* :func:`gaussian_mle`: the maximum-likelihood Gaussian in closed form, ``mu = mean(x)``,
  ``Sigma = (1/N) sum (x - mu)(x - mu)^T``; :func:`gaussian_log_likelihood` scores data under it.
* :func:`fit_gmm`: a Gaussian mixture fitted by expectation-maximisation (scikit-learn's
  ``GaussianMixture``), one EM iteration at a time so that the log-likelihood trace shows EM's defining
  property: it never decreases.
* :func:`gmm_image_model`: the same mixture on pixel features (PCA coordinates of small digit images), a
  generative model one can sample images from.
* :func:`grow_plant`: procedural synthesis from noise. A turtle walks, and a Bernoulli coin at every step
  decides whether it branches, with uniform draws for the angles and lengths: the random draws are the latent
  variables, and the same seed grows the same plant.

References
----------
C. M. Bishop, "Pattern recognition and machine learning", Springer 2006, sections 2.3.4 and 9.2.
A. P. Dempster, N. M. Laird and D. B. Rubin, "Maximum likelihood from incomplete data via the EM algorithm",
JRSS B 39(1), 1977.
P. Prusinkiewicz and A. Lindenmayer, "The algorithmic beauty of plants", Springer 1990.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aip._shared.validate import check_int, check_positive

__all__ = ["Plant", "fit_gmm", "gaussian_log_likelihood", "gaussian_mle", "gmm_image_model", "grow_plant",
           "render_plant"]


def _points(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"x: expected N >= 2 points as an (N, D) array, got shape {a.shape}")
    return a


def gaussian_mle(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """The maximum-likelihood mean (D,) and covariance (D, D) of the points ``x`` (N, D) (divided by N).

    Example
    -------
    >>> mu, cov = gaussian_mle([[0.0, 0.0], [2.0, 0.0]])
    >>> mu.tolist(), cov.tolist()
    ([1.0, 0.0], [[1.0, 0.0], [0.0, 0.0]])
    """
    a = _points(x)
    mu = a.mean(0)
    d = a - mu
    return mu, d.T @ d / a.shape[0]


def gaussian_log_likelihood(x: Any, mu: Any, cov: Any) -> float:
    """Total log-likelihood ``sum_n log N(x_n; mu, cov)`` in nats."""
    a = _points(x)
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    cov = np.asarray(cov, dtype=np.float64).reshape(mu.size, mu.size)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError("cov: expected a positive definite covariance, got a singular or indefinite one")
    d = a - mu
    maha = np.einsum("nd,nd->n", d @ np.linalg.inv(cov), d)
    return float(-0.5 * (maha.sum() + a.shape[0] * (logdet + mu.size * math.log(2 * math.pi))))


def fit_gmm(x: Any, k: int, *, covariance: str = "full", max_iter: int = 100, tol: float = 1e-6,
            init: str = "kmeans", seed: int = 0) -> tuple[Any, list[float]]:
    """A ``k``-component Gaussian mixture fitted to ``x`` (N, D) by EM, and the mean log-likelihood per
    point after each iteration (non-decreasing: EM's guarantee). ``init``: scikit-learn's ``init_params``
    ("kmeans", or "random_from_data" to watch EM climb from a poor start).

    Returns
    -------
    (sklearn.mixture.GaussianMixture, list of float)
    """
    from sklearn.mixture import GaussianMixture

    a = _points(x)
    k = check_int(k, "k", low=1, high=a.shape[0])
    gm = GaussianMixture(k, covariance_type=covariance, max_iter=1, warm_start=True, random_state=seed,
                         init_params=init, reg_covar=1e-6, tol=0.0)
    trace: list[float] = []
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one iteration per fit, on purpose
        for _ in range(check_int(max_iter, "max_iter", low=1)):
            gm.fit(a)
            trace.append(float(gm.score(a)))
            if len(trace) > 1 and abs(trace[-1] - trace[-2]) < tol:
                break
    return gm, trace


def gmm_image_model(images: Any, k: int = 10, *, components: int = 20, seed: int = 0) -> dict[str, Any]:
    """A mixture of ``k`` Gaussians on the first ``components`` principal components of ``images``
    (N, H, W) in [0, 1]: ``{"pca", "gmm", "trace", "sample": fn(n, seed) -> (n, H, W) images}``."""
    from sklearn.decomposition import PCA

    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim != 3:
        raise ValueError(f"images: expected (N, H, W), got shape {imgs.shape}")
    n, h, w = imgs.shape
    pca = PCA(check_int(components, "components", low=1, high=min(n, h * w)), random_state=seed)
    z = pca.fit_transform(imgs.reshape(n, -1))
    gmm, trace = fit_gmm(z, k, seed=seed)

    def sample(m: int, sample_seed: int = 0) -> np.ndarray:
        gmm.random_state = sample_seed
        zs, _ = gmm.sample(check_int(m, "n", low=1))
        return np.clip(pca.inverse_transform(zs), 0, 1).reshape(m, h, w)

    return {"pca": pca, "gmm": gmm, "trace": trace, "sample": sample}


@dataclass
class Plant:
    """Line segments ``(x0, y0, x1, y1)`` (units of the trunk length, y up) and how many coins said branch."""

    segments: np.ndarray
    branches: int


def grow_plant(seed: int | np.random.Generator | None = None, *, depth: int = 7, p_branch: float = 0.6,
               angle: float = 25.0, shrink: float = 0.78) -> Plant:
    """Grow a plant with a random turtle: each step draws a segment, then a Bernoulli(``p_branch``) coin
    decides whether to split into two (angles ``+-angle`` plus uniform jitter) or to go on with one bent
    shoot; lengths shrink by ``shrink`` (jittered). ``depth`` bounds the recursion.

    Example
    -------
    >>> a, b = grow_plant(3), grow_plant(3)
    >>> bool((a.segments == b.segments).all())
    True
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    depth = check_int(depth, "depth", low=1, high=14)
    if not 0.0 <= p_branch <= 1.0:
        raise ValueError(f"p_branch: expected a probability in [0, 1], got {p_branch}")
    check_positive(shrink, "shrink")
    segs: list[tuple[float, float, float, float]] = []
    branches = 0
    stack = [(0.0, 0.0, 90.0, 1.0, depth)]  # the turtle's state: position, heading (degrees), length, depth
    while stack:
        x, y, heading, length, d = stack.pop()
        x1 = x + length * math.cos(math.radians(heading))
        y1 = y + length * math.sin(math.radians(heading))
        segs.append((x, y, x1, y1))
        if d <= 1:
            continue
        nxt = length * shrink * rng.uniform(0.85, 1.15)
        if rng.random() < p_branch:
            branches += 1
            for side in (-1.0, 1.0):
                stack.append((x1, y1, heading + side * angle + rng.uniform(-8, 8), nxt, d - 1))
        else:
            stack.append((x1, y1, heading + rng.uniform(-12, 12), nxt, d - 1))
    return Plant(np.asarray(segs, dtype=np.float64), branches)


def render_plant(plant: Plant, size: int = 256, *, width: int = 2) -> np.ndarray:
    """The plant drawn dark on white as a (size, size) float image in [0, 1] (Pillow's line drawing)."""
    from PIL import Image, ImageDraw

    size = check_int(size, "size", low=8)
    s = plant.segments
    xs, ys = s[:, [0, 2]], s[:, [1, 3]]
    span = max(xs.max() - xs.min(), ys.max() - ys.min(), 1e-9)
    scale = 0.9 * size / span
    cx = (xs.max() + xs.min()) / 2

    def to_px(x, y):
        return (size / 2 + (x - cx) * scale, size * 0.95 - (y - ys.min()) * scale)

    img = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(img)
    for x0, y0, x1, y1 in s:
        draw.line([to_px(x0, y0), to_px(x1, y1)], fill=30, width=width)
    return np.asarray(img, dtype=np.float64) / 255.0
