"""``aip denoise | deblur | upscale | inpaint``: the restoration front doors on image files."""

from __future__ import annotations

import argparse
from typing import Any

from aip.cli.common import (
    add_batch_flags,
    add_force_flag,
    add_json_flag,
    add_output_flag,
    report,
    run_batch_command,
)

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
        p.add_argument("input", metavar="IN", help="image file, built-in sample name, or a folder or quoted glob "
                       "of images (a batch; OUT is then a folder)")
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
        add_batch_flags(p)
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


def run(args: argparse.Namespace) -> int:
    from functools import partial
    from pathlib import Path

    from aip.tasks.batch import is_batch
    from aip.tasks.restore import parse_sigma, prepare, restore_file

    task = args.task
    options: dict[str, Any] = {
        "method": args.method, "psf": getattr(args, "psf", None), "scale": getattr(args, "scale", 2),
        "denoiser": getattr(args, "denoiser", None), "prior": getattr(args, "prior", None),
        "device": args.device, "knobs": parse_knobs(args.knobs)}
    checked = prepare(task, **options)
    if task in ("denoise", "deblur"):
        parse_sigma(args.sigma)
        options["sigma"] = args.sigma
    for name in ("colour", "edges", "mask", "tile"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    if is_batch(args.input):
        if args.reference is not None and not Path(args.reference).is_dir():
            raise ValueError(f"--reference: expected a folder of clean images matching the batch input, got "
                             f"{args.reference}")
        mask_dir = options.get("mask") if task == "inpaint" and Path(options["mask"]).is_dir() else None
        if mask_dir is not None:
            del options["mask"]
        fn = partial(restore_file, task, gray=args.gray, checked=checked, progress=False, **options)
        return run_batch_command(args, fn, {"reference": args.reference, "mask": mask_dir},
                                 describe={"task": task, "method": checked[0]})
    result = restore_file(task, args.input, args.output, gray=args.gray, reference=args.reference,
                          force=args.force, checked=checked, progress=not args.json, **options)
    report(args, result)
    return 0
