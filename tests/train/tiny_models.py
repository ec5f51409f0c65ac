"""Tiny models for the engine's tests (defined here so the trainer is tested without the real models)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from aip.models.base import GenerativeModel, RestorationModel


@dataclasses.dataclass
class TinyConfig:
    in_channels: int = 1
    image_size: int = 8
    num_classes: int = 0
    hidden: int = 16
    noise: float = 0.1


class TinyAE(GenerativeModel):
    """A noisy autoencoder: uses the global RNG in ``forward`` and has batch-norm buffers."""

    name = "tiny_test_ae"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        d = config.in_channels * config.image_size ** 2
        self.enc = nn.Linear(d, config.hidden)
        self.bn = nn.BatchNorm1d(config.hidden)
        self.dec = nn.Linear(config.hidden, d)
        self.emb = nn.Embedding(config.num_classes, config.hidden) if config.num_classes else None

    def _decode(self, h):
        c = self.config
        return torch.sigmoid(self.dec(torch.relu(h))).view(-1, c.in_channels, c.image_size, c.image_size)

    def forward(self, x, y=None, phase="main"):
        h = self.bn(self.enc(x.flatten(1)))
        h = h + self.config.noise * torch.randn_like(h)
        if self.emb is not None:
            h = h + self.emb(y)
        rec = self._decode(h)
        loss = F.mse_loss(rec, x)
        return {"loss": loss, "mse": loss.detach()}

    @torch.no_grad()
    def sample(self, n, *, y=None, generator=None, **kwargs):
        h = torch.randn(n, self.config.hidden, generator=generator, device=self.dec.weight.device)
        if self.emb is not None and y is not None:
            h = h + self.emb(y)
        return self._decode(h)

    def nll(self, x, y=None):
        """Gaussian-decoder stand-in NLL (nats), enough to exercise the evaluation glue."""
        h = self.bn(self.enc(x.flatten(1)))
        if self.emb is not None and y is not None:
            h = h + self.emb(y)
        rec = self._decode(h)
        return 0.5 * ((rec - x) ** 2).flatten(1).sum(1) / 0.01


@dataclasses.dataclass
class TinyGANConfig:
    in_channels: int = 1
    image_size: int = 8
    latent: int = 4
    hidden: int = 16


class TinyGAN(GenerativeModel):
    """A two-phase (d, g) GAN with the non-saturating loss."""

    name = "tiny_test_gan"
    config_class = TinyGANConfig

    def __init__(self, config: TinyGANConfig) -> None:
        super().__init__(config)
        d = config.in_channels * config.image_size ** 2
        self.G = nn.Sequential(nn.Linear(config.latent, config.hidden), nn.ReLU(), nn.Linear(config.hidden, d))
        self.D = nn.Sequential(nn.Linear(d, config.hidden), nn.LeakyReLU(0.2), nn.Linear(config.hidden, 1))

    def phases(self):
        return ["d", "g"]

    def phase_parameters(self, phase):
        if phase not in ("d", "g"):
            raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")
        return (self.D if phase == "d" else self.G).parameters()

    def optimizer_options(self, phase):
        return {"betas": (0.5, 0.999)}

    def _gen(self, n, generator=None):
        c = self.config
        z = torch.randn(n, c.latent, generator=generator, device=self.G[0].weight.device)
        return torch.sigmoid(self.G(z)).view(n, c.in_channels, c.image_size, c.image_size)

    def forward(self, x, y=None, phase="main"):
        fake = self._gen(x.shape[0])
        if phase == "d":
            real_logit = self.D(x.flatten(1))
            fake_logit = self.D(fake.detach().flatten(1))
            loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
        else:
            loss = F.softplus(-self.D(fake.flatten(1))).mean()
        return {"loss": loss}

    @torch.no_grad()
    def sample(self, n, *, y=None, generator=None, **kwargs):
        return self._gen(n, generator)


def tiny_dataset(n: int = 96, size: int = 8, seed: int = 0, classes: int = 4):
    """Smooth random blobs with labels (their quadrant), as an ImageDataset."""
    from aip.data import ImageDataset

    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    labels = torch.arange(n) % classes
    cy = (labels // 2) * (size / 2) + size / 4 + torch.randn(n, generator=g)
    cx = (labels % 2) * (size / 2) + size / 4 + torch.randn(n, generator=g)
    img = torch.exp(-((yy - cy.view(-1, 1, 1)) ** 2 + (xx - cx.view(-1, 1, 1)) ** 2) / 4.0)
    return ImageDataset(img.unsqueeze(1).float(), labels, name="tiny")


@dataclasses.dataclass
class TinyRestorerConfig:
    channels: int = 1
    hidden: int = 8
    loss: str = "l2"


class TinyRestorer(RestorationModel):
    """A 2-layer residual CNN denoiser taking a noise-level map (FFDNet-style), with batch-norm buffers.

    The last layer starts at zero, so the untrained model returns its input.
    """

    name = "tiny_test_restorer"
    config_class = TinyRestorerConfig

    def __init__(self, config: TinyRestorerConfig) -> None:
        super().__init__(config)
        c, h = config.channels, config.hidden
        self.conv1 = nn.Conv2d(c + 1, h, 3, padding=1)
        self.bn = nn.BatchNorm2d(h)
        self.conv2 = nn.Conv2d(h, c, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def restore(self, y, *, sigma=None, **kwargs):
        s = torch.zeros(y.shape[0], device=y.device) if sigma is None else torch.as_tensor(sigma, device=y.device)
        smap = s.to(y.dtype).reshape(-1, 1, 1, 1).expand(y.shape[0], 1, *y.shape[2:])
        return y - self.conv2(torch.relu(self.bn(self.conv1(torch.cat([y, smap], 1)))))


def smooth_images(n: int = 24, size: int = 16, seed: int = 0, channels: int = 1):
    """Smooth random images in [0, 1] (noise blurred by a separable [1 4 6 4 1] kernel, twice), (n, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size + 8, size + 8, generator=g)
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    w = (k[:, None] * k[None, :]).expand(channels, 1, 5, 5)
    for _ in range(2):
        x = F.conv2d(x, w, groups=channels)
    x = x[..., :size, :size]
    lo, hi = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
    return ((x - lo) / (hi - lo)).contiguous()
