"""Learned restorers: networks that map an observation y to an estimate of the clean image x.

- Denoising: :class:`DnCNN` (Zhang et al. 2017: residual learning, batch norm; blind or per-sigma) and
  :class:`FFDNet` (Zhang et al. 2018: a noise-level map beside a 2x2 space-to-depth input, one network for
  every sigma).
- Super-resolution (input the low-resolution image, output ``scale`` times larger): :class:`SRCNN` (Dong et
  al. 2014, on the bicubic-upsampled input), :class:`VDSR` (Kim et al. 2016, 20 layers, residual on the
  bicubic input) and :class:`ESPCN` (Shi et al. 2016, sub-pixel convolution at low resolution).

Every model is a :class:`~aip.models.base.RestorationModel` built from a dataclass config, trained by
``aip train`` on ``{"x": clean, "y": observed, "sigma": level}`` batches, and restores batches
``(B, C, H, W)`` in [0, 1] with :meth:`restore`; the denoisers meet the denoiser contract through it
(``aip._shared.denoiser.as_denoiser(model)``). :func:`apply_tiled` bounds the memory of large images.

References
----------
K. Zhang, W. Zuo, Y. Chen, D. Meng and L. Zhang, "Beyond a Gaussian denoiser: residual learning of deep
CNN for image denoising", IEEE TIP 26(7), 2017.
K. Zhang, W. Zuo and L. Zhang, "FFDNet: toward a fast and flexible solution for CNN-based image
denoising", IEEE TIP 27(9), 2018.
C. Dong, C. C. Loy, K. He and X. Tang, "Learning a deep convolutional network for image
super-resolution", ECCV 2014.
J. Kim, J. K. Lee and K. M. Lee, "Accurate image super-resolution using very deep convolutional
networks", CVPR 2016.
W. Shi et al., "Real-time single image and video super-resolution using an efficient sub-pixel
convolutional neural network", CVPR 2016.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from aip.models.base import RestorationModel

__all__ = [
    "ESPCN",
    "SRCNN",
    "VDSR",
    "DnCNN",
    "DnCNNConfig",
    "FFDNet",
    "FFDNetConfig",
    "SRConfig",
    "apply_tiled",
]


def _check_batch(y: torch.Tensor, channels: int, name: str = "y") -> None:
    if not isinstance(y, torch.Tensor) or y.dim() != 4:
        raise ValueError(f"{name}: expected a tensor (B, {channels}, H, W), got "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    if y.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} channel(s), got {y.shape[1]} (shape {tuple(y.shape)})")


def _sigma_map(sigma: Any, y: torch.Tensor) -> torch.Tensor:
    """The noise level per image as a (B,) tensor (y's dtype and device)."""
    if sigma is None:
        raise ValueError("sigma: expected the noise level (a float or one per image) for this denoiser, got None")
    s = torch.as_tensor(sigma, dtype=y.dtype, device=y.device).reshape(-1)
    if s.numel() == 1:
        s = s.expand(y.shape[0])
    if s.numel() != y.shape[0]:
        raise ValueError(f"sigma: expected one level or one per image ({y.shape[0]}), got {s.numel()}")
    return s


def _conv_stack(in_ch: int, out_ch: int, features: int, depth: int, *, batch_norm: bool,
                kernel: int = 3) -> nn.Sequential:
    """conv+ReLU, (depth - 2) x conv+BN+ReLU, conv: the DnCNN / FFDNet body."""
    pad = kernel // 2
    layers: list[nn.Module] = [nn.Conv2d(in_ch, features, kernel, padding=pad), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers.append(nn.Conv2d(features, features, kernel, padding=pad, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(features))
        layers.append(nn.ReLU(inplace=True))
    layers.append(nn.Conv2d(features, out_ch, kernel, padding=pad))
    return nn.Sequential(*layers)


def _check_common(channels: int, depth: int, features: int, loss: str) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 (gray) or 3 (colour), got {channels}")
    if depth < 2:
        raise ValueError(f"depth: expected at least 2 convolution layers, got {depth}")
    if features < 1:
        raise ValueError(f"features: expected a positive width, got {features}")
    if loss not in ("l1", "l2"):
        raise ValueError(f"loss: expected 'l1' or 'l2', got {loss!r}")


# --------------------------------------------------------------------------------------------------
# denoisers
# --------------------------------------------------------------------------------------------------
@dataclass
class DnCNNConfig:
    """DnCNN: ``depth`` 3x3 convolutions of ``features`` channels; the paper's DnCNN-S is depth 17, 64
    features (DnCNN-B, blind, depth 20). Trained on noise levels ``sigma_range`` (image scale)."""

    channels: int = 1
    depth: int = 17
    features: int = 64
    batch_norm: bool = True
    loss: Literal["l1", "l2"] = "l2"
    lr: float = 1e-3
    sigma_range: tuple[float, float] = (0.0, 55 / 255)

    def validate(self) -> None:
        _check_common(self.channels, self.depth, self.features, self.loss)


class DnCNN(RestorationModel):
    """DnCNN: the network predicts the noise, the estimate is ``y - net(y)`` (residual learning)."""

    name: ClassVar[str] = "dncnn"
    config_class = DnCNNConfig

    def __init__(self, config: DnCNNConfig | None = None) -> None:
        config = config or DnCNNConfig()
        config.validate()
        super().__init__(config)
        self.body = _conv_stack(config.channels, config.channels, config.features, config.depth,
                                batch_norm=config.batch_norm)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """Denoised ``y`` (B, C, H, W); blind, so ``sigma`` is not needed (and not used)."""
        _check_batch(y, self.config.channels)
        return y - self.body(y)


@dataclass
class FFDNetConfig:
    """FFDNet: ``depth`` 3x3 convolutions on the 2x2 space-to-depth input plus a noise-level map (the paper:
    15 layers / 64 features gray, 12 / 96 colour), for noise levels up to ``sigma_range[1]``.
    ``residual=True`` predicts the noise instead of the image (DnCNN's residual learning; the paper's
    FFDNet predicts the image), which trains faster from scratch."""

    channels: int = 1
    depth: int = 15
    features: int = 64
    batch_norm: bool = True
    loss: Literal["l1", "l2"] = "l2"
    lr: float = 1e-3
    sigma_range: tuple[float, float] = (0.0, 75 / 255)
    residual: bool = False

    def validate(self) -> None:
        _check_common(self.channels, self.depth, self.features, self.loss)


class FFDNet(RestorationModel):
    """FFDNet: ``pixel_shuffle(net([pixel_unshuffle(y), sigma map]))``; odd sizes are padded by replication."""

    name: ClassVar[str] = "ffdnet"
    config_class = FFDNetConfig

    def __init__(self, config: FFDNetConfig | None = None) -> None:
        config = config or FFDNetConfig()
        config.validate()
        super().__init__(config)
        c = config.channels
        self.body = _conv_stack(4 * c + 1, 4 * c, config.features, config.depth, batch_norm=config.batch_norm)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """Denoised ``y`` (B, C, H, W) at noise level ``sigma`` (a float or one per image, image scale)."""
        _check_batch(y, self.config.channels)
        s = _sigma_map(sigma, y)
        h, w = y.shape[-2:]
        yp = F.pad(y, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else y
        z = F.pixel_unshuffle(yp, 2)
        m = s.reshape(-1, 1, 1, 1).expand(-1, 1, *z.shape[-2:])
        out = F.pixel_shuffle(self.body(torch.cat([z, m], dim=1)), 2)
        if self.config.residual:
            out = yp - out
        return out[..., :h, :w]


# --------------------------------------------------------------------------------------------------
# super-resolution
# --------------------------------------------------------------------------------------------------
@dataclass
class SRConfig:
    """Super-resolution networks: ``scale`` (2, 3 or 4), ``channels``, and the width/depth of each design
    (SRCNN: 9-5-5 with 64/32 features; VDSR: 20 layers of 64; ESPCN: 5-3-3 with 64/32, tanh)."""

    channels: int = 1
    scale: int = 2
    depth: int = 20
    features: int = 64
    loss: Literal["l1", "l2"] = "l2"
    lr: float = 1e-3

    def validate(self) -> None:
        _check_common(self.channels, max(self.depth, 2), self.features, self.loss)
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale: expected 2, 3 or 4, got {self.scale}")


def bicubic_up(y: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling by ``scale`` (torch's Keys kernel, the input SRCNN and VDSR refine)."""
    return F.interpolate(y, scale_factor=scale, mode="bicubic", align_corners=False)


class _SRModel(RestorationModel):
    config_class = SRConfig

    def __init__(self, config: SRConfig | None = None) -> None:
        config = config or SRConfig()
        config.validate()
        super().__init__(config)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """The (B, C, scale H, scale W) estimate of low-resolution ``y`` (B, C, H, W)."""
        _check_batch(y, self.config.channels)
        return self._sr(y)

    def _sr(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class SRCNN(_SRModel):
    """SRCNN: three convolutions (9x9, 5x5, 5x5) on the bicubic-upsampled image."""

    name: ClassVar[str] = "srcnn"

    def __init__(self, config: SRConfig | None = None) -> None:
        super().__init__(config)
        c, f = self.config.channels, self.config.features
        self.body = nn.Sequential(nn.Conv2d(c, f, 9, padding=4, padding_mode="replicate"), nn.ReLU(inplace=True),
                                  nn.Conv2d(f, f // 2, 5, padding=2, padding_mode="replicate"),
                                  nn.ReLU(inplace=True),
                                  nn.Conv2d(f // 2, c, 5, padding=2, padding_mode="replicate"))

    def _sr(self, y: torch.Tensor) -> torch.Tensor:
        return self.body(bicubic_up(y, self.config.scale))


class VDSR(_SRModel):
    """VDSR: ``depth`` 3x3 convolutions predicting the residual over the bicubic upsampling."""

    name: ClassVar[str] = "vdsr"

    def __init__(self, config: SRConfig | None = None) -> None:
        super().__init__(config)
        c = self.config.channels
        self.body = _conv_stack(c, c, self.config.features, self.config.depth, batch_norm=False)
        # He initialisation, as in the paper: torch's default scale shrinks the signal through a deep
        # plain ReLU stack until the last layer sees constants, and the residual never leaves zero
        for m in self.body[:-1]:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.body[-1].weight)  # start from bicubic
        nn.init.zeros_(self.body[-1].bias)

    def _sr(self, y: torch.Tensor) -> torch.Tensor:
        up = bicubic_up(y, self.config.scale)
        return up + self.body(up)


class ESPCN(_SRModel):
    """ESPCN: convolutions at low resolution, then a sub-pixel convolution (``pixel_shuffle``) to the
    high-resolution grid; a bicubic skip makes the network learn only the detail."""

    name: ClassVar[str] = "espcn"

    def __init__(self, config: SRConfig | None = None) -> None:
        super().__init__(config)
        c, f, s = self.config.channels, self.config.features, self.config.scale
        self.body = nn.Sequential(nn.Conv2d(c, f, 5, padding=2), nn.Tanh(),
                                  nn.Conv2d(f, f // 2, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(f // 2, c * s * s, 3, padding=1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def _sr(self, y: torch.Tensor) -> torch.Tensor:
        return bicubic_up(y, self.config.scale) + F.pixel_shuffle(self.body(y), self.config.scale)


# --------------------------------------------------------------------------------------------------
# tiling
# --------------------------------------------------------------------------------------------------
def apply_tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, tile: int = 512,
                overlap: int = 32, scale: int = 1, multiple: int = 2) -> torch.Tensor:
    """``fn(x)`` computed tile by tile, so memory stays bounded on large images.

    Each tile is extended by ``overlap`` pixels of real context on every side and only its centre is kept,
    so for a network whose receptive-field radius is at most ``overlap`` the result equals ``fn(x)``.
    ``scale`` is the output/input size ratio (super-resolution); tile corners fall on multiples of
    ``multiple`` (FFDNet's 2x2 space-to-depth needs even offsets).
    """
    if x.dim() != 4:
        raise ValueError(f"x: expected (B, C, H, W), got shape {tuple(x.shape)}")
    if overlap < 0 or tile <= 2 * overlap:
        raise ValueError(f"tile: expected a tile larger than twice the overlap ({overlap}), got {tile}")
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        return fn(x)
    step = max(multiple, (tile - 2 * overlap) // multiple * multiple)
    pad = math.ceil(overlap / multiple) * multiple
    out = None
    for top in range(0, h, step):
        for left in range(0, w, step):
            t0, l0 = max(top - pad, 0), max(left - pad, 0)
            t1, l1 = min(top + step + pad, h), min(left + step + pad, w)
            piece = fn(x[..., t0:t1, l0:l1])
            bh, bw = min(step, h - top), min(step, w - left)
            if out is None:
                out = piece.new_zeros((x.shape[0], piece.shape[1], h * scale, w * scale))
            out[..., top * scale:(top + bh) * scale, left * scale:(left + bw) * scale] = \
                piece[..., (top - t0) * scale:(top - t0 + bh) * scale, (left - l0) * scale:(left - l0 + bw) * scale]
    return out
