"""Latent diffusion (Rombach et al. 2022): a KL-regularised autoencoder first stage, frozen, and a DDPM over
its latent map.

:class:`KLAutoencoder` (``aip train klae``) maps a 28x28 image to a (4, 7, 7) Gaussian latent and back. Its
loss is the first-stage loss of the paper: ``|x - D(z)|_1 + b1 KL(q(z|x) || N(0, I)) + b2 perceptual + b3
adversarial``, the perceptual term on the convolutional features of the shipped LeNet (a network this project
trains), the adversarial one from a PatchGAN discriminator (phase ``"d"``, then ``"g"``); the KL weight is
small, so the latent keeps detail and the diffusion model, not the prior, makes the samples.

:class:`LatentDiffusion` (``aip train ldm --autoencoder RUN``) loads that run frozen (staged training: its
parameters are outside every phase, its mode stays eval), scales the latents to unit variance (the scale is
measured on the first training batch and saved with the weights) and trains a U-Net with L_simple on them;
sampling runs the shared :class:`~aip.sampling.DiffusionPipeline` (DDPM, DDIM, DPM-Solver++, Heun; guidance)
on the (4, 7, 7) latent and decodes once: 4x fewer positions than the pixel model's (4, 14, 14) view.

References
----------
R. Rombach, A. Blattmann, D. Lorenz, P. Esser, B. Ommer, "High-Resolution Image Synthesis with Latent
Diffusion Models", CVPR 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_choice, check_fraction, check_int, check_positive
from aip.models.base import GenerativeModel, TwoPlayer
from aip.models.diffusion import simple_loss
from aip.models.layers import check_image_batch, check_labels
from aip.models.unet import UNet, UNetConfig
from aip.sampling.pipelines import SAMPLERS, DiffusionPipeline, SamplerDefaults
from aip.sampling.schedules import NoiseSchedule


def _pad4(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % 4, 0, -h % 4))


@dataclass
class KLAEConfig:
    """Configuration of :class:`KLAutoencoder`: a (latent_channels, H/4, W/4) Gaussian latent."""

    image_size: int = 28
    in_channels: int = 1
    latent_channels: int = 4
    hidden_channels: tuple[int, int] = (32, 64)
    kl_weight: float = 1e-4
    perceptual_weight: float = 0.1
    adversarial_weight: float = 0.02
    disc_channels: int = 32
    lr: float = 1e-3

    def validate(self) -> None:
        check_int(self.latent_channels, "latent_channels", low=1)
        for k in ("kl_weight", "perceptual_weight", "adversarial_weight"):
            check_positive(getattr(self, k), k, allow_zero=True)
        check_positive(self.lr, "lr")


class KLAutoencoder(TwoPlayer, GenerativeModel):
    """KL-regularised convolutional autoencoder, the first stage of latent diffusion.

    Example
    -------
    >>> ae = KLAutoencoder(KLAEConfig(hidden_channels=(8, 8), perceptual_weight=0.0))
    >>> ae.encode(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 4, 7, 7])
    >>> ae(torch.rand(2, 1, 28, 28), phase="g")["loss"].ndim
    0
    """

    config_class = KLAEConfig
    name = "klae"
    phase_modules: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("discriminator",), "g": ("encoder", "decoder")}

    def __init__(self, config: KLAEConfig | None = None) -> None:
        from aip.models.translate import PatchDiscriminator

        config = config or KLAEConfig()
        config.hidden_channels = tuple(config.hidden_channels)
        config.validate()
        super().__init__(config)
        c, (h1, h2), zc = config.in_channels, config.hidden_channels, config.latent_channels
        self.encoder = nn.Sequential(nn.Conv2d(c, h1, 4, 2, 1), nn.SiLU(), nn.Conv2d(h1, h2, 4, 2, 1), nn.SiLU(),
                                     nn.Conv2d(h2, h2, 3, 1, 1), nn.SiLU(), nn.Conv2d(h2, 2 * zc, 1))
        self.decoder = nn.Sequential(nn.Conv2d(zc, h2, 3, 1, 1), nn.SiLU(), nn.Conv2d(h2, h2, 3, 1, 1), nn.SiLU(),
                                     nn.ConvTranspose2d(h2, h1, 4, 2, 1), nn.SiLU(),
                                     nn.ConvTranspose2d(h1, c, 4, 2, 1))
        self.discriminator = PatchDiscriminator(c, base=config.disc_channels, patch="16",
                                                image_size=config.image_size)
        self._perceptual_net: list[nn.Module] = []     # the frozen LeNet, kept out of the state dict

    def phases(self) -> list[str]:
        return ["d", "g"] if self.config.adversarial_weight > 0 else ["g"]

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        return {"lr": float(self.config.lr), "betas": (0.5, 0.9)}

    # -- the two halves ---------------------------------------------------------------------------------------
    def moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (B, zc, H/4, W/4) of q(z | x) for images in [0, 1]."""
        mu, logvar = self.encoder(_pad4(x * 2 - 1)).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The latent mean (what latent diffusion models)."""
        return self.moments(x)[0]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        s = self.config.image_size
        return self.decoder(z)[..., :s, :s]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from latents."""
        return torch.sigmoid(self.decode_logits(z))

    # -- losses ---------------------------------------------------------------------------------------------
    def _lenet(self, device: torch.device) -> nn.Module | None:
        cfg = self.config
        if cfg.perceptual_weight <= 0 or cfg.in_channels != 1:
            return None
        if not self._perceptual_net:
            from aip.models.lenet import load_lenet

            net = load_lenet("digits").eval()
            for p in net.parameters():
                p.requires_grad_(False)
            self._perceptual_net.append(net)
        return self._perceptual_net[0].to(device)

    def perceptual(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """MSE between the two convolutional feature maps of the shipped digit LeNet."""
        net = self._lenet(a.device)
        if net is None:
            return a.new_zeros(())
        loss = a.new_zeros(())
        ha, hb = (a - 0.5) / 0.5, (b - 0.5) / 0.5
        for conv in (net.conv1, net.conv2):
            ha, hb = F.relu(conv(ha)), F.relu(conv(hb))
            loss = loss + F.mse_loss(ha, hb)
            ha, hb = F.max_pool2d(ha, 2), F.max_pool2d(hb, 2)
        return loss

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "g") -> dict[str, torch.Tensor]:
        cfg = self.config
        check_image_batch(x, cfg.in_channels, cfg.image_size)
        if phase == "d":
            with torch.no_grad():
                fake = self.decode(self.encode(x))
            d_real, d_fake = self.discriminator(x * 2 - 1), self.discriminator(fake * 2 - 1)
            return {"loss": F.softplus(-d_real).mean() + F.softplus(d_fake).mean()}
        if phase != "g":
            raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")
        mu, logvar = self.moments(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        rec = self.decode(z)
        l1 = (rec - x).abs().mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
        perc = self.perceptual(rec, x)
        out = {"l1": l1.detach(), "kl": kl.detach(), "perceptual": perc.detach()}
        loss = l1 + cfg.kl_weight * kl + cfg.perceptual_weight * perc
        if cfg.adversarial_weight > 0:
            adv = F.softplus(-self.discriminator(rec * 2 - 1)).mean()
            out["adv"] = adv.detach()
            loss = loss + cfg.adversarial_weight * adv
        out["loss"] = loss
        return out

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, **kwargs: Any) -> torch.Tensor:
        """Decodes prior draws z ~ N(0, t^2 I); with the small KL weight these are poor: sample the latent
        diffusion model instead (this exists for ``aip sample`` and the trainer's grids)."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected temperature")
        n = check_int(n, "n", low=1)
        s = -(-self.config.image_size // 4)
        z = torch.randn(n, self.config.latent_channels, s, s, generator=generator) * float(temperature)
        return self.decode(z.to(next(self.parameters()).device))


@dataclass
class LDMConfig:
    """Configuration of :class:`LatentDiffusion`. ``autoencoder``: a run of ``aip train klae`` (frozen; "" builds
    an untrained default, for tests). ``latent_scale`` 0: measured on the first training batch."""

    image_size: int = 28
    in_channels: int = 1
    num_classes: int = 0
    autoencoder: str = ""
    latent_scale: float = 0.0
    base_channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 1
    mid_attention: bool = True
    num_heads: int = 4
    dropout: float = 0.0
    schedule: str = "linear"
    prediction: str = "eps"
    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    p_uncond: float = 0.1
    sampler: str = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    guidance: float = 1.0
    lr: float = 2e-4

    def validate(self) -> None:
        check_choice(self.schedule, "schedule", ("linear", "cosine"))
        check_choice(self.prediction, "prediction", ("eps", "v"))
        check_choice(self.sampler, "sampler", tuple(SAMPLERS))
        check_int(self.num_timesteps, "num_timesteps", low=2)
        check_int(self.sample_steps, "sample_steps", low=1, high=self.num_timesteps)
        check_fraction(self.p_uncond, "p_uncond")
        check_positive(self.latent_scale, "latent_scale", allow_zero=True)
        check_positive(self.lr, "lr")
        if self.image_size < 13:
            raise ValueError(f"image_size: latent diffusion needs images of at least 13 pixels a side (a 4x4 "
                             f"latent map), got {self.image_size}")


class LatentDiffusion(GenerativeModel):
    """DDPM over the latent map of a frozen :class:`KLAutoencoder`, class-conditional with classifier-free
    guidance.

    Example
    -------
    >>> m = LatentDiffusion(LDMConfig(base_channels=16, num_classes=10, num_timesteps=50))
    >>> m(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))["loss"].ndim
    0
    >>> m.sample(2, y=torch.tensor([3, 3]), steps=4).shape
    torch.Size([2, 1, 28, 28])
    """

    config_class = LDMConfig
    name = "ldm"
    frozen = ("autoencoder",)       # staged training: the first stage is fixed (aip.models.base.Trainable)

    def __init__(self, config: LDMConfig | None = None) -> None:
        config = config or LDMConfig()
        config.channel_mult = tuple(config.channel_mult)
        config.validate()
        super().__init__(config)
        self.autoencoder = self._load_autoencoder(config)
        self.freeze()
        with torch.no_grad():
            z = self.autoencoder.encode(torch.zeros(1, config.in_channels, config.image_size, config.image_size))
        self.latent_shape = tuple(z.shape[1:])
        self.unet = UNet(UNetConfig(image_size=self.latent_shape[-1], in_channels=self.latent_shape[0],
                                    base_channels=config.base_channels, channel_mult=config.channel_mult,
                                    num_res_blocks=config.num_res_blocks, patch_size=1,
                                    mid_attention=config.mid_attention, num_heads=config.num_heads,
                                    num_classes=config.num_classes, dropout=config.dropout, channels_last=False))
        self.schedule = NoiseSchedule(config.schedule, config.num_timesteps, beta_start=config.beta_start,
                                      beta_end=config.beta_end)
        self.register_buffer("latent_scale", torch.tensor(float(config.latent_scale)))

    @staticmethod
    def _load_autoencoder(config: LDMConfig) -> KLAutoencoder:
        if not config.autoencoder:
            return KLAutoencoder(KLAEConfig(image_size=config.image_size, in_channels=config.in_channels,
                                            perceptual_weight=0.0)).eval()
        return LatentDiffusion.load_stage(config.autoencoder, KLAutoencoder, "autoencoder", config.image_size,
                                          config.in_channels)

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        return {"lr": float(self.config.lr)}

    @torch.no_grad()
    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled latents of images in [0, 1]; the first call in training fixes the scale (1 / std)."""
        mu = self.autoencoder.encode(x)
        if float(self.latent_scale) == 0.0:
            self.latent_scale.fill_(1.0 / float(mu.std().clamp_min(1e-6)))
        return mu * self.latent_scale

    @torch.no_grad()
    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        scale = float(self.latent_scale) or 1.0
        return self.autoencoder.decode(z / scale)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        cfg = self.config
        check_image_batch(x, cfg.in_channels, cfg.image_size)
        y = check_labels(y, x.shape[0], cfg.num_classes)
        return {"loss": simple_loss(self.unet, self.schedule, self.to_latent(x), y=y, p_uncond=cfg.p_uncond,
                                    prediction=cfg.prediction)}

    def pipeline(self) -> DiffusionPipeline:
        cfg = self.config
        return DiffusionPipeline(self.unet, self.schedule, prediction=cfg.prediction,
                                 defaults=SamplerDefaults(cfg.sampler, cfg.sample_steps, cfg.eta, cfg.guidance))

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               sampler: str | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, progress: bool = False, **kwargs: Any) -> torch.Tensor:
        """``n`` images in [0, 1]: the pipeline's sampler on the latent, then one decode."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected sampler, steps, "
                            "eta, guidance, progress")
        n = check_int(n, "n", low=1)
        device = next(self.unet.parameters()).device
        if self.config.num_classes:
            y = check_labels(y, n, self.config.num_classes) if y is not None else \
                torch.arange(n, device=device) % self.config.num_classes
        z = self.pipeline().sample((n, *self.latent_shape), cond=y, sampler=sampler, steps=steps, eta=eta,
                                   guidance=guidance, clip_sample=False, generator=generator, progress=progress)
        return self.from_latent(z).clamp(0.0, 1.0)
