"""Normalizing flows: RealNVP (affine coupling, checkerboard and channel masks, multi-scale) and Glow (actnorm,
invertible 1x1 convolution). Exact log-likelihood by the change of variables, sampling with temperature.

An invertible f maps an image to a Gaussian latent z = f(x), so log p(x) = log N(f(x); 0, I) + log|det df/dx|;
every layer below is invertible with a log-determinant that costs no more than the layer itself.

- **Data**: 8-bit images (``levels`` grey levels) are dequantized with uniform noise, u = (v + U(0, 1)) / levels,
  then mapped to the reals by a logit, y = logit(alpha + (1 - 2 alpha) u) (Dinh et al. 2017, Sec. 4.1); both
  steps' log-determinants enter the likelihood. The NLL of the discrete image is bounded by
  -log p(u) + D log(levels) nats (Theis et al. 2016), reported also in bits per dimension.
- **Affine coupling** (RealNVP): a mask b splits the input; the masked part passes unchanged and predicts a
  scale and shift of the rest, y = b x + (1 - b)(x exp(s(b x)) + t(b x)), log-det = sum (1 - b) s. Masks:
  ``checkerboard`` ((i + j) % 2 on the pixel grid) and ``channel`` (half the channels); the parity alternates.
  s = scale * tanh(raw) with a learned scale, the network's last layer zero-initialised (the identity at start).
- **Multi-scale**: squeeze (2 x 2 space-to-depth, C H W -> 4C H/2 W/2) between scales; after each scale half
  the channels leave as latents (factored out), the rest go on.
- **RealNVP**: per scale 3 checkerboard couplings, squeeze, 3 channel couplings, split; a final scale of 4
  checkerboard couplings.
- **Glow** (Kingma & Dhariwal 2018): per level squeeze, then ``steps`` of [actnorm (a per-channel affine map
  initialised from the first batch to zero mean, unit variance), invertible 1x1 convolution (a C x C matrix,
  log-det H W log|det W|, initialised orthogonal), channel affine coupling], then split (not after the last).

Sampling: z ~ N(0, T^2 I) for ``temperature`` T, then f^-1, then the inverse logit.

References
----------
Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018.
Theis, van den Oord, Bethge, "A note on the evaluation of generative models", ICLR 2016.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.layers import check_image_batch, check_labels, nats_to_bits_per_dim

__all__ = ["ActNorm", "AffineCoupling", "FlowConfig", "Glow", "GlowConfig", "InvConv1x1", "RealNVP", "squeeze", "unsqueeze"]


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 4C, H/2, W/2): each 2 x 2 block of pixels becomes 4 channels."""
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`squeeze`."""
    b, c, h, w = x.shape
    return x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c // 4, 2 * h, 2 * w)


class _Squeeze(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return squeeze(x), x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return unsqueeze(y)


class _CouplingNet(nn.Module):
    """The s, t network of a coupling layer: 3x3 conv, ``blocks`` residual 3x3 blocks, a zero-initialised 3x3 conv."""

    def __init__(self, in_ch: int, out_ch: int, hidden: int, blocks: int) -> None:
        super().__init__()
        self.inp = nn.Conv2d(in_ch, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
                                                  nn.Conv2d(hidden, hidden, 1)) for _ in range(blocks))
        self.out = nn.Conv2d(hidden, 2 * out_ch, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(F.relu(h))


class AffineCoupling(nn.Module):
    """RealNVP affine coupling with a ``"checkerboard"`` or ``"channel"`` mask of ``parity`` 0 or 1."""

    def __init__(self, channels: int, mask: str, parity: int, hidden: int = 32, blocks: int = 1) -> None:
        super().__init__()
        if mask == "channel" and channels % 2:
            raise ValueError(f"mask: a channel mask needs an even number of channels, got {channels}")
        self.mask, self.parity, self.channels = mask, parity, channels
        if mask == "checkerboard":   # the mask itself is an input, so the net knows which pixels it sees
            self.net = _CouplingNet(channels + 1, channels, hidden, blocks)
        else:
            self.net = _CouplingNet(channels // 2, channels // 2, hidden, blocks)
        self.scale = nn.Parameter(torch.ones(1))

    def _board(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        i = torch.arange(h, device=x.device)[:, None] + torch.arange(w, device=x.device)[None]
        return ((i % 2) == self.parity).to(x.dtype)[None, None]           # 1 where the input passes unchanged

    def _st(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(cond).chunk(2, dim=1)
        return self.scale * torch.tanh(raw_s), t

    def _halves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x.chunk(2, dim=1)
        return (a, b) if self.parity == 0 else (b, a)

    def _join(self, keep: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
        return torch.cat([keep, moved] if self.parity == 0 else [moved, keep], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mask == "checkerboard":
            b = self._board(x)
            s, t = self._st(torch.cat([x * b, b.expand(x.shape[0], 1, -1, -1)], 1))
            s, t = s * (1 - b), t * (1 - b)
            return x * torch.exp(s) + t, s.flatten(1).sum(1)
        keep, moved = self._halves(x)
        s, t = self._st(keep)
        return self._join(keep, moved * torch.exp(s) + t), s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if self.mask == "checkerboard":
            b = self._board(y)
            s, t = self._st(torch.cat([y * b, b.expand(y.shape[0], 1, -1, -1)], 1))
            s, t = s * (1 - b), t * (1 - b)
            return (y - t) * torch.exp(-s)
        keep, moved = self._halves(y)
        s, t = self._st(keep)
        return self._join(keep, (moved - t) * torch.exp(-s))


class ActNorm(nn.Module):
    """Per-channel affine y = (x - mu) * exp(log_s), initialised on the first training batch so that y has zero
    mean and unit variance per channel (Glow); log-det = H W sum log_s."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            with torch.no_grad():
                self.loc.copy_(x.mean(dim=(0, 2, 3), keepdim=True))
                self.log_scale.copy_(-torch.log(x.std(dim=(0, 2, 3), keepdim=True) + 1e-6))
                self.initialized.fill_(True)
        y = (x - self.loc) * torch.exp(self.log_scale)
        return y, (x.shape[2] * x.shape[3] * self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) + self.loc


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution: y = W x at every pixel, W (C, C) initialised orthogonal;
    log-det = H W log|det W| (Glow)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        self.weight = nn.Parameter(q)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = x.shape[2] * x.shape[3] * torch.linalg.slogdet(self.weight)[1]
        return F.conv2d(x, self.weight[:, :, None, None]), logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return F.conv2d(y, torch.linalg.inv(self.weight)[:, :, None, None])


class _Split(nn.Module):
    """Factor out the first half of the channels as a latent (marker; the flow handles the bookkeeping)."""


@dataclass
class FlowConfig:
    """``scales``: RealNVP scales / Glow levels (the image side must be divisible by 2^(scales - 1), Glow: 2^scales);
    ``steps``: Glow's flow steps per level; ``hidden``, ``blocks``: each coupling network's width and depth."""

    image_size: int = 28
    in_channels: int = 1
    scales: int = 3
    steps: int = 4
    hidden: int = 32
    blocks: int = 1
    alpha: float = 0.05
    levels: int = 256
    lr: float = 1e-3

    def validate(self, glow: bool = False) -> None:
        check_int(self.image_size, "image_size", low=2)
        check_int(self.in_channels, "in_channels", low=1, high=4)
        check_int(self.scales, "scales", low=1)
        div = 2 ** (self.scales if glow else self.scales - 1)
        if self.image_size % div:
            raise ValueError(f"scales: expected image_size {self.image_size} divisible by {div} for {self.scales} "
                             f"{'levels' if glow else 'scales'}, got {self.scales}")
        for name in ("steps", "hidden", "blocks"):
            check_int(getattr(self, name), name, low=1)
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha: expected a number in (0, 0.5), got {self.alpha!r}")
        check_int(self.levels, "levels", low=2)
        check_positive(self.lr, "lr")


@dataclass
class GlowConfig(FlowConfig):
    """FlowConfig with 2 levels (28 x 28 digits: 28 -> 14 -> 7)."""

    scales: int = 2


class _Flow(GenerativeModel):
    """Shared maths of the flows: dequantization, logit, the layer stack with factored-out latents."""

    config_class = FlowConfig
    glow = False

    def __init__(self, config: FlowConfig | None = None) -> None:
        config = config or self.config_class()
        config.validate(glow=self.glow)
        super().__init__(config)
        self.layers = nn.ModuleList(self._build(config))

    @abc.abstractmethod
    def _build(self, c: FlowConfig) -> list[nn.Module]:
        """The layer stack (couplings, squeezes, splits) of this flow."""

    @property
    def num_dims(self) -> int:
        return self.config.in_channels * self.config.image_size ** 2

    # -- the invertible map on the logit scale -------------------------------------------------------------

    def flow_forward(self, y: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Latents (factored out in order, the last one the final state) and log|det| (B,) of the layer stack."""
        zs, logdet = [], y.new_zeros(y.shape[0])
        h = y
        for layer in self.layers:
            if isinstance(layer, _Split):
                z, h = h.chunk(2, dim=1)
                zs.append(z)
                continue
            h, ld = layer(h)
            logdet = logdet + ld
        zs.append(h)
        return zs, logdet

    def flow_inverse(self, zs: list[torch.Tensor]) -> torch.Tensor:
        zs = list(zs)
        h = zs.pop()
        for layer in reversed(self.layers):
            h = torch.cat([zs.pop(), h], dim=1) if isinstance(layer, _Split) else layer.inverse(h)
        return h

    def latent_shapes(self) -> list[tuple[int, int, int]]:
        c = self.config
        with torch.no_grad():
            zs, _ = self.flow_forward(torch.zeros(1, c.in_channels, c.image_size, c.image_size,
                                                  device=next(self.parameters()).device))
        return [tuple(z.shape[1:]) for z in zs]

    # -- data <-> logit scale ----------------------------------------------------------------------------

    def _to_logit(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.config.alpha
        p = a + (1 - 2 * a) * u
        y = torch.log(p) - torch.log1p(-p)
        logdet = (math.log(1 - 2 * a) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return y, logdet

    def dequantize(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """u = (v + U(0, 1)) / levels for the levels v = round(x (levels - 1)) of images ``x`` in [0, 1]."""
        q = self.config.levels
        v = torch.round(x.clamp(0, 1) * (q - 1))
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        return (v + noise) / q

    def log_prob_continuous(self, u: torch.Tensor) -> torch.Tensor:
        """log p(u) (nats, (B,)) of dequantized images u in (0, 1)."""
        y, ld_logit = self._to_logit(u)
        zs, ld = self.flow_forward(y)
        log_pz = sum((-0.5 * (z.square() + math.log(2 * math.pi))).flatten(1).sum(1) for z in zs)
        return log_pz + ld + ld_logit

    def nll(self, x: torch.Tensor, y: torch.Tensor | None = None, *,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """NLL (nats, (B,)) of the discrete images: -log p(u) + D log(levels) for one uniform dequantization
        (an upper bound on -log P(v) in expectation, Theis et al. 2016)."""
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        check_labels(y, x.shape[0], 0)
        u = self.dequantize(x, generator)
        return -self.log_prob_continuous(u) + self.num_dims * math.log(self.config.levels)

    def bits_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return nats_to_bits_per_dim(self.nll(x, y), self.num_dims)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        nll = self.nll(x, y)
        return {"loss": nll.mean() / self.num_dims,
                "bits_per_dim": nats_to_bits_per_dim(nll.mean().detach(), self.num_dims)}

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, **kwargs: Any) -> torch.Tensor:
        """``n`` images in [0, 1] from z ~ N(0, temperature^2 I) (Glow's reduced-temperature sampling below 1)."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected temperature")
        n = check_int(n, "n", low=1)
        check_labels(y, n, 0, required=False)
        t = check_positive(temperature, "temperature", allow_zero=True)
        dev = next(self.parameters()).device
        zs = [t * torch.randn(n, *s, generator=generator).to(dev) for s in self.latent_shapes()]
        a = self.config.alpha
        u = (torch.sigmoid(self.flow_inverse(zs)) - a) / (1 - 2 * a)
        return u.clamp(0, 1)


class RealNVP(_Flow):
    """RealNVP: per scale 3 checkerboard couplings, squeeze, 3 channel couplings, split; then 4 checkerboard
    couplings (Dinh et al. 2017). See the module docstring.

    Example
    -------
    >>> flow = RealNVP(FlowConfig(image_size=8, scales=2, hidden=8, blocks=1))
    >>> x = torch.rand(2, 1, 8, 8)
    >>> y = flow._to_logit(flow.dequantize(x))[0]
    >>> torch.allclose(flow.flow_inverse(flow.flow_forward(y)[0]), y, atol=1e-5)
    True
    """

    name = "realnvp"

    def _build(self, c: FlowConfig) -> list[nn.Module]:
        layers: list[nn.Module] = []
        ch = c.in_channels
        for _ in range(c.scales - 1):
            layers += [AffineCoupling(ch, "checkerboard", i % 2, c.hidden, c.blocks) for i in range(3)]
            layers.append(_Squeeze())
            ch *= 4
            layers += [AffineCoupling(ch, "channel", i % 2, c.hidden, c.blocks) for i in range(3)]
            layers.append(_Split())
            ch //= 2
        layers += [AffineCoupling(ch, "checkerboard", i % 2, c.hidden, c.blocks) for i in range(4)]
        return layers


class Glow(_Flow):
    """Glow: per level squeeze, ``steps`` of [actnorm, invertible 1x1 conv, channel affine coupling], split
    (not after the last level) (Kingma & Dhariwal 2018). See the module docstring."""

    config_class = GlowConfig
    name = "glow"
    glow = True

    def _build(self, c: FlowConfig) -> list[nn.Module]:
        layers: list[nn.Module] = []
        ch = c.in_channels
        for level in range(c.scales):
            layers.append(_Squeeze())
            ch *= 4
            for _ in range(c.steps):
                layers += [ActNorm(ch), InvConv1x1(ch), AffineCoupling(ch, "channel", 0, c.hidden, c.blocks)]
            if level < c.scales - 1:
                layers.append(_Split())
                ch //= 2
        return layers
