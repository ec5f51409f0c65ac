"""Input validation and the one integer conversion rule.

Conversion rule (used everywhere in aip): images live in memory as float32 in [0, 1].
``uint8`` is divided by 255, ``uint16`` by 65535, other unsigned/signed integers by the maximum of
their dtype (negative values are an error), ``bool`` maps to {0, 1}. Float input is taken as it is
(cast to float32 where asked) and is never rescaled; it must be finite.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def describe(x: Any) -> str:
    """Short description of a value for error messages."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {tuple(shape)}"
    return f"{type(x).__name__} {x!r}"[:80]


def int_to_float(array: np.ndarray) -> np.ndarray:
    """Convert an integer or bool array to float32 in [0, 1] by the documented rule."""
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        if info.min < 0 and array.size and array.min() < 0:
            raise ValueError(f"expected non-negative integer pixel values, got a minimum of {array.min()}")
        return (array.astype(np.float64) / info.max).astype(np.float32)
    raise TypeError(f"expected an integer or bool array, got dtype {array.dtype}")


def as_image(
    image: Any,
    name: str = "image",
    *,
    ndim: tuple[int, ...] = (2, 3),
    dtype: type = np.float32,
    min_size: int = 1,
) -> np.ndarray:
    """Validate an image and return it as a float array.

    Accepts (H, W) gray or (H, W, C) with C in 1..4. Integer input is converted by the module's rule;
    float input keeps its values. Raises ``ValueError``/``TypeError`` naming what was expected.
    """
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # a torch tensor
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except Exception as exc:  # pragma: no cover - defensive
            raise TypeError(f"{name}: expected an array, got {describe(image)}") from exc
    if image.dtype == object or not (
        np.issubdtype(image.dtype, np.number) or image.dtype == np.bool_
    ):
        raise TypeError(f"{name}: expected a numeric array, got {describe(image)}")
    if np.iscomplexobj(image):
        raise TypeError(f"{name}: expected a real-valued array, got dtype {image.dtype}")
    if image.ndim not in ndim:
        raise ValueError(f"{name}: expected an array with ndim in {ndim}, got {describe(image)}")
    if image.ndim == 3 and 3 in ndim and not 1 <= image.shape[2] <= 4:
        raise ValueError(f"{name}: expected (H, W) or (H, W, C) with 1 to 4 channels, got {describe(image)}")
    if image.shape[0] < min_size or image.shape[1] < min_size:
        raise ValueError(f"{name}: expected at least {min_size}x{min_size} pixels, got {describe(image)}")
    if np.issubdtype(image.dtype, np.integer) or image.dtype == np.bool_:
        out = int_to_float(image)
    else:
        out = image
    out = np.asarray(out, dtype=dtype)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    return out


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a positive real number, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {describe(value)}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value!r}")
    return v


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer within [low, high], else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {describe(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name}: expected an integer in [{lo}, {hi}], got {v}")
    return v


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number in [0, 1) (a probability, a decay), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in [0, 1), got {describe(value)}")
    v = float(value)
    if not 0 <= v < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return v


def check_choice(value: Any, name: str, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_same_shape(a: np.ndarray, b: np.ndarray, names: str = "inputs") -> None:
    """Raise ValueError unless two arrays have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{names}: expected the same shape, got {a.shape} and {b.shape}")


def as_channel_image(image: Any, channel_axis: int | None, name: str = "image") -> np.ndarray:
    """:func:`as_image` (float32), then the layout ``channel_axis`` promises.

    ``channel_axis=None`` needs a 2-D (H, W) image; an integer needs a 3-D image and an axis in [-3, 2].
    """
    img = as_image(image, name, dtype=np.float32)
    if channel_axis is None and img.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array when channel_axis is None, got shape {img.shape}; "
            "pass channel_axis=-1 for colour"
        )
    if channel_axis is not None:
        if img.ndim != 3:
            raise ValueError(f"channel_axis={channel_axis} given but {name} is 2-D with shape {img.shape}")
        check_int(channel_axis, "channel_axis", low=-3, high=2)
    return img


def as_mask(mask: Any, shape: tuple[int, int] | None = None, name: str = "mask") -> np.ndarray:
    """A 2-D boolean mask (True = missing), of ``shape`` when given.

    Booleans are taken as they are, numbers only when every value is 0 or 1; a torch tensor is copied to
    numpy. Raises ``ValueError`` for a wrong shape, ``TypeError`` for values that are not a mask.
    """
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):  # a torch tensor
        mask = mask.detach().cpu().numpy()
    m = np.asarray(mask)
    if shape is None and m.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) array, got {describe(m)}")
    if shape is not None and (m.ndim != 2 or m.shape != tuple(shape)):
        raise ValueError(f"{name}: expected a boolean array of shape {tuple(shape)} (True = missing), "
                         f"got {describe(m)}")
    if m.dtype != np.bool_:
        if not np.issubdtype(m.dtype, np.number) or not np.all(np.isin(m, (0, 1))):
            raise TypeError(f"{name}: expected a boolean array (True = missing), got {describe(m)}")
        m = m.astype(bool)
    return m
