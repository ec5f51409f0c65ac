"""A LeNet-style classifier: the feature network of FID-LeNet and the judge of conditional samples.

Two 5x5 convolutions (20 and 50 channels) with ReLU and 2x2 max pooling, an adaptive average pool to
4x4 (so one network fits 8x8 to 32x32 inputs), a 128-unit fully connected layer and the class logits.
The FID features are the 128 pre-activation values of that layer. One classifier per built-in dataset
is trained by ``benchmarks/train_lenet.py`` and shipped as the asset ``lenet_<dataset>``
(:mod:`aip.io.assets`: .safetensors + .json), so FID-LeNet needs no network.

References
----------
LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE 1998.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from aip.io.assets import ASSET_COMMANDS, list_assets
from aip.models.base import Classifier

_PREFIX = "lenet_"


@dataclasses.dataclass
class LeNetConfig:
    in_channels: int = 1
    num_classes: int = 10
    width: int = 20
    feature_dim: int = 128


class LeNet(Classifier):
    """LeNet-style classifier on float (B, C, H, W) images in [0, 1] (normalised inside)."""

    config_class = LeNetConfig

    def __init__(self, config: LeNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or LeNetConfig()
        self.conv1 = nn.Conv2d(c.in_channels, c.width, 5, padding=2)
        self.conv2 = nn.Conv2d(c.width, 2 * c.width + 10, 5, padding=2)
        self.fc1 = nn.Linear((2 * c.width + 10) * 16, c.feature_dim)
        self.fc2 = nn.Linear(c.feature_dim, c.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, feature_dim) penultimate pre-activations used by FID-LeNet."""
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"x: expected (B, {self.config.in_channels}, H, W) images, got shape {tuple(x.shape)}")
        h = (x - 0.5) / 0.5
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2, ceil_mode=True)
        h = F.adaptive_avg_pool2d(h, 4)
        return self.fc1(h.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.fc2(F.relu(self.features(x)))


def shipped_lenets() -> list[str]:
    """Names of the datasets with a shipped classifier."""
    return [a[len(_PREFIX):] for a in list_assets(_PREFIX)]


def load_lenet(dataset: str) -> LeNet:
    """The shipped classifier trained on the built-in ``dataset`` (``digits``, ``digits8``, ...).

    ValueError for a dataset without one; :class:`~aip.io.assets.MissingAssetError` naming the command that
    retrains it when a known one's files are gone.
    """
    from aip.io.assets import weights_dir

    asset = f"{_PREFIX}{dataset}"
    if dataset not in shipped_lenets() and asset not in ASSET_COMMANDS:
        have = ", ".join(shipped_lenets()) or "none"
        raise ValueError(f"dataset: expected one with a shipped LeNet ({have}), got {dataset!r}")
    return LeNet.load(weights_dir() / asset)
