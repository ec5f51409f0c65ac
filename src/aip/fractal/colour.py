"""Colour handling: full-range YCbCr (JPEG/JFIF, ITU-R BT.601) and chroma resampling."""

from __future__ import annotations

import numpy as np


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> YCbCr in [0, 1] (chroma centred on 0.5)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 0.5 + (b - y) / 1.772
    cr = 0.5 + (r - y) / 1.402
    return np.clip(np.stack([y, cb, cr], axis=-1), 0.0, 1.0).astype(np.float32)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`, clipped to [0, 1]."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 0.5, ycc[..., 2] - 0.5
    r = y + 1.402 * cr
    b = y + 1.772 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(np.float32)


def subsample(plane: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` cells (edge-replicated to a multiple of ``factor``)."""
    if factor == 1:
        return plane
    h, w = plane.shape
    hp, wp = -(-h // factor) * factor, -(-w // factor) * factor
    p = np.pad(plane, ((0, hp - h), (0, wp - w)), mode="edge")
    return p.reshape(hp // factor, factor, wp // factor, factor).mean(axis=(1, 3), dtype=np.float32)


def upsample(plane: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling by ``factor`` (cell-centred, as the mean subsampling), cropped to ``shape``.

    The weights of ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``: output
    ``i`` samples the source at ``max((i + 0.5) / factor - 0.5, 0)``, the last sample repeated at the edge.
    """
    plane = np.asarray(plane, dtype=np.float32)
    if factor == 1:
        return plane[: shape[0], : shape[1]]
    out = plane
    for axis in (0, 1):
        n = plane.shape[axis]
        src = np.maximum((np.arange(n * factor, dtype=np.float32) + 0.5) / np.float32(factor) - 0.5, 0)
        i0 = src.astype(np.int64)
        i1 = np.minimum(i0 + 1, n - 1)
        lam = (src - i0).astype(np.float32)
        a, b = np.take(out, i0, axis=axis), np.take(out, i1, axis=axis)
        lam = lam[:, None] if axis == 0 else lam[None, :]
        out = (1 - lam) * a + lam * b
    return np.ascontiguousarray(out[: shape[0], : shape[1]], dtype=np.float32)
