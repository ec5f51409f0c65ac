"""``aip translate``: run an image-to-image translation model (pix2pix, CycleGAN) on an image.

    aip translate RUN_DIR edges.png -o photo.png
    aip translate RUN_DIR photo.png -o back.png --derive      # make the source from a target image first
"""

from __future__ import annotations

import argparse

from aip.cli.common import (
    add_batch_flags,
    add_force_flag,
    add_json_flag,
    add_output_flag,
    report,
    run_batch_command,
)


def register(sub) -> None:
    p = sub.add_parser("translate", help="translate an image with a trained pix2pix run (edges -> image, "
                                         "gray -> colour, degraded -> clean)",
                       description="Translate IN from the run's source domain to its target domain.")
    p.add_argument("run", metavar="RUN", help="run directory written by aip train pix2pix")
    p.add_argument("input", metavar="IN", help="source-domain image (or, with --derive, a target-domain image), or a "
                                              "folder or quoted glob of them (a batch: OUT is a folder)")
    add_output_flag(p, "translated image (.png, .tif, .npy, ...)")
    p.add_argument("--derive", action="store_true",
                   help="make the source from IN with the run's task first (edges, gray), and write it beside "
                        "OUT as OUT_source.png")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="CycleGAN runs: translate from domain A to B (default) or back")
    p.add_argument("--mask", metavar="MASK", default=None,
                   help="Palette inpainting runs: the missing pixels (white = missing; an image, .npy or a spec as "
                        "for aip degrade, e.g. random:0.5)")
    p.add_argument("--seed", type=int, default=0, help="diffusion runs (sr3, palette): the sample's seed")
    p.add_argument("--tile", type=int, default=512, help="process in tiles of this size (default 512)")
    p.add_argument("--device", default=None, help="torch device (cpu, cuda)")
    p.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA ones")
    add_force_flag(p)
    add_json_flag(p)
    add_batch_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functools import partial

    from aip.tasks.batch import is_batch
    from aip.tasks.translate import load_translator, translate_file

    options = {"direction": args.direction, "derive": args.derive, "mask": args.mask, "seed": args.seed,
               "tile": args.tile, "device": args.device, "ema": not args.no_ema}
    load_translator(str(args.run), not args.no_ema, args.device)      # a bad run is one line before any image
    if is_batch(args.input):
        return run_batch_command(args, partial(translate_file, str(args.run), **options),
                                 describe={"task": "translate", "run": str(args.run)})
    report(args, translate_file(args.run, args.input, args.output, force=args.force, **options))
    return 0
