"""Datasets for the generative models: built-in offline sets and loaders for user data.

Built-in (no network): ``digits`` (seeded synthetic 28x28 MNIST-like digits from the DejaVu fonts),
``digits8`` (scikit-learn's 8x8 digits), ``faces`` (scikit-image's 200 LFW crops, 25x25), ``patches``
(32x32 patches of the bundled photos). User folders: MNIST / Fashion-MNIST IDX files (optionally .gz),
CIFAR-10 python batches, one image sub-folder per class.
"""

from aip.data.builtin import BUILTIN
from aip.data.dataset import (
                              BatchStream,
                              ImageDataset,
                              dist_info,
                              from_uint8,
                              load_dataset,
                              make_loader,
                              make_sampler,
)
from aip.data.digits import synthetic_digits
from aip.data.files import load_cifar_folder, load_idx_folder, load_image_folder, read_idx

DATASETS = tuple(BUILTIN)
METHODS = {"datasets": list(DATASETS), "loaders": ["mnist_idx", "cifar10", "image_folder"]}

__all__ = [
                              "DATASETS",
                              "METHODS",
                              "BatchStream",
                              "ImageDataset",
                              "dist_info",
                              "from_uint8",
                              "load_cifar_folder",
                              "load_dataset",
                              "load_idx_folder",
                              "load_image_folder",
                              "make_loader",
                              "make_sampler",
                              "read_idx",
                              "synthetic_digits",
]
