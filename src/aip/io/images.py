"""Image files: PNG, JPEG, TIFF, BMP (through Pillow) and NPY."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from aip._shared.files import atomic_write
from aip._shared.validate import as_image, int_to_float

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")

AlphaMode = Literal["keep", "drop", "composite"]


def read_image(path: str | os.PathLike, *, alpha: AlphaMode = "keep",
               gray: bool = False) -> np.ndarray:
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

    Returns
    -------
    ndarray
        (H, W) or (H, W, C) float32 array.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{p}: not a valid .npy image file ({exc})") from None
        img = as_image(arr, name=str(p))
    elif p.suffix.lower() in (".tif", ".tiff"):
        img = _read_tiff(p)
    else:
        img = _read_pillow(p)
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


def _read_tiff(p: Path) -> np.ndarray:
    """TIFF through tifffile, which keeps 16-bit colour (Pillow reduces it to 8 bits)."""
    try:
        arr = _tifffile().imread(p)
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types on foreign data
        try:
            return _read_pillow(p)
        except ValueError:
            raise ValueError(f"{p}: cannot read TIFF image ({exc})") from None
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 2, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar storage
    if arr.dtype.kind == "f":
        return as_image(arr, name=str(p))
    return int_to_float(arr)


def _read_pillow(p: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(p) as im:
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
    except UnidentifiedImageError:
        raise ValueError(f"{p}: not an image file Pillow can read") from None
    except OSError as exc:
        raise ValueError(f"{p}: cannot read image ({exc})") from None
    if arr.dtype.kind == "f":
        return as_image(arr, name=str(p))
    return int_to_float(arr)


def write_image(path: str | os.PathLike, image: np.ndarray, *, bit_depth: Literal[8, 16] = 8,
                quality: int = 95, force: bool = False) -> Path:
    """Write a float image in [0, 1] to PNG, JPEG, TIFF, BMP or NPY, atomically.

    Values are clipped to [0, 1] and rounded. ``bit_depth=16`` is available for PNG and TIFF
    (gray only for PNG through Pillow; colour 16-bit goes to TIFF). NPY stores float32 as is.
    Refuses to overwrite an existing file unless ``force``.
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
            raise ValueError("16-bit colour needs .tif (Pillow writes 16-bit PNG for gray only)")
        return atomic_write(p, lambda tmp: _tifffile().imwrite(tmp, arr16, photometric="rgb"), force=force)
    arr8 = np.round(clipped * 255.0).astype(np.uint8)
    if suffix in (".jpg", ".jpeg") and arr8.ndim == 3 and arr8.shape[2] in (2, 4):
        arr8 = arr8[..., :-1]  # JPEG has no alpha
    pil = Image.fromarray(arr8) if not (arr8.ndim == 3 and arr8.shape[2] == 2) else \
        Image.merge("LA", [Image.fromarray(arr8[..., 0]), Image.fromarray(arr8[..., 1])])
    kwargs = {"quality": int(quality)} if suffix in (".jpg", ".jpeg") else {}
    return atomic_write(p, lambda tmp: pil.save(tmp, **kwargs), force=force)
