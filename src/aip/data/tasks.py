"""Translation tasks: what makes the source image y from a target image x, for paired training (pix2pix).

Each task is a physics-like object with ``degrade(x, *, rng) -> {"y": ...}`` on batches (B, C, H, W) in [0, 1],
so :class:`aip.data.Degraded` serves it like any degradation, with fresh crops every batch:

* :class:`Edges`: a fixed detector: luma, Gaussian smoothing (sigma 1), Sobel gradient magnitude, thresholded
  at ``threshold`` times each image's largest magnitude: a binary edge map, one channel.
* :class:`Luma`: the Rec. 601 luma of a colour image (colorization learns its inverse), one channel.
* :class:`XDoG`: a pencil-sketch stylisation, the extended difference of Gaussians of Winnemoeller et al. 2012
  (``G_sigma - tau G_{k sigma}`` of the luma through a soft threshold): white paper, dark strokes at the edges.
  pix2pix learns sketch -> photo, or with ``reverse`` photo -> sketch (the deterministic direction); the
  built-in unpaired pair ``sketch`` (:data:`aip.data.builtin.PAIRS`, photos -> sketches) has that mapping, so
  CycleGAN can be scored against it.

References
----------
H. Winnemoeller, J. E. Kyprianidis, S. C. Olsen, "XDoG: an eXtended difference-of-Gaussians compendium
including advanced image stylization", Computers & Graphics 36(6), 2012.

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

__all__ = ["TRANSLATION_TASKS", "Edges", "Luma", "XDoG", "luma", "make_task"]

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
        g = gaussian_smooth(luma(x.float()), self.sigma)
        sob = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=g.dtype, device=g.device)
        gp = F.pad(g, (1, 1, 1, 1), mode="replicate")
        gx = F.conv2d(gp, sob.view(1, 1, 3, 3))
        gy = F.conv2d(gp, sob.t().reshape(1, 1, 3, 3))
        mag = torch.sqrt(gx * gx + gy * gy)
        top = mag.flatten(1).amax(dim=1).clamp_min(1e-8).view(-1, 1, 1, 1)
        return {"y": (mag > self.threshold * top).to(x.dtype)}


def gaussian_smooth(g: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian smoothing of (B, 1, H, W), truncated at 3 sigma, replicated edges (as
    ``scipy.ndimage.gaussian_filter(mode="nearest", truncate=3)``)."""
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=g.dtype, device=g.device) / sigma) ** 2)
    k = k / k.sum()
    g = F.pad(g, (r, r, r, r), mode="replicate")
    return F.conv2d(F.conv2d(g, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))


class XDoG:
    """Pencil-sketch stylisation (XDoG): ``D = G_sigma(l) - tau G_{k sigma}(l)`` of the luma ``l``, then
    ``1`` where ``D >= eps`` and ``1 + tanh(phi (D - eps))`` elsewhere; one channel in [0, 1].

    The defaults draw clean strokes on photos in [0, 1] (picked by eye on scikit-image's rocket, coins, brick
    and horse crops)."""

    def __init__(self, sigma: float = 1.0, k: float = 1.6, tau: float = 0.98, eps: float = -0.01,
                 phi: float = 100.0) -> None:
        self.sigma, self.k = check_positive(sigma, "sigma"), check_positive(k, "k")
        self.tau, self.eps, self.phi = check_fraction(tau, "tau"), float(eps), check_positive(phi, "phi")

    def __repr__(self) -> str:
        return f"XDoG(sigma={self.sigma}, k={self.k}, tau={self.tau}, eps={self.eps}, phi={self.phi})"

    def degrade(self, x: torch.Tensor, *, rng: Any = None) -> dict[str, torch.Tensor]:
        g = luma(x.float())
        d = gaussian_smooth(g, self.sigma) - self.tau * gaussian_smooth(g, self.k * self.sigma)
        out = torch.where(d >= self.eps, torch.ones_like(d), 1 + torch.tanh(self.phi * (d - self.eps)))
        return {"y": out.clamp(0, 1).to(x.dtype)}


TRANSLATION_TASKS = {"edges": Edges, "colorize": Luma, "sketch": XDoG}


def make_task(name: str) -> Edges | Luma | XDoG:
    """The task object of ``name`` (``"edges"``, ``"colorize"`` or ``"sketch"``)."""
    if name not in TRANSLATION_TASKS:
        raise ValueError(f"task: expected one of {', '.join(TRANSLATION_TASKS)}, got {name!r}")
    return TRANSLATION_TASKS[name]()
