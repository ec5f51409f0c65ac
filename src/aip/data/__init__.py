"""Datasets for training: built-in offline sets, loaders for user data, and restoration pairs.

Built-in (no network): ``digits`` (seeded synthetic 28x28 MNIST-like digits from the DejaVu fonts),
``digits8`` (scikit-learn's 8x8 digits), ``faces`` (scikit-image's 200 LFW crops, 25x25), ``patches``
(32x32 patches of the bundled photos but the evaluation ones). User folders: MNIST / Fashion-MNIST IDX files (optionally .gz),
CIFAR-10 python batches, one image sub-folder per class. Restoration (:mod:`aip.data.paired`):
:class:`Paired`, :class:`Unpaired` and :class:`Degraded` (fresh degradations every batch), batch dicts
drawn by the same resumable :class:`BatchStream`.
"""

from aip.data.builtin import BUILTIN
from aip.data.dataset import (
                              BatchDataset,
                              BatchStream,
                              ImageDataset,
                              batch_generator,
                              dist_info,
                              from_uint8,
                              load_dataset,
                              make_loader,
                              make_sampler,
)
from aip.data.digits import synthetic_digits
from aip.data.files import load_cifar_folder, load_idx_folder, load_image_folder, read_idx
from aip.data.paired import Degraded, Paired, RandomBlur, Unpaired, make_degradation

DATASETS = tuple(BUILTIN)
METHODS = {"datasets": list(DATASETS), "loaders": ["mnist_idx", "cifar10", "image_folder"],
           "restoration": ["paired", "unpaired", "degraded"]}

__all__ = [
                              "DATASETS",
                              "METHODS",
                              "BatchDataset",
                              "BatchStream",
                              "Degraded",
                              "ImageDataset",
                              "Paired",
                              "RandomBlur",
                              "Unpaired",
                              "batch_generator",
                              "dist_info",
                              "from_uint8",
                              "load_cifar_folder",
                              "load_dataset",
                              "load_idx_folder",
                              "load_image_folder",
                              "make_degradation",
                              "make_loader",
                              "make_sampler",
                              "read_idx",
                              "synthetic_digits",
]
