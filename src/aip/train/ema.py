"""Exponential moving average of a model's weights (Polyak averaging), used for sampling.

After each optimiser step, ``theta_ema <- d * theta_ema + (1 - d) * theta``; buffers (batch-norm
statistics) are copied. With a constant ``theta`` the gap shrinks as ``d^k`` after ``k`` updates. With
``warmup`` the k-th update (k = 0, 1, ...) uses ``d_k = min(d, (1 + k) / (10 + k))``, so short runs are not
dominated by the initial weights (as in TensorFlow's ExponentialMovingAverage with num_updates).

References
----------
Polyak & Juditsky, "Acceleration of stochastic approximation by averaging", SIAM J. Control Optim. 1992.
Ho, Jain, Abbeel, "Denoising diffusion probabilistic models", NeurIPS 2020 (EMA 0.9999 for sampling).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from aip._shared.validate import check_fraction


class EMA:
    """A frozen copy of ``model`` (``ema.module``) tracking its weights' moving average."""

    def __init__(self, model: nn.Module, decay: float = 0.999, *, warmup: bool = False) -> None:
        self.decay = check_fraction(decay, "decay")
        self.warmup = bool(warmup)
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.num_updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards ``model``'s current weights."""
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates)) if self.warmup else self.decay
        for pe, p in zip(self.module.parameters(), model.parameters()):
            if pe.is_floating_point():
                pe.mul_(d).add_(p.detach().to(pe.dtype), alpha=1.0 - d)
            else:
                pe.copy_(p)
        for be, b in zip(self.module.buffers(), model.buffers()):
            be.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
