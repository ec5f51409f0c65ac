"""Training losses in one place: pixel losses, total variation, GAN losses, feature matching, gradient
penalties.

Pixel losses take ``(pred, target)`` batches of the same shape and return a scalar (the mean over every
element unless said otherwise); :data:`LOSSES` names them for configs (``loss="charbonnier"``).
GAN losses take the discriminator's logits (any shape); ``kind`` is one of :data:`GAN_KINDS`:

===================  =========================================================  ======================
kind                 discriminator                                              generator
===================  =========================================================  ======================
``non_saturating``   ``softplus(-D(x)) + softplus(D(G(z)))``                    ``softplus(-D(G(z)))``
``hinge``            ``relu(1 - D(x)) + relu(1 + D(G(z)))``                     ``-D(G(z))``
``least_squares``    ``(D(x) - 1)^2 / 2 + D(G(z))^2 / 2``                       ``(D(G(z)) - 1)^2 / 2``
===================  =========================================================  ======================

References
----------
I. Goodfellow et al., "Generative adversarial nets", NeurIPS 2014 (the non-saturating loss).
J. H. Lim and J. C. Ye, "Geometric GAN", 2017; T. Miyato et al., "Spectral normalization for GANs", ICLR 2018
(hinge).
X. Mao et al., "Least squares generative adversarial networks", ICCV 2017.
P. Charbonnier et al., "Two deterministic half-quadratic regularization algorithms for computed imaging",
ICIP 1994; W.-S. Lai et al., "Deep Laplacian pyramid networks", CVPR 2017 (Charbonnier loss).
L. Rudin, S. Osher, E. Fatemi, "Nonlinear total variation based noise removal algorithms", Physica D 1992.
T. Salimans et al., "Improved techniques for training GANs", NeurIPS 2016; T.-C. Wang et al., "pix2pixHD",
CVPR 2018 (feature matching).
I. Gulrajani et al., "Improved training of Wasserstein GANs", NeurIPS 2017 (WGAN-GP); L. Mescheder et al.,
"Which training methods for GANs do actually converge?", ICML 2018 (R1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from aip._shared.validate import check_choice, check_positive, describe

__all__ = [
    "GAN_KINDS",
    "LOSSES",
    "charbonnier",
    "feature_matching",
    "gan_d_loss",
    "gan_g_loss",
    "get_loss",
    "gradient_penalty",
    "l1",
    "l2",
    "mse",
    "psnr_loss",
    "total_variation",
]

GAN_KINDS = ("non_saturating", "hinge", "least_squares")
GanKind = Literal["non_saturating", "hinge", "least_squares"]


def _pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(f"pred/target: expected tensors, got {describe(pred)} and {describe(target)}")
    if pred.shape != target.shape:
        raise ValueError(f"pred/target: expected the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``mean |pred - target|``.

    Example
    -------
    >>> float(l1(torch.zeros(2, 2), torch.ones(2, 2)))
    1.0
    """
    _pair(pred, target)
    return (pred - target).abs().mean()


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean (pred - target)^2``.

    Example
    -------
    >>> float(mse(torch.zeros(2, 2), torch.full((2, 2), 2.0)))
    4.0
    """
    _pair(pred, target)
    return (pred - target).square().mean()


l2 = mse


def charbonnier(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier (smooth L1) loss ``mean sqrt((pred - target)^2 + eps^2)``.

    Tends to :func:`l1` for errors much larger than ``eps`` and is differentiable at 0.

    Example
    -------
    >>> round(float(charbonnier(torch.zeros(1), torch.tensor([0.75]), eps=1.0)), 6)
    1.25
    """
    _pair(pred, target)
    e = check_positive(eps, "eps")
    return torch.sqrt((pred - target).square() + e * e).mean()


def psnr_loss(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0,
              eps: float = 1e-10) -> torch.Tensor:
    """Minus the mean PSNR in dB over the images of a batch: ``-mean_i 10 log10(R^2 / (MSE_i + eps))``.

    Each image (the leading axis) gets its own MSE, so easy images do not dominate as in the MSE.

    Example
    -------
    >>> round(float(psnr_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.1))), 4)
    -20.0
    """
    _pair(pred, target)
    r = check_positive(data_range, "data_range")
    per_image = (pred - target).square().reshape(pred.shape[0], -1).mean(1) if pred.ndim > 1 else \
        (pred - target).square().mean().reshape(1)
    return -(10.0 * torch.log10(r * r / (per_image + eps))).mean()


def total_variation(x: torch.Tensor, *, kind: Literal["anisotropic", "isotropic"] = "anisotropic",
                    eps: float = 1e-8) -> torch.Tensor:
    """Total variation of a batch (..., H, W), divided by its number of elements.

    ``anisotropic``: ``sum |x[i+1, j] - x[i, j]| + |x[i, j+1] - x[i, j]|``; ``isotropic``:
    ``sum sqrt(dy^2 + dx^2 + eps)`` over the (H - 1, W - 1) pixels where both differences exist.

    Example
    -------
    >>> float(total_variation(torch.tensor([[0.0, 1.0], [0.0, 1.0]])))
    0.5
    """
    check_choice(kind, "kind", ("anisotropic", "isotropic"))
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x: expected a tensor (..., H, W), got {describe(x)}")
    dy = x[..., 1:, :] - x[..., :-1, :]
    dx = x[..., :, 1:] - x[..., :, :-1]
    if kind == "anisotropic":
        return (dy.abs().sum() + dx.abs().sum()) / x.numel()
    return torch.sqrt(dy[..., :, :-1].square() + dx[..., :-1, :].square() + eps).sum() / x.numel()


def gan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, kind: GanKind = "non_saturating") -> torch.Tensor:
    """The discriminator's loss on the logits of real and generated images (table in the module docs).

    Example
    -------
    >>> round(float(gan_d_loss(torch.zeros(3), torch.zeros(3))), 6)  # 2 log 2
    1.386294
    """
    check_choice(kind, "kind", GAN_KINDS)
    if kind == "non_saturating":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    return 0.5 * (real - 1.0).square().mean() + 0.5 * fake.square().mean()


def gan_g_loss(fake: torch.Tensor, *, kind: GanKind = "non_saturating") -> torch.Tensor:
    """The generator's loss on the discriminator's logits of generated images (table in the module docs).

    Example
    -------
    >>> float(gan_g_loss(torch.tensor([2.0]), kind="hinge"))
    -2.0
    """
    check_choice(kind, "kind", GAN_KINDS)
    if kind == "non_saturating":
        return F.softplus(-fake).mean()
    if kind == "hinge":
        return -fake.mean()
    return 0.5 * (fake - 1.0).square().mean()


def feature_matching(real: torch.Tensor | Sequence[torch.Tensor], fake: torch.Tensor | Sequence[torch.Tensor],
                     *, kind: Literal["l1", "l2"] = "l1") -> torch.Tensor:
    """Distance between discriminator features of real and generated images, averaged over layers.

    ``mean_k mean |phi_k(fake) - phi_k(real)|`` (``l1``, pix2pixHD) or the squared form (``l2``); the real
    features are detached, so only the generator is pushed. For Salimans et al.'s mean-feature matching
    pass the batch means ``phi.mean(0)``.

    Example
    -------
    >>> float(feature_matching([torch.zeros(2), torch.ones(2)], [torch.ones(2), torch.ones(2)]))
    0.5
    """
    check_choice(kind, "kind", ("l1", "l2"))
    rs = [real] if isinstance(real, torch.Tensor) else list(real)
    fs = [fake] if isinstance(fake, torch.Tensor) else list(fake)
    if len(rs) != len(fs) or not rs:
        raise ValueError(f"real/fake: expected the same number (at least one) of feature maps, got {len(rs)} "
                         f"and {len(fs)}")
    terms = []
    for k, (r, f) in enumerate(zip(rs, fs)):
        if r.shape != f.shape:
            raise ValueError(f"features[{k}]: expected the same shape, got {tuple(r.shape)} and {tuple(f.shape)}")
        d = f - r.detach()
        terms.append(d.abs().mean() if kind == "l1" else d.square().mean())
    return torch.stack(terms).mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor | None = None, *, kind: Literal["wgan-gp", "r1"] = "wgan-gp",
                     rng: torch.Generator | None = None) -> torch.Tensor:
    """Gradient penalty on the critic (differentiable, for its loss).

    ``wgan-gp``: ``mean (||grad D(x_hat)||_2 - 1)^2`` at ``x_hat = e real + (1 - e) fake``, one ``e ~ U(0, 1)``
    per image drawn from ``rng`` (None: the global generator). ``r1``: ``mean ||grad D(real)||_2^2``
    (multiply by ``gamma / 2`` as in Mescheder et al.).

    Example
    -------
    >>> w = torch.tensor([3.0, 4.0])
    >>> float(gradient_penalty(lambda x: x @ w, torch.zeros(5, 2), torch.ones(5, 2)))  # (5 - 1)^2
    16.0
    """
    check_choice(kind, "kind", ("wgan-gp", "r1"))
    if kind == "wgan-gp":
        if fake is None:
            raise ValueError("fake: expected generated images for kind='wgan-gp', got None")
        _pair(real, fake)
        shape = (real.shape[0],) + (1,) * (real.ndim - 1)
        e = torch.rand(shape, generator=rng, device=rng.device if rng is not None else real.device,
                       dtype=real.dtype).to(real.device)
        x = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    else:
        x = real.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    norm2 = grad.reshape(grad.shape[0], -1).square().sum(1)
    if kind == "r1":
        return norm2.mean()
    return (torch.sqrt(norm2 + 1e-12) - 1.0).square().mean()


#: Pixel losses by name (for model configs such as ``loss="charbonnier"``).
LOSSES: dict[str, Callable[..., torch.Tensor]] = {"l1": l1, "l2": mse, "mse": mse, "charbonnier": charbonnier,
                                                  "psnr": psnr_loss}


def get_loss(name: str) -> Callable[..., torch.Tensor]:
    """The pixel loss called ``name`` (one of :data:`LOSSES`)."""
    check_choice(name, "loss", tuple(LOSSES))
    return LOSSES[name]
