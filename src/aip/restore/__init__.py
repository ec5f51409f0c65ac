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
from aip.restore._registry import BLIND, TASKS, module_path

__all__ = [
    "DEFAULTS",
    "MAX_SCALE",
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
#: The largest ``upscale`` factor (every upscaler's bound; a 16x output of a 12-MP photo is 3 gigapixels).
MAX_SCALE = 16
#: The context (pixels) each tile of a blind deblurring method gets from its neighbours: twice the widest
#: blur the shipped blind network was trained on (Gaussian sigma 2.5, a kernel of about 15 pixels).
BLIND_HALO = 32
#: The default method of each task.
DEFAULTS: dict[str, str] = {task: names[0] for task, names in METHODS.items()}

FAMILIES = ("filters", "transforms", "variational", "sparse", "lowrank", "harmonic", "solvers")

# function name -> family module, for the lazy attribute access below (the learned methods live in
# aip.models.learned and are not attributes of this package)
_FUNCTIONS: dict[str, str] = {}
for _reg in TASKS.values():
    for _target in _reg.values():
        _mod, _fn = module_path(_target)
        if _mod.startswith("aip.restore."):
            _FUNCTIONS[_fn] = _mod


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
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
    mod_name, fn_name = module_path(reg[name])
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        if exc.name == mod_name:
            raise ImportError(f"{task} method {name!r} is not available: {mod_name} is not built yet") from None
        raise
    fn = getattr(mod, fn_name, None)
    if fn is None:
        raise ImportError(f"{task} method {name!r} is not available: {mod_name}.{fn_name} is missing")
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


#: Images with a side longer than this many pixels are restored in tiles of this size (the default
#: ``tile=None``): bounded memory, and a bar over the whole image. ``tile=0`` never tiles.
AUTO_TILE = 1024
#: Context (pixels) each tile is cut with from its neighbours and cropped off again: patch methods whose
#: reach is within it (NLM, DCT, local filters) give the whole-image result on tiles.
TILE_HALO = 16


def _tile_size(tile: Any, shape: tuple[int, ...], auto: int = 0) -> int | None:
    """``tile`` checked; None: ``auto`` (or :data:`AUTO_TILE`) when a side of ``shape`` exceeds it, else no
    tiling; 0: no tiling."""
    if tile is None:
        t = auto or AUTO_TILE
        return t if max(shape[:2]) > t else None
    t = check_int(tile, "tile", low=0)
    if 0 < t < 8:
        raise ValueError(f"tile: expected 0 (the whole image) or an integer >= 8, got {t}")
    return t or None


def _tiled(fn: Callable[..., np.ndarray], img: np.ndarray, tile: Any, overlap: Any,
           scale: int = 1, extra: np.ndarray | None = None, halo: int = 0, pad_mode: str | None = "symmetric",
           progress: bool = False, desc: str = "restore", skip: Callable[[np.ndarray], bool] | None = None
           ) -> np.ndarray:
    """Run ``fn`` on overlapping tiles and blend them with linear ramps (bounded memory for large images).

    ``scale`` is the output/input size ratio (upscaling); ``extra`` is a per-pixel array cut like the image
    (an inpainting mask) and passed as ``fn(tile, extra_tile)``. ``halo`` > 0 hands ``fn`` each tile with
    ``halo`` more pixels on every side and keeps only the tile's part of the result: the image's neighbours,
    and at the image's borders the image padded with ``pad_mode`` (deconvolution needs the context), or
    nothing more with ``pad_mode=None`` (the method's own border handling, as on the whole image).
    ``skip(extra_tile)`` True returns a tile as it is (an inpainting tile with nothing missing).
    ``progress`` draws one bar over all tiles (the first loop inside each tile reports into it).
    """
    from aip._shared.progress import job

    t = check_int(tile, "tile", low=8)
    o = check_int(overlap, "overlap", low=0, high=t // 2)
    h, w = img.shape[:2]
    s = scale
    pad = halo if (halo and pad_mode) else 0
    src = np.pad(img, ((pad, pad), (pad, pad)) + ((0, 0),) * (img.ndim - 2), mode=pad_mode) if pad else img

    def call(sl: tuple[slice, slice]) -> np.ndarray:
        ys, xs = sl
        th, tw = ys.stop - ys.start, xs.stop - xs.start
        if extra is not None and skip is not None and skip(extra[sl]):
            return img[sl]      # (inpainting: scale 1)
        if pad:     # the padded source: every tile gets the full halo
            y0, x0, top, left = ys.start, xs.start, halo, halo
            y1, x1 = ys.stop + 2 * halo, xs.stop + 2 * halo
        else:       # neighbours only, clipped at the image's borders
            y0, x0 = max(0, ys.start - halo), max(0, xs.start - halo)
            y1, x1 = min(h, ys.stop + halo), min(w, xs.stop + halo)
            top, left = ys.start - y0, xs.start - x0
        piece = src[y0:y1, x0:x1]
        res = np.asarray(fn(piece) if extra is None else fn(piece, extra[y0:y1, x0:x1]))
        if (y0, x0, y1, x1) == (ys.start, xs.start, ys.stop, xs.stop):
            return res
        return res[top * s:(top + th) * s, left * s:(left + tw) * s]

    def starts(n: int) -> list[int]:
        if n <= t:
            return [0]
        step = t - o
        return sorted(set(list(range(0, n - t, step)) + [n - t]))

    tiles = [(slice(y0, min(y0 + t, h)), slice(x0, min(x0 + t, w))) for y0 in starts(h) for x0 in starts(w)]
    areas = [(ys.stop - ys.start) * (xs.stop - xs.start) for ys, xs in tiles]
    with job(h * w, progress, desc, unit="px") as bar:
        if len(tiles) == 1:
            with bar.part(h * w):
                return call(tiles[0])
        out = None
        wsum = None
        # float32 sums for float32 images (half the memory of a 12-megapixel result; a few terms a pixel)
        acc = np.float32 if img.dtype == np.float32 else np.float64
        for sl, area in zip(tiles, areas):
            with bar.part(area * h * w / sum(areas)):
                res = call(sl)
            y0, x0 = sl[0].start, sl[1].start
            th, tw = res.shape[:2]
            wy = _ramp(th, o * s, y0 == 0, y0 + t >= h).astype(acc)
            wx = _ramp(tw, o * s, x0 == 0, x0 + t >= w).astype(acc)
            wgt = np.outer(wy, wx)
            if out is None:
                out = np.zeros((h * s, w * s) + res.shape[2:], dtype=acc)
                wsum = np.zeros((h * s, w * s), dtype=acc)
            osl = (slice(y0 * s, y0 * s + th), slice(x0 * s, x0 * s + tw))
            out[osl] += res * (wgt if res.ndim == 2 else wgt[..., None])
            wsum[osl] += wgt
    out /= wsum if out.ndim == 2 else wsum[..., None]
    return out.astype(img.dtype, copy=False)


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

def _name(task: str, method: Any) -> str:
    if method is None:
        return DEFAULTS[task]
    return method if isinstance(method, str) else getattr(method, "__name__", "method")


def denoise(image: Any, method: str | Callable | None = None, *, sigma: float | str = "auto",
            channel_axis: int | None = None, colour: str = "opponent", tile: int | None = None,
            overlap: int = 16, progress: bool = False, **kw: Any):
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
        A name (``"nlm"`` by default: a 12-megapixel colour photo in seconds; ``"dct"``, ``"wnnm"`` for the
        best quality, ...; times in :data:`aip.restore._registry.SECONDS_PER_MP`) or any
        ``f(image, sigma, *, channel_axis)``.
    sigma : float or "auto"
        Noise standard deviation on the image's scale (25/255 for "sigma 25" on a [0, 1] image), or
        ``"auto"`` (``"auto:pca"``) to estimate it with :func:`aip.degrade.estimate_sigma`.
    colour : {"opponent", "rgb"}
        For 3-channel images: denoise in the opponent colour space (default) or each RGB channel as it is.
        Other channel counts are always processed channel by channel.
    tile, overlap : int, optional
        Process the image in ``tile`` x ``tile`` pieces overlapping by ``overlap`` pixels, each cut with
        :data:`TILE_HALO` pixels of context from its neighbours and blended with linear ramps: bounded
        memory for large images (the whole-image result for methods whose reach is within the halo, such
        as NLM and DCT; close to it for the others). Default: tiles of :data:`AUTO_TILE` when a side is
        longer, else the whole image; ``tile=0``: always the whole image.
    progress : bool
        Show one bar (stderr) over the whole image, across tiles and the method's rounds.
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
    desc = f"denoise {_name('denoise', method)}"
    t = _tile_size(tile, img.shape)
    if t is None:
        return back(_tiled(run, img, max(*img.shape[:2], 8), 0, progress=progress, desc=desc))
    return back(_tiled(run, img, t, overlap, halo=TILE_HALO, pad_mode=None, progress=progress, desc=desc))


def deblur(image: Any, psf: Any, method: str | Callable | None = None, *, sigma: float | str = "auto",
           channel_axis: int | None = None, edges: str = "mirror", tile: int | None = None,
           overlap: int | None = None, progress: bool = False, **kw: Any):
    """Deconvolve ``image`` blurred by a known ``psf`` (with noise of level ``sigma``).

    Parameters
    ----------
    image : array_like or torch.Tensor
        Blurred, noisy float image, (H, W) or (H, W, C).
    psf : array_like or str or None
        2-D non-negative kernel (normalised to sum 1), or a spec such as ``"gaussian:1.6"``
        (:func:`aip.degrade.make_kernel`). Centre at ``(kh // 2, kw // 2)``. ``None`` for a blind method.
    method : str or callable, optional
        ``"wiener"`` by default (a 12-megapixel colour photo in seconds), ``"richardson_lucy"``, ``"tv"``,
        ``"pnp"`` (the best quality, about 2 minutes per colour megapixel), the blind ``"msdeblur"`` (a
        shipped multi-scale CNN trained on Gaussian blurs of width 1-2.5: no PSF needed), or
        ``f(image, psf, *, sigma, channel_axis)``.
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
        kernel size, at least 16, at most half the tile). Default: tiles of :data:`AUTO_TILE` when a side
        is longer, else the whole image; ``tile=0``: always the whole image.
    progress : bool
        Show one bar (stderr) over the whole image.

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
    blind = isinstance(method, str) and method in BLIND
    if psf is None and not blind:
        raise ValueError(f"psf: expected a blur kernel (an array or a spec such as 'gaussian:1.6') for method "
                         f"{_name('deblur', method)!r}; only the blind methods ({', '.join(BLIND)}) run without "
                         "one, got None")
    k = None if psf is None else make_kernel(psf) if isinstance(psf, str) else check_psf(psf)
    if k is not None and (k.shape[0] > img.shape[0] or k.shape[1] > img.shape[1]):
        raise ValueError(f"psf: expected a kernel no larger than the image {img.shape[:2]}, got {k.shape}")
    fn = get_method("deblur", method)
    sig = resolve_sigma(sigma, img, ax)
    check_choice(edges, "edges", ("mirror", "circular"))
    run = lambda x: fn(x, k, sigma=sig, channel_axis=ax, **kw)
    t = _tile_size(tile, img.shape)
    desc = f"deblur {_name('deblur', method)}"
    whole = max(*img.shape[:2], 8)
    if edges == "circular" and t is None:
        return back(_tiled(run, img, whole, 0, progress=progress, desc=desc))
    # each piece gets a halo of twice the kernel size: its neighbours inside the image, and at the image's
    # borders a mirrored (or, for circular data, wrapped) copy, on which the method's own boundary model acts
    halo = 2 * max(k.shape) if k is not None else BLIND_HALO
    mode = "symmetric" if edges == "mirror" else "wrap"
    if t is None:
        return back(_tiled(run, img, whole, 0, halo=halo, pad_mode=mode, progress=progress, desc=desc))
    ov = min(max(16, halo), t // 2) if overlap is None else overlap
    return back(_tiled(run, img, t, ov, halo=halo, pad_mode=mode, progress=progress, desc=desc))


def upscale(image: Any, scale: int, method: str | Callable | None = None, *, channel_axis: int | None = None,
            tile: int | None = None, overlap: int = 16, progress: bool = False, **kw: Any):
    """Super-resolve ``image`` by an integer ``scale`` (>= 2).

    ``method``: ``"bicubic"`` by default (a 12-megapixel colour photo in seconds), ``"sparse"``
    (coupled-dictionary sparse coding, +0.9-1.6 dB at about 2 minutes per colour megapixel of input),
    ``"tv"``, or ``f(image, scale, *, channel_axis)``. ``tile``/``overlap`` are on the low-resolution grid;
    each tile gets ``TILE_HALO // 2`` pixels of context from its neighbours. Default: tiles of
    ``AUTO_TILE // scale`` (at least 64) when a side is longer, else the whole image; ``tile=0``: the whole
    image. ``progress``: one bar over the whole image.

    Example
    -------
    >>> import numpy as np
    >>> from aip.restore import upscale
    >>> upscale(np.random.default_rng(0).random((16, 16)), 2, "bicubic").shape  # doctest: +SKIP
    (32, 32)
    """
    s = check_int(scale, "scale", low=2, high=MAX_SCALE)
    img, ax, back = _prepare(image, channel_axis, min_size=2)
    fn = get_method("upscale", method)
    run = lambda x: fn(x, s, channel_axis=ax, **kw)
    desc = f"upscale {_name('upscale', method)}"
    t = _tile_size(tile, img.shape, auto=max(64, AUTO_TILE // s))
    if t is None:
        return back(_tiled(run, img, max(*img.shape[:2], 8), 0, scale=s, progress=progress, desc=desc))
    return back(_tiled(run, img, t, overlap, scale=s, halo=TILE_HALO // 2, pad_mode=None, progress=progress,
                       desc=desc))


def inpaint(image: Any, mask: Any, method: str | Callable | None = None, *, channel_axis: int | None = None,
            tile: int | None = None, overlap: int = 16, progress: bool = False, **kw: Any):
    """Fill the pixels where ``mask`` is True (missing, as in scikit-image).

    ``mask``: (H, W) boolean (or (H, W, C) equal in every channel). ``method``: ``"harmonic"`` by default
    (the Laplace equation with the observed pixels as boundary values: a 12-megapixel colour photo in
    seconds), ``"wnnm"`` (the best quality: annealed half-quadratic splitting with a WNNM group prior,
    about 40 s for a 256 x 256 image), ``"pnp"`` (DCT plug-and-play, a few seconds at 256 x 256), ``"tv"``,
    ``"lowrank"``, or ``f(image, mask, *, channel_axis)``. The values of ``image`` under the mask are
    ignored by the methods. ``tile``/``overlap``: as for :func:`denoise` (tiles with nothing missing are
    returned as they are). ``progress``: one bar over the whole image.

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
    desc = f"inpaint {_name('inpaint', method)}"
    t = _tile_size(tile, img.shape)
    if t is None:
        return back(_tiled(run, img, max(*img.shape[:2], 8), 0, extra=m, progress=progress, desc=desc))
    return back(_tiled(run, img, t, overlap, extra=m, halo=TILE_HALO, pad_mode=None, progress=progress,
                       desc=desc, skip=lambda mm: not mm.any()))
