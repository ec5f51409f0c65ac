"""Image files: PNG, JPEG, TIFF, BMP (through Pillow) and NPY.

Headers are read first: an image declaring more than :data:`DEFAULT_MAX_PIXELS` (100 megapixels, e.g.
10000x10000; a 12-megapixel photo is far inside) is refused with one line before any pixel is decoded,
so a small "decompression bomb" file cannot take the memory of a huge image. The limit is per call
(``read_image(..., max_pixels=)``) or per process (:func:`set_max_pixels`, the CLI's ``--max-pixels``).
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aip._shared.files import atomic_write
from aip._shared.validate import as_image, int_to_float

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")

AlphaMode = Literal["keep", "drop", "composite"]

# 100 megapixels: one RGB float32 copy is 1.2 GB. Pillow's own bomb limit (89.5 MP warning, 179 MP error)
# is replaced by this one, so there is one message and one flag.
DEFAULT_MAX_PIXELS = 100_000_000
_max_pixels: int = DEFAULT_MAX_PIXELS


def set_max_pixels(limit: int | None) -> int:
    """Set the process-wide pixel limit of :func:`read_image` (None or 0: no limit); returns the old one."""
    global _max_pixels
    old = _max_pixels
    _max_pixels = _check_limit(limit)
    return old


def get_max_pixels() -> int:
    """The process-wide pixel limit of :func:`read_image` (0: no limit)."""
    return _max_pixels


def _check_limit(limit: Any) -> int:
    if limit is None:
        return 0
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer, float)) or not limit >= 0 \
            or (isinstance(limit, float) and not limit.is_integer()):
        raise ValueError(f"max_pixels: expected a whole number of pixels >= 0 (0: no limit), got {limit!r}")
    return int(limit)


def check_pixels(height: int, width: int, source: Any, max_pixels: int | None = None) -> None:
    """Raise one-line ValueError if ``height x width`` is over ``max_pixels`` (None: the process limit)."""
    limit = _max_pixels if max_pixels is None else _check_limit(max_pixels)
    n = int(height) * int(width)
    if limit and n > limit:
        raise ValueError(
            f"{source}: expected an image of at most {limit / 1e6:.4g} megapixels (raise the limit with "
            f"--max-pixels N, 0 for none), got {width}x{height} = {n / 1e6:.4g} megapixels"
        )


def image_info(path: str | os.PathLike) -> dict[str, Any]:
    """Size and sample depth of an image file from its header only (no pixel is decoded).

    Returns ``{"height", "width", "channels", "bit_depth"}``; ``bit_depth`` is 8, 16 or 32 (float, NPY
    and float TIFF) as stored in the file.
    """
    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{p}: not a valid .npy image file ({exc})") from None
        shape = arr.shape
        if arr.ndim not in (2, 3):
            raise ValueError(f"{p}: expected a 2-D or 3-D array, got shape {shape}")
        bits = 32 if arr.dtype.kind == "f" else 8 * arr.dtype.itemsize
        return {"height": shape[0], "width": shape[1], "channels": shape[2] if arr.ndim == 3 else 1,
                "bit_depth": bits}
    if suffix in (".tif", ".tiff"):
        info = _tiff_info(p)
        if info is not None:
            return info
    from PIL import Image, UnidentifiedImageError

    try:
        with _pillow_limits(), Image.open(p) as im:
            w, h = im.size
            mode = im.mode
            bands = len(im.getbands())
            ihdr = _png_ihdr(p) if im.format == "PNG" else None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{p}: refused by Pillow as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError(f"{p}: not an image file Pillow can read") from None
    except OSError as exc:
        raise ValueError(f"{p}: cannot read image ({exc})") from None
    bits = 16 if mode.startswith("I;16") or mode == "I" else 32 if mode == "F" else 8
    if mode == "P":
        bands = 3
    if ihdr is not None:
        bits, bands = (16 if ihdr[0] == 16 else bits), _PNG_CHANNELS.get(ihdr[1], bands)
    return {"height": h, "width": w, "channels": bands, "bit_depth": bits}


def _existing(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a folder; expected an image file")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    return p


_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # PNG colour type -> channels


def _png_ihdr(p: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR (Pillow reports 16-bit colour PNGs as 8-bit)."""
    with open(p, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


class _pillow_limits:
    """Within: Pillow's own bomb check is off (ours runs on the header right after ``Image.open``, before
    any pixel is decoded), so there is one message, one flag and no warning line."""

    def __enter__(self):
        from PIL import Image

        self._old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return self

    def __exit__(self, *exc):
        from PIL import Image

        self._warn.__exit__(*exc)
        Image.MAX_IMAGE_PIXELS = self._old
        return False


def read_image(path: str | os.PathLike, *, alpha: AlphaMode = "keep",
               gray: bool = False, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as float32 in [0, 1].

    Parameters
    ----------
    path : str or PathLike
        PNG, JPEG, TIFF, BMP or NPY file. 8- and 16-bit files are supported; the EXIF orientation tag
        is honoured, so the array is upright as a viewer shows it.
    alpha : {"keep", "drop", "composite"}
        What to do with an alpha channel: keep it as the 4th (or 2nd) channel, drop it, or composite
        the image over white.
    gray : bool
        Convert colour to gray with the ITU-R BT.601 luma weights.
    max_pixels : int, optional
        Refuse (ValueError, before decoding) images with more pixels than this; 0 means no limit and
        None the process limit (:data:`DEFAULT_MAX_PIXELS` = 100 megapixels unless
        :func:`set_max_pixels` or the CLI's ``--max-pixels`` changed it).

    Returns
    -------
    ndarray
        (H, W) or (H, W, C) float32 array.

    Example
    -------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> _ = write_image(path, np.zeros((4, 6)))
    >>> read_image(path).shape
    (4, 6)
    """
    p = _existing(path)
    limit = _max_pixels if max_pixels is None else _check_limit(max_pixels)
    if p.suffix.lower() == ".npy":
        info = image_info(p)
        check_pixels(info["height"], info["width"], p, limit)
        arr = np.load(p, allow_pickle=False)
        img = as_image(arr, name=str(p))
    elif p.suffix.lower() in (".tif", ".tiff"):
        img = _read_tiff(p, limit)
    else:
        img = _read_pillow(p, limit)
    if img.ndim == 3 and img.shape[2] in (2, 4):
        if alpha == "drop":
            img = img[..., :-1]
        elif alpha == "composite":
            a = img[..., -1:]
            img = img[..., :-1] * a + (1.0 - a)
        elif alpha != "keep":
            raise ValueError(f"alpha: expected 'keep', 'drop' or 'composite', got {alpha!r}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if gray:
        img = to_gray(img)
    return np.ascontiguousarray(img, dtype=np.float32)


def to_gray(img: np.ndarray) -> np.ndarray:
    """Colour (H, W, 3|4) -> gray (H, W) with BT.601 weights; alpha is dropped. Gray passes through."""
    if img.ndim == 2:
        return img
    if img.shape[2] in (1, 2):
        return img[..., 0]
    rgb = img[..., :3]
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def _tifffile():
    import tifffile  # installed with scikit-image

    return tifffile


def _tiff_info(p: Path) -> dict[str, Any] | None:
    try:
        with _tifffile().TiffFile(p) as tf:
            series = tf.series[0]
            shape, dtype = tuple(series.shape), np.dtype(series.dtype)
    except Exception:  # noqa: BLE001 - tifffile raises many types on foreign data; Pillow tries next
        return None
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 2, 3, 4):
        shape = shape[1:] + shape[:1]  # planar storage
    if len(shape) not in (2, 3):
        return None
    bits = 32 if dtype.kind == "f" else 8 * dtype.itemsize
    return {"height": shape[0], "width": shape[1], "channels": shape[2] if len(shape) == 3 else 1,
            "bit_depth": bits}


def _read_tiff(p: Path, limit: int) -> np.ndarray:
    """TIFF through tifffile, which keeps 16-bit colour (Pillow reduces it to 8 bits)."""
    info = _tiff_info(p)
    if info is None:
        try:
            return _read_pillow(p, limit)
        except ValueError as exc:
            raise ValueError(f"{p}: cannot read TIFF image ({str(exc).split(': ', 1)[-1]})") from None
    check_pixels(info["height"], info["width"], p, limit)
    try:
        arr = _tifffile().imread(p)
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types on foreign data
        raise ValueError(f"{p}: cannot read TIFF image ({exc})") from None
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 2, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar storage
    if arr.dtype.kind == "f":
        return as_image(arr, name=str(p))
    return int_to_float(arr)


def _read_pillow(p: Path, limit: int) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with _pillow_limits(), Image.open(p) as im:  # lazy: only the header is read here
            check_pixels(im.size[1], im.size[0], p, limit)
            ihdr = _png_ihdr(p) if im.format == "PNG" else None
            if ihdr is not None and ihdr[0] == 16 and ihdr[1] in (2, 4, 6):
                arr16 = _read_png16_colour(p, ihdr[1])
                if arr16 is not None:
                    return int_to_float(_exif_orient(arr16, im))
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.asarray(im, dtype=np.uint16)
            elif mode == "I":
                arr = np.asarray(im)
                arr = np.clip(arr, 0, 65535).astype(np.uint16)
            elif mode == "F":
                arr = np.asarray(im, dtype=np.float32)
            elif mode in ("1", "L", "RGB", "RGBA", "LA"):
                arr = np.asarray(im.convert(mode if mode != "1" else "L"))
            elif mode == "P":
                arr = np.asarray(im.convert("RGBA" if "transparency" in im.info else "RGB"))
            else:  # CMYK, YCbCr, LAB, ...
                arr = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{p}: refused by Pillow as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError(f"{p}: not an image file Pillow can read") from None
    except OSError as exc:
        raise ValueError(f"{p}: cannot read image ({exc})") from None
    if arr.dtype.kind == "f":
        return as_image(arr, name=str(p))
    return int_to_float(arr)


def _read_png16_colour(p: Path, colour_type: int) -> np.ndarray | None:
    """16-bit RGB(A)/LA PNG at full depth through OpenCV when installed (Pillow keeps 8 bits of it)."""
    try:
        import cv2
    except ImportError:
        return None
    arr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    order = {2: [2, 1, 0], 4: [0, 3], 6: [2, 1, 0, 3]}[colour_type]  # OpenCV: BGR(A), LA as BGRA
    return np.ascontiguousarray(arr[..., order])


def _exif_orient(arr: np.ndarray, im) -> np.ndarray:
    """Apply the EXIF orientation tag (as ImageOps.exif_transpose) to an array."""
    k = im.getexif().get(0x0112, 1)
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
           7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1], 8: lambda a: np.swapaxes(a, 0, 1)[::-1]}
    return np.ascontiguousarray(ops[k](arr)) if k in ops else arr


def _png16_bytes(arr16: np.ndarray) -> bytes:
    """A 16-bit PNG of an (H, W, C) uint16 array, C in 2..4 (gray-alpha, RGB, RGBA); "Up" filtered."""
    h, w, c = arr16.shape
    colour_type = {2: 4, 3: 2, 4: 6}[c]
    rows = arr16.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    up = rows.copy()
    up[1:] -= rows[:-1]  # filter type 2: each byte minus the byte above, mod 256
    raw = np.concatenate([np.full((h, 1), 2, np.uint8), up], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + \
        chunk(b"IEND", b"")


def write_image(path: str | os.PathLike, image: np.ndarray, *, bit_depth: Literal[8, 16] = 8,
                quality: int = 95, force: bool = False) -> Path:
    """Write a float image in [0, 1] to PNG, JPEG, TIFF, BMP or NPY, atomically.

    Values are clipped to [0, 1] and rounded. ``bit_depth=16`` is available for PNG and TIFF
    (any channel count; the CLI keeps 16 bits when the input file had them, see :func:`image_info`).
    NPY stores float32 as is. Refuses to overwrite an existing file unless ``force``.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{p}: expected one of {', '.join(IMAGE_SUFFIXES)} as the file suffix")
    img = as_image(image, name="image")
    if suffix == ".npy":
        def _w(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, img.astype(np.float32))
        return atomic_write(p, _w, force=force)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth: expected 8 or 16, got {bit_depth!r}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    from PIL import Image

    clipped = np.clip(img, 0.0, 1.0)
    if bit_depth == 16:
        if suffix not in (".png", ".tif", ".tiff"):
            raise ValueError(f"{p}: 16-bit output needs .png or .tif, got {suffix}")
        arr16 = np.round(clipped * 65535.0).astype(np.uint16)
        if arr16.ndim == 2:
            pil = Image.fromarray(arr16)  # uint16 2-D -> mode I;16
            return atomic_write(p, lambda tmp: pil.save(tmp), force=force)
        if suffix == ".png":
            return atomic_write(p, _png16_bytes(arr16), force=force)
        return atomic_write(p, lambda tmp: _tifffile().imwrite(tmp, arr16, photometric="rgb"), force=force)
    arr8 = np.round(clipped * 255.0).astype(np.uint8)
    if suffix in (".jpg", ".jpeg") and arr8.ndim == 3 and arr8.shape[2] in (2, 4):
        arr8 = arr8[..., :-1]  # JPEG has no alpha
    pil = Image.fromarray(arr8) if not (arr8.ndim == 3 and arr8.shape[2] == 2) else \
        Image.merge("LA", [Image.fromarray(arr8[..., 0]), Image.fromarray(arr8[..., 1])])
    kwargs = {"quality": int(quality)} if suffix in (".jpg", ".jpeg") else {}
    return atomic_write(p, lambda tmp: pil.save(tmp, **kwargs), force=force)


def output_bit_depth(source: Any, output: Any, choice: str | int = "auto") -> int:
    """Bit depth to write ``output`` with: ``choice`` when 8 or 16; for auto, 16 when ``source`` is a
    16-bit file (see :func:`aip.io.images.image_info`) and ``output`` a PNG or TIFF, else 8."""
    if str(choice) in ("8", "16"):
        return int(choice)
    if str(choice) != "auto":
        raise ValueError(f"--bit-depth: expected auto, 8 or 16, got {choice!r}")
    if Path(output).suffix.lower() not in (".png", ".tif", ".tiff") or not Path(str(source)).is_file():
        return 8
    try:
        return 16 if image_info(source)["bit_depth"] == 16 else 8
    except ValueError:
        return 8
