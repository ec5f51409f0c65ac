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
