"""The fractal codec tasks: compress an image and measure it beside JPEG at the same size, and zoom.

:func:`compress_image` encodes, decodes and measures (bytes, bpp, PSNR, SSIM, times) and, with ``jpeg=True``,
finds the JPEG (Pillow, 4:2:0 for colour) of the largest quality whose file is no larger than the fractal
one, so the two are compared at (at most) the same size. :func:`zoom` decodes at a larger scale beside a
bicubic enlargement of the 1x decode. The CLI (``aip fractal``) and the workbench call these.
"""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Any

import numpy as np


def check_codec_size(source: str | os.PathLike) -> None:
    """Refuse, from the file header alone, an image larger than the .aipf format holds."""
    from pathlib import Path

    from aip.fractal.bitstream import MAX_PIXELS, MAX_SIDE
    from aip.io.images import image_info

    p = Path(source)
    if not p.is_file():  # a sample name, or an error load_image words
        return
    info = image_info(p)
    h, w = info["height"], info["width"]
    if max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
        raise ValueError(f"{source}: expected an image with sides up to {MAX_SIDE} and at most {MAX_PIXELS} "
                         f"pixels for the fractal codec, got {w}x{h}")


def codec_image(img: np.ndarray, source: Any = "image", *, warn: bool = True) -> np.ndarray:
    """``img`` as the codec stores it: gray or RGB (alpha dropped with a note, gray+alpha to gray)."""
    if img.ndim == 3 and img.shape[2] == 4:
        if warn:
            print(f"aip: note: {source}: alpha channel dropped (the codec stores gray or RGB)", file=sys.stderr)
        return img[..., :3]
    if img.ndim == 3 and img.shape[2] == 2:
        return img[..., 0]
    return img


def load_for_codec(source: str | os.PathLike, gray: bool = False) -> np.ndarray:
    from aip.io import load_image

    check_codec_size(source)
    return codec_image(load_image(source, gray=gray), source)


def measure(img: np.ndarray, data: bytes, t_enc: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode ``data`` and measure it against ``img``: bytes, bpp, ratio, PSNR, SSIM, times."""
    from aip.fractal import decode
    from aip.metrics import bits_per_pixel, compression_ratio, psnr, ssim

    t0 = time.perf_counter()
    out = decode(data)
    t_dec = time.perf_counter() - t0
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    return out, {"bytes": len(data), "bpp": bits_per_pixel(len(data), h, w),
                 "ratio": compression_ratio(len(data), h, w, c), "psnr": psnr(img, out, data_range=1.0),
                 "ssim": ssim(img, out, data_range=1.0), "encode_s": t_enc, "decode_s": t_dec}


def jpeg_at_most(img: np.ndarray, max_bytes: int) -> tuple[bytes, int] | None:
    """The Pillow JPEG of ``img`` at the largest quality (1..95) whose file has at most ``max_bytes``
    (bisection; file size grows with quality), or None when even quality 1 is larger."""
    from PIL import Image

    u8 = np.clip(np.rint(np.asarray(img) * 255.0), 0, 255).astype(np.uint8)
    pil = Image.fromarray(u8)

    def at(q: int) -> bytes:
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=q, optimize=True)
        return buf.getvalue()

    lo, hi, best = 1, 95, None
    while lo <= hi:
        mid = (lo + hi) // 2
        data = at(mid)
        if len(data) <= max_bytes:
            best, lo = (data, mid), mid + 1
        else:
            hi = mid - 1
    return best


def compress_image(img: np.ndarray, *, quality: float = 50.0, max_bytes: int | None = None,
                   min_block: int = 2, max_block: int = 32, device: Any = None, progress: bool = False,
                   jpeg: bool = False) -> tuple[bytes, np.ndarray, dict[str, Any]]:
    """Fractal-encode ``img`` (gray or RGB in [0, 1]); returns ``(aipf bytes, decoded, result)``.

    ``result`` has the measures of :func:`measure` and, with ``jpeg=True``, ``jpeg_quality``, ``jpeg_bytes``,
    ``jpeg_bpp``, ``jpeg_psnr`` and ``jpeg_ssim`` of the JPEG no larger than the fractal file (and the decoded
    JPEG under ``result["jpeg_image"]``, an array, which callers drop before JSON).
    """
    from aip.fractal import encode

    img = codec_image(np.asarray(img), warn=False)
    t0 = time.perf_counter()
    data = encode(img, quality=quality, max_bytes=max_bytes, min_block=min_block, max_block=max_block,
                  device=device, progress=progress)
    t_enc = time.perf_counter() - t0
    out, result = measure(img, data, t_enc)
    result = {"width": img.shape[1], "height": img.shape[0], "channels": 1 if img.ndim == 2 else 3, **result}
    if jpeg:
        from PIL import Image

        from aip.metrics import bits_per_pixel, psnr, ssim

        found = jpeg_at_most(img, len(data))
        if found is not None:
            jdata, q = found
            dec = np.asarray(Image.open(io.BytesIO(jdata)), dtype=np.float32) / 255.0
            h, w = img.shape[:2]
            result.update(jpeg_quality=q, jpeg_bytes=len(jdata), jpeg_bpp=bits_per_pixel(len(jdata), h, w),
                          jpeg_psnr=psnr(img, dec, data_range=1.0), jpeg_ssim=ssim(img, dec, data_range=1.0),
                          jpeg_image=dec)
    return data, out, result


def zoom(data: bytes, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Fractal zoom: ``data`` decoded at ``scale`` beside the bicubic enlargement of its 1x decode."""
    from aip.fractal import decode
    from aip.restore import upscale

    big = decode(data, scale=scale)
    small = decode(data)
    if float(scale).is_integer() and scale >= 2:
        bic = np.clip(upscale(small, int(scale), "bicubic"), 0, 1)
    else:
        from PIL import Image

        u8 = np.clip(np.rint(small * 255), 0, 255).astype(np.uint8)
        bic = np.asarray(Image.fromarray(u8).resize(big.shape[1::-1], Image.BICUBIC), np.float32) / 255.0
    return big, bic[: big.shape[0], : big.shape[1]]


def encode_file(input: str | os.PathLike, output: str | os.PathLike, *, quality: float = 50.0,
                max_bytes: int | None = None, min_block: int = 2, max_block: int = 32, gray: bool = False,
                device: Any = None, progress: bool = False, force: bool = False) -> dict[str, Any]:
    """Encode an image file (or sample name) to ``output`` (.aipf, atomically); returns its measures."""
    from aip._shared.files import atomic_write, check_writable

    check_writable(output, force)
    img = load_for_codec(input, gray)
    data, _, measured = compress_image(img, quality=quality, max_bytes=max_bytes, min_block=min_block,
                                       max_block=max_block, device=device, progress=progress)
    atomic_write(output, data, force=force)
    return {"input": str(input), "output": str(output), **measured}


def decode_file(input: str | os.PathLike, output: str | os.PathLike, *, scale: float = 1.0,
                deblock: bool = True, max_iterations: int = 16, force: bool = False) -> dict[str, Any]:
    """Decode an .aipf file to an image file (atomically), at ``scale`` times its size (fractal zoom)."""
    from pathlib import Path

    from aip._shared.files import check_writable
    from aip.fractal import FractalFormatError, decode, read_header
    from aip.io import write_image

    check_writable(output, force)
    src = Path(input)
    if src.is_dir():
        raise IsADirectoryError(f"{src}: is a folder; expected an .aipf file")
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    data = src.read_bytes()
    try:
        header = read_header(data)
        t0 = time.perf_counter()
        out = decode(data, scale=scale, deblock=deblock, max_iterations=max_iterations)
    except FractalFormatError as exc:
        raise ValueError(f"{src}: {exc}") from None
    t_dec = time.perf_counter() - t0
    write_image(output, out, force=force)
    return {"input": str(input), "output": str(output), "width": out.shape[1], "height": out.shape[0],
            "channels": header["channels"], "bytes": header["bytes"], "scale": scale, "decode_s": t_dec}
