"""``aip degrade``: simulate an observation y = N(A x) (blur, downsampling, mask, noise) from an image."""

from __future__ import annotations

import argparse

from aip.cli.common import (
    add_batch_flags,
    add_bit_depth_flag,
    add_force_flag,
    add_json_flag,
    add_max_pixels_flag,
    add_output_flag,
    report,
    run_batch_command,
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
    p.add_argument("input", metavar="IN", help="image file or built-in sample name (camera, astronaut, ...), or a "
                   "folder or quoted glob of images (a batch: OUT is a folder, each image seeded by --seed and "
                   "its relative path)")
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
    add_batch_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functools import partial

    from aip.tasks.batch import is_batch
    from aip.tasks.degrade import degrade_file

    options = {"blur": args.blur, "blur_mode": args.blur_mode, "downsample": args.downsample, "mask": args.mask,
               "noise": args.noise, "seed": args.seed, "gray": args.gray, "bit_depth": args.bit_depth}
    if args.noise:
        from aip.degrade import make_noise

        make_noise(args.noise, scale=255.0)   # a bad spec is one line before any image is read
    if is_batch(args.input):
        return run_batch_command(args, partial(degrade_file, **options), describe={"task": "degrade"},
                                 seed_key=True)
    report(args, degrade_file(args.input, args.output, force=args.force, **options))
    return 0
