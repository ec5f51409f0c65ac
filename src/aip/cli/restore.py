"""``aip denoise | deblur | upscale | inpaint``: the restoration front doors on image files."""

from __future__ import annotations

import argparse
from typing import Any

from aip.cli.common import add_force_flag, add_json_flag, add_output_flag, report

_HELP = {
    "denoise": "remove Gaussian noise",
    "deblur": "deconvolve a known blur",
    "upscale": "super-resolve by an integer factor",
    "inpaint": "fill missing pixels",
}

_EXAMPLES = {
    "denoise": "aip denoise noisy.png -o out.png --method nlm --sigma 25",
    "deblur": "aip deblur blurred.png -o out.png --psf gaussian:1.6 --sigma 2.55 --method tv",
    "upscale": "aip upscale small.png -o big.png --scale 2 --method bicubic",
    "inpaint": "aip inpaint y.png -o out.png --mask y_mask.png --method tv",
}


_BEST = {"denoise": "wnnm", "deblur": "pnp", "upscale": "sparse", "inpaint": "wnnm"}


def _methods(task: str) -> list[str]:
    from aip.restore._registry import TASKS

    return list(TASKS[task])


def _seconds(v: float) -> str:
    return f"~{v:g} s" if v < 90 else f"~{v / 60:.0f} min"


def _timing(task: str) -> str:
    """The methods with their measured cost, e.g. ``nlm ~0.6 s (default), wnnm ~12 min (best quality)``."""
    from aip.restore._registry import SECONDS_PER_MP

    cost = SECONDS_PER_MP.get(task, {})
    parts = []
    for i, name in enumerate(_methods(task)):
        tags = ((["default"] if i == 0 else []) + (["best quality"] if name == _BEST[task] else [])
                + (["blind: no PSF"] if task == "deblur" and name in _blind() else []))
        part = name + (f" {_seconds(cost[name])}" if name in cost else "")
        parts.append(part + (f" ({', '.join(tags)})" if tags else ""))
    return ", ".join(parts)


def _sampled() -> tuple[str, ...]:
    from aip.restore._registry import SAMPLED

    return SAMPLED


def _blind() -> tuple[str, ...]:
    from aip.restore._registry import BLIND

    return BLIND


def register(sub) -> None:
    import textwrap

    for task in ("denoise", "deblur", "upscale", "inpaint"):
        names = _methods(task)
        per = "of input" if task == "upscale" else ""
        epilog = (textwrap.fill(f"methods, with seconds per colour megapixel {per} on one CPU core (gray: about "
                                f"a third; images with a side over 1024 pixels are processed in tiles): "
                                f"{_timing(task)}", 100).replace("megapixel  on", "megapixel on")
                  + f"\nexample: {_EXAMPLES[task]}")
        p = sub.add_parser(task, help=f"{_HELP[task]} (methods: {', '.join(names)})",
                           description=f"{_HELP[task].capitalize()} with aip.restore.{task}.",
                           epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("input", metavar="IN", help="image file or built-in sample name")
        add_output_flag(p, "restored image (.png, .tif, .npy, ...)")
        p.add_argument("--method", metavar="M", choices=names, default=None,
                       help=f"one of {', '.join(names)} (default: {names[0]})")
        if task in ("denoise", "deblur"):
            p.add_argument("--sigma", default="auto", metavar="S",
                           help="noise standard deviation on the 0-255 scale, or 'auto' / 'auto:pca' "
                                "to estimate it (default: auto)")
        if task == "denoise":
            p.add_argument("--colour", choices=["opponent", "rgb"], default="opponent",
                           help="colour images: denoise in an orthonormal opponent colour space (default) or "
                                "each RGB channel as it is")
        if task == "deblur":
            p.add_argument("--edges", choices=["mirror", "circular"], default="mirror",
                           help="image borders: mirror (default, photographs) or circular (data blurred "
                                "periodically, e.g. by aip degrade --blur-mode circular)")
            p.add_argument("--psf", default=None, metavar="PSF",
                           help="blur kernel: a .npy/image file or a spec such as gaussian:1.6, box:9, motion:9:30 "
                                f"(required except for the blind {', '.join(_blind())}, which take none)")
        if task == "upscale":
            p.add_argument("--scale", type=int, default=2, help="integer factor from 2 to 16 (default: 2)")
        if task == "inpaint":
            p.add_argument("--mask", required=True, metavar="MASK",
                           help="mask image (white = missing) or .npy boolean array, same size as IN, or a "
                                "spec as for aip degrade (text, random:0.5, blocks:32:0.2, scribble:6; seed 0)")
        if task in ("deblur", "inpaint"):
            p.add_argument("--denoiser", metavar="D", choices=_methods("denoise"), default=None,
                           help="the prior of --method pnp: a denoise method (e.g. ffdnet, the shipped network; "
                                "default dct)")
        if task in ("deblur", "upscale", "inpaint"):
            samplers = " or ".join(m for m in _sampled() if m in _methods(task))
            p.add_argument("--prior", metavar="RUN", default=None,
                           help=f"the diffusion prior of --method {samplers}: shipped:NAME or a run folder of "
                                "aip train ddpm (default shipped:ddpm, 28x28 gray digits; the image must have "
                                "the prior's size)")
        p.add_argument("--tile", type=int, default=None,
                       help="process in tiles of this size, 0 for the whole image at once (default: tiles "
                            "of 1024 when a side is longer; bounded memory for large images)")
        p.add_argument("--reference", metavar="REF", help="clean image: report PSNR and SSIM against it")
        p.add_argument("--gray", action="store_true", help="convert the input (and reference) to gray first")
        p.add_argument("--device", default=None, help="torch device for methods that take one (cpu, cuda, auto)")
        p.add_argument("--set", dest="knobs", action="append", default=[], metavar="KEY=VALUE",
                       help="a knob of the method (repeatable), e.g. --set patch_size=7 or, for WNNM, "
                            "--set eig=exact")
        add_force_flag(p)
        add_json_flag(p)
        p.set_defaults(func=run, task=task)


def parse_knobs(items: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (Python literals where they parse, else strings)."""
    import ast

    out: dict[str, Any] = {}
    for item in items:
        key, eq, val = item.partition("=")
        if not eq or not key.isidentifier():
            raise ValueError(f"--set: expected KEY=VALUE with a Python name as KEY, got {item!r}")
        try:
            out[key] = ast.literal_eval(val)
        except (ValueError, SyntaxError):
            out[key] = val
    return out


def parse_sigma(text: str) -> float | str:
    """CLI sigma: a number on the 0-255 scale -> the [0, 1] image scale, or 'auto[:wavelet|:pca]'."""
    import math

    if text.startswith("auto"):
        if text not in ("auto", "auto:wavelet", "auto:pca"):
            raise ValueError(f"--sigma: expected a number, 'auto', 'auto:wavelet' or 'auto:pca'; got {text!r}")
        return text
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"--sigma: expected a number on the 0-255 scale or 'auto', got {text!r}") from None
    if not (0 < v <= 255 and math.isfinite(v)):
        raise ValueError(f"--sigma: expected a number in (0, 255] (the 0-255 scale), got {text!r}")
    return v / 255.0


def check_knobs(task: str, method: str, knobs: dict[str, Any]) -> None:
    """One-line errors, before any work, for ``--set`` keys (and ``--device``) the method does not take."""
    import inspect

    import aip.restore as R

    params = inspect.signature(R.get_method(task, method)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    fixed = {"image", "sigma", "psf", "scale", "mask", "channel_axis"}
    names = [n for n, p in params.items() if n not in fixed and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in knobs:
        if key not in names:
            flag = "--device" if key == "device" else f"--set {key}"
            raise ValueError(f"{flag}: expected a knob of the {task} method {method!r} "
                             f"({', '.join(names) or 'it takes none'}), got {key!r}")


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    import aip.restore as R
    from aip._shared.files import check_writable
    from aip._shared.validate import check_int
    from aip.io import load_image, write_image

    task = args.task
    knobs = parse_knobs(args.knobs)
    if args.device is not None:
        knobs["device"] = args.device
    if getattr(args, "denoiser", None) is not None:
        if (args.method or "") != "pnp":
            raise ValueError(f"--denoiser: expected --method pnp (the plug-and-play prior), got --method "
                             f"{args.method or 'default'}")
        knobs["denoiser"] = args.denoiser
    if getattr(args, "prior", None) is not None:
        if (args.method or "") not in _sampled():
            raise ValueError(f"--prior: expected --method {' or '.join(m for m in _sampled() if m in _methods(task))} "
                             f"(the diffusion samplers), got --method {args.method or 'default'}")
        knobs["prior"] = args.prior
    sigma = parse_sigma(args.sigma) if task in ("denoise", "deblur") else None
    method = args.method or R.DEFAULTS[task]
    if task == "deblur":
        if method in _blind() and args.psf is not None:
            raise ValueError(f"--psf: --method {method} is blind and takes no PSF; drop --psf, or pick a non-blind "
                             "method to use it")
        if method not in _blind() and args.psf is None:
            raise ValueError(f"--psf: expected a blur kernel (e.g. --psf gaussian:1.6) for --method {method}; "
                             f"only the blind {', '.join(_blind())} runs without one")
    check_knobs(task, method, knobs)
    if task == "upscale":
        check_int(args.scale, "--scale", low=2, high=R.MAX_SCALE)
    check_writable(args.output, args.force)
    img = load_image(args.input, gray=args.gray)
    ref = load_image(args.reference, gray=args.gray) if args.reference else None
    knobs.setdefault("progress", not args.json)     # one bar over the whole image (tiles and rounds)
    result: dict[str, Any] = {"task": task, "method": method, "input": str(args.input),
                              "output": str(args.output), "input_shape": list(img.shape)}
    ch = -1 if img.ndim == 3 else None
    if sigma is not None:
        sig = R.resolve_sigma(sigma, img, ch)
        result["sigma_255"] = sig * 255.0
        if isinstance(sigma, str):
            result["sigma_estimated"] = True
    tile = {} if getattr(args, "tile", None) is None else {"tile": args.tile}
    t0 = time.perf_counter()
    if task == "denoise":
        out = R.denoise(img, method, sigma=sig, colour=args.colour, **tile, **knobs)
    elif task == "deblur":
        from aip.degrade import make_kernel

        psf = None if args.psf is None else make_kernel(args.psf)
        if psf is not None:
            result["psf_shape"] = list(psf.shape)
        out = R.deblur(img, psf, method, sigma=sig, edges=args.edges, **tile, **knobs)
        result["edges"] = args.edges
    elif task == "upscale":
        out = R.upscale(img, args.scale, method, **tile, **knobs)
        result["scale"] = args.scale
    else:
        from aip.degrade import make_mask

        mask = make_mask(args.mask, img.shape[:2], rng=0)  # a file, or a spec drawn with seed 0
        result["missing_fraction"] = float(mask.mean())
        out = R.inpaint(img, mask, method, **tile, **knobs)
    result["time_s"] = time.perf_counter() - t0
    out = np.asarray(out, dtype=np.float32)
    result["output_shape"] = list(out.shape)
    if ref is not None:
        from aip.metrics import psnr, ssim

        if ref.shape != out.shape:
            raise ValueError(f"--reference: expected an image of shape {out.shape}, got {ref.shape}")
        clipped = np.clip(out, 0.0, 1.0)
        result["psnr"] = psnr(ref, clipped, data_range=1.0)
        if min(out.shape[:2]) >= 11:
            result["ssim"] = ssim(ref, clipped, data_range=1.0, channel_axis=-1 if out.ndim == 3 else None)
    write_image(args.output, out, force=args.force)
    report(args, result)
    return 0
