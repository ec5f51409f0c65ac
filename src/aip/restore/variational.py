"""Model-based restoration: total variation, Richardson-Lucy, plug-and-play ADMM, bicubic baseline.

Each method is a thin wrapper (validation, channels, numpy <-> torch) over the solver parts of
:mod:`aip.restore.solvers` and the operators of :mod:`aip.degrade`. Float images in [0, 1], (H, W) or
(H, W, C) with ``channel_axis`` (channels are processed one by one); results are float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from aip._shared.channels import per_channel, per_channel_pair
from aip._shared.validate import (
    as_channel_image,
    as_image,
    as_mask,
    check_choice,
    check_int,
    check_positive,
    describe,
)
from aip.restore import solvers

__all__ = [
    "METHODS",
    "deblur_pnp",
    "deblur_richardson_lucy",
    "deblur_tv",
    "denoise_tv",
    "inpaint_pnp",
    "inpaint_tv",
    "pnp_admm",
    "upscale_bicubic",
    "upscale_tv",
]

#: Public methods of this module by task (listed by ``aip info``).
METHODS = {
    "denoise": ["tv"],
    "deblur": ["tv", "richardson_lucy", "pnp"],
    "upscale": ["bicubic", "tv"],
    "inpaint": ["tv", "pnp"],
}

BOUNDARIES = ("circular", "reflect", "symmetric", "replicate", "zero")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _spatial_shape(img: np.ndarray, channel_axis) -> tuple[int, int]:
    if channel_axis is None:
        return img.shape[:2]
    ax = channel_axis % 3
    return tuple(s for i, s in enumerate(img.shape) if i != ax)


def _check_mask(mask, shape) -> np.ndarray:
    m = as_mask(mask, shape)
    if m.all():
        raise ValueError("mask: expected at least one observed (False) pixel, got all pixels missing")
    return m


def _blur_op(psf, boundary: str):
    from aip.degrade.operators import Blur

    check_choice(boundary, "boundary", BOUNDARIES)
    return Blur(psf, mode=boundary)


def _tensor(a: np.ndarray, device):
    from aip._shared.torch_bridge import to_tensor

    return to_tensor(a, device)


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _check_psf_fits(psf: np.ndarray, shape) -> None:
    if psf.shape[0] > shape[0] or psf.shape[1] > shape[1]:
        raise ValueError(f"psf: expected a kernel no larger than the image {tuple(shape)}, got shape {psf.shape}")


# --------------------------------------------------------------------------------------------------
# TV denoising (Chambolle 2004)
# --------------------------------------------------------------------------------------------------
def denoise_tv(
    image,
    sigma: float,
    *,
    weight: float | None = None,
    n_iter: int = 200,
    eps: float = 2e-4,
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """Total variation (ROF) denoising by Chambolle's projection algorithm.

    Solves min_u 1/2 ||u - f||^2 + weight TV(u) (isotropic TV, Neumann boundary) by the dual fixed-point
    iteration of Chambolle (2004), step 1/4, stopped when the energy changes by less than ``eps`` relative
    to the first iteration: the same iteration as ``skimage.restoration.denoise_tv_chambolle``.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Noisy float image in [0, 1].
    sigma : float
        Noise standard deviation; sets ``weight = 0.8 * sigma`` unless ``weight`` is given (the best
        factor of 0.6 / 0.8 / 1.0 / 1.2 / 1.5 on camera and astronaut 256 at sigma 15, 25, 50 / 255).
    weight : float, optional
        Regularisation weight (scikit-image's ``weight``).
    n_iter : int
        Maximum number of iterations.
    eps : float
        Relative energy-change stopping tolerance.
    channel_axis : int, optional
        Axis of the colour channels (each channel is denoised on its own).
    device : str or torch.device, optional
        Where to compute (None: CPU).

    References
    ----------
    L. Rudin, S. Osher and E. Fatemi, "Nonlinear total variation based noise removal algorithms",
    Physica D 60, 1992.
    A. Chambolle, "An algorithm for total variation minimization and applications", JMIV 20, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((32, 32), np.float32); x[8:24, 8:24] = 1
    >>> y = x + 0.1 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    >>> float(np.abs(denoise_tv(y, 0.1) - x).mean()) < 0.5 * float(np.abs(y - x).mean())
    True
    """
    img = as_channel_image(image, channel_axis)
    sigma = check_positive(sigma, "sigma")
    w = 0.8 * sigma if weight is None else check_positive(weight, "weight")
    n_iter = check_int(n_iter, "n_iter", low=1)
    eps = check_positive(eps, "eps", allow_zero=True)

    def run(c):
        return _numpy(solvers.prox_tv(_tensor(c, device), w, n_iter=n_iter, eps=eps))

    return per_channel(run, img, channel_axis)


# --------------------------------------------------------------------------------------------------
# TV deconvolution, super-resolution, inpainting
# --------------------------------------------------------------------------------------------------
def deblur_tv(
    image,
    psf,
    *,
    sigma: float,
    weight: float | None = None,
    n_iter: int = 200,
    boundary: Literal["circular", "reflect", "symmetric", "replicate", "zero"] = "circular",
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """TV-regularised deconvolution, min_x 1/2 ||k * x - y||^2 + weight TV(x), by Chambolle-Pock.

    The primal-dual iteration of Chambolle & Pock (2011) with K = grad, the dual step the projection on the
    weight-ball, the primal step the proximal map of the data term, solved exactly in the Fourier domain
    for a circular blur (conjugate gradients for the other boundary models).

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Blurred noisy float image in [0, 1].
    psf : array (kh, kw)
        Point spread function (divided by its sum), centred at (kh // 2, kw // 2).
    sigma : float
        Noise standard deviation; sets ``weight`` unless it is given (see Notes).
    weight : float, optional
        Regularisation weight (on the scale of 1/2 ||k * x - y||^2).
    n_iter : int
        Number of primal-dual iterations.
    boundary : str
        Boundary model of the blur (:class:`aip.degrade.Blur` modes); "circular" is exact and fastest.
    channel_axis, device
        As everywhere in aip.

    Notes
    -----
    The default weight is the MAP form lambda sigma^2 with lambda = 4.5, tuned on camera and astronaut
    (256, Gaussian 1.6 and 9x9 box blur, sigma 0.01; see benchmarks/restore_variational.py). The primal step
    is 0.007 / weight (dual step 1 / (8 tau)), which converged to 0.01 dB within 200 iterations there.

    References
    ----------
    L. Rudin, S. Osher and E. Fatemi, Physica D 60, 1992.
    A. Chambolle and T. Pock, "A first-order primal-dual algorithm for convex problems with applications to
    imaging", JMIV 40, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from aip.degrade import Blur, gaussian
    >>> x = np.zeros((32, 32), np.float32); x[8:24, 8:24] = 1
    >>> psf = gaussian(1.0)
    >>> y = Blur(psf).A(x)
    >>> float(np.abs(deblur_tv(y, psf, sigma=0.001) - x).mean()) < float(np.abs(y - x).mean())
    True
    """
    img = as_channel_image(image, channel_axis)
    from aip.degrade.kernels import check_psf

    k = check_psf(psf)
    _check_psf_fits(k, _spatial_shape(img, channel_axis))
    sigma = check_positive(sigma, "sigma")
    w = _default_tv_deblur_weight(sigma) if weight is None else check_positive(weight, "weight")
    n_iter = check_int(n_iter, "n_iter", low=1)
    op = _blur_op(k, boundary)

    def run(c):
        y = _tensor(c, device)
        fid = solvers.L2Fidelity(op, y)
        # primal step ~ 0.007 / weight (tuned: converged to 0.01 dB in 200 iterations at sigma 0.01)
        tau = float(min(100.0, max(0.25, 0.007 / w)))
        return _numpy(solvers.chambolle_pock(fid, w, y, n_iter=n_iter, tau=tau))

    return per_channel(run, img, channel_axis)


def _default_tv_deblur_weight(sigma: float) -> float:
    # MAP weight lambda * sigma^2, lambda = 4.5 tuned on camera/astronaut 256 (Gaussian 1.6 and 9x9 box)
    return 4.5 * sigma * sigma


def upscale_tv(
    image,
    scale: int,
    *,
    weight: float = 5e-4,
    kernel: str | Any = "bicubic",
    boundary: Literal["circular", "reflect", "symmetric", "replicate", "zero"] = "symmetric",
    n_iter: int = 60,
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """TV super-resolution: min_x 1/2 ||D x - y||^2 + weight TV(x), with D = blur + decimation.

    ``D`` is :class:`aip.degrade.Downsample` (``kernel``, ``boundary``), so the result is consistent with the
    degradation that made ``y``; solved by the fully split primal-dual algorithm (only ``D`` and ``D^T``),
    started from :func:`upscale_bicubic`. With ``weight`` -> 0 this is iterative back-projection.

    Parameters
    ----------
    image : array (h, w) or (h, w, C)
        Low-resolution float image in [0, 1].
    scale : int
        Integer upscaling factor (>= 2); the output is (h * scale, w * scale).
    weight : float
        TV weight (small for noise-free data; 5e-4 was the best of 5e-4 / 2e-3 / 5e-3 on camera x2 / x3).
    kernel : str or array
        Anti-aliasing kernel of the downsampling model (see :class:`aip.degrade.Downsample`).
    boundary : str
        Boundary model of that blur.
    n_iter : int
        Primal-dual iterations (preconditioned; within 0.1 dB of 100 iterations at 50).

    References
    ----------
    M. Irani and S. Peleg, "Improving resolution by image registration", CVGIP 53(3), 1991.
    A. Marquina and S. Osher, "Image super-resolution by TV-regularization and Bregman iteration",
    J. Sci. Comput. 37, 2008.

    Examples
    --------
    >>> import numpy as np
    >>> upscale_tv(np.full((8, 8), 0.5, np.float32), 2, n_iter=5).shape
    (16, 16)
    """
    img = as_channel_image(image, channel_axis)
    s = check_int(scale, "scale", low=2, high=16)
    w = check_positive(weight, "weight", allow_zero=True)
    n_iter = check_int(n_iter, "n_iter", low=1)
    check_choice(boundary, "boundary", BOUNDARIES)
    from aip.degrade.operators import Downsample

    op = Downsample(s, kernel, mode=boundary)
    init = upscale_bicubic(img, s, channel_axis=channel_axis)
    hs, ws = _spatial_shape(img, channel_axis)
    import torch

    op_norm = op.norm((hs * s, ws * s), n_iter=10, dtype=torch.float32)

    def run_pair(c_lr, c_init):
        y = _tensor(c_lr, device)
        x0 = _tensor(c_init, device)
        if w == 0:
            return _numpy(_back_projection(op, y, x0, n_iter, op_norm))
        return _numpy(solvers.pdhg_linear(op, y, w, x0, n_iter=n_iter, op_norm=op_norm))

    return per_channel_pair(run_pair, img, init, channel_axis)


def _back_projection(op, y, x0, n_iter: int, op_norm: float):
    # Landweber / iterative back-projection: x <- x + step D^T (y - D x)
    step = 1.0 / max(op_norm ** 2, 1e-12)
    x = x0.clone()
    for _ in range(n_iter):
        x = x + step * op.A_adjoint(y - op.A(x), shape=tuple(x.shape[-2:]))
    return x


def inpaint_tv(
    image,
    mask,
    *,
    weight: float | None = None,
    n_iter: int = 500,
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """TV inpainting: min TV(x) subject to x = y on the observed pixels (Chambolle-Pock).

    With ``weight`` given, the data constraint is relaxed to the noisy-data model
    1/2 ||M (x - y)||^2 + weight TV(x). Missing pixels start at the mean of the observed ones.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Image in [0, 1]; values at missing pixels are ignored.
    mask : array (H, W) of bool
        True where pixels are MISSING (as in scikit-image).
    weight : float, optional
        None for the exact constraint (noise-free data); a positive weight for noisy data.
    n_iter : int
        Primal-dual iterations.

    References
    ----------
    T. F. Chan and J. Shen, "Mathematical models for local nontexture inpaintings", SIAM J. Appl. Math.
    62(3), 2002.
    A. Chambolle and T. Pock, JMIV 40, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    >>> m = np.zeros((16, 16), bool); m[6:9, 6:9] = True
    >>> float(np.abs(inpaint_tv(x, m) - x).max()) < 0.02
    True
    """
    img = as_channel_image(image, channel_axis)
    m = _check_mask(mask, _spatial_shape(img, channel_axis))
    n_iter = check_int(n_iter, "n_iter", low=1)
    w = None if weight is None else check_positive(weight, "weight")
    from aip.degrade.operators import Mask

    def run(c):
        y = _tensor(c, device)
        known = _tensor(~m, device).bool()
        x0 = y.clone()
        x0[~known] = y[known].mean()
        if w is None:
            fid = solvers.ConstraintFidelity(y, known)
            return _numpy(solvers.chambolle_pock(fid, 1.0, x0, n_iter=n_iter, tau=0.25))
        fid = solvers.L2Fidelity(Mask(m), y * known)
        return _numpy(solvers.chambolle_pock(fid, w, x0, n_iter=n_iter, tau=0.25))

    return per_channel(run, img, channel_axis)


def _harmonic_fill(y: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Harmonic inpainting: the missing pixels solve the discrete Laplace equation (4-neighbour, Neumann
    at the image border) with the observed pixels as Dirichlet data; one sparse direct solve."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    h, w = y.shape
    n = int(missing.sum())
    out = y.astype(np.float64).copy()
    if n == 0:
        return out.astype(np.float32)
    idx = -np.ones((h, w), dtype=np.int64)
    idx[missing] = np.arange(n)
    ii, jj = np.nonzero(missing)
    rows, cols, vals = [], [], []
    rhs = np.zeros(n)
    deg = np.zeros(n)
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ni, nj = ii + di, jj + dj
        inside = (ni >= 0) & (ni < h) & (nj >= 0) & (nj < w)
        deg += inside
        k = np.nonzero(inside)[0]
        nb = idx[ni[k], nj[k]]
        unknown = nb >= 0
        rows.append(k[unknown])
        cols.append(nb[unknown])
        vals.append(-np.ones(int(unknown.sum())))
        kk = k[~unknown]
        np.add.at(rhs, kk, out[ni[kk], nj[kk]])
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(deg)
    lap = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    # a component of missing pixels with no observed neighbour is singular: regularise it to the mean
    lap = lap + sp.identity(n, format="csc") * 1e-9
    rhs = rhs + 1e-9 * float(y[~missing].mean())
    out[missing] = spla.spsolve(lap, rhs)
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Richardson-Lucy
# --------------------------------------------------------------------------------------------------
def deblur_richardson_lucy(
    image,
    psf,
    *,
    sigma: float | None = None,
    n_iter: int | None = None,
    boundary: Literal["circular", "reflect", "symmetric", "replicate", "zero"] = "circular",
    clip: bool = True,
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """Richardson-Lucy deconvolution (maximum likelihood for Poisson data, EM iteration).

    x <- x * K^T (y / (K x + 1e-12)) from x = 0.5, with K the blur (:class:`aip.degrade.Blur`,
    ``boundary``); with ``boundary="zero"`` this is scikit-image's ``richardson_lucy`` (zero-padded 'same'
    convolution). The iteration count is the regulariser (early stopping).

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Blurred, non-negative float image in [0, 1] (values down to -1e-6, FFT round-off, are taken as 0;
        anything more negative is an error: clip Gaussian-noisy data yourself).
    psf : array (kh, kw)
        Point spread function (divided by its sum).
    sigma : float, optional
        Noise level; only used to pick the default ``n_iter`` (fewer iterations for more noise).
    n_iter : int, optional
        Number of iterations (default: 30, or round(0.25 / sigma) clipped to [5, 100] when sigma is given).
    boundary : str
        Boundary model of the blur.
    clip : bool
        Clip the result to [-1, 1] as scikit-image does.

    References
    ----------
    W. H. Richardson, "Bayesian-based iterative method of image restoration", JOSA 62(1), 1972.
    L. B. Lucy, "An iterative technique for the rectification of observed distributions", AJ 79, 1974.

    Examples
    --------
    >>> import numpy as np
    >>> from aip.degrade import Blur, gaussian
    >>> x = np.zeros((32, 32), np.float32); x[8:24, 8:24] = 1
    >>> y = Blur(gaussian(1.0)).A(x)
    >>> out = deblur_richardson_lucy(y, gaussian(1.0), n_iter=30)
    >>> float(np.abs(out - x).mean()) < float(np.abs(y - x).mean())
    True
    """
    img = as_channel_image(image, channel_axis)
    if img.min() < -1e-6:
        raise ValueError(f"image: expected non-negative values for Richardson-Lucy, got a minimum of {img.min():.3g}")
    img = np.maximum(img, 0.0)  # only FFT round-off (>= -1e-6) gets here
    from aip.degrade.kernels import check_psf

    k = check_psf(psf)
    _check_psf_fits(k, _spatial_shape(img, channel_axis))
    if sigma is not None:
        sigma = check_positive(sigma, "sigma")
    if n_iter is None:
        n_iter = 30 if sigma is None else int(min(100, max(5, round(0.25 / sigma))))
    n_iter = check_int(n_iter, "n_iter", low=1)
    op = _blur_op(k, boundary)

    import torch

    def run(c):
        y = _tensor(c, device).double()
        x = torch.full_like(y, 0.5)
        for _ in range(n_iter):
            x = x * op.A_adjoint(y / (op.A(x) + 1e-12))
        if clip:
            x = x.clamp(-1.0, 1.0)
        return _numpy(x)

    return per_channel(run, img, channel_axis)


# --------------------------------------------------------------------------------------------------
# bicubic baseline
# --------------------------------------------------------------------------------------------------
def _cubic_weights(n_in: int, scale: int) -> np.ndarray:
    """(n_in * scale, n_in) matrix of Keys' cubic interpolation (a = -0.5) on the pixel-centre grid."""
    from aip.degrade.operators import _cubic

    n_out = n_in * scale
    pos = (np.arange(n_out) + 0.5) / scale - 0.5  # low-res coordinate of every high-res pixel centre
    base = np.floor(pos).astype(int)
    mat = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for t in range(-1, 3):
        idx = base + t
        wgt = _cubic(pos - idx)
        # symmetric extension (b a | a b c | c b), as MATLAB's imresize
        idx = np.where(idx < 0, -idx - 1, idx)
        idx = np.where(idx >= n_in, 2 * n_in - 1 - idx, idx)
        idx = np.clip(idx, 0, n_in - 1)
        np.add.at(mat, (rows, idx), wgt)
    return mat


def upscale_bicubic(image, scale: int, *, channel_axis: int | None = None) -> np.ndarray:
    """Bicubic interpolation by an integer ``scale`` (Keys a = -0.5, symmetric boundary).

    A low-resolution pixel i sits at the centre of the high-resolution block it came from,
    i * scale + (scale - 1) / 2, which is the sampling grid of :class:`aip.degrade.Downsample` (and of
    MATLAB's ``imresize`` and Pillow). Separable: out = R x C^T with two sparse cubic weight matrices.

    References
    ----------
    R. Keys, "Cubic convolution interpolation for digital image processing", IEEE TASSP 29(6), 1981.

    Examples
    --------
    >>> import numpy as np
    >>> out = upscale_bicubic(np.full((4, 4), 0.25, np.float32), 2)
    >>> out.shape, float(abs(out - 0.25).max()) < 1e-6
    ((8, 8), True)
    """
    img = as_channel_image(image, channel_axis)
    s = check_int(scale, "scale", low=1, high=16)

    def run(c):
        r = _cubic_weights(c.shape[0], s)
        cc = _cubic_weights(c.shape[1], s)
        return (r @ c.astype(np.float64) @ cc.T).astype(np.float32)

    return per_channel(run, img, channel_axis)


# --------------------------------------------------------------------------------------------------
# plug-and-play ADMM
# --------------------------------------------------------------------------------------------------
def _resolve_denoiser(denoiser, **default_knobs):
    """The denoiser in the batch contract: a name of the ``denoise`` registry (None: the default for
    plug-and-play, the DCT denoiser; see benchmarks/restore_variational.py), a batch denoiser, or a numpy
    ``f(image, sigma)`` wrapped once."""
    from aip.restore.denoisers import get_denoiser

    if denoiser is None:
        return get_denoiser("dct", **default_knobs)
    if isinstance(denoiser, str):
        return get_denoiser(denoiser)
    from aip._shared.denoiser import as_denoiser

    return as_denoiser(denoiser)


def pnp_admm(
    y,
    operator,
    denoiser: Callable | str | None = None,
    *,
    sigma: float,
    n_iter: int = 12,
    sigma_start: float = 0.2,
    lam: float = 0.3,
    scheme: str = "admm",
    x0=None,
    callback: Callable | None = None,
    device=None,
) -> np.ndarray:
    """Plug-and-play restoration of one image: min_x 1/(2 sigma^2) ||A x - y||^2 + R(x), R given by a denoiser.

    The numpy front of :func:`aip.restore.solvers.pnp`. With the default scheme, scaled ADMM with the
    splitting x = z: x <- prox of the data term (the operator's ``prox_l2``: closed form for blur, masks and
    circular SR, conjugate gradients otherwise); z <- denoiser(x + u, s_k); u <- u + x - z. The denoiser's
    noise level s_k goes down geometrically from ``sigma_start`` to ``max(sigma, 1/255)`` and the penalty
    follows it, tau_k = s_k^2 / (lam sigma^2) (continuation, as in DPIR).

    Parameters
    ----------
    y : array (H', W') or (H', W', C), or tensor (..., H', W')
        The observation A x + noise, in [0, 1]; colour images are restored whole (the denoiser sees
        all channels).
    operator : aip.degrade operator or Physics
        Anything with ``A``, ``A_adjoint`` and ``prox_l2`` (Blur, Mask, Downsample, Compose, Identity).
    denoiser : callable, str or None
        A batch denoiser (``(B, C, H, W) tensor, sigma -> tensor``, e.g. a network), a numpy
        ``f(image, sigma) -> image`` (any aip denoiser), or a name of the ``denoise`` registry; None uses
        the default (:func:`aip.restore.transforms.denoise_dct`).
    sigma : float
        Noise level of y (> 0; use a small value such as 1/255 for noise-free data).
    n_iter : int
        Iterations (one denoiser call each).
    sigma_start : float
        Denoiser noise level of the first iteration.
    lam : float
        Trade-off between the data term and the prior (DPIR's lambda).
    scheme : {"admm", "hqs", "pgd"}
        ADMM, half-quadratic splitting (no dual variable, as DPIR: often better with a decreasing
        schedule) or proximal gradient (see :data:`aip.restore.solvers.SCHEMES`).
    x0 : array, optional
        Start (default A^T y).
    callback : callable, optional
        ``callback(k, x, z)`` with tensors after every iteration.

    References
    ----------
    S. V. Venkatakrishnan, C. A. Bouman and B. Wohlberg, "Plug-and-play priors for model based
    reconstruction", GlobalSIP 2013.
    K. Zhang et al., "Plug-and-play image restoration with deep denoiser prior" (DPIR), IEEE TPAMI 44, 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from aip.degrade import Blur, gaussian
    >>> x = np.zeros((32, 32), np.float32); x[8:24, 8:24] = 1
    >>> op = Blur(gaussian(1.0))
    >>> y = op.A(x)
    >>> out = pnp_admm(y, op, "tv", sigma=0.01, n_iter=5)
    >>> float(np.abs(out - x).mean()) < float(np.abs(y - x).mean())
    True
    """
    import torch

    if not (hasattr(operator, "A") and hasattr(operator, "A_adjoint")):
        raise TypeError(f"operator: expected an object with A and A_adjoint (aip.degrade), got {describe(operator)}")
    den = _resolve_denoiser(denoiser)
    colour = False
    if hasattr(y, "detach"):
        from aip._shared.torch_bridge import resolve_device

        yt = y.detach().to(resolve_device(device)).float()
    else:
        ya = as_image(y, "y", ndim=(2, 3), dtype=np.float32)
        colour = ya.ndim == 3
        yt = _tensor(np.moveaxis(ya, -1, 0) if colour else ya, device)
    if x0 is None:
        start = None
    elif hasattr(x0, "detach"):
        start = x0.detach().float().to(yt.device)
    else:
        a0 = np.asarray(x0, np.float32)
        start = _tensor(np.moveaxis(a0, -1, 0) if colour else a0, device)
    out = solvers.pnp(yt, operator, den, sigma=sigma, scheme=scheme, n_iter=n_iter, sigma_start=sigma_start,
                      lam=lam, x0=start, callback=callback)
    res = torch.clamp(out, 0.0, 1.0).cpu().numpy().astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(res, 0, -1)) if colour else res


def deblur_pnp(
    image,
    psf,
    *,
    sigma: float,
    denoiser: Callable | str | None = None,
    n_iter: int = 16,
    sigma_start: float = 0.15,
    lam: float = 0.18,
    scheme: str = "hqs",
    boundary: Literal["circular", "reflect", "symmetric", "replicate", "zero"] = "circular",
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """Plug-and-play deblurring: :func:`pnp_admm` with the blur operator and a classical denoiser.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Blurred noisy float image in [0, 1].
    psf : array (kh, kw)
        Point spread function (divided by its sum).
    sigma : float
        Noise standard deviation.
    denoiser : callable, str or None
        The prior; default the best classical denoiser measured (see :func:`pnp_admm`).
    n_iter, sigma_start, lam, scheme
        See :func:`pnp_admm`; the defaults (half-quadratic splitting, 16 iterations, lam 0.18) were the best
        measured with the DCT denoiser on camera 256, Gaussian blur 1.6, noise 0.01.
    boundary : str
        Boundary model of the blur.

    References
    ----------
    S. V. Venkatakrishnan, C. A. Bouman and B. Wohlberg, GlobalSIP 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from aip.degrade import Blur, gaussian
    >>> x = np.zeros((32, 32), np.float32); x[8:24, 8:24] = 1
    >>> y = Blur(gaussian(1.0)).A(x)
    >>> float(np.abs(deblur_pnp(y, gaussian(1.0), sigma=0.01, n_iter=4) - x).mean()) < float(np.abs(y - x).mean())
    True
    """
    img = as_channel_image(image, channel_axis)
    from aip.degrade.kernels import check_psf

    k = check_psf(psf)
    _check_psf_fits(k, _spatial_shape(img, channel_axis))
    sigma = check_positive(sigma, "sigma")
    op = _blur_op(k, boundary)
    den = _resolve_denoiser(denoiser)

    def run(c):
        return pnp_admm(c, op, den, sigma=sigma, n_iter=n_iter, sigma_start=sigma_start, lam=lam, x0=c,
                        scheme=scheme, device=device)

    return per_channel(run, img, channel_axis)


def inpaint_pnp(
    image,
    mask,
    *,
    sigma: float | None = None,
    denoiser: Callable | str | None = None,
    n_iter: int = 30,
    sigma_start: float = 0.08,
    lam: float = 0.3,
    channel_axis: int | None = None,
    device=None,
) -> np.ndarray:
    """Plug-and-play inpainting: :func:`pnp_admm` with a pixel mask, started from harmonic interpolation.

    The missing pixels are first filled by harmonic interpolation (Laplace equation with the observed
    pixels as boundary data, one sparse solve), then refined by plug-and-play ADMM with the mask operator
    (exact pixelwise data step) and the denoiser's noise level decreasing from ``sigma_start``.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Image in [0, 1]; values at missing pixels are ignored.
    mask : array (H, W) of bool
        True where pixels are MISSING.
    sigma : float, optional
        Noise level of the observed pixels (default 1/255: noise-free data).
    denoiser : callable, str or None
        The prior; default :func:`~aip.restore.transforms.denoise_dct` with ``weighted=False`` (the best
        measured for inpainting, see benchmarks/restore_variational.py).
    n_iter, sigma_start, lam
        See :func:`pnp_admm`; defaults tuned on camera 256 (50%/80% random and text masks).

    References
    ----------
    S. V. Venkatakrishnan, C. A. Bouman and B. Wohlberg, GlobalSIP 2013.
    O. G. Guleryuz, "Nonlinear approximation based image recovery using adaptive sparse reconstructions and
    iterated denoising", IEEE TIP 15(3), 2006.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    >>> m = np.random.default_rng(0).random((32, 32)) < 0.5
    >>> float(np.abs(inpaint_pnp(x, m, n_iter=4) - x).mean()) < 0.05
    True
    """
    img = as_channel_image(image, channel_axis)
    m = _check_mask(mask, _spatial_shape(img, channel_axis))
    sigma = 1.0 / 255 if sigma is None else check_positive(sigma, "sigma")
    from aip.degrade.operators import Mask

    op = Mask(m)
    # default: plain averaging of the DCT patch estimates, 0.05-0.37 dB better than the weighted one here
    den = _resolve_denoiser(denoiser, weighted=False)
    init = per_channel(lambda c: _harmonic_fill(c, m), img, channel_axis)

    def run_pair(c, c0):
        y = np.where(m, 0.0, c).astype(np.float32)
        return pnp_admm(y, op, den, sigma=sigma, n_iter=n_iter, sigma_start=sigma_start, lam=lam, x0=c0,
                        device=device)

    return per_channel_pair(run_pair, img, init, channel_axis)
