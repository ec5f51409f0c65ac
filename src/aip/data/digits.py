"""A seeded synthetic MNIST-like digit set rendered from matplotlib's DejaVu fonts.

Each of the ten digits is rendered once per font and stroke width (Pillow ``ImageFont.truetype`` on the
TrueType files matplotlib ships in ``mpl-data/fonts/ttf``) into a 64x64 template. Samples are drawn from
the templates in batches with torch: a random affine map (rotation, anisotropic scale, shear,
translation) plus a smooth random elastic displacement field (Simard et al. 2003), resampled bilinearly
to 56x56 and area-averaged to 28x28, so the digit fills about a 20x20 box as in MNIST (LeCun et al. 1998).
Everything is deterministic from the seed.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np

# Fonts with clearly readable digits (the STIX / Computer Modern / LastResort files are left out).
DIGIT_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
)
STROKES = (0, 1, 2)
#: Font families for two-domain digit sets (CycleGAN's font pair): four files each, in matching order
#: (regular, bold, oblique or italic, bold oblique or italic), so one seed renders the same digit, stroke and
#: deformation in both families.
FONT_FAMILIES = {
    "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf"),
    "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
             "DejaVuSansMono-BoldOblique.ttf"),
}
_TEMPLATE = 64
_BOX = 44  # the glyph's longer side in the 64x64 template (20/28 of the 56x56 intermediate ~ 40 px)


def font_dir() -> Path:
    """The folder of matplotlib's bundled TrueType fonts."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=1)
def template_fonts() -> tuple[str, ...]:
    """The font file of every template of :func:`digit_templates`, in its order."""
    folder = font_dir()
    return tuple(f for f in DIGIT_FONTS if (folder / f).exists() for _ in STROKES for _ in range(10))


@functools.lru_cache(maxsize=1)
def digit_templates() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(templates, labels)``: float32 (T, 64, 64) glyphs in [0, 1] and their digits.

    One template per (font, stroke width, digit); the glyph's bounding box is scaled so its longer side
    is 44 pixels and centred by its centre of mass, as MNIST centres its digits.
    """
    from PIL import Image, ImageDraw, ImageFont

    folder = font_dir()
    templates, labels = [], []
    for fname in DIGIT_FONTS:
        path = folder / fname
        if not path.exists():
            continue
        font = ImageFont.truetype(str(path), 96)
        for stroke in STROKES:
            for d in range(10):
                canvas = Image.new("L", (192, 192), 0)
                ImageDraw.Draw(canvas).text((48, 24), str(d), fill=255, font=font,
                                            stroke_width=stroke * 2, stroke_fill=255)
                arr = np.asarray(canvas, dtype=np.float32) / 255.0
                ys, xs = np.nonzero(arr > 0.05)
                crop = arr[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
                h, w = crop.shape
                s = _BOX / max(h, w)
                nh, nw = max(1, round(h * s)), max(1, round(w * s))
                small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(
                    (nw, nh), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
                small = np.clip(small, 0, 1)
                # centre of mass at the template centre
                tot = small.sum()
                cy = (small.sum(1) * np.arange(nh)).sum() / tot
                cx = (small.sum(0) * np.arange(nw)).sum() / tot
                oy = round(_TEMPLATE / 2 - cy)
                ox = round(_TEMPLATE / 2 - cx)
                oy = min(max(oy, 0), _TEMPLATE - nh)
                ox = min(max(ox, 0), _TEMPLATE - nw)
                t = np.zeros((_TEMPLATE, _TEMPLATE), np.float32)
                t[oy:oy + nh, ox:ox + nw] = small
                templates.append(t)
                labels.append(d)
    if not templates:
        raise FileNotFoundError(f"{folder}: no DejaVu fonts found (matplotlib's mpl-data is missing)")
    return np.stack(templates), np.asarray(labels, dtype=np.int64)


def synthetic_digits(n: int, *, seed: int = 0, chunk: int = 4096, fonts: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` synthetic 28x28 digits.

    Parameters
    ----------
    n : int
        Number of images. Labels cycle through 0..9 before shuffling, so every class has ``n // 10`` or
        ``n // 10 + 1`` images.
    seed : int
        Seed of every random choice (font, stroke, affine map, elastic field, order).
    chunk : int
        Images warped per batch, rounded to a multiple of 256 (memory only; the result does not depend
        on it).
    fonts : str, optional
        Only the fonts of one family of :data:`FONT_FAMILIES` (``"sans"``, ``"serif"``, ``"mono"``). Two
        families drawn with the same seed give the same digits, strokes and deformations: aligned pairs.

    Returns
    -------
    images : ndarray, uint8 (n, 28, 28)
    labels : ndarray, int64 (n,)

    Example
    -------
    >>> x, y = synthetic_digits(20, seed=1)
    >>> x.shape, sorted(set(y.tolist())) == list(range(10))
    ((20, 28, 28), True)
    """
    import torch
    import torch.nn.functional as F

    from aip._shared.validate import check_int

    n = check_int(n, "n", low=1)
    templates, tlabels = digit_templates()
    keep = np.ones(len(tlabels), bool)
    if fonts is not None:
        if fonts not in FONT_FAMILIES:
            raise ValueError(f"fonts: expected one of {', '.join(FONT_FAMILIES)}, got {fonts!r}")
        keep = np.isin(np.array(template_fonts()), FONT_FAMILIES[fonts])
    by_digit = [np.flatnonzero((tlabels == d) & keep) for d in range(10)]
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    # per-sample random parameters, drawn all at once so chunking does not change them
    pick = np.array([by_digit[d][rng.integers(len(by_digit[d]))] for d in labels])
    angle = np.deg2rad(rng.normal(0, 9, n).clip(-25, 25))
    scale = rng.uniform(0.85, 1.12, n)
    aspect = np.exp(rng.normal(0, 0.08, n))
    shear = rng.normal(0, 0.12, n).clip(-0.35, 0.35)
    shift = rng.normal(0, 0.035, (n, 2)).clip(-0.1, 0.1)
    coarse = rng.normal(0, 1, (n, 2, 5, 5)).astype(np.float32)
    alpha = rng.uniform(0.0, 0.05, n)
    gain = rng.uniform(0.8, 1.2, n).astype(np.float32)
    gen_seed = int(rng.integers(2**31))
    block = 256  # sensor noise is drawn per block of 256 images, so chunking never changes the result
    chunk = max(block, (chunk // block) * block)

    tt = torch.from_numpy(templates)
    out = np.empty((n, 28, 28), np.uint8)
    lin = (torch.arange(56, dtype=torch.float32) * 2 + 1) / 56 - 1  # pixel centres, align_corners=False
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack([gx, gy, torch.ones_like(gx)], -1).view(1, 56 * 56, 3)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        b = sl.stop - sl.start
        c, s = np.cos(angle[sl]), np.sin(angle[sl])
        sx = scale[sl] * aspect[sl]
        sy = scale[sl] / aspect[sl]
        # output->input map (affine_grid convention): inverse of rotate * shear * scale
        a11 = c / sx - s * shear[sl] / sx
        a12 = s / sx + c * shear[sl] / sx
        a21 = -s / sy
        a22 = c / sy
        theta = np.stack([np.stack([a11, a12, shift[sl, 0]], 1),
                          np.stack([a21, a22, shift[sl, 1]], 1)], 1).astype(np.float32)
        grid = (base @ torch.from_numpy(theta).transpose(1, 2)).view(b, 56, 56, 2)
        field = F.interpolate(torch.from_numpy(coarse[sl]), size=(56, 56), mode="bicubic",
                              align_corners=False)
        field = field * torch.from_numpy(alpha[sl].astype(np.float32)).view(-1, 1, 1, 1)
        grid = grid + field.permute(0, 2, 3, 1)
        src = tt[torch.from_numpy(pick[sl])].unsqueeze(1)
        warped = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        img = F.avg_pool2d(warped, 2)
        # a little contrast variation and sensor noise, as scanned digits have
        img = (img * torch.from_numpy(gain[sl]).view(-1, 1, 1, 1)).clamp(0, 1)
        noise = torch.cat([torch.randn((min(block, sl.stop - k), 1, 28, 28),
                                       generator=torch.Generator().manual_seed(gen_seed + k // block))
                           for k in range(sl.start, sl.stop, block)])
        img = (img + 0.02 * noise * (img > 0.05)).clamp(0, 1)
        out[sl] = (img[:, 0] * 255).round().to(torch.uint8).numpy()
    return out, labels.astype(np.int64)


def cache_dir() -> Path:
    """``$AIP_CACHE`` if set, else ``~/.cache/aip``."""
    return Path(os.environ.get("AIP_CACHE") or Path.home() / ".cache" / "aip")


DIGITS_SPLIT = {"train": (60000, 1), "test": (10000, 2)}
DIGITS_VERSION = 2


def load_digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The fixed train (60,000) / test (10,000) split of the built-in ``digits`` set, cached as .npz."""
    n, seed = DIGITS_SPLIT[split]
    path = cache_dir() / f"digits_v{DIGITS_VERSION}_{split}.npz"
    cached = _read_cache(path)
    if cached is not None:
        return cached
    images, labels = synthetic_digits(n, seed=seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from aip._shared.files import atomic_write

        def _w(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, images=images, labels=labels)

        atomic_write(path, _w, force=True)
    except OSError as exc:  # read-only home: still works, just not cached
        warnings.warn(f"digits: could not cache the data set in {path.parent} ({exc})", stacklevel=2)
    return images, labels


def _read_cache(path):
    """The cached (images, labels), or None when absent or unreadable (a broken cache is rebuilt)."""
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            return z["images"], z["labels"]
    except (OSError, ValueError, KeyError):
        return None
