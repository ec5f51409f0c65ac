"""Translation tasks: what makes the source image y from a target image x, for paired training (pix2pix).

Each task is a physics-like object with ``degrade(x, *, rng) -> {"y": ...}`` on batches (B, C, H, W) in [0, 1],
so :class:`aip.data.Degraded` serves it like any degradation, with fresh crops every batch:

* :class:`Edges`: a fixed detector: luma, Gaussian smoothing (sigma 1), Sobel gradient magnitude, thresholded
  at ``threshold`` times each image's largest magnitude: a binary edge map, one channel.
* :class:`Luma`: the Rec. 601 luma of a colour image (colorization learns its inverse), one channel.

Example
-------
>>> import torch
>>> x = torch.zeros(1, 1, 16, 16); x[..., 4:12, 4:12] = 1
>>> e = Edges().degrade(x)["y"]
>>> e.shape, float(e[0, 0, 8, 8]), float(e[0, 0, 8, 4])
(torch.Size([1, 1, 16, 16]), 0.0, 1.0)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from aip._shared.validate import check_fraction, check_positive

__all__ = ["TRANSLATION_TASKS", "Edges", "Luma", "luma", "make_task"]

_LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) Rec. 601 luma of (B, 3, H, W) images; one-channel images are returned as they are."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"x: expected 1 or 3 channels, got {x.shape[1]}")
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


class Luma:
    """The gray source of colorization: ``y = luma(x)``."""

    def degrade(self, x: torch.Tensor, *, rng: Any = None) -> dict[str, torch.Tensor]:
        return {"y": luma(x)}

    def __repr__(self) -> str:
        return "Luma()"


class Edges:
    """A fixed edge detector (Gaussian-smoothed Sobel magnitude over a per-image threshold), binary, one channel."""

    def __init__(self, sigma: float = 1.0, threshold: float = 0.25) -> None:
        self.sigma = check_positive(sigma, "sigma")
        self.threshold = check_fraction(threshold, "threshold")

    def __repr__(self) -> str:
        return f"Edges(sigma={self.sigma}, threshold={self.threshold})"

    def degrade(self, x: torch.Tensor, *, rng: Any = None) -> dict[str, torch.Tensor]:
        g = luma(x.float())
        r = max(1, int(3 * self.sigma + 0.5))
        k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=g.dtype, device=g.device) / self.sigma) ** 2)
        k = k / k.sum()
        g = F.pad(g, (r, r, r, r), mode="replicate")
        g = F.conv2d(F.conv2d(g, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
        sob = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=g.dtype, device=g.device)
        gp = F.pad(g, (1, 1, 1, 1), mode="replicate")
        gx = F.conv2d(gp, sob.view(1, 1, 3, 3))
        gy = F.conv2d(gp, sob.t().reshape(1, 1, 3, 3))
        mag = torch.sqrt(gx * gx + gy * gy)
        top = mag.flatten(1).amax(dim=1).clamp_min(1e-8).view(-1, 1, 1, 1)
        return {"y": (mag > self.threshold * top).to(x.dtype)}


TRANSLATION_TASKS = {"edges": Edges, "colorize": Luma}


def make_task(name: str) -> Edges | Luma:
    """The task object of ``name`` (``"edges"`` or ``"colorize"``)."""
    if name not in TRANSLATION_TASKS:
        raise ValueError(f"task: expected one of {', '.join(TRANSLATION_TASKS)}, got {name!r}")
    return TRANSLATION_TASKS[name]()
