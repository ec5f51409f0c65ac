"""Channel handling: apply a single-channel kernel to every channel of an image."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def per_channel(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                channel_axis: int | None = None) -> np.ndarray:
    """Apply ``fn`` (2-D in, 2-D out) to each channel along ``channel_axis`` (None: 2-D image)."""
    if channel_axis is None:
        if image.ndim != 2:
            raise ValueError(
                f"image: expected a 2-D array when channel_axis is None, got shape {image.shape}; "
                "pass channel_axis=-1 for colour"
            )
        return fn(image)
    moved = np.moveaxis(image, channel_axis, -1)
    out = np.stack([fn(moved[..., c]) for c in range(moved.shape[-1])], axis=-1)
    return np.moveaxis(out, -1, channel_axis)


def per_channel_pair(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], image: np.ndarray, other: np.ndarray,
                     channel_axis: int | None = None) -> np.ndarray:
    """Apply ``fn(image_c, other_c)`` (two 2-D arrays in, 2-D out) to the matching channels of two images
    of the same layout, such as a degraded image and its initial estimate (None: two 2-D images)."""
    if channel_axis is None:
        return fn(image, other)
    a = np.moveaxis(image, channel_axis, -1)
    b = np.moveaxis(other, channel_axis, -1)
    out = np.stack([fn(a[..., c], b[..., c]) for c in range(a.shape[-1])], axis=-1)
    return np.moveaxis(out, -1, channel_axis)
