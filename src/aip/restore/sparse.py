"""Sparse representation: OMP, K-SVD dictionary learning, K-SVD denoising and sparse-coding super-resolution.

Conventions follow the papers: a dictionary is a ``(d, K)`` matrix whose columns are unit-norm atoms,
signals are the columns of a ``(d, n)`` matrix, and codes are ``(K, n)``.

- :func:`omp` is orthogonal matching pursuit for many signals at once (a batched torch kernel that
  matches scikit-learn's :func:`sklearn.linear_model.orthogonal_mp`, which is also available as a backend).
- :func:`ksvd` learns a dictionary (Aharon, Elad & Bruckstein 2006): OMP sparse coding, then rank-1
  SVD updates of each atom on the signals that use it, with dead-atom replacement.
- :func:`denoise_ksvd` is the K-SVD denoiser of Elad & Aharon (2006).
- :func:`upscale_sparse` is sparse-coding super-resolution with coupled dictionaries (Yang, Wright, Huang
  & Ma 2010), with a dictionary shipped in ``aip/data/weights`` and re-trainable by
  :func:`train_sr_dictionary`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from aip._shared.channels import per_channel
from aip._shared.validate import as_image, check_choice, check_int, check_positive, describe

__all__ = [
    "SR_TRAINING_IMAGES",
    "KSVDResult",
    "dct_dictionary",
    "denoise_ksvd",
    "ksvd",
    "omp",
    "save_sr_dictionaries",
    "train_sr_dictionary",
    "upscale_sparse",
]


def _as_2d(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(f"{name}: expected a real numeric array, got {describe(x)}")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name}: expected a non-empty (d, n) matrix, got {describe(a)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    return a


# --------------------------------------------------------------------------------------------------
# OMP
# --------------------------------------------------------------------------------------------------

def _omp_torch(dictionary, signals, n_nonzero: int, tol: float | None, chunk: int = 4096):
    """Batched OMP: all signals step together; each step solves the small normal equations by Cholesky.

    ``dictionary`` (d, K) and ``signals`` (d, n) torch tensors; returns dense codes (K, n). Signals whose
    squared residual reaches ``tol`` drop out of the active set.
    """
    import torch

    _d, k_atoms = dictionary.shape
    n = signals.shape[1]
    dt = dictionary.T.contiguous()                       # (K, d)
    gram = dt @ dictionary                               # (K, K)
    codes = torch.zeros(k_atoms, n, dtype=signals.dtype, device=signals.device)
    for b in range(0, n, chunk):
        y = signals[:, b:b + chunk].T.contiguous()       # (m, d)
        m = y.shape[0]
        dty_all = y @ dictionary                         # (m, K)
        ynorm_all = (y * y).sum(1)
        ids = torch.arange(m, device=y.device)           # rows still active, in the chunk
        if tol is not None:
            ids = ids[ynorm_all > tol]
        dty, ynorm = dty_all[ids], ynorm_all[ids]
        corr = dty.clone()
        sup = torch.zeros(ids.shape[0], 0, dtype=torch.long, device=y.device)
        for s in range(n_nonzero):
            if ids.numel() == 0:
                break
            c = corr.abs()
            if s:
                c.scatter_(1, sup, -1.0)
            sup = torch.cat([sup, c.argmax(1, keepdim=True)], 1)   # (a, s+1)
            gs = gram[sup[:, :, None], sup[:, None, :]]  # (a, s+1, s+1)
            rhs = dty.gather(1, sup)                     # (a, s+1)
            chol, info = torch.linalg.cholesky_ex(gs)
            ok = info == 0
            if bool(ok.all()):
                x = torch.cholesky_solve(rhs[..., None], chol)[..., 0]
            else:                                        # a dependent atom: least squares instead
                x = torch.linalg.lstsq(gs, rhs[..., None]).solution[..., 0]
            done = None
            if tol is not None:
                res2 = ynorm - (x * rhs).sum(1)
                done = res2 <= tol
            last = s == n_nonzero - 1
            if last or done is not None and bool(done.any()):
                fin = torch.ones_like(ok) if last else done
                rows = (b + ids[fin])[:, None].expand(-1, s + 1)
                codes.index_put_((sup[fin], rows), x[fin], accumulate=True)
                if last:
                    break
                keep = ~fin
                ids, dty, ynorm, sup, x = ids[keep], dty[keep], ynorm[keep], sup[keep], x[keep]
                if ids.numel() == 0:
                    break
            recon = torch.einsum("as,asd->ad", x, dt[sup])
            corr = dty - recon @ dictionary
    return codes


def omp(signals: Any, dictionary: Any, *, n_nonzero: int | None = None, tol: float | None = None,
        backend: Literal["torch", "sklearn"] = "torch", device: Any = None) -> np.ndarray:
    """Orthogonal matching pursuit for each column of ``signals`` over ``dictionary``.

    Greedily adds the atom most correlated with the residual and re-fits all chosen coefficients by least
    squares, until ``n_nonzero`` atoms are used or the squared residual norm is at most ``tol``.

    Parameters
    ----------
    signals : array (d, n) or (d,)
    dictionary : array (d, K)
        Columns should have unit norm (as in scikit-learn).
    n_nonzero : int, optional
        Maximum number of atoms per signal (default: ``d // 10`` when ``tol`` is None, else ``d``).
    tol : float, optional
        Target squared residual norm ``||y - D a||^2`` (the error-bounded variant). With both ``tol`` and
        ``n_nonzero``, OMP stops at whichever comes first (scikit-learn lets ``tol`` override).
    backend : "torch" or "sklearn"
        The batched torch kernel (default; CPU or GPU) or :func:`sklearn.linear_model.orthogonal_mp`.
    device : optional
        Torch device for the torch backend.

    Returns
    -------
    codes : array (K, n) (or (K,) for one signal), in the signals' float dtype (float64 or float32)

    References
    ----------
    Y. C. Pati, R. Rezaiifar, P. S. Krishnaprasad, "Orthogonal matching pursuit", Asilomar 1993;
    R. Rubinstein, M. Zibulevsky, M. Elad, "Efficient implementation of the K-SVD algorithm using batch
    orthogonal matching pursuit", Technion CS-2008-08.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(4)
    >>> omp(np.array([0.0, 3.0, 0.0, 1.0]), D, n_nonzero=1)
    array([0., 3., 0., 0.])
    """
    one = np.ndim(signals) == 1
    y = _as_2d(signals, "signals")
    dmat = _as_2d(dictionary, "dictionary")
    if dmat.shape[0] != y.shape[0]:
        raise ValueError(f"dictionary: expected {y.shape[0]} rows (the signal length), got shape {dmat.shape}")
    check_choice(backend, "backend", ("torch", "sklearn"))
    d = y.shape[0]
    if tol is not None:
        tol = check_positive(tol, "tol", allow_zero=True)
    if n_nonzero is None:
        n_nonzero = max(1, d // 10) if tol is None else d
    n_nonzero = check_int(n_nonzero, "n_nonzero", low=1)
    n_nonzero = min(n_nonzero, dmat.shape[1], d)
    dtype = np.float32 if (y.dtype == np.float32 and dmat.dtype == np.float32) else np.float64
    if backend == "sklearn":
        from sklearn.linear_model import orthogonal_mp

        codes = orthogonal_mp(dmat.astype(np.float64), y.astype(np.float64),
                              n_nonzero_coefs=None if tol is not None else n_nonzero, tol=tol)
        codes = np.asarray(codes, dtype=dtype).reshape(dmat.shape[1], -1)
    else:
        import torch

        from aip._shared.torch_bridge import resolve_device

        dev = resolve_device(device)
        tdt = torch.float32 if dtype == np.float32 else torch.float64
        codes = _omp_torch(torch.as_tensor(dmat, dtype=tdt, device=dev), torch.as_tensor(y, dtype=tdt, device=dev),
                           n_nonzero, tol).cpu().numpy()
    return codes[:, 0] if one else codes


# --------------------------------------------------------------------------------------------------
# K-SVD
# --------------------------------------------------------------------------------------------------

class KSVDResult(NamedTuple):
    """Output of :func:`ksvd`: the dictionary (d, K), the codes (K, n) and the representation error
    ``||Y - D X||_F^2 / n`` after each iteration (first entry: with the initial dictionary)."""

    dictionary: np.ndarray
    codes: np.ndarray
    errors: list


def dct_dictionary(patch_size: int = 8, n_atoms: int = 256) -> np.ndarray:
    """Overcomplete separable DCT dictionary ``(patch_size^2, n_atoms)`` (Elad & Aharon 2006).

    The 1-D dictionary has ``sqrt(n_atoms)`` cosines of ``patch_size`` samples (mean removed but for the
    first), the 2-D one is their Kronecker product, columns normalised.

    Examples
    --------
    >>> dct_dictionary(8, 256).shape
    (64, 256)
    """
    p = check_int(patch_size, "patch_size", low=1)
    k1 = math.isqrt(check_int(n_atoms, "n_atoms", low=1))
    if k1 * k1 != n_atoms or k1 < p:
        raise ValueError(f"n_atoms: expected a square >= patch_size^2 = {p * p}, got {n_atoms}")
    d1 = np.cos(np.outer(np.arange(p), np.arange(k1)) * np.pi / k1)
    d1[:, 1:] -= d1[:, 1:].mean(0)
    d1 /= np.linalg.norm(d1, axis=0)
    return np.kron(d1, d1)


def _code_keep_best(y, dmat, x_old, n_nonzero, tol, device):
    """OMP codes, keeping the previous code of a signal when it represents it better (monotone K-SVD)."""
    x = omp(y, dmat, n_nonzero=n_nonzero, tol=tol, device=device)
    if x_old is not None:
        e_new = ((y - dmat @ x) ** 2).sum(0)
        e_old = ((y - dmat @ x_old) ** 2).sum(0)
        worse = e_new > e_old
        x[:, worse] = x_old[:, worse]
    return x


def ksvd(signals: Any, n_atoms: int | None = None, *, dictionary: Any = None, n_nonzero: int | None = None,
         tol: float | None = None, n_iter: int = 10, seed: int = 0, device: Any = None) -> KSVDResult:
    """K-SVD dictionary learning (Aharon, Elad & Bruckstein 2006).

    Alternates (1) sparse coding of all signals by OMP (a signal keeps its previous code if the new one
    represents it worse, so the error never increases) and (2) for each atom k, the rank-1 SVD of the
    residual restricted to the signals that use it, ``E_k = u s v^T``: ``d_k <- u``, ``x_k <- s v``. An
    unused atom is replaced by the (normalised) worst-represented signal.

    Parameters
    ----------
    signals : array (d, n)
    n_atoms : int, optional
        Dictionary size when no initial ``dictionary`` is given (initialised with random signals).
    dictionary : array (d, K), optional
        Initial dictionary (columns are normalised).
    n_nonzero, tol : OMP stopping rule (see :func:`omp`).
    n_iter : int
    seed : int
        Seeds the random initial atoms.
    device : optional
        Torch device of the OMP step.

    Returns
    -------
    KSVDResult(dictionary, codes, errors)

    References
    ----------
    M. Aharon, M. Elad, A. Bruckstein, "K-SVD: an algorithm for designing overcomplete dictionaries for
    sparse representation", IEEE TSP 54(11), 2006.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal((16, 200))
    >>> r = ksvd(y, 32, n_nonzero=3, n_iter=3)
    >>> r.dictionary.shape, bool(r.errors[-1] <= r.errors[0])
    ((16, 32), True)
    """
    y = _as_2d(signals, "signals").astype(np.float64)
    d, n = y.shape
    n_iter = check_int(n_iter, "n_iter", low=0)
    rng = np.random.default_rng(seed)
    if dictionary is not None:
        dmat = _as_2d(dictionary, "dictionary").astype(np.float64).copy()
        if dmat.shape[0] != d:
            raise ValueError(f"dictionary: expected {d} rows (the signal length), got shape {dmat.shape}")
    else:
        if n_atoms is None:
            raise ValueError("ksvd: expected n_atoms or an initial dictionary, got neither")
        k = check_int(n_atoms, "n_atoms", low=1)
        pick = rng.choice(n, size=k, replace=k > n)
        dmat = y[:, pick] + 1e-6 * rng.standard_normal((d, k))
    norms = np.linalg.norm(dmat, axis=0)
    dmat /= np.where(norms > 0, norms, 1.0)
    x = _code_keep_best(y, dmat, None, n_nonzero, tol, device)
    resid = y - dmat @ x
    errors = [float((resid ** 2).sum() / n)]
    for _ in range(n_iter):
        used = np.zeros(n, dtype=bool)
        for k in rng.permutation(dmat.shape[1]):
            omega = np.flatnonzero(x[k])
            if omega.size == 0:
                # dead atom: the worst-represented signal not yet used as a replacement
                err = (resid ** 2).sum(0)
                err[used] = -1.0
                j = int(err.argmax())
                used[j] = True
                nrm = np.linalg.norm(resid[:, j])
                if nrm > 0:
                    dmat[:, k] = resid[:, j] / nrm
                continue
            e = resid[:, omega] + np.outer(dmat[:, k], x[k, omega])
            u, s, vt = np.linalg.svd(e, full_matrices=False)
            dmat[:, k] = u[:, 0]
            x[k, omega] = s[0] * vt[0]
            resid[:, omega] = e - np.outer(dmat[:, k], x[k, omega])
        x = _code_keep_best(y, dmat, x, n_nonzero, tol, device)
        resid = y - dmat @ x
        errors.append(float((resid ** 2).sum() / n))
    return KSVDResult(dmat, x, errors)


# --------------------------------------------------------------------------------------------------
# K-SVD denoising
# --------------------------------------------------------------------------------------------------

def _ksvd_denoise_2d(img: np.ndarray, sigma: float, *, patch_size: int, n_atoms: int, n_iter: int, c: float,
                     lam: float, max_patches: int, seed: int, device: Any) -> np.ndarray:
    import torch

    from aip.restore._patches import aggregate, extract

    h, w = img.shape
    p = min(patch_size, h, w)
    k1 = max(p, math.isqrt(n_atoms))
    y = torch.as_tensor(img, dtype=torch.float64)
    pat = extract(y, p).numpy().T                      # (d, N)
    d, n = pat.shape
    means = pat.mean(0, keepdims=True)
    pc = pat - means
    tol = d * (c * sigma) ** 2                         # ||r||^2 <= d (C sigma)^2
    rng = np.random.default_rng(seed)
    train = pc[:, rng.choice(n, size=min(n, max_patches), replace=False)]
    d0 = dct_dictionary(p, k1 * k1)
    dic = ksvd(train, dictionary=d0, tol=tol, n_nonzero=d // 2, n_iter=n_iter, seed=seed,
               device=device).dictionary
    codes = omp(pc, dic, tol=tol, n_nonzero=d // 2, device=device)
    est = dic @ codes + means                          # (d, N)
    num, den = aggregate(torch.as_tensor(est.T.copy()), torch.ones(n, dtype=torch.float64), (h, w), p)
    # x = (lam y + sum R^T D a) / (lam + sum R^T R)
    out = (lam * y + num) / (lam + den)
    return out.numpy().astype(np.float32)


def denoise_ksvd(image: Any, sigma: float, *, patch_size: int = 8, n_atoms: int = 256, n_iter: int = 10,
                 c: float = 1.15, lam: float | None = None, max_patches: int = 20000, seed: int = 0,
                 channel_axis: int | None = None, device: Any = None) -> np.ndarray:
    """K-SVD denoising (Elad & Aharon 2006).

    A dictionary, initialised with the overcomplete DCT, is learned by :func:`ksvd` on (a random subset of)
    the noisy image's mean-removed patches with error-bounded OMP (``||r||^2 <= d (c sigma)^2``); every
    overlapping patch is then coded and the image is the average of the patch estimates with the noisy
    image weighted by ``lam``: ``x = (lam y + sum_ij R_ij^T D a_ij) / (lam + sum_ij R_ij^T R_ij)``.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), float in [0, 1]
    sigma : float
        Noise standard deviation on the image's scale.
    patch_size : int
    n_atoms : int
        A square >= ``patch_size^2`` (256 for 8x8 patches).
    n_iter : int
        K-SVD iterations.
    c : float
        Error-bound gain (1.15 in the paper).
    lam : float, optional
        Weight of the noisy image; default ``30 / (255 sigma)`` (the paper's ``lambda = 30 / sigma``).
    max_patches : int
        Patches used for training (a seeded random subset).
    seed : int
    channel_axis : int, optional
    device : optional
        Torch device of the OMP steps.

    Returns
    -------
    array of the input's shape, float32

    References
    ----------
    M. Elad, M. Aharon, "Image denoising via sparse and redundant representations over learned
    dictionaries", IEEE TIP 15(12), 2006.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 1, 32), (32, 1)).astype(np.float32)
    >>> noisy = clean + 0.1 * rng.standard_normal(clean.shape).astype(np.float32)
    >>> out = denoise_ksvd(noisy, 0.1, n_iter=2, n_atoms=64)
    >>> bool(np.mean((out - clean) ** 2) < np.mean((noisy - clean) ** 2) / 3)
    True
    """
    img = as_image(image, "image")
    s = check_positive(sigma, "sigma")
    p = check_int(patch_size, "patch_size", low=2)
    na = check_int(n_atoms, "n_atoms", low=1)
    if math.isqrt(na) ** 2 != na or na < p * p:
        raise ValueError(f"n_atoms: expected a perfect square >= patch_size^2 = {p * p}, got {na}")
    knobs = {"patch_size": p, "n_atoms": na, "n_iter": check_int(n_iter, "n_iter", low=0),
                 "c": check_positive(c, "c"), "lam": 30.0 / (255.0 * s) if lam is None else check_positive(lam, "lam",
                                                                                                    allow_zero=True),
                 "max_patches": check_int(max_patches, "max_patches", low=1), "seed": int(seed), "device": device}
    if img.ndim == 3 and channel_axis is None and img.shape[2] == 1:
        return _ksvd_denoise_2d(img[..., 0], s, **knobs)[..., None]
    return per_channel(lambda ch: _ksvd_denoise_2d(ch, s, **knobs), img, channel_axis)


# --------------------------------------------------------------------------------------------------
# Sparse-coding super-resolution (coupled dictionaries)
# --------------------------------------------------------------------------------------------------

#: Training images of the shipped SR dictionaries (never the benchmark's test images camera, astronaut,
#: coffee, chelsea).
SR_TRAINING_IMAGES = ("brick", "grass", "gravel", "rocket", "moon", "page", "text", "hubble_deep_field")

_SR_ASSET = "sparse_sr"   # aip.io.assets: sparse_sr.safetensors (keys "x{scale}.{array}") + sparse_sr.json
_SR_CACHE: dict = {}


def _sr_degrade(hr: np.ndarray, scale: int) -> np.ndarray:
    """The SR observation model: anti-aliased bicubic blur then decimation (``aip.degrade.Downsample``,
    symmetric boundary, i.e. MATLAB ``imresize``)."""
    from aip.degrade import Downsample

    return np.asarray(Downsample(scale, "bicubic", mode="symmetric").A(hr.astype(np.float64)), dtype=np.float64)


def _bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    from aip.restore.variational import upscale_bicubic

    return upscale_bicubic(lr.astype(np.float32), scale).astype(np.float64)


def _sr_features(mid: np.ndarray, p: int, stride: int) -> tuple[np.ndarray, tuple[int, int]]:
    """First and second order gradients of the bicubic image (Yang et al. 2010), as patch vectors.

    Returns ``(features (4 p^2, N), positions grid shape)`` for patches every ``stride`` pixels (the last
    row/column always included).
    """
    maps = _gradient_maps(mid)
    rows, cols = _grid(mid.shape[0], p, stride), _grid(mid.shape[1], p, stride)
    feats = [_patches_at(m, p, rows, cols) for m in maps]
    return np.concatenate(feats, 0), (len(rows), len(cols))


def _gradient_maps(mid: np.ndarray) -> list[np.ndarray]:
    """``[-1, 0, 1]`` and ``[1, 0, -2, 0, 1]`` filters along both axes (Yang et al. 2010)."""
    from scipy import ndimage

    f1 = np.array([[-1.0, 0.0, 1.0]])
    f3 = np.array([[1.0, 0.0, -2.0, 0.0, 1.0]])
    return [ndimage.correlate(mid, f, mode="nearest") for f in (f1, f1.T, f3, f3.T)]


def _grid(n: int, p: int, stride: int) -> np.ndarray:
    pos = list(range(0, n - p + 1, stride))
    if pos[-1] != n - p:
        pos.append(n - p)
    return np.asarray(pos)


def _patches_at(img: np.ndarray, p: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``p x p`` patches with top-left corners on ``rows x cols`` as columns ``(p^2, len(rows) len(cols))``."""
    win = np.lib.stride_tricks.sliding_window_view(img, (p, p))
    return win[rows][:, cols].reshape(len(rows) * len(cols), p * p).T


def _sr_training_pairs(images: list[np.ndarray], scale: int, p: int, per_image: int, rng: np.random.Generator):
    """Seeded random (feature, residual) patch pairs, at most ``per_image`` from each training image."""
    lows, highs = [], []
    for hr in images:
        h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
        hr = hr[:h, :w].astype(np.float64)
        mid = _bicubic(_sr_degrade(hr, scale), scale)
        maps = _gradient_maps(mid)
        n_pos = (h - p + 1) * (w - p + 1)
        pos = rng.choice(n_pos, size=min(per_image, n_pos), replace=False)
        r, c = np.divmod(pos, w - p + 1)
        lows.append(np.concatenate([_patches_list(m, p, r, c) for m in maps], 0))
        highs.append(_patches_list(hr - mid, p, r, c))
    return np.concatenate(lows, 1), np.concatenate(highs, 1)


def _patches_list(img: np.ndarray, p: int, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    win = np.lib.stride_tricks.sliding_window_view(img, (p, p))
    return win[r, c].reshape(len(r), p * p).T


def train_sr_dictionary(scale: int, *, images: Any = None, n_atoms: int = 512, n_nonzero: int = 3,
                        n_iter: int = 10, n_train: int = 30000, n_pca: float = 0.999, seed: int = 0,
                        device: Any = None) -> dict:
    """Train coupled low/high-resolution dictionaries for :func:`upscale_sparse` (deterministic).

    Training pairs come from the training images only (default :data:`SR_TRAINING_IMAGES`): each image
    is degraded by the SR model (bicubic blur + decimation, :class:`aip.degrade.Downsample`) and
    bicubic-upscaled back; a low-resolution feature is the first/second-order gradients of that image
    on a ``3 scale x 3 scale`` patch, reduced by PCA (the energy fraction ``n_pca``), and its
    high-resolution partner is the patch of the residual ``hr - bicubic``. The joint vectors
    ``[l / sqrt(M); h / sqrt(N)]`` are learned by K-SVD with ``n_nonzero`` atoms (the coupled training
    of Yang et al. 2010 with OMP in place of the l1 solver); then, since the test-time codes come from the
    low-resolution half alone, the high-resolution half is refitted by least squares on those codes.

    Returns a dict of numpy arrays (``pca``, ``dict_low``, ``dict_high``, ``scale``, ``patch``).

    References
    ----------
    J. Yang, J. Wright, T. Huang, Y. Ma, "Image super-resolution via sparse representation", IEEE TIP
    19(11), 2010; R. Zeyde, M. Elad, M. Protter, "On single image scale-up using sparse-representations",
    Curves and Surfaces 2010 (PCA features, least-squares high-resolution dictionary).
    """
    from aip.io import load_sample

    s = check_int(scale, "scale", low=2, high=4)
    names = SR_TRAINING_IMAGES if images is None else images
    imgs = [load_sample(n, gray=True) if isinstance(n, str) else as_image(n, "images") for n in names]
    p = 3 * s
    rng = np.random.default_rng(seed)
    low, high = _sr_training_pairs(imgs, s, p, 3 * n_train // len(imgs), rng)
    energy = (low ** 2).sum(0)
    keep = energy > 1e-4 * p * p        # flat patches carry nothing to learn
    low, high = low[:, keep], high[:, keep]
    if low.shape[1] > n_train:
        pick = rng.choice(low.shape[1], n_train, replace=False)
        low, high = low[:, pick], high[:, pick]
    # PCA of the features (Zeyde et al.): keep the leading directions holding n_pca of the energy
    cov = low @ low.T
    ev, vec = np.linalg.eigh(cov)
    ev, vec = ev[::-1], vec[:, ::-1]
    m = int(np.searchsorted(np.cumsum(ev) / ev.sum(), n_pca) + 1)
    pca = vec[:, :m].T                                   # (m, 4 p^2)
    lp = pca @ low
    nl, nh = lp.shape[0], high.shape[0]
    joint = np.concatenate([lp / math.sqrt(nl), high / math.sqrt(nh)], 0)
    res = ksvd(joint, n_atoms, n_nonzero=n_nonzero, n_iter=n_iter, seed=seed, device=device)
    dl = res.dictionary[:nl] * math.sqrt(nl)
    norms = np.linalg.norm(dl, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    dl = dl / norms
    codes = omp(lp, dl, n_nonzero=n_nonzero, device=device)
    reg = 1e-6 * np.trace(codes @ codes.T) / codes.shape[0]
    dh = np.linalg.solve(codes @ codes.T + reg * np.eye(codes.shape[0]), codes @ high.T).T
    return {"pca": pca.astype(np.float32), "dict_low": dl.astype(np.float32), "dict_high": dh.astype(np.float32),
            "scale": np.array([s]), "patch": np.array([p])}


def _load_sr_dictionary(scale: int) -> dict:
    if scale in _SR_CACHE:
        return _SR_CACHE[scale]
    from aip.io.assets import MissingAssetError, load_asset

    d = None
    try:
        tensors, _ = load_asset(_SR_ASSET, numpy=True)
    except MissingAssetError:
        tensors = {}
    key = f"x{scale}."
    if key + "dict_low" in tensors:
        d = {k[len(key):]: v.astype(np.float32) for k, v in tensors.items() if k.startswith(key)}
    if d is None:
        d = train_sr_dictionary(scale)      # not shipped for this scale: re-train (deterministic)
    _SR_CACHE[scale] = d
    return d


def save_sr_dictionaries(dicts: dict, path: Any = None, *, meta: dict | None = None) -> Path:
    """Write ``{scale: train_sr_dictionary(scale)}`` as the asset ``sparse_sr`` (float16, a few hundred KB).

    ``path`` is the ``.safetensors`` file (default: the shipped one, :func:`aip.io.assets.asset_path`); its
    JSON record beside it holds the scales, the stored arrays and ``meta`` (say how the dictionaries were
    trained). Existing files are replaced. Returns the ``.safetensors`` path.
    """
    from aip.io.assets import ASSET_COMMANDS, asset_path, save_asset

    out = Path(path) if path is not None else asset_path(_SR_ASSET)
    if out.suffix != ".safetensors":
        raise ValueError(f"path: expected a .safetensors file, got {str(out)!r}")
    tensors = {f"x{s}.{k}": np.asarray(v) for s, d in dicts.items() for k, v in d.items()}
    record = {"name": out.stem, "what": "coupled sparse-coding SR dictionaries of aip.restore.upscale_sparse",
              "scales": sorted(int(s) for s in dicts), "arrays": {k: list(v.shape) for k, v in tensors.items()},
              "storage": "float16 for the floating arrays, int64 for scale and patch",
              "command": ASSET_COMMANDS.get(_SR_ASSET), **(meta or {})}
    return save_asset(out.stem, tensors, record, half_params=True, root=out.parent, force=True)


def _upscale_sparse_2d(lr: np.ndarray, s: int, d: dict, *, stride: int, n_nonzero: int, n_backproject: int,
                       device: Any) -> np.ndarray:
    p = int(d["patch"][0])
    mid = _bicubic(lr, s)
    h, w = mid.shape
    if h < p or w < p:
        return mid.astype(np.float32)
    feats, _ = _sr_features(mid, p, stride)
    lp = d["pca"].astype(np.float64) @ feats
    codes = omp(lp, d["dict_low"].astype(np.float64), n_nonzero=n_nonzero, device=device)
    hp = d["dict_high"].astype(np.float64) @ codes           # (p^2, N) residual patches
    rows, cols = _grid(h, p, stride), _grid(w, p, stride)
    num = np.zeros((h, w))
    den = np.zeros((h, w))
    k = 0
    for r in rows:                                            # overlap-add by rows of patches
        blk = hp[:, k:k + len(cols)].T.reshape(len(cols), p, p)
        for j, c in enumerate(cols):
            num[r:r + p, c:c + p] += blk[j]
            den[r:r + p, c:c + p] += 1.0
        k += len(cols)
    x = mid + num / np.maximum(den, 1.0)
    # back-projection: enforce the observation model D(x) = y (Irani & Peleg)
    for _ in range(n_backproject):
        x = x + _bicubic(lr - _sr_degrade(x, s), s)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def upscale_sparse(image: Any, scale: int, *, stride: int = 1, n_nonzero: int = 3, n_backproject: int = 20,
                   channel_axis: int | None = None, device: Any = None) -> np.ndarray:
    """Super-resolution by sparse coding over coupled dictionaries (Yang, Wright, Huang & Ma 2010).

    The low-resolution image is bicubic-upscaled; every ``3 scale x 3 scale`` patch of its first and
    second-order gradients is PCA-projected and sparse-coded by OMP (``n_nonzero`` atoms) over the
    low-resolution dictionary; the same code over the high-resolution dictionary predicts the patch of
    missing detail, the overlapping predictions are averaged and added, and back-projection then makes
    the result consistent with the observation model (bicubic blur + decimation). Dictionaries for x2
    and x3 ship as the asset ``sparse_sr`` (:mod:`aip.io.assets`; trained on :data:`SR_TRAINING_IMAGES` by
    :func:`train_sr_dictionary`); other scales (x4) are trained on first use.

    Parameters
    ----------
    image : array (h, w) or (h, w, C), float in [0, 1]
        The low-resolution image.
    scale : int
        2, 3 or 4.
    stride : int
        Spacing of the coded patches (1: every patch, the best quality).
    n_nonzero : int
    n_backproject : int
        Back-projection iterations.
    channel_axis : int, optional
    device : optional
        Torch device of the OMP step.

    Returns
    -------
    array (scale h, scale w[, C]), float32

    References
    ----------
    J. Yang, J. Wright, T. Huang, Y. Ma, "Image super-resolution via sparse representation", IEEE TIP
    19(11), 2010; M. Irani, S. Peleg, "Improving resolution by image registration", CVGIP 53(3), 1991.

    Examples
    --------
    >>> import numpy as np
    >>> out = upscale_sparse(np.full((8, 8), 0.5, np.float32), 2)
    >>> out.shape, float(abs(out - 0.5).max()) < 1e-3
    ((16, 16), True)
    """
    img = as_image(image, "image")
    s = check_int(scale, "scale", low=2, high=4)
    st = check_int(stride, "stride", low=1)
    knobs = {"stride": st, "n_nonzero": check_int(n_nonzero, "n_nonzero", low=1),
                 "n_backproject": check_int(n_backproject, "n_backproject", low=0), "device": device}
    d = _load_sr_dictionary(s)
    if img.ndim == 3 and channel_axis is None and img.shape[2] == 1:
        return _upscale_sparse_2d(img[..., 0].astype(np.float64), s, d, **knobs)[..., None]
    return per_channel(lambda ch: _upscale_sparse_2d(ch.astype(np.float64), s, d, **knobs), img, channel_axis)
