"""``aip fractal encode | decode | bench``: the fractal codec on the command line."""

from __future__ import annotations

import argparse

from aip.cli.common import add_force_flag, add_json_flag, add_max_pixels_flag, add_output_flag, report


def register(sub) -> None:
    p = sub.add_parser("fractal", help="fractal image compression (.aipf files)",
                       description="Fractal (PIFS) image codec: encode, decode and a quick benchmark.")
    fsub = p.add_subparsers(dest="fractal_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    e = fsub.add_parser("encode", help="compress an image to .aipf",
                        description="Compress an image file or a built-in sample (e.g. camera) to .aipf.")
    e.add_argument("input", help="image file, or a built-in sample name (camera, astronaut, coffee, ...)")
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
    e.set_defaults(func=run_encode)

    d = fsub.add_parser("decode", help="decode .aipf to an image",
                        description="Decode an .aipf file to PNG/TIFF/BMP/NPY, optionally at a larger scale.")
    d.add_argument("input", help=".aipf file")
    add_output_flag(d, "output image (.png, .tif, .bmp, .npy)")
    d.add_argument("--scale", type=float, default=1.0, help="output size factor (fractal zoom), e.g. 2")
    d.add_argument("--no-deblock", action="store_true", help="skip the deblocking postfilter")
    d.add_argument("--max-iterations", type=int, default=16, help="iteration cap")
    add_json_flag(d)
    add_force_flag(d)
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

    from aip._shared.files import atomic_write, check_writable
    from aip.tasks.fractal import compress_image, load_for_codec

    check_writable(args.output, args.force)
    img = load_for_codec(args.input, args.gray)
    big = img.shape[0] * img.shape[1] >= (1 << 20) or args.max_bytes is not None
    data, _, measured = compress_image(img, quality=args.quality, max_bytes=args.max_bytes,
                                       min_block=args.min_block, max_block=args.max_block, device=args.device,
                                       progress=big and not args.json)
    atomic_write(args.output, data, force=args.force)
    report(args, {"input": args.input, "output": args.output, **measured})
    return 0


def run_decode(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from aip._shared.files import check_writable
    from aip.fractal import FractalFormatError, decode, read_header
    from aip.io import write_image

    check_writable(args.output, args.force)
    src = Path(args.input)
    if src.is_dir():
        raise IsADirectoryError(f"{src}: is a folder; expected an .aipf file")
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    data = src.read_bytes()
    try:
        header = read_header(data)
        t0 = time.perf_counter()
        out = decode(data, scale=args.scale, deblock=not args.no_deblock, max_iterations=args.max_iterations)
    except FractalFormatError as exc:
        raise ValueError(f"{src}: {exc}") from None
    t_dec = time.perf_counter() - t0
    write_image(args.output, out, force=args.force)
    report(args, {"input": args.input, "output": args.output, "width": out.shape[1], "height": out.shape[0],
                  "channels": header["channels"], "bytes": header["bytes"], "scale": args.scale,
                  "decode_s": t_dec})
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
