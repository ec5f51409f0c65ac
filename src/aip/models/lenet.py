"""A LeNet-style classifier: the feature network of FID-LeNet and the judge of conditional samples.

Two 5x5 convolutions (20 and 50 channels) with ReLU and 2x2 max pooling, an adaptive average pool to
4x4 (so one network fits 8x8 to 32x32 inputs), a 128-unit fully connected layer and the class logits.
The FID features are the 128 pre-activation values of that layer. One classifier per built-in dataset
is trained by ``benchmarks/train_lenet.py`` and shipped in ``aip/data/weights/lenet_<dataset>``
(.safetensors + .json), so FID-LeNet needs no network.

References
----------
LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE 1998.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "data" / "weights"


@dataclasses.dataclass
class LeNetConfig:
    in_channels: int = 1
    num_classes: int = 10
    width: int = 20
    feature_dim: int = 128


class LeNet(nn.Module):
    """LeNet-style classifier on float (B, C, H, W) images in [0, 1] (normalised inside)."""

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

    @torch.no_grad()
    def predict(self, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
        """Predicted labels (B,) int64."""
        self.eval()
        return torch.cat([self(x[i:i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)])

    def save(self, stem: str | Path, *, extra: dict | None = None) -> None:
        """Write ``stem.safetensors`` (weights) and ``stem.json`` (config and ``extra``), atomically."""
        from safetensors.torch import save

        from aip._shared.files import atomic_write

        stem = Path(stem)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        atomic_write(stem.with_suffix(".safetensors"), save(state), force=True)
        meta = {"config": dataclasses.asdict(self.config), **(extra or {})}
        atomic_write(stem.with_suffix(".json"), json.dumps(meta, indent=2).encode(), force=True)

    @classmethod
    def load(cls, stem: str | Path) -> LeNet:
        from safetensors.torch import load_file

        stem = Path(stem)
        if not stem.with_suffix(".safetensors").is_file():
            raise FileNotFoundError(f"{stem.with_suffix('.safetensors')}: no LeNet weights")
        meta = json.loads(stem.with_suffix(".json").read_text())
        net = cls(LeNetConfig(**meta["config"]))
        net.load_state_dict(load_file(str(stem.with_suffix(".safetensors"))))
        net.meta = meta
        return net.eval()


def shipped_lenets() -> list[str]:
    """Names of the datasets with a shipped classifier."""
    return sorted(p.stem[len("lenet_"):] for p in WEIGHTS_DIR.glob("lenet_*.safetensors"))


def load_lenet(dataset: str) -> LeNet:
    """The shipped classifier trained on the built-in ``dataset`` (``digits``, ``digits8``, ...)."""
    stem = WEIGHTS_DIR / f"lenet_{dataset}"
    if not stem.with_suffix(".safetensors").is_file():
        have = ", ".join(shipped_lenets()) or "none"
        raise ValueError(f"dataset: expected one with a shipped LeNet ({have}), got {dataset!r}")
    return LeNet.load(stem)
