"""``aip fractal encode | decode | bench``: the fractal codec on the command line."""

from __future__ import annotations

import argparse

from aip.cli.common import (
    add_batch_flags,
    add_force_flag,
    add_json_flag,
    add_max_pixels_flag,
    add_output_flag,
    report,
    run_batch_command,
)


def register(sub) -> None:
    p = sub.add_parser("fractal", help="fractal image compression (.aipf files)",
                       description="Fractal (PIFS) image codec: encode, decode and a quick benchmark.")
    fsub = p.add_subparsers(dest="fractal_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    e = fsub.add_parser("encode", help="compress an image to .aipf",
                        description="Compress an image file or a built-in sample (e.g. camera) to .aipf.")
    e.add_argument("input", help="image file, or a built-in sample name (camera, astronaut, coffee, ...), or a "
                                 "folder or quoted glob of images (a batch: OUT is a folder of .aipf files)")
    add_output_flag(e, "output .aipf file")
    g = e.add_mutually_exclusive_group()
    g.add_argument("--quality", type=float, default=50.0, help="0 (smallest) .. 100 (best); default 50")
    g.add_argument("--max-bytes", type=int, default=None, help="rate control: largest file size in bytes")
    e.add_argument("--min-block", type=int, default=2, help="smallest range block (power of two, default 2)")
    e.add_argument("--max-block", type=int, default=32, help="largest range block (power of two)")
    e.add_argument("--gray", action="store_true", help="convert the input to gray first")
    e.add_argument("--device", default=None, help="cpu, cuda or auto (search device)")
    add_max_pixels_flag(e)
    add_json_flag(e)
    add_force_flag(e)
    add_batch_flags(e, suffix=False)
    e.set_defaults(func=run_encode)

    d = fsub.add_parser("decode", help="decode .aipf to an image",
                        description="Decode an .aipf file to PNG/TIFF/BMP/NPY, optionally at a larger scale.")
    d.add_argument("input", help=".aipf file, or a folder or quoted glob of them (a batch: OUT is a folder; "
                                 "--suffix sets the image type, default .png)")
    add_output_flag(d, "output image (.png, .tif, .bmp, .npy)")
    d.add_argument("--scale", type=float, default=1.0, help="output size factor (fractal zoom), e.g. 2")
    d.add_argument("--no-deblock", action="store_true", help="skip the deblocking postfilter")
    d.add_argument("--max-iterations", type=int, default=16, help="iteration cap")
    add_json_flag(d)
    add_force_flag(d)
    add_batch_flags(d)
    d.set_defaults(func=run_decode)

    b = fsub.add_parser("bench", help="quick table: bytes, bpp, PSNR, SSIM, times",
                        description="Encode and decode images at a few qualities and print a table.")
    b.add_argument("inputs", nargs="+", help="image files or built-in sample names")
    b.add_argument("--quality", type=float, nargs="+", default=[30.0, 50.0, 70.0], help="qualities to run")
    b.add_argument("--gray", action="store_true", help="convert inputs to gray first")
    add_max_pixels_flag(b)
    add_json_flag(b)
    b.set_defaults(func=run_bench)


def run_encode(args: argparse.Namespace) -> int:
    from functools import partial

    from aip.tasks.batch import is_batch
    from aip.tasks.fractal import encode_file

    options = {"quality": args.quality, "max_bytes": args.max_bytes, "min_block": args.min_block,
               "max_block": args.max_block, "gray": args.gray, "device": args.device}
    if is_batch(args.input):
        return run_batch_command(args, partial(encode_file, **options), describe={"task": "fractal encode"},
                                 outputs=(".aipf",), suffix=".aipf")
    big = args.max_bytes is not None
    if not big:
        from pathlib import Path

        from aip.io.images import image_info

        if Path(args.input).is_file():
            try:
                info = image_info(args.input)
                big = info["height"] * info["width"] >= (1 << 20)
            except ValueError:
                pass
    report(args, encode_file(args.input, args.output, progress=big and not args.json, force=args.force, **options))
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from functools import partial

    from aip.tasks.batch import is_batch
    from aip.tasks.fractal import decode_file

    options = {"scale": args.scale, "deblock": not args.no_deblock, "max_iterations": args.max_iterations}
    if is_batch(args.input):
        from aip.io.images import IMAGE_SUFFIXES

        return run_batch_command(args, partial(decode_file, **options), describe={"task": "fractal decode"},
                                 inputs=(".aipf",), outputs=IMAGE_SUFFIXES, suffix=args.suffix or ".png")
    report(args, decode_file(args.input, args.output, force=args.force, **options))
    return 0


def run_bench(args: argparse.Namespace) -> int:

    from aip.tasks.fractal import compress_image, load_for_codec

    rows = []
    for src in args.inputs:
        img = load_for_codec(src, args.gray)
        for q in args.quality:
            _, _, measured = compress_image(img, quality=q)
            rows.append({"image": src, "quality": q,
                         **{k: v for k, v in measured.items() if k not in ("width", "height", "channels")}})
    report(args, rows)
    return 0
