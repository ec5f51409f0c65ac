"""Built-in sample images (scikit-image's bundled files) and one loader for names or paths."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aip._shared.validate import int_to_float

# Bundled with scikit-image (no network). Names that would fetch from the web are not listed.
SAMPLE_NAMES = (
    "astronaut", "brick", "camera", "cat", "cell", "chelsea", "coffee", "coins", "colorwheel",
    "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms",
    "moon", "page", "retina", "rocket", "text", "checkerboard", "binary_blobs",
)


def load_sample(name: str, *, gray: bool = False, size: int | None = None) -> np.ndarray:
    """Load a built-in sample image as float32 in [0, 1].

    Parameters
    ----------
    name : str
        One of :data:`SAMPLE_NAMES` (for example ``"camera"``, ``"astronaut"``, ``"coffee"``).
    gray : bool
        Convert colour images to gray (BT.601 luma).
    size : int, optional
        Resize (Lanczos, through Pillow) so that the image is ``size`` x ``size``; non-square images
        are centre-cropped to a square first.
    """
    if name not in SAMPLE_NAMES:
        raise ValueError(f"sample: expected one of {', '.join(SAMPLE_NAMES)}; got {name!r}")
    arr = _bundled_png(name)
    if arr is None:
        import skimage.data

        arr = getattr(skimage.data, name)()
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        img = int_to_float(arr)
    else:
        img = np.clip(arr.astype(np.float32), 0.0, 1.0)
    if gray:
        from aip.io.images import to_gray

        img = to_gray(img)
    if size is not None:
        img = _resize_square(img, size)
    return np.ascontiguousarray(img, dtype=np.float32)


# samples whose skimage.data function is a plain read of <name>.png in skimage's data folder: read here with
# Pillow, which spares a command the 0.3 s of importing skimage.io (tests check the arrays are equal)
_PLAIN_PNG = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "moon")


def _bundled_png(name: str) -> np.ndarray | None:
    import importlib.util

    if name not in _PLAIN_PNG:
        return None
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.png"
    if not path.is_file():
        return None
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def _resize_square(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = img[top:top + s, left:left + s]
    if s == size:
        return img
    chans = [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[2])]
    out = [np.asarray(Image.fromarray(c.astype(np.float32), mode="F").resize((size, size), Image.LANCZOS))
           for c in chans]
    res = out[0] if img.ndim == 2 else np.stack(out, axis=-1)
    return np.clip(res, 0.0, 1.0).astype(np.float32)


def load_image(source: str | os.PathLike, *, gray: bool = False, size: int | None = None) -> np.ndarray:
    """Load a user file, or a built-in sample when ``source`` is a sample name and no such file exists."""
    p = Path(source)
    if isinstance(source, str) and source in SAMPLE_NAMES and not p.exists():
        return load_sample(source, gray=gray, size=size)
    from aip.io.images import read_image

    if not p.exists():
        raise FileNotFoundError(
            f"{source}: no such file, and not a built-in sample (try one of: camera, astronaut, coffee, ...)"
        )
    img = read_image(p, gray=gray)
    if size is not None:
        img = _resize_square(img, size)
    return img
