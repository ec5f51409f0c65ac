"""The restoration tasks (``denoise | deblur | upscale | inpaint``) on arrays and on image files.

:func:`restore_image` validates every option before any work, runs the method and measures the result
(PSNR/SSIM against a clean image when one is given); :func:`restore_file` adds loading and the atomic
write. Errors are one-line ``ValueError``/``TypeError``/``FileExistsError`` naming the CLI flag.
"""

from __future__ import annotations

import inspect
import math
import os
import time
from typing import Any

import numpy as np

RESTORE_TASKS = ("denoise", "deblur", "upscale", "inpaint")

# The parameters every method of a task takes from the task itself (not knobs).
_FIXED = {"image", "sigma", "psf", "scale", "mask", "channel_axis"}


def parse_sigma(text: str | float) -> float | str:
    """CLI sigma: a number on the 0-255 scale -> the [0, 1] image scale, or 'auto[:wavelet|:pca]'."""
    if isinstance(text, str) and text.startswith("auto"):
        if text not in ("auto", "auto:wavelet", "auto:pca"):
            raise ValueError(f"--sigma: expected a number, 'auto', 'auto:wavelet' or 'auto:pca'; got {text!r}")
        return text
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"--sigma: expected a number on the 0-255 scale or 'auto', got {text!r}") from None
    if not (0 < v <= 255 and math.isfinite(v)):
        raise ValueError(f"--sigma: expected a number in (0, 255] (the 0-255 scale), got {text!r}")
    return v / 255.0


def check_knobs(task: str, method: str, knobs: dict[str, Any]) -> None:
    """One-line errors, before any work, for knobs (and ``device``) the method does not take."""
    import aip.restore as R

    params = inspect.signature(R.get_method(task, method)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    names = [n for n, p in params.items() if n not in _FIXED and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in knobs:
        if key not in names:
            flag = "--device" if key == "device" else f"--set {key}"
            raise ValueError(f"{flag}: expected a knob of the {task} method {method!r} "
                             f"({', '.join(names) or 'it takes none'}), got {key!r}")


def _check_task(task: str) -> None:
    if task not in RESTORE_TASKS:
        raise ValueError(f"task: expected one of {', '.join(RESTORE_TASKS)}, got {task!r}")


def prepare(task: str, method: str | None = None, *, psf: Any = None, scale: int = 2,
            denoiser: str | None = None, prior: str | None = None, device: str | None = None,
            knobs: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Check the options of ``task`` before any image is read; returns ``(method, knobs)`` to run with."""
    import aip.restore as R
    from aip._shared.validate import check_int
    from aip.restore._registry import BLIND, SAMPLED, TASKS

    _check_task(task)
    knobs = dict(knobs or {})
    if method is not None and method not in TASKS[task]:
        raise ValueError(f"--method: expected one of {', '.join(TASKS[task])} for {task}, got {method!r}")
    if device is not None:
        knobs["device"] = device
    if denoiser is not None:
        if (method or "") != "pnp":
            raise ValueError(f"--denoiser: expected --method pnp (the plug-and-play prior), got --method "
                             f"{method or 'default'}")
        knobs["denoiser"] = denoiser
    if prior is not None:
        if (method or "") not in SAMPLED:
            names = " or ".join(m for m in SAMPLED if m in TASKS[task])
            raise ValueError(f"--prior: expected --method {names} (the diffusion samplers), got --method "
                             f"{method or 'default'}")
        knobs["prior"] = prior
    method = method or R.DEFAULTS[task]
    if task == "deblur":
        if method in BLIND and psf is not None:
            raise ValueError(f"--psf: --method {method} is blind and takes no PSF; drop --psf, or pick a non-blind "
                             "method to use it")
        if method not in BLIND and psf is None:
            raise ValueError(f"--psf: expected a blur kernel (e.g. --psf gaussian:1.6) for --method {method}; "
                             f"only the blind {', '.join(BLIND)} runs without one")
    check_knobs(task, method, knobs)
    if task == "upscale":
        check_int(scale, "--scale", low=2, high=R.MAX_SCALE)
    return method, knobs


def measure(reference: np.ndarray | None, out: np.ndarray) -> dict[str, float]:
    """PSNR (and SSIM where the image is at least 11 pixels a side) of ``out`` against ``reference``."""
    if reference is None:
        return {}
    from aip.metrics import psnr, ssim

    if reference.shape != out.shape:
        raise ValueError(f"--reference: expected an image of shape {out.shape}, got {reference.shape}")
    clipped = np.clip(out, 0.0, 1.0)
    result = {"psnr": psnr(reference, clipped, data_range=1.0)}
    if min(out.shape[:2]) >= 11:
        result["ssim"] = ssim(reference, clipped, data_range=1.0, channel_axis=-1 if out.ndim == 3 else None)
    return result


def restore_image(task: str, image: np.ndarray, *, method: str | None = None, sigma: str | float = "auto",
                  psf: Any = None, scale: int = 2, mask: Any = None, colour: str = "opponent",
                  edges: str = "mirror", tile: int | None = None, denoiser: str | None = None,
                  prior: str | None = None, device: str | None = None, knobs: dict[str, Any] | None = None,
                  reference: np.ndarray | None = None, progress: bool = False,
                  checked: tuple[str, dict[str, Any]] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Run one restoration task on an array; returns ``(restored, result)``.

    Parameters
    ----------
    task : {"denoise", "deblur", "upscale", "inpaint"}
    image : float array in [0, 1], (H, W) or (H, W, C).
    method : a method of the task (None: its default, see :data:`aip.restore.DEFAULTS`).
    sigma : noise level on the 0-255 scale, or ``"auto"`` / ``"auto:pca"`` (denoise and deblur).
    psf : blur kernel (array or spec such as ``"gaussian:1.6"``; deblur, None for the blind methods).
    scale : integer factor (upscale).
    mask : boolean array (True = missing), mask file or spec such as ``"random:0.5"`` (inpaint; seed 0).
    reference : clean image; the result then holds ``psnr`` and ``ssim``.
    checked : ``(method, knobs)`` from :func:`prepare`, when the caller has validated already.

    Returns
    -------
    restored : float32 array; result : dict with method, sigma, time and metrics (JSON-ready).

    Example
    -------
    >>> from aip.io import load_sample
    >>> out, res = restore_image("denoise", load_sample("camera", size=64), sigma=25, method="gaussian")
    >>> res["method"], out.shape
    ('gaussian', (64, 64))
    """
    import aip.restore as R

    method, knobs = checked or prepare(task, method, psf=psf, scale=scale, denoiser=denoiser, prior=prior,
                                       device=device, knobs=knobs)
    knobs = dict(knobs)
    knobs.setdefault("progress", progress)
    img = np.asarray(image)
    result: dict[str, Any] = {"task": task, "method": method, "input_shape": list(img.shape)}
    ch = -1 if img.ndim == 3 else None
    sig = None
    if task in ("denoise", "deblur"):
        s = parse_sigma(sigma)
        sig = R.resolve_sigma(s, img, ch)
        result["sigma_255"] = sig * 255.0
        if isinstance(s, str):
            result["sigma_estimated"] = True
    tiled = {} if tile is None else {"tile": tile}
    t0 = time.perf_counter()
    if task == "denoise":
        out = R.denoise(img, method, sigma=sig, colour=colour, **tiled, **knobs)
    elif task == "deblur":
        from aip.degrade import make_kernel

        kernel = None if psf is None else (make_kernel(psf) if isinstance(psf, (str, os.PathLike)) else psf)
        if kernel is not None:
            result["psf_shape"] = list(np.shape(kernel))
        out = R.deblur(img, kernel, method, sigma=sig, edges=edges, **tiled, **knobs)
        result["edges"] = edges
    elif task == "upscale":
        out = R.upscale(img, scale, method, **tiled, **knobs)
        result["scale"] = scale
    else:
        from aip.degrade import make_mask

        if mask is None:
            raise ValueError("--mask: expected a mask image, .npy array or spec (e.g. random:0.5), got none")
        m = mask if isinstance(mask, np.ndarray) else make_mask(mask, img.shape[:2], rng=0)
        result["missing_fraction"] = float(np.mean(m))
        out = R.inpaint(img, m, method, **tiled, **knobs)
    result["time_s"] = time.perf_counter() - t0
    out = np.asarray(out, dtype=np.float32)
    result["output_shape"] = list(out.shape)
    result.update(measure(reference, out))
    return out, result


def restore_file(task: str, input: str | os.PathLike, output: str | os.PathLike, *, gray: bool = False,
                 reference: str | os.PathLike | None = None, force: bool = False,
                 **options: Any) -> dict[str, Any]:
    """:func:`restore_image` on an image file (or built-in sample name), written atomically to ``output``.

    Nothing is overwritten without ``force``; the options are those of :func:`restore_image` and are
    checked before the input is read. Returns the result dict with ``input`` and ``output`` added.
    """
    from aip._shared.files import check_writable
    from aip.io import load_image, write_image

    checked = options.pop("checked", None) or prepare(
        task, options.get("method"), psf=options.get("psf"), scale=options.get("scale", 2),
        denoiser=options.get("denoiser"), prior=options.get("prior"), device=options.get("device"),
        knobs=options.get("knobs"))
    check_writable(output, force)
    img = load_image(input, gray=gray)
    ref = load_image(reference, gray=gray) if reference is not None else None
    out, result = restore_image(task, img, reference=ref, checked=checked, **options)
    write_image(output, out, force=force)
    return {"task": task, "method": result["method"], "input": str(input), "output": str(output),
            **{k: v for k, v in result.items() if k not in ("task", "method")}}
