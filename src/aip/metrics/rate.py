"""Rate metrics for codecs."""

from __future__ import annotations

from aip._shared.validate import check_int


def bits_per_pixel(n_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a coded image: 8 * bytes / (height * width). Colour counts pixels, not samples."""
    n = check_int(n_bytes, "n_bytes", low=0)
    h = check_int(height, "height", low=1)
    w = check_int(width, "width", low=1)
    return 8.0 * n / (h * w)


def compression_ratio(n_bytes: int, height: int, width: int, channels: int = 1,
                      bits_per_sample: int = 8) -> float:
    """Raw size over coded size: (H * W * C * bits_per_sample / 8) / bytes."""
    n = check_int(n_bytes, "n_bytes", low=1)
    raw = check_int(height, "height", low=1) * check_int(width, "width", low=1) \
        * check_int(channels, "channels", low=1) * check_int(bits_per_sample, "bits_per_sample", low=1) / 8
    return raw / n
