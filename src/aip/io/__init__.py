"""Reading and writing images, and the built-in sample images.

In memory every image is float32 in [0, 1], shaped (H, W) for gray and (H, W, C) for colour.
Integer files are converted by one rule (see :mod:`aip._shared.validate`): 8-bit values are divided by
255 and 16-bit values by 65535. Writing rounds to the nearest integer after clipping to [0, 1].

The files shipped inside the package (weights and their JSON records) go through :mod:`aip.io.assets`.
"""

from aip.io.assets import MissingAssetError, list_assets, load_asset, save_asset, weights_dir
from aip.io.images import IMAGE_SUFFIXES, read_image, write_image
from aip.io.samples import SAMPLE_NAMES, load_image, load_sample

__all__ = [
    "IMAGE_SUFFIXES",
    "SAMPLE_NAMES",
    "MissingAssetError",
    "list_assets",
    "load_asset",
    "load_image",
    "load_sample",
    "read_image",
    "save_asset",
    "weights_dir",
    "write_image",
]
