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


def check_codec_size(source: str) -> None:
    """Refuse, from the file header alone, an image larger than the .aipf format holds."""
    from pathlib import Path

    from aip.fractal.bitstream import MAX_PIXELS, MAX_SIDE

    p = Path(source)
    if not p.is_file():  # a sample name, or an error load_image words
        return
    from aip.io.images import image_info

    info = image_info(p)
    h, w = info["height"], info["width"]
    if max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
        raise ValueError(f"{source}: expected an image with sides up to {MAX_SIDE} and at most {MAX_PIXELS} "
                         f"pixels for the fractal codec, got {w}x{h}")


def _load(source: str, gray: bool):
    import sys

    from aip.io import load_image

    check_codec_size(source)
    img = load_image(source, gray=gray)
    if img.ndim == 3 and img.shape[2] == 4:
        print(f"aip: note: {source}: alpha channel dropped (the codec stores gray or RGB)", file=sys.stderr)
        img = img[..., :3]
    elif img.ndim == 3 and img.shape[2] == 2:
        img = img[..., 0]
    return img


def _measure(img, data: bytes, t_enc: float) -> dict:
    import time

    from aip.fractal import decode
    from aip.metrics import bits_per_pixel, compression_ratio, psnr, ssim

    t0 = time.perf_counter()
    out = decode(data)
    t_dec = time.perf_counter() - t0
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    return {
        "bytes": len(data),
        "bpp": bits_per_pixel(len(data), h, w),
        "ratio": compression_ratio(len(data), h, w, c),
        "psnr": psnr(img, out, data_range=1.0),
        "ssim": ssim(img, out, data_range=1.0),
        "encode_s": t_enc,
        "decode_s": t_dec,
    }


def run_encode(args: argparse.Namespace) -> int:
    import time

    from aip._shared.files import atomic_write, check_writable
    from aip.fractal import encode

    check_writable(args.output, args.force)
    img = _load(args.input, args.gray)
    big = img.shape[0] * img.shape[1] >= (1 << 20) or args.max_bytes is not None
    t0 = time.perf_counter()
    data = encode(img, quality=args.quality, max_bytes=args.max_bytes, min_block=args.min_block,
                  max_block=args.max_block, device=args.device, progress=big and not args.json)
    t_enc = time.perf_counter() - t0
    atomic_write(args.output, data, force=args.force)
    result = {"input": args.input, "output": args.output, "width": img.shape[1], "height": img.shape[0],
              "channels": 1 if img.ndim == 2 else 3, **_measure(img, data, t_enc)}
    report(args, result)
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
    import time

    from aip.fractal import encode

    rows = []
    for src in args.inputs:
        img = _load(src, args.gray)
        for q in args.quality:
            t0 = time.perf_counter()
            data = encode(img, quality=q)
            t_enc = time.perf_counter() - t0
            rows.append({"image": src, "quality": q, **_measure(img, data, t_enc)})
    report(args, rows)
    return 0
