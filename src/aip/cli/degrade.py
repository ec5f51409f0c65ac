"""``aip degrade``: simulate an observation y = N(A x) (blur, downsampling, mask, noise) from an image."""

from __future__ import annotations

import argparse
from pathlib import Path

from aip.cli.common import (
    add_bit_depth_flag,
    add_force_flag,
    add_json_flag,
    add_max_pixels_flag,
    add_output_flag,
    output_bit_depth,
    report,
)

_EPILOG = """\
specs:
  --blur      gaussian:SIGMA[:SIZE] | box:SIZE | disk:RADIUS | motion:LENGTH[:ANGLE] | random_motion[:SIZE] | FILE.npy
  --mask      random:FRACTION | blocks[:SIZE[:FRACTION]] | text[:FONT_SIZE] | scribble[:N[:WIDTH]] | FILE
  --noise     gaussian:SIGMA | poisson:PEAK | poisson_gaussian:PEAK:SIGMA | salt_pepper:AMOUNT
              (Gaussian sigmas on the 0-255 scale)
The degraded image is written to OUT; the mask (white = missing) to OUT's stem + "_mask.png" and the
PSF to OUT's stem + "_psf.npy" when they are made. Values outside [0, 1] (noise) are clipped in PNG/JPEG
files; write .npy to keep them.

example:
  aip degrade camera -o y.png --blur gaussian:1.6 --downsample 2 --mask random:0.5 --noise gaussian:25 --seed 0
"""


def register(sub) -> None:
    p = sub.add_parser(
        "degrade", help="simulate blur, downsampling, missing pixels and noise",
        description="Degrade an image with the observation model y = noise(mask(downsample(blur(x)))).",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="image file or built-in sample name (camera, astronaut, ...)")
    add_output_flag(p, "degraded image (.png, .tif, .npy, ...)")
    p.add_argument("--blur", metavar="SPEC", help="blur kernel, e.g. gaussian:1.6, box:9, motion:9:30")
    p.add_argument("--blur-mode", default="symmetric",
                   choices=["circular", "reflect", "symmetric", "replicate", "zero"],
                   help="boundary model of blur and downsampling (default: symmetric; with circular, "
                        "deblur with --edges circular)")
    p.add_argument("--downsample", metavar="S", type=int, help="integer downsampling factor")
    p.add_argument("--mask", metavar="SPEC", help="missing pixels, e.g. random:0.5, text, scribble, FILE")
    p.add_argument("--noise", metavar="SPEC", help="noise, e.g. gaussian:25 (0-255 scale), poisson:30")
    p.add_argument("--seed", type=int, default=0, help="seed of every random part (default: 0)")
    p.add_argument("--gray", action="store_true", help="convert the input to gray first")
    add_max_pixels_flag(p)
    add_bit_depth_flag(p)
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def side_paths(output: str | Path) -> tuple[Path, Path]:
    """Where the mask and PSF of ``output`` go: OUT stem + "_mask.png" and + "_psf.npy"."""
    out = Path(output)
    return out.with_name(out.stem + "_mask.png"), out.with_name(out.stem + "_psf.npy")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from aip._shared.files import atomic_write, check_writable
    from aip.degrade import degrade, make_noise
    from aip.io import load_image, write_image

    if args.downsample is not None and args.downsample < 1:
        raise ValueError(f"--downsample: expected an integer >= 1, got {args.downsample}")
    noise = make_noise(args.noise, scale=255.0) if args.noise else None
    out = Path(args.output)
    mask_path, psf_path = side_paths(out)
    check_writable(out, args.force)
    if args.mask:
        check_writable(mask_path, args.force)
    if args.blur:
        check_writable(psf_path, args.force)
    x = load_image(args.input, gray=args.gray)
    h, w = x.shape[:2]
    if args.blur:
        from aip.degrade.kernels import check_kernel_size

        check_kernel_size(args.blur, x.shape, name="--blur")
    if args.downsample is not None and args.downsample > min(h, w):
        raise ValueError(f"--downsample: expected an integer in 1..{min(h, w)} (the smaller side of the "
                         f"{w}x{h} image), got {args.downsample}")
    res = degrade(x, blur=args.blur, downsample=args.downsample, mask=args.mask, noise=noise,
                  mode=args.blur_mode, rng=args.seed)
    write_image(out, res.y, bit_depth=output_bit_depth(args.input, out, args.bit_depth), force=args.force)
    result = {"input": str(args.input), "output": str(out), "input_shape": list(x.shape),
              "output_shape": list(res.y.shape)}
    if res.psf is not None:
        psf = res.psf.astype(np.float64)

        def _w(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, psf)

        atomic_write(psf_path, _w, force=args.force)
        result["psf"] = str(psf_path)
        result["psf_shape"] = list(psf.shape)
    if res.mask is not None:
        write_image(mask_path, res.mask.astype(np.float32), force=args.force)
        result["mask"] = str(mask_path)
        result["missing_fraction"] = float(res.mask.mean())
    if res.scale > 1:
        result["scale"] = res.scale
    if res.sigma is not None:
        result["sigma_255"] = float(res.sigma * 255.0)
    if noise is not None:
        result["noise"] = args.noise
    result["seed"] = args.seed
    report(args, result)
    return 0
