"""GANs: MLP GAN (Goodfellow 2014), DCGAN (Radford 2015) and a conditional DCGAN with a projection discriminator.

Losses (non-saturating, Goodfellow 2014 Sec. 3), with D outputting logits:

    L_D = softplus(-D(x)) + softplus(D(G(z)))        (phase "d")
    L_G = softplus(-D(G(z)))                         (phase "g")

The generator's output is tanh on [-1, 1] (images are rescaled from [0, 1] for D, and back for ``sample``).
DCGAN follows Radford et al.: transposed convolutions with batch norm and ReLU in G, strided convolutions with
LeakyReLU(0.2) in D (batch norm except on the first layer), no pooling, N(0, 0.02) initialisation, and Adam with
lr 2e-4, beta1 0.5 (``lr`` and ``betas`` in the config are the trainer's defaults). The conditional GAN adds a
label embedding to G's input and a projection term <embed(y), phi(x)> to D (Miyato & Koyama 2018).

References
----------
Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
Radford, Metz, Chintala, "Unsupervised Representation Learning with DCGANs", ICLR 2016.
Mirza, Osindero, "Conditional Generative Adversarial Nets", 2014.
Miyato, Koyama, "cGANs with Projection Discriminator", ICLR 2018.
Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs", ICLR 2018 (minibatch standard deviation).
Mao, Lee, Tseng, Ma, Yang, "Mode Seeking GANs for Diverse Image Synthesis", CVPR 2019.
Creswell, Bharath, "Inverting the Generator of a Generative Adversarial Network", 2018 (inversion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_choice, check_fraction, check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.layers import (
    check_image_batch,
    check_labels,
    crop_to,
    mlp,
    pad_to,
    padded_size,
    to_signed,
    to_unit,
)


@dataclass
class GANConfig:
    """Configuration of the GAN family (``arch`` "mlp" or "dcgan"; ``num_classes > 0`` for a conditional GAN)."""

    image_size: int = 28
    in_channels: int = 1
    latent_dim: int = 64
    arch: str = "mlp"
    hidden_dim: int = 256
    base_channels: int = 64
    num_classes: int = 0
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    label_smoothing: float = 0.0
    minibatch_std: bool = False   # D sees the batch's feature spread (Karras et al. 2018) against collapse
    mode_seeking: float = 0.0     # weight of the mode-seeking term of G (Mao et al. 2019), e.g. 1.0
    dim: int = 128          # arch "transformer" (TransGAN): token width at the lowest resolution
    depth: int = 2          #   transformer blocks per stage
    heads: int = 4

    def validate(self) -> None:
        check_int(self.image_size, "image_size", low=4)
        check_int(self.in_channels, "in_channels", low=1, high=4)
        check_int(self.latent_dim, "latent_dim", low=1)
        check_choice(self.arch, "arch", ("mlp", "dcgan", "transformer"))
        if self.arch == "transformer":
            check_int(self.depth, "depth", low=1)
            check_int(self.heads, "heads", low=1)
            if self.dim % 16 or (self.dim // 4) % self.heads or self.dim % self.heads:
                raise ValueError(f"dim: expected a multiple of 16 whose quarter {self.heads} heads divide, got "
                                 f"{self.dim}")
        check_int(self.hidden_dim, "hidden_dim", low=1)
        check_int(self.base_channels, "base_channels", low=1)
        check_int(self.num_classes, "num_classes", low=0)
        check_positive(self.lr, "lr")
        if len(tuple(self.betas)) != 2 or not all(0 <= float(b) < 1 for b in self.betas):
            raise ValueError(f"betas: expected two Adam betas in [0, 1), got {self.betas!r}")
        check_fraction(self.label_smoothing, "label_smoothing")
        check_positive(self.mode_seeking, "mode_seeking", allow_zero=True)
        if self.minibatch_std and self.arch != "dcgan":
            raise ValueError(f"minibatch_std: expected arch 'dcgan' (the convolutional discriminator), got "
                             f"{self.arch!r}")


def _dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class MLPGenerator(nn.Module):
    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.shape = (cfg.in_channels, cfg.image_size, cfg.image_size)
        d = cfg.in_channels * cfg.image_size ** 2
        self.net = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.LeakyReLU(0.2),
                                 nn.Linear(cfg.hidden_dim, 2 * cfg.hidden_dim), nn.BatchNorm1d(2 * cfg.hidden_dim),
                                 nn.LeakyReLU(0.2), nn.Linear(2 * cfg.hidden_dim, d), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        d = cfg.in_channels * cfg.image_size ** 2
        self.features = nn.Sequential(nn.Flatten(), mlp([d, 2 * cfg.hidden_dim, cfg.hidden_dim], negative_slope=0.2),
                                      nn.LeakyReLU(0.2))
        self.feature_dim = cfg.hidden_dim
        self.head = nn.Linear(cfg.hidden_dim, 1)


class DCGenerator(nn.Module):
    """z -> (4c, s/4, s/4) -> (2c, s/2, s/2) -> (C, s, s), batch norm + ReLU, tanh output (sides that are
    not a multiple of 4 are generated at the next multiple and cropped)."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.size = cfg.image_size
        c, s = cfg.base_channels, padded_size(cfg.image_size) // 4
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim, 4 * c * s * s, bias=False))
        self.bn0 = nn.BatchNorm2d(4 * c)
        self.shape = (4 * c, s, s)
        self.net = nn.Sequential(nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c),
                                 nn.ReLU(True), nn.ConvTranspose2d(2 * c, cfg.in_channels, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return crop_to(self.net(F.relu(self.bn0(self.fc(z).view(-1, *self.shape)))), self.size)


class _PadTo(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pad_to(x, self.size)


class MinibatchStd(nn.Module):
    """Appends one channel: the standard deviation over the batch of every feature, averaged to one number
    (Karras et al. 2018), so the discriminator can see a batch of near-identical samples as fake."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = x.std(dim=0, unbiased=False).mean() if x.shape[0] > 1 else x.new_zeros(())
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], 1)


class DCDiscriminator(nn.Module):
    """Strided convolutions, LeakyReLU(0.2), batch norm except on the first layer, no pooling (with
    ``minibatch_std``, a :class:`MinibatchStd` channel before the flattening)."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        c, s = cfg.base_channels, padded_size(cfg.image_size) // 4
        extra = [MinibatchStd()] if cfg.minibatch_std else []
        self.features = nn.Sequential(
            _PadTo(padded_size(cfg.image_size)),
            nn.Conv2d(cfg.in_channels, c, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True), *extra,
            nn.Flatten())
        self.feature_dim = (2 * c + bool(extra)) * s * s
        self.head = nn.Linear(self.feature_dim, 1)


class TransGANGenerator(nn.Module):
    """TransGAN's generator (Jiang et al. 2021), small: z -> (s/4)^2 tokens of width ``dim`` -> transformer
    blocks -> pixel shuffle to (s/2)^2 tokens of width dim/4 -> blocks -> pixel shuffle to s^2 of dim/16 ->
    a linear map to the channels, tanh. No convolution anywhere; learned position embeddings per stage."""

    def __init__(self, cfg: GANConfig) -> None:
        from aip.models.layers import TransformerBlock

        super().__init__()
        self.size = cfg.image_size
        self.s0 = padded_size(cfg.image_size) // 4
        d = cfg.dim
        self.fc = nn.Linear(cfg.latent_dim, self.s0 * self.s0 * d)
        self.pos = nn.ParameterList([nn.Parameter(torch.zeros(1, (self.s0 * 2 ** i) ** 2, d // 4 ** i))
                                     for i in range(2)])
        self.stages = nn.ModuleList(nn.Sequential(*[TransformerBlock(d // 4 ** i, cfg.heads)
                                                    for _ in range(cfg.depth)]) for i in range(2))
        self.to_image = nn.Linear(d // 16, cfg.in_channels)
        for p in self.pos:
            nn.init.trunc_normal_(p, std=0.02)

    @staticmethod
    def _shuffle(tokens: torch.Tensor, side: int) -> torch.Tensor:
        b, _, c = tokens.shape
        x = F.pixel_shuffle(tokens.transpose(1, 2).reshape(b, c, side, side), 2)
        return x.flatten(2).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        h = self.fc(z).view(b, self.s0 * self.s0, -1)
        side = self.s0
        for pos, stage in zip(self.pos, self.stages):
            h = stage(h + pos)
            h = self._shuffle(h, side)
            side *= 2
        img = torch.tanh(self.to_image(h)).transpose(1, 2).reshape(b, -1, side, side)
        return crop_to(img, self.size)


class TransGANDiscriminator(nn.Module):
    """A ViT discriminator: 4x4 patches -> tokens with a class token and position embeddings -> transformer
    blocks -> the class token's final norm as the feature vector (``features``), a linear ``head``."""

    def __init__(self, cfg: GANConfig) -> None:
        from aip.models.layers import TransformerBlock

        super().__init__()
        self.padded = padded_size(cfg.image_size)
        d, n = cfg.dim // 2, (self.padded // 4) ** 2
        self.embed = nn.Conv2d(cfg.in_channels, d, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 1 + n, d))
        heads = cfg.heads if d % cfg.heads == 0 else 1
        self.blocks = nn.Sequential(*[TransformerBlock(d, heads) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(d)
        self.feature_dim = d
        self.head = nn.Linear(d, 1)
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(pad_to(x, self.padded)).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(x.shape[0], -1, -1), t], 1) + self.pos
        return self.norm(self.blocks(t)[:, 0])


class GAN(GenerativeModel):
    """GAN with the non-saturating loss; phases ``["d", "g"]``.

    Example
    -------
    >>> gan = GAN(GANConfig(latent_dim=8, hidden_dim=16))
    >>> gan(torch.rand(4, 1, 28, 28), phase="d")["loss"].ndim
    0
    >>> gan.sample(3).shape
    torch.Size([3, 1, 28, 28])
    """

    config_class = GANConfig
    name = "gan"

    def __init__(self, config: GANConfig | None = None) -> None:
        config = config or self.config_class()
        config.betas = tuple(config.betas)
        config.validate()
        super().__init__(config)
        if config.arch == "mlp":
            self.generator, self.discriminator = MLPGenerator(config), MLPDiscriminator(config)
        elif config.arch == "transformer":
            self.generator, self.discriminator = TransGANGenerator(config), TransGANDiscriminator(config)
        else:
            self.generator, self.discriminator = DCGenerator(config), DCDiscriminator(config)
            self.apply(_dcgan_init)
        k = config.num_classes
        self.label_emb = nn.Embedding(k, config.latent_dim) if k else None      # G: z + embed(y)
        self.proj = nn.Embedding(k, self.discriminator.feature_dim) if k else None   # D: projection
        if self.proj is not None:
            nn.init.normal_(self.proj.weight, 0.0, 0.02)

    def phases(self) -> list[str]:
        return ["d", "g"]

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """Adam settings for the trainer: lr 2e-4, betas (0.5, 0.999) by default (Radford 2015)."""
        return {"lr": float(self.config.lr), "betas": tuple(float(b) for b in self.config.betas)}

    def phase_parameters(self, phase: str):
        if phase == "d":
            return [*self.discriminator.parameters(), *([] if self.proj is None else self.proj.parameters())]
        if phase == "g":
            return [*self.generator.parameters(), *([] if self.label_emb is None else self.label_emb.parameters())]
        raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")

    # -- networks -------------------------------------------------------------------------------------------
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z, y) on [-1, 1]."""
        if self.label_emb is not None and y is not None:
            z = z + self.label_emb(y)
        return self.generator(z)

    def discriminate(self, x_signed: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D(x, y) logits (B,) for images on [-1, 1]; projection term when conditional."""
        phi = self.discriminator.features(x_signed)
        out = self.discriminator.head(phi).squeeze(1)
        if self.proj is not None and y is not None:
            out = out + (self.proj(y) * phi).sum(1)
        return out

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        return torch.randn(n, self.config.latent_dim, generator=generator).to(device)

    # -- training -------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "d") -> dict[str, torch.Tensor]:
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        y = check_labels(y, x.shape[0], self.config.num_classes)
        b = x.shape[0]
        z = torch.randn(b, self.config.latent_dim, device=x.device)
        if phase == "d":
            with torch.no_grad():
                fake = self.generate(z, y)
            d_real = self.discriminate(to_signed(x), y)
            d_fake = self.discriminate(fake, y)
            s = self.config.label_smoothing
            real_term = F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, 1 - s))
            loss = real_term + F.softplus(d_fake).mean()
            return {"loss": loss, "d_real": torch.sigmoid(d_real).mean().detach(),
                    "d_fake": torch.sigmoid(d_fake).mean().detach()}
        if phase == "g":
            fake = self.generate(z, y)
            d_fake = self.discriminate(fake, y)
            out = {"loss": F.softplus(-d_fake).mean()}
            if self.config.mode_seeking > 0:
                # mode seeking (Mao et al. 2019): two latents for the same labels must give images apart in
                # proportion to their distance; the loss is the inverse of that ratio
                z2 = torch.randn_like(z)
                ratio = (fake - self.generate(z2, y)).abs().mean() / (z - z2).abs().mean()
                out["ms_ratio"] = ratio.detach()
                out["loss"] = out["loss"] + self.config.mode_seeking / (ratio + 1e-5)
            return out
        raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")

    # -- sampling and latent tools ---------------------------------------------------------------------------
    def _labels(self, n: int, y: torch.Tensor | None) -> torch.Tensor | None:
        device = next(self.parameters()).device
        if not self.config.num_classes:
            return check_labels(y, n, 0)
        if y is None:
            return torch.arange(n, device=device) % self.config.num_classes
        return check_labels(y, n, self.config.num_classes).to(device)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z, y) as images in [0, 1] (eval mode: batch norm uses its running statistics)."""
        was_training = self.training
        self.eval()
        try:
            return to_unit(self.generate(z, self._labels(z.shape[0], y)))
        finally:
            self.train(was_training)

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               z: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """``n`` images in [0, 1]; ``y=None`` on a conditional GAN cycles the labels 0, 1, 2, ..."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected z")
        n = check_int(n, "n", low=1)
        z = self.sample_latent(n, generator) if z is None else z
        return self.decode(z, y)

    def interpolate_latents(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, *,
                            mode: str = "slerp") -> torch.Tensor:
        """Points between two latents (steps, latent_dim): spherical (``slerp``, White 2016) or linear."""
        check_choice(mode, "mode", ("slerp", "linear"))
        steps = check_int(steps, "steps", low=2)
        w = torch.linspace(0, 1, steps, device=z0.device).view(-1, 1)
        if mode == "linear":
            return (1 - w) * z0 + w * z1
        cos = (F.normalize(z0, dim=-1) * F.normalize(z1, dim=-1)).sum().clamp(-1 + 1e-7, 1 - 1e-7)
        omega = torch.acos(cos)
        return (torch.sin((1 - w) * omega) * z0 + torch.sin(w * omega) * z1) / torch.sin(omega)

    @torch.no_grad()
    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, *, y: torch.Tensor | None = None,
                    mode: str = "slerp") -> torch.Tensor:
        """Decoded interpolation between two latents: (steps, C, H, W) in [0, 1]."""
        z = self.interpolate_latents(z0.reshape(-1), z1.reshape(-1), steps, mode=mode)
        yy = None if y is None else torch.as_tensor(y).reshape(-1)[:1].repeat(steps)
        return self.decode(z, yy)

    @staticmethod
    def latent_arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Vector arithmetic on latent groups (Radford 2015, Sec. 6.3): ``mean(a) - mean(b) + mean(c)``."""
        if not (a.shape[-1] == b.shape[-1] == c.shape[-1]):
            raise ValueError(f"latents: expected one latent size, got {a.shape[-1]}, {b.shape[-1]}, {c.shape[-1]}")
        return a.reshape(-1, a.shape[-1]).mean(0) - b.reshape(-1, b.shape[-1]).mean(0) + c.reshape(-1, c.shape[-1]).mean(0)

    def invert(self, images: torch.Tensor, steps: int = 200, *, y: torch.Tensor | None = None, lr: float = 0.05,
               restarts: int = 1, generator: torch.Generator | None = None, operator: Any = None,
               sphere: bool = False, z_weight: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
        """Search the latent space: ``argmin_z ||A(G(z, y)) - x||^2 + z_weight ||z||^2`` (A the identity by default).

        Adam on z from ``restarts`` random starts (the best kept per image), G frozen in eval mode. ``operator``:
        any differentiable map of (B, C, H, W) images in [0, 1] (an :mod:`aip.degrade` operator), so ``images``
        may be degraded observations (GAN-prior restoration). ``sphere``: PULSE's constraint (Menon et al. 2020),
        z projected back onto the sphere of radius sqrt(latent_dim) after each step, where the Gaussian latents
        concentrate (the norm penalty is then not used). Returns the latents (B, latent_dim) and the per-image
        mean squared residual on [0, 1].
        """
        if operator is None:
            check_image_batch(images, self.config.in_channels, self.config.image_size, "images")
        steps = check_int(steps, "steps", low=0)
        restarts = check_int(restarts, "restarts", low=1)
        lr = check_positive(lr, "lr")
        b = images.shape[0]
        y = self._labels(b, y)
        target = images.to(next(self.parameters()).device)
        forward = operator if operator is not None else (lambda v: v)
        radius = float(self.config.latent_dim) ** 0.5
        was_training = self.training
        self.eval()
        req = [p.requires_grad for p in self.parameters()]
        for p in self.parameters():
            p.requires_grad_(False)
        best_z, best_err = None, None

        def project(z: torch.Tensor) -> torch.Tensor:
            return z * (radius / z.norm(dim=1, keepdim=True).clamp_min(1e-8))

        try:
            for _ in range(restarts):
                z = self.sample_latent(b, generator)
                z = (project(z) if sphere else z).requires_grad_(True)
                opt = torch.optim.Adam([z], lr=lr)
                for _ in range(steps):
                    err = (forward(to_unit(self.generate(z, y))) - target).square().flatten(1).mean(1)
                    loss = err.sum() + (0.0 if sphere else z_weight * z.square().sum())
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if sphere:
                        with torch.no_grad():
                            z.copy_(project(z))
                with torch.no_grad():
                    err = (forward(to_unit(self.generate(z, y))) - target).square().flatten(1).mean(1)
                    if best_z is None:
                        best_z, best_err = z.detach().clone(), err
                    else:
                        better = err < best_err
                        best_z[better], best_err = z.detach()[better], torch.where(better, err, best_err)
        finally:
            for p, r in zip(self.parameters(), req):
                p.requires_grad_(r)
            self.train(was_training)
        return best_z, best_err

    def restore_latent(self, observed: torch.Tensor, operator: Any, *, steps: int = 200, lr: float = 0.05,
                       restarts: int = 1, y: torch.Tensor | None = None, sphere: bool = True,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """GAN-prior restoration (PULSE-style): the generated image whose degradation best matches ``observed``.

        A conditional GAN without labels ``y`` searches every class and keeps, per image, the class with the
        smallest residual. Returns the restorations (B, C, H, W) in [0, 1] and their labels (or None)."""
        k = getattr(self.config, "num_classes", 0) or 0
        b = observed.shape[0]
        if not k or y is not None:
            z, _ = self.invert(observed, steps, y=y, lr=lr, restarts=restarts, generator=generator, operator=operator,
                               sphere=sphere)
            with torch.no_grad():
                return to_unit(self.generate(z, self._labels(b, y))), y
        # every class at once: the batch repeated k times, one label per copy, the best kept per image
        rep = observed.repeat(k, *([1] * (observed.ndim - 1)))
        yy = torch.arange(k, device=observed.device).repeat_interleave(b)
        z, err = self.invert(rep, steps, y=yy, lr=lr, restarts=restarts, generator=generator, operator=operator,
                             sphere=sphere)
        best = err.view(k, b).argmin(0)
        pick = best * b + torch.arange(b, device=observed.device)
        with torch.no_grad():
            return to_unit(self.generate(z[pick], yy[pick])), best


@dataclass
class DCGANConfig(GANConfig):
    """GANConfig with the DCGAN architecture by default."""

    arch: str = "dcgan"


@dataclass
class CGANConfig(GANConfig):
    """GANConfig of the conditional DCGAN (10 classes by default)."""

    arch: str = "dcgan"
    num_classes: int = 10


class DCGAN(GAN):
    """Deep convolutional GAN (Radford 2015)."""

    config_class = DCGANConfig
    name = "dcgan"

    def __init__(self, config: GANConfig | None = None) -> None:
        config = config or DCGANConfig()
        if config.arch != "dcgan":
            raise ValueError(f"arch: a DCGAN needs arch='dcgan', got {config.arch!r}")
        super().__init__(config)


class CGAN(GAN):
    """Conditional DCGAN: label embedding added to z in G, projection discriminator (Miyato & Koyama 2018)."""

    config_class = CGANConfig
    name = "cgan"

    def __init__(self, config: GANConfig | None = None) -> None:
        config = config or CGANConfig()
        if not config.num_classes:
            raise ValueError("num_classes: a conditional GAN needs num_classes >= 1, got 0")
        super().__init__(config)


@dataclass
class TransGANConfig(GANConfig):
    """GANConfig of TransGAN: transformers in G and D, class-conditional (10 classes) by default; Adam with
    betas (0, 0.99) and lr 1e-4 (transformer GANs train poorly with beta1 0.5)."""

    arch: str = "transformer"
    num_classes: int = 10
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.99)


class TransGAN(GAN):
    """TransGAN (Jiang et al. 2021) at small scale: a convolution-free transformer generator with pixel-shuffle
    upsampling and a ViT discriminator, trained with the family's non-saturating loss (and the projection
    term when conditional).

    Example
    -------
    >>> g = TransGAN(TransGANConfig(dim=32, depth=1, heads=2))
    >>> g.sample(2).shape
    torch.Size([2, 1, 28, 28])
    """

    config_class = TransGANConfig
    name = "transgan"

    def __init__(self, config: GANConfig | None = None) -> None:
        config = config or TransGANConfig()
        if config.arch != "transformer":
            raise ValueError(f"arch: a TransGAN needs arch='transformer', got {config.arch!r}")
        super().__init__(config)
