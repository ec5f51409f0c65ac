"""Inpainting masks, True where pixels are MISSING (scikit-image's convention): random pixels, blocks,
text, scribbles, and user mask images. All random masks are seeded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from aip._shared.validate import as_mask, check_int, check_positive, describe
from aip.degrade.kernels import _rng

__all__ = ["MASKS", "block_mask", "load_mask", "make_mask", "random_mask", "scribble_mask", "text_mask"]

RNG = int | np.random.Generator | None


def _shape(shape: Any) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in tuple(shape)[:2])
    except (TypeError, ValueError):
        raise ValueError(f"shape: expected (H, W), got {shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"shape: expected positive sizes, got {shape!r}")
    return h, w


def _fraction(value: Any, name: str) -> float:
    f = check_positive(value, name, allow_zero=True)
    if f > 1:
        raise ValueError(f"{name}: expected a fraction in [0, 1], got {value!r}")
    return f


def random_mask(shape: Any, fraction: float, *, rng: RNG = None) -> np.ndarray:
    """Exactly ``round(fraction * H * W)`` missing pixels, drawn uniformly without replacement.

    Examples
    --------
    >>> int(random_mask((10, 10), 0.5).sum())
    50
    """
    h, w = _shape(shape)
    f = _fraction(fraction, "fraction")
    n = (round(f * h * w))
    m = np.zeros(h * w, dtype=bool)
    m[_rng(rng).choice(h * w, size=n, replace=False)] = True
    return m.reshape(h, w)


def block_mask(shape: Any, size: int = 16, fraction: float = 0.2, *, rng: RNG = None) -> np.ndarray:
    """Square holes of ``size`` x ``size`` pixels at random places until at least ``fraction`` is missing."""
    h, w = _shape(shape)
    s = check_int(size, "size", low=1)
    f = _fraction(fraction, "fraction")
    g = _rng(rng)
    m = np.zeros((h, w), dtype=bool)
    target = f * h * w
    for _ in range(100000):
        if m.sum() >= target:
            break
        y = int(g.integers(0, max(1, h - s + 1)))
        x = int(g.integers(0, max(1, w - s + 1)))
        m[y:y + s, x:x + s] = True
    return m


_LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
          "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco.")


def text_mask(shape: Any, text: str = _LOREM, *, font_size: int | None = None, stroke: int = 1,
              line_spacing: float = 1.6) -> np.ndarray:
    """Lines of text over the whole image (Pillow's default font), True on the glyphs.

    ``font_size`` defaults to about H / 12 (at least 10 pixels); the text is repeated to fill each line.
    ``stroke`` thickens the glyphs (pixels). Deterministic: no seed needed.
    """
    from PIL import Image, ImageDraw, ImageFont

    h, w = _shape(shape)
    fs = max(10, h // 12) if font_size is None else check_int(font_size, "font_size", low=4)
    sw = check_int(stroke, "stroke", low=0)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text: expected a non-empty string, got {describe(text)}")
    try:
        font = ImageFont.load_default(size=fs)
    except TypeError:  # Pillow without FreeType scaling
        font = ImageFont.load_default()
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    step = max(1, (round(fs * line_spacing)))
    words = (text + " ") * (1 + (w * 2) // max(1, len(text)))
    offset = 0
    for i, y in enumerate(range(fs // 4, h, step)):
        line = words[offset % len(text):]
        draw.text((2 - (i % 3) * fs // 2, y), line, fill=255, font=font, stroke_width=sw, stroke_fill=255)
        offset += 17
    return np.asarray(im) > 127


def scribble_mask(shape: Any, n_strokes: int = 6, width: int | None = None, *, rng: RNG = None) -> np.ndarray:
    """Random free-hand strokes (smooth random walks drawn with round caps), seeded.

    ``width`` defaults to about min(H, W) / 40 (at least 2 pixels).
    """
    from PIL import Image, ImageDraw

    h, w = _shape(shape)
    n = check_int(n_strokes, "n_strokes", low=0)
    lw = max(2, min(h, w) // 40) if width is None else check_int(width, "width", low=1)
    g = _rng(rng)
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    for _ in range(n):
        p = np.array([g.uniform(0, w), g.uniform(0, h)])
        ang = g.uniform(0, 2 * np.pi)
        pts = [tuple(p)]
        step = max(2.0, min(h, w) / 20.0)
        for _ in range(int(g.integers(8, 24))):
            ang += g.normal(0, 0.5)
            q = p + step * np.array([np.cos(ang), np.sin(ang)])
            if not (0 <= q[0] < w and 0 <= q[1] < h):  # bounce off the border
                ang += np.pi
                q = p + step * np.array([np.cos(ang), np.sin(ang)])
            p = np.clip(q, 0, [w - 1, h - 1])
            pts.append(tuple(p))
        draw.line(pts, fill=255, width=lw, joint="curve")
        r = lw / 2.0
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(im) > 127


def load_mask(path: str | os.PathLike, shape: Any | None = None, *, threshold: float = 0.5) -> np.ndarray:
    """Read a mask image (or .npy): pixels brighter than ``threshold`` (white) are MISSING.

    Colour files are converted to gray first. With ``shape`` the size is checked.
    """
    from aip.io import read_image

    p = Path(path)
    if p.suffix.lower() == ".npy" and p.is_file():
        arr = np.load(p, allow_pickle=False)
        if arr.dtype == np.bool_:
            m = arr
        else:
            from aip._shared.validate import as_image

            m = as_image(arr, str(p), ndim=(2,)) > threshold
    else:
        m = read_image(p, alpha="drop", gray=True) > threshold
    if m.ndim != 2:
        raise ValueError(f"{p}: expected a 2-D mask, got shape {m.shape}")
    if shape is not None and m.shape != _shape(shape):
        raise ValueError(f"{p}: expected a mask of size {_shape(shape)}, got {m.shape}")
    return m


MASKS = ("random", "blocks", "text", "scribble", "file")
MAX_STROKES = 10_000  # scribble strokes of one mask (each a few dozen segments)


def _bounded(value: int, what: str, limit: int, spec: str, h: int, w: int, why: str) -> int:
    if value > limit:
        raise ValueError(f"mask: expected {what} at most {limit} ({why} of the {w}x{h} image) in {spec!r}, "
                         f"got {value}")
    return value


def make_mask(spec: Any, shape: Any, *, rng: RNG = None) -> np.ndarray:
    """Build a mask from a spec string or check an array.

    Specs: ``random:FRACTION``, ``blocks[:SIZE[:FRACTION]]``, ``text[:FONT_SIZE]``,
    ``scribble[:N_STROKES[:WIDTH]]``, or the path of a mask image / .npy file (white = missing).
    An array must be 2-D of the given shape (True = missing).
    """
    h, w = _shape(shape)
    if not isinstance(spec, (str, os.PathLike)):
        return as_mask(spec, (h, w))
    s = str(spec)
    name, _, rest = s.partition(":")
    args = [a for a in rest.split(":") if a] if rest else []
    try:
        if name == "random" and len(args) == 1:
            return random_mask((h, w), float(args[0]), rng=rng)
        side = max(h, w)
        if name == "blocks" and len(args) <= 2:
            size = int(args[0]) if args else max(4, min(h, w) // 8)
            _bounded(size, "SIZE", side, s, h, w, "the larger side")
            frac = float(args[1]) if len(args) > 1 else 0.2
            return block_mask((h, w), size, frac, rng=rng)
        if name == "text" and len(args) <= 1:
            fs = int(args[0]) if args else None
            if fs is not None:
                _bounded(fs, "FONT_SIZE", side, s, h, w, "the larger side")
            return text_mask((h, w), font_size=fs)
        if name == "scribble" and len(args) <= 2:
            n = int(args[0]) if args else 6
            _bounded(n, "N strokes", max(MAX_STROKES, h * w // 100), s, h, w,
                     "the larger of 10000 and one per 100 pixels")
            width = int(args[1]) if len(args) > 1 else None
            if width is not None:
                _bounded(width, "WIDTH", side, s, h, w, "the larger side")
            return scribble_mask((h, w), n, width, rng=rng)
    except ValueError as exc:
        if "expected" in str(exc):
            raise
        raise ValueError(f"mask: could not read the numbers in {s!r}") from None
    if Path(s).is_file():
        return load_mask(s, (h, w))
    raise ValueError(
        "mask: expected random:FRACTION, blocks[:SIZE[:FRACTION]], text[:FONT_SIZE], "
        f"scribble[:N[:WIDTH]] or an existing mask file; got {s!r}"
    )
