"""Context encoder for inpainting large holes (Pathak et al. 2016): an encoder-decoder trained to fill a
missing region from its context, with a reconstruction loss on the hole and an adversarial loss.

The network sees the image with the hole set to the mean grey and the mask as an extra channel; dilated
convolutions at the bottleneck give every hole pixel the whole context (the paper's channel-wise fully
connected layer, made size-independent). The output is composited: known pixels are kept exactly. Masks
are drawn afresh for every batch from the clean images (``hole``: "center", a square of ``hole_fraction``
of the area in the middle, as the paper's central-region task; "random_block", the same square anywhere),
so a training batch only needs ``{"x": clean}``.

References
----------
D. Pathak, P. Krahenbuhl, J. Donahue, T. Darrell and A. A. Efros, "Context encoders: feature learning by
inpainting", CVPR 2016.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from aip.models.base import RestorationModel
from aip.models.restorers import _check_batch

__all__ = ["ContextEncoder", "ContextEncoderConfig", "hole_masks"]


@dataclass
class ContextEncoderConfig:
    """Encoder-decoder of ``depth`` stride-2 stages from ``features`` channels (doubling), ``dilated``
    dilated convolutions at the bottleneck; loss ``rec_weight`` x hole MSE (the overlap band of ``overlap``
    pixels weighted ``overlap_weight`` times, as the paper) + ``adv_weight`` x adversarial (0: no
    discriminator phase, one ``"main"`` phase)."""

    channels: int = 1
    features: int = 32
    depth: int = 3
    dilated: int = 3
    hole: Literal["center", "random_block"] = "center"
    hole_fraction: float = 0.25
    overlap: int = 4
    overlap_weight: float = 10.0
    rec_weight: float = 0.999
    adv_weight: float = 0.001
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (gray) or 3 (colour), got {self.channels}")
        if not 0 < self.hole_fraction < 1:
            raise ValueError(f"hole_fraction: expected a fraction in (0, 1), got {self.hole_fraction}")
        if self.depth < 1:
            raise ValueError(f"depth: expected at least 1 stage, got {self.depth}")


def hole_masks(n: int, size: tuple[int, int], fraction: float, kind: str = "center", *,
               generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """(n, 1, H, W) float masks, 1 on a square hole of ``fraction`` of the area ("center" or "random_block")."""
    h, w = size
    side_h, side_w = max(1, round(h * math.sqrt(fraction))), max(1, round(w * math.sqrt(fraction)))
    m = torch.zeros(n, 1, h, w, device=device)
    for i in range(n):
        if kind == "center":
            t, left = (h - side_h) // 2, (w - side_w) // 2
        else:
            t = int(torch.randint(h - side_h + 1, (1,), generator=generator))
            left = int(torch.randint(w - side_w + 1, (1,), generator=generator))
        m[i, :, t:t + side_h, left:left + side_w] = 1.0
    return m


def _conv(ci: int, co: int, *, stride: int = 1, dilation: int = 1, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(ci, co, 3, stride=stride, padding=dilation, dilation=dilation)]
    if norm:
        layers.append(nn.BatchNorm2d(co))
    layers.append(nn.ELU(inplace=True))
    return nn.Sequential(*layers)


class _Net(nn.Module):
    def __init__(self, c: int, f: int, depth: int, dilated: int) -> None:
        super().__init__()
        enc: list[nn.Module] = [_conv(c + 1, f, norm=False)]
        ch = f
        for _ in range(depth):
            enc.append(_conv(ch, 2 * ch, stride=2))
            ch *= 2
        self.enc = nn.Sequential(*enc)
        self.mid = nn.Sequential(*[_conv(ch, ch, dilation=2 ** (i + 1)) for i in range(dilated)])
        dec: list[nn.Module] = []
        for _ in range(depth):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(ch, ch // 2)]
            ch //= 2
        self.dec = nn.Sequential(*dec, nn.Conv2d(ch, c, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dec(self.mid(self.enc(x)))


class _PatchCritic(nn.Module):
    def __init__(self, c: int, f: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, f, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Conv2d(f, 2 * f, 4, 2, 1), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Conv2d(2 * f, 4 * f, 4, 2, 1), nn.BatchNorm2d(4 * f),
                                 nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(4 * f, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean((1, 2, 3))


class ContextEncoder(RestorationModel):
    """Context encoder: ``restore(y, mask=...)`` fills the pixels where ``mask`` is True / 1."""

    name: ClassVar[str] = "context_encoder"
    config_class = ContextEncoderConfig

    def __init__(self, config: ContextEncoderConfig | None = None) -> None:
        config = config or ContextEncoderConfig()
        config.validate()
        super().__init__(config)
        self.net = _Net(config.channels, config.features, config.depth, config.dilated)
        self.critic = _PatchCritic(config.channels, config.features) if config.adv_weight > 0 else None

    def phases(self) -> list[str]:
        return ["d", "g"] if self.critic is not None else ["main"]

    def phase_parameters(self, phase: str) -> Iterable[nn.Parameter]:
        if phase == "d" and self.critic is not None:
            return self.critic.parameters()
        if phase in ("g", "main"):
            return self.net.parameters()
        raise ValueError(f"phase: expected one of {', '.join(self.phases())}, got {phase!r}")

    def _fill(self, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        mult = 2 ** self.config.depth
        h, w = y.shape[-2:]
        ph, pw = (-h) % mult, (-w) % mult
        inp = torch.cat([y * (1 - m) + 0.5 * m, m], dim=1)
        if ph or pw:
            inp = nn.functional.pad(inp, (0, pw, 0, ph), mode="replicate")
        out = self.net(inp)[..., :h, :w]
        return y * (1 - m) + out * m

    def restore(self, y: torch.Tensor, *, sigma: Any = None, mask: Any = None, **kwargs: Any) -> torch.Tensor:
        """``y`` (B, C, H, W) with the pixels where ``mask`` ((H, W), (B, 1, H, W); True = missing) filled."""
        _check_batch(y, self.config.channels)
        if mask is None:
            raise ValueError("mask: expected the missing-pixel mask (True = missing) for inpainting, got None")
        m = torch.as_tensor(mask, device=y.device).to(y.dtype)
        m = m.reshape((1, 1) + tuple(m.shape)) if m.dim() == 2 else m
        if m.shape[-2:] != y.shape[-2:]:
            raise ValueError(f"mask: expected spatial shape {tuple(y.shape[-2:])}, got {tuple(m.shape[-2:])}")
        return self._fill(y, m.expand(y.shape[0], 1, *y.shape[-2:]))

    def _weights(self, m: torch.Tensor) -> torch.Tensor:
        """Per-pixel loss weights: 1 inside the hole, ``overlap_weight`` on its inner band of ``overlap``."""
        k = 2 * self.config.overlap + 1
        inner = 1 - nn.functional.max_pool2d(1 - m, k, stride=1, padding=self.config.overlap)
        return m * (1 + (self.config.overlap_weight - 1) * (m - inner))

    def evaluation_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Held-out images with a central hole of ``hole_fraction`` of the area (the paper's protocol),
        zeroed in ``y`` (so ``psnr_input`` scores the unfilled image)."""
        x = batch["x"]
        m = batch.get("mask")
        if m is None:
            m = hole_masks(x.shape[0], tuple(x.shape[-2:]), self.config.hole_fraction, "center", device=x.device)
        m = m.to(x.dtype)
        return {**batch, "y": batch["y"] * (1 - m), "mask": m}

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        from aip.train.losses import gan_d_loss, gan_g_loss

        cfg = self.config
        x = batch["x"]
        m = batch.get("mask")
        if m is None:
            m = hole_masks(x.shape[0], tuple(x.shape[-2:]), cfg.hole_fraction, cfg.hole, device=x.device)
        m = m.to(x.dtype)
        if phase == "d":
            with torch.no_grad():
                fake = self._fill(x, m)
            loss = gan_d_loss(self.critic(x), self.critic(fake))
            return {"loss": loss, "d_loss": loss.detach()}
        fake = self._fill(x, m)
        wts = self._weights(m)
        rec = ((fake - x).square() * wts).sum() / wts.sum().clamp(min=1) / x.shape[1]
        hole_mse = ((fake - x).square() * m).sum() / m.sum().clamp(min=1) / x.shape[1]
        loss = cfg.rec_weight * rec
        out = {"rec": rec.detach(), "hole_mse": hole_mse.detach()}
        if self.critic is not None:
            adv = gan_g_loss(self.critic(fake))
            loss = loss + cfg.adv_weight * adv
            out["adv"] = adv.detach()
        out["loss"] = loss
        return out
