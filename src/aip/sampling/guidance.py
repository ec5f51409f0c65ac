"""Guidance of diffusion samplers: classifier-free and classifier gradients.

Classifier-free guidance (Ho & Salimans 2021) combines the unconditional and conditional noise estimates

    eps_w = eps_u + w (eps_c - eps_u),

so ``w = 0`` is the unconditional model, ``w = 1`` the conditional model and ``w > 1`` sharpens it.
Classifier guidance (Dhariwal & Nichol 2021, Algorithm 2 in eps form) shifts the noise estimate along the
gradient of a noise-aware classifier log p_phi(y | x_t, t):

    eps_hat = eps - s * sqrt(1 - alpha_bar_t) * grad_x log p_phi(y | x_t, t).

References
----------
Ho, Salimans, "Classifier-Free Diffusion Guidance", NeurIPS 2021 workshop.
Dhariwal, Nichol, "Diffusion Models Beat GANs on Image Synthesis", NeurIPS 2021.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from aip._shared.validate import check_positive


def classifier_free_guidance(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """``eps_u + scale * (eps_c - eps_u)``; scale 1 returns ``eps_c`` exactly.

    Example
    -------
    >>> classifier_free_guidance(torch.zeros(1), torch.ones(1), 3.0).item()
    3.0
    """
    if eps_uncond.shape != eps_cond.shape:
        raise ValueError(f"guidance: expected eps_uncond and eps_cond of one shape, got "
                         f"{tuple(eps_uncond.shape)} and {tuple(eps_cond.shape)}")
    scale = check_positive(scale, "guidance scale", allow_zero=True)
    if scale == 1.0:
        return eps_cond
    if scale == 0.0:
        return eps_uncond
    return eps_uncond + scale * (eps_cond - eps_uncond)


def classifier_log_prob_grad(classifier: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                             x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``grad_x log softmax(classifier(x, t))[y]`` summed over the batch (each row its own gradient)."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logits = classifier(xg, t)
        if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
            raise ValueError(f"classifier: expected logits of shape (B, classes), got {tuple(logits.shape)}")
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        logp = torch.log_softmax(logits, dim=1).gather(1, y.view(-1, 1).long()).sum()
        (grad,) = torch.autograd.grad(logp, xg)
    return grad


def classifier_guidance(eps: torch.Tensor, x: torch.Tensor, t: int | torch.Tensor, y: torch.Tensor,
                        classifier: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scale: float,
                        alpha_bar: torch.Tensor) -> torch.Tensor:
    """Shift ``eps`` by ``-scale * sqrt(1 - alpha_bar_t) * grad log p(y | x_t, t)`` (Dhariwal & Nichol 2021)."""
    scale = check_positive(scale, "classifier scale", allow_zero=True)
    if scale == 0.0:
        return eps
    t_int = int(t)
    tt = torch.full((x.shape[0],), t_int, device=x.device, dtype=torch.long)
    grad = classifier_log_prob_grad(classifier, x, tt, y)
    return eps - scale * math.sqrt(1.0 - float(alpha_bar[t_int])) * grad.to(eps.dtype)
