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


#: Orthonormal opponent colour transform, rows: luminance (R + G + B) / sqrt(3), red-blue (R - B) / sqrt(2),
#: green-magenta (R - 2G + B) / sqrt(6). Orthonormal, so white noise of level sigma in every RGB channel
#: stays white, with the same sigma, in every opponent channel (the decorrelating transform of colour BM3D).
OPPONENT = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]]) \
    / np.sqrt([3.0, 2.0, 6.0])[:, None]


def _mix_channels(image: np.ndarray, matrix: np.ndarray, channel_axis: int) -> np.ndarray:
    """``matrix @ pixel`` for every pixel of a 3-channel image (float kept, integers to float64)."""
    moved = np.moveaxis(np.asarray(image), channel_axis, -1)
    if moved.shape[-1] != 3:
        raise ValueError(f"image: expected 3 channels along axis {channel_axis}, got shape {np.shape(image)}")
    out = (moved @ matrix.T).astype(moved.dtype if moved.dtype.kind == "f" else np.float64, copy=False)
    return np.moveaxis(out, -1, channel_axis)


def to_opponent(image: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """RGB -> orthonormal opponent space (:data:`OPPONENT`) along ``channel_axis`` (3 channels)."""
    return _mix_channels(image, OPPONENT, channel_axis)


def from_opponent(image: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """Orthonormal opponent space -> RGB (the transpose of :data:`OPPONENT`), the inverse of :func:`to_opponent`."""
    return _mix_channels(image, OPPONENT.T, channel_axis)


def in_opponent(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """Run ``fn`` (a colour image in, the same shape out) in the opponent space and return to RGB."""
    return from_opponent(np.asarray(fn(to_opponent(image, channel_axis))), channel_axis)
