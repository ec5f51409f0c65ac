"""Blind deblurring by a multi-scale coarse-to-fine CNN (Nah et al. 2017): no PSF is given.

Three scales (1/4, 1/2, 1). At each, a stack of residual blocks (no batch norm, 5x5 convolutions) restores
the blurred image at that scale from itself and the up-convolved estimate of the coarser scale; the loss is
the mean of the per-scale MSEs against the sharp image downsampled alike. The paper also adds an
adversarial term (weight 1e-4); it is optional here (``adv_weight``; 0 trains for PSNR).

References
----------
S. Nah, T. H. Kim and K. M. Lee, "Deep multi-scale convolutional neural network for dynamic scene
deblurring", CVPR 2017.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from aip.models.base import RestorationModel
from aip.models.restorers import _check_batch

__all__ = ["MultiScaleDeblur", "MultiScaleDeblurConfig"]


@dataclass
class MultiScaleDeblurConfig:
    """``n_scales`` scales (the paper: 3) of ``n_blocks`` residual blocks (19) of ``features`` channels (64)
    with ``kernel`` x ``kernel`` convolutions (5)."""

    channels: int = 1
    n_scales: int = 3
    n_blocks: int = 6
    features: int = 32
    kernel: int = 5
    loss: Literal["l1", "l2"] = "l2"
    lr: float = 1e-4

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (gray) or 3 (colour), got {self.channels}")
        if not 1 <= self.n_scales <= 4:
            raise ValueError(f"n_scales: expected 1 to 4, got {self.n_scales}")
        if self.kernel % 2 == 0 or self.kernel < 1:
            raise ValueError(f"kernel: expected an odd size, got {self.kernel}")


class _Block(nn.Module):
    def __init__(self, f: int, k: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(f, f, k, padding=k // 2), nn.ReLU(inplace=True),
                                  nn.Conv2d(f, f, k, padding=k // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Scale(nn.Module):
    def __init__(self, c_in: int, c: int, f: int, n_blocks: int, k: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c_in, f, k, padding=k // 2),
                                 *[_Block(f, k) for _ in range(n_blocks)],
                                 nn.Conv2d(f, c, k, padding=k // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiScaleDeblur(RestorationModel):
    """Coarse-to-fine deblurring network; :meth:`pyramid` gives every scale's estimate (finest last)."""

    name: ClassVar[str] = "msdeblur"
    config_class = MultiScaleDeblurConfig

    def __init__(self, config: MultiScaleDeblurConfig | None = None) -> None:
        config = config or MultiScaleDeblurConfig()
        config.validate()
        super().__init__(config)
        c, f, k = config.channels, config.features, config.kernel
        self.scales = nn.ModuleList([_Scale(c if i == 0 else 2 * c, c, f, config.n_blocks, k)
                                     for i in range(config.n_scales)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(c, c, 4, stride=2, padding=1)
                                 for _ in range(config.n_scales - 1)])

    def _inputs(self, y: torch.Tensor) -> list[torch.Tensor]:
        out = [y]
        for _ in range(self.config.n_scales - 1):
            out.append(F.avg_pool2d(out[-1], 2, ceil_mode=True))
        return out[::-1]  # coarsest first

    def pyramid(self, y: torch.Tensor) -> list[torch.Tensor]:
        """Estimates at every scale, coarsest first; each is a residual over that scale's blurred input."""
        _check_batch(y, self.config.channels)
        ins = self._inputs(y)
        outs: list[torch.Tensor] = []
        for i, (b, net) in enumerate(zip(ins, self.scales)):
            if i == 0:
                est = b + net(b)
            else:
                prev = self.up[i - 1](outs[-1])[..., :b.shape[-2], :b.shape[-1]]
                prev = F.pad(prev, (0, b.shape[-1] - prev.shape[-1], 0, b.shape[-2] - prev.shape[-2]),
                             mode="replicate")
                est = b + net(torch.cat([b, prev], dim=1))
            outs.append(est)
        return outs

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """The sharp estimate of blurred ``y`` (B, C, H, W); blind (no PSF, no sigma)."""
        return self.pyramid(y)[-1]

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        x, y = batch["x"], batch["y"]
        outs = self.pyramid(y)
        targets = self._inputs(x)
        err = [(o.float() - t.float()) for o, t in zip(outs, targets)]
        per = [e.abs().mean() if self.config.loss == "l1" else e.square().mean() for e in err]
        loss = torch.stack(per).mean()
        return {"loss": loss, "mse": err[-1].detach().square().mean()}
