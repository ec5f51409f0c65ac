"""Classical image restoration: one front door per task, and every method as a function of its own.

Front doors (float images in [0, 1], (H, W) gray or (H, W, C) colour; ``sigma`` on the image's scale):

- :func:`denoise` ``(image, method=None, *, sigma="auto")``
- :func:`deblur` ``(image, psf, method=None, *, sigma="auto")``
- :func:`upscale` ``(image, scale, method=None)``
- :func:`inpaint` ``(image, mask, method=None)``, ``mask`` True where pixels are missing

``method=None`` picks the task's default (the first name of :data:`METHODS`). The methods live by family in
:mod:`aip.restore.filters`, :mod:`~aip.restore.transforms`, :mod:`~aip.restore.variational`,
:mod:`~aip.restore.sparse` and :mod:`~aip.restore.lowrank`; they are imported on first use and are also
attributes of this package (``aip.restore.denoise_nl_means``).

Example
-------
>>> import aip.restore as R
>>> from aip.degrade import add_gaussian_noise
>>> from aip.io import load_sample
>>> noisy = add_gaussian_noise(load_sample("camera", size=64), 25 / 255, rng=0)
>>> out = R.denoise(noisy, "gaussian", sigma=25 / 255)
>>> out.shape
(64, 64)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from aip._shared.validate import as_image, as_mask, check_choice, check_int, check_positive
from aip.restore._registry import TASKS

__all__ = [
    "DEFAULTS",
    "METHODS",
    "available",
    "deblur",
    "denoise",
    "get_method",
    "inpaint",
    "resolve_sigma",
    "upscale",
]

#: Method names per task; the first of each list is the default.
METHODS: dict[str, list[str]] = {task: list(reg) for task, reg in TASKS.items()}
#: The default method of each task.
DEFAULTS: dict[str, str] = {task: names[0] for task, names in METHODS.items()}

FAMILIES = ("filters", "transforms", "variational", "sparse", "lowrank", "solvers")

# function name -> family module, for the lazy attribute access below
_FUNCTIONS: dict[str, str] = {}
for _reg in TASKS.values():
    for _target in _reg.values():
        _mod, _fn = _target.split(":")
        _FUNCTIONS[_fn] = _mod


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        mod = importlib.import_module(f"aip.restore.{_FUNCTIONS[name]}")
        return getattr(mod, name)
    if name in FAMILIES:
        return importlib.import_module(f"aip.restore.{name}")
    raise AttributeError(f"module 'aip.restore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_FUNCTIONS) | set(FAMILIES))


# --------------------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------------------

def get_method(task: str, method: str | Callable | None = None) -> Callable:
    """The function behind ``method`` for ``task`` (imported now). A callable passes through.

    Raises ValueError for an unknown name and ImportError when the family module is not present yet.
    """
    if task not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(TASKS)}; got {task!r}")
    if callable(method):
        return method
    name = DEFAULTS[task] if method is None else method
    reg = TASKS[task]
    if name not in reg:
        raise ValueError(f"method: expected one of {', '.join(reg)} for {task}; got {name!r}")
    mod_name, fn_name = reg[name].split(":")
    try:
        mod = importlib.import_module(f"aip.restore.{mod_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"aip.restore.{mod_name}":
            raise ImportError(f"{task} method {name!r} is not available: aip.restore.{mod_name} is not built yet") \
                from None
        raise
    fn = getattr(mod, fn_name, None)
    if fn is None:
        raise ImportError(f"{task} method {name!r} is not available: aip.restore.{mod_name}.{fn_name} is missing")
    return fn


def available(task: str | None = None) -> dict[str, list[str]] | list[str]:
    """Method names whose functions can be imported now (per task, or for one ``task``)."""
    def ok(t: str, n: str) -> bool:
        try:
            get_method(t, n)
        except ImportError:
            return False
        return True

    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task: expected one of {', '.join(TASKS)}; got {task!r}")
        return [n for n in METHODS[task] if ok(task, n)]
    return {t: [n for n in names if ok(t, n)] for t, names in METHODS.items()}


# --------------------------------------------------------------------------------------------------------
# shared validation
# --------------------------------------------------------------------------------------------------------

def _prepare(image: Any, channel_axis: int | None, *, min_size: int = 1):
    """Validate; return (float array, channel_axis, function giving the result back in the input's type)."""
    back: Callable[[Any], Any] = lambda out: out
    if hasattr(image, "detach") and hasattr(image, "dim"):
        import torch

        dev, dt = image.device, image.dtype
        if not image.is_floating_point():
            dt = torch.float32
        back = lambda out: torch.as_tensor(np.asarray(out), dtype=dt, device=dev)
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    img = as_image(arr, "image", ndim=(2, 3), dtype=dtype, min_size=min_size)
    if img.ndim == 3:
        if channel_axis is None:
            channel_axis = -1
        elif check_int(channel_axis, "channel_axis", low=-3, high=2) % 3 != 2:
            raise ValueError(f"channel_axis: expected -1 (channels last, (H, W, C)), got {channel_axis}")
    elif channel_axis is not None:
        raise ValueError(f"channel_axis: expected None for a 2-D image, got {channel_axis!r}")
    return img, channel_axis, back


def resolve_sigma(sigma: Any, image: np.ndarray, channel_axis: int | None = None) -> float:
    """A positive noise level, or ``"auto"`` / ``"auto:wavelet"`` / ``"auto:pca"`` estimated from ``image``
    by :func:`aip.degrade.estimate_sigma`."""
    if isinstance(sigma, str):
        kind, _, how = sigma.partition(":")
        if kind != "auto" or how not in ("", "wavelet", "pca"):
            raise ValueError(f"sigma: expected a number > 0, 'auto', 'auto:wavelet' or 'auto:pca'; got {sigma!r}")
        from aip.degrade import estimate_sigma

        est = estimate_sigma(image, how or "wavelet", channel_axis=channel_axis)
        if not est > 0:
            raise ValueError("sigma: 'auto' estimated a noise level of 0 (a noiseless or flat image); give sigma")
        return float(est)
    return check_positive(sigma, "sigma")


def _mask2d(mask: Any, img: np.ndarray) -> np.ndarray:
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):
        mask = mask.detach().cpu().numpy()
    m = np.asarray(mask)
    hw = img.shape[:2]
    if m.ndim == 3 and img.ndim == 3 and m.shape == img.shape:
        if not np.all(m == m[..., :1]):
            raise ValueError("mask: expected the same missing pixels in every channel (or a 2-D (H, W) mask)")
        m = m[..., 0]
    return as_mask(m, hw)


def _tiled(fn: Callable[[np.ndarray], np.ndarray], img: np.ndarray, tile: Any, overlap: Any,
           scale: int = 1, extra: np.ndarray | None = None, halo: int = 0, pad_mode: str = "symmetric"
           ) -> np.ndarray:
    """Run ``fn`` on overlapping tiles and blend them with linear ramps (bounded memory for large images).

    ``scale`` is the output/input size ratio (upscaling); ``extra`` is a per-pixel array cut like the image
    (an inpainting mask) and passed as ``fn(tile, extra_tile)``. ``halo`` > 0 hands ``fn`` each tile with
    ``halo`` more pixels on every side (the image's neighbours, or the image padded with ``pad_mode`` at its
    borders) and keeps only the tile's part of the result (deconvolution needs the context).
    """
    t = check_int(tile, "tile", low=8)
    o = check_int(overlap, "overlap", low=0, high=t // 2)
    h, w = img.shape[:2]
    src = np.pad(img, ((halo, halo), (halo, halo)) + ((0, 0),) * (img.ndim - 2), mode=pad_mode) if halo else img

    def call(sl: tuple[slice, slice]) -> np.ndarray:
        if halo:
            ys, xs = sl
            res = np.asarray(fn(src[ys.start:ys.stop + 2 * halo, xs.start:xs.stop + 2 * halo]))
            return res[halo:halo + ys.stop - ys.start, halo:halo + xs.stop - xs.start]
        return np.asarray(fn(img[sl]) if extra is None else fn(img[sl], extra[sl]))

    if h <= t and w <= t:
        return call((slice(0, h), slice(0, w)))

    def starts(n: int) -> list[int]:
        if n <= t:
            return [0]
        step = t - o
        s = list(range(0, n - t, step)) + [n - t]
        return sorted(set(s))

    out = None
    wsum = None
    for y0 in starts(h):
        for x0 in starts(w):
            sl = (slice(y0, min(y0 + t, h)), slice(x0, min(x0 + t, w)))
            res = call(sl)
            th, tw = res.shape[:2]
            wy = _ramp(th, o * scale, y0 == 0, y0 + t >= h)
            wx = _ramp(tw, o * scale, x0 == 0, x0 + t >= w)
            wgt = np.outer(wy, wx)
            if out is None:
                out = np.zeros((h * scale, w * scale) + res.shape[2:], dtype=np.float64)
                wsum = np.zeros((h * scale, w * scale), dtype=np.float64)
            osl = (slice(y0 * scale, y0 * scale + th), slice(x0 * scale, x0 * scale + tw))
            out[osl] += res * (wgt if res.ndim == 2 else wgt[..., None])
            wsum[osl] += wgt
    out /= wsum if out.ndim == 2 else wsum[..., None]
    return out.astype(img.dtype)


def _ramp(n: int, o: int, first: bool, last: bool) -> np.ndarray:
    """Blending weights along one tile axis: 1 inside, linear ramps over ``o`` pixels at inner edges."""
    w = np.ones(n)
    if o > 0:
        r = (np.arange(o) + 1.0) / (o + 1.0)
        if not first:
            w[:o] = np.minimum(w[:o], r)
        if not last:
            w[n - o:] = np.minimum(w[n - o:], r[::-1])
    return w


# --------------------------------------------------------------------------------------------------------
# front doors
# --------------------------------------------------------------------------------------------------------

def denoise(image: Any, method: str | Callable | None = None, *, sigma: float | str = "auto",
            channel_axis: int | None = None, colour: str = "opponent", tile: int | None = None,
            overlap: int = 16, **kw: Any):
    """Remove additive white Gaussian noise with a method of :data:`METHODS` ``["denoise"]``.

    Colour (3-channel) images are denoised in an orthonormal opponent colour space (luminance and two
    colour differences, :data:`aip._shared.channels.OPPONENT`) by default: the transform decorrelates the
    channels of natural images while white noise of level ``sigma`` stays white with the same level (the
    decorrelating step of colour BM3D, Dabov et al. 2007). Methods that filter channel by channel gain
    1-2 dB from it (WNNM also matches patches once for all channels); for linear filters and for NLM,
    whose weights use the colour distance, the rotation changes nothing.

    Parameters
    ----------
    image : array_like or torch.Tensor
        Noisy float image, (H, W) or (H, W, C) (channels last; ``channel_axis`` defaults to -1 for 3-D input).
    method : str or callable, optional
        A name (``"wnnm"`` by default, ``"nlm"``, ``"tv"``, ...) or any ``f(image, sigma, *, channel_axis)``.
    sigma : float or "auto"
        Noise standard deviation on the image's scale (25/255 for "sigma 25" on a [0, 1] image), or
        ``"auto"`` (``"auto:pca"``) to estimate it with :func:`aip.degrade.estimate_sigma`.
    colour : {"opponent", "rgb"}
        For 3-channel images: denoise in the opponent colour space (default) or each RGB channel as it is.
        Other channel counts are always processed channel by channel.
    tile, overlap : int, optional
        Process the image in ``tile`` x ``tile`` pieces overlapping by ``overlap`` pixels, blended with
        linear ramps: bounded memory for large images (slightly different from the whole-image result).
    **kw
        Knobs of the method (see its function), e.g. ``device="cuda"``.

    Returns
    -------
    ndarray (or tensor, for tensor input) of the input's shape.

    Example
    -------
    >>> import numpy as np
    >>> from aip.restore import denoise
    >>> y = 0.5 + 0.1 * np.random.default_rng(0).standard_normal((32, 32))
    >>> float(np.abs(denoise(y, "gaussian", sigma=0.1) - 0.5).mean()) < 0.05
    True
    """
    from aip._shared.channels import in_opponent

    img, ax, back = _prepare(image, channel_axis)
    fn = get_method("denoise", method)
    opponent = check_choice(colour, "colour", ("opponent", "rgb")) == "opponent" and img.ndim == 3 \
        and img.shape[2] == 3
    sig = resolve_sigma(sigma, img, ax)
    run = lambda x: fn(x, sig, channel_axis=ax, **kw)
    if opponent:
        run_rgb = run
        run = lambda x: in_opponent(run_rgb, x, -1).astype(x.dtype, copy=False)
    out = run(img) if tile is None else _tiled(run, img, tile, overlap)
    return back(out)


def deblur(image: Any, psf: Any, method: str | Callable | None = None, *, sigma: float | str = "auto",
           channel_axis: int | None = None, edges: str = "mirror", tile: int | None = None,
           overlap: int | None = None, **kw: Any):
    """Deconvolve ``image`` blurred by a known ``psf`` (with noise of level ``sigma``).

    Parameters
    ----------
    image : array_like or torch.Tensor
        Blurred, noisy float image, (H, W) or (H, W, C).
    psf : array_like or str
        2-D non-negative kernel (normalised to sum 1), or a spec such as ``"gaussian:1.6"``
        (:func:`aip.degrade.make_kernel`). Centre at ``(kh // 2, kw // 2)``.
    method : str or callable, optional
        ``"pnp"`` by default, ``"wiener"``, ``"richardson_lucy"``, ``"tv"``, or ``f(image, psf, *, sigma, channel_axis)``.
    sigma : float or "auto"
        Noise level on the image's scale, or ``"auto"`` (estimated on the blurred image).
    edges : {"mirror", "circular"}
        ``"mirror"`` (default, for photographs): pad the image by mirroring with twice the kernel size
        before the method runs and crop after, so that methods that model the blur as circular do not ring
        at the borders. ``"circular"``: run the method on the image as it is, for data blurred circularly
        (the DPIR benchmark protocol; exact there).
    tile, overlap : int, optional
        Deconvolve ``tile`` x ``tile`` pieces (bounded memory for large images), each with a halo of twice
        the kernel size cut from its neighbours (at the image's borders: mirrored, or wrapped for
        ``edges="circular"``), blended with linear ramps over ``overlap`` pixels (default: twice the
        kernel size, at least 16, at most half the tile).

    Example
    -------
    >>> import numpy as np
    >>> from aip.degrade import Blur, gaussian
    >>> from aip.restore import deblur
    >>> x = np.zeros((32, 32)); x[12:20, 12:20] = 1
    >>> y = Blur(gaussian(1.0)).A(x) + 0.01 * np.random.default_rng(0).standard_normal((32, 32))
    >>> deblur(y, gaussian(1.0), "wiener", sigma=0.01).shape  # doctest: +SKIP
    (32, 32)
    """
    from aip.degrade import check_psf, make_kernel

    img, ax, back = _prepare(image, channel_axis)
    k = make_kernel(psf) if isinstance(psf, str) else check_psf(psf)
    if k.shape[0] > img.shape[0] or k.shape[1] > img.shape[1]:
        raise ValueError(f"psf: expected a kernel no larger than the image {img.shape[:2]}, got {k.shape}")
    fn = get_method("deblur", method)
    sig = resolve_sigma(sigma, img, ax)
    check_choice(edges, "edges", ("mirror", "circular"))
    run = lambda x: fn(x, k, sigma=sig, channel_axis=ax, **kw)
    if edges == "circular" and tile is None:
        return back(run(img))
    # each piece gets a halo of twice the kernel size: its neighbours inside the image, and at the image's
    # borders a mirrored (or, for circular data, wrapped) copy, on which the method's own boundary model acts
    halo = 2 * max(k.shape)
    mode = "symmetric" if edges == "mirror" else "wrap"
    if tile is None:
        h, w = img.shape[:2]
        return back(_tiled(run, img, max(h, w, 8), 0, halo=halo, pad_mode=mode))
    ov = min(max(16, halo), check_int(tile, "tile", low=8) // 2) if overlap is None else overlap
    return back(_tiled(run, img, tile, ov, halo=halo, pad_mode=mode))


def upscale(image: Any, scale: int, method: str | Callable | None = None, *, channel_axis: int | None = None,
            tile: int | None = None, overlap: int = 16, **kw: Any):
    """Super-resolve ``image`` by an integer ``scale`` (>= 2).

    ``method``: ``"sparse"`` by default (coupled-dictionary sparse coding), ``"bicubic"``, ``"tv"``, or
    ``f(image, scale, *, channel_axis)``. ``tile``/``overlap`` are on the low-resolution grid.

    Example
    -------
    >>> import numpy as np
    >>> from aip.restore import upscale
    >>> upscale(np.random.default_rng(0).random((16, 16)), 2, "bicubic").shape  # doctest: +SKIP
    (32, 32)
    """
    img, ax, back = _prepare(image, channel_axis, min_size=2)
    s = check_int(scale, "scale", low=2)
    fn = get_method("upscale", method)
    run = lambda x: fn(x, s, channel_axis=ax, **kw)
    out = run(img) if tile is None else _tiled(run, img, tile, overlap, scale=s)
    return back(out)


def inpaint(image: Any, mask: Any, method: str | Callable | None = None, *, channel_axis: int | None = None,
            tile: int | None = None, overlap: int = 16, **kw: Any):
    """Fill the pixels where ``mask`` is True (missing, as in scikit-image).

    ``mask``: (H, W) boolean (or (H, W, C) equal in every channel). ``method``: ``"wnnm"`` by default
    (annealed half-quadratic splitting with a WNNM group prior, about 40 s for a 256 x 256 image),
    ``"pnp"`` (DCT plug-and-play, a few seconds), ``"tv"``, ``"lowrank"``, or
    ``f(image, mask, *, channel_axis)``. The values of ``image`` under the mask are ignored by the methods.

    Example
    -------
    >>> import numpy as np
    >>> from aip.degrade import random_mask
    >>> from aip.restore import inpaint
    >>> x = np.tile(np.linspace(0, 1, 32), (32, 1))
    >>> inpaint(x, random_mask((32, 32), 0.5), "tv").shape  # doctest: +SKIP
    (32, 32)
    """
    img, ax, back = _prepare(image, channel_axis)
    m = _mask2d(mask, img)
    fn = get_method("inpaint", method)
    run = lambda x, mm: fn(x, mm, channel_axis=ax, **kw)
    out = run(img, m) if tile is None else _tiled(run, img, tile, overlap, extra=m)
    return back(out)
