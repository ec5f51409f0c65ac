"""Diffusion autoencoder (Preechakul et al. 2022): a semantic encoder and a conditional DDIM decoder.

An image x is described by two codes: ``z_sem = Enc(x)``, a small vector the encoder learns end to end with
the decoder, which enters the U-Net through its condition vector (added to the time embedding), and the
stochastic code ``x_T``, found by deterministic DDIM inversion of x under ``z_sem``. Decoding ``(z_sem, x_T)``
with deterministic DDIM gives x back (near exactly: the error is DDIM's step size). Interpolation mixes both
codes (linear in ``z_sem``, spherical in ``x_T``); attribute manipulation moves ``z_sem`` along a direction,
e.g. the weight vector of a linear classifier of an attribute on the codes (:meth:`DiffAE.manipulate`).
Training: L_simple of the decoder given ``Enc(x_0)``, both trained together.

Sampling new images needs a distribution of ``z_sem``: the paper trains a second, latent DDIM on the codes;
here a Gaussian with the running mean and variance of the training codes stands in for it (recorded in the
weights), so ``aip sample`` works, while encode / invert / decode / interpolate / manipulate are the method.

References
----------
K. Preechakul, N. Chatthee, S. Wizadwongsa, S. Suwajanakorn, "Diffusion Autoencoders: Toward a Meaningful and
Decodable Representation", CVPR 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.diffusion import simple_loss
from aip.models.layers import check_image_batch, to_signed, to_unit
from aip.models.unet import UNet, UNetConfig
from aip.models.vae import ConvEncoder
from aip.sampling.pipelines import Conditioning, DiffusionPipeline, SamplerDefaults
from aip.sampling.schedules import NoiseSchedule


@dataclass
class DiffAEConfig:
    """Configuration of :class:`DiffAE`: ``sem_dim`` the semantic code's size, the encoder's two conv widths,
    and the decoder U-Net and schedule as for :class:`~aip.models.diffusion.DDPM`."""

    image_size: int = 28
    in_channels: int = 1
    sem_dim: int = 32
    encoder_channels: tuple[int, int] = (32, 64)
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    patch_size: int | None = None
    mid_attention: bool = True
    num_heads: int = 4
    schedule: str = "linear"
    prediction: str = "eps"
    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    sample_steps: int = 50
    code_momentum: float = 0.01
    lr: float = 2e-4

    def validate(self) -> None:
        check_int(self.sem_dim, "sem_dim", low=1)
        check_choice(self.schedule, "schedule", ("linear", "cosine"))
        check_choice(self.prediction, "prediction", ("eps", "v"))
        check_int(self.num_timesteps, "num_timesteps", low=2)
        check_int(self.sample_steps, "sample_steps", low=1, high=self.num_timesteps)
        check_positive(self.code_momentum, "code_momentum")
        check_positive(self.lr, "lr")


class DiffAE(GenerativeModel):
    """Diffusion autoencoder: semantic encoder + conditional DDIM decoder.

    Example
    -------
    >>> m = DiffAE(DiffAEConfig(sem_dim=8, encoder_channels=(8, 8), base_channels=8, num_timesteps=100))
    >>> x = torch.rand(2, 1, 28, 28)
    >>> m(x)["loss"].ndim
    0
    >>> m.reconstruct(x, steps=5).shape
    torch.Size([2, 1, 28, 28])
    """

    config_class = DiffAEConfig
    name = "diffae"

    def __init__(self, config: DiffAEConfig | None = None) -> None:
        config = config or DiffAEConfig()
        config.channel_mult = tuple(config.channel_mult)
        config.encoder_channels = tuple(config.encoder_channels)
        config.validate()
        super().__init__(config)
        self.encoder = ConvEncoder(config.in_channels, config.image_size, config.encoder_channels, config.sem_dim)
        patch = config.patch_size if config.patch_size is not None else (2 if config.image_size % 2 == 0 else 1)
        self.unet = UNet(UNetConfig(image_size=config.image_size, in_channels=config.in_channels,
                                    base_channels=config.base_channels, channel_mult=config.channel_mult,
                                    num_res_blocks=config.num_res_blocks, patch_size=patch,
                                    mid_attention=config.mid_attention, num_heads=config.num_heads,
                                    cond_dim=config.sem_dim))
        self.schedule = NoiseSchedule(config.schedule, config.num_timesteps, beta_start=config.beta_start,
                                      beta_end=config.beta_end)
        self.register_buffer("code_mean", torch.zeros(config.sem_dim))
        self.register_buffer("code_var", torch.ones(config.sem_dim))

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        return {"lr": float(self.config.lr)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The semantic code z_sem (B, sem_dim) of images in [0, 1]."""
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        return self.encoder(to_signed(x))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        z = self.encode(x)
        if self.training:
            with torch.no_grad():
                m = self.config.code_momentum
                self.code_mean.lerp_(z.mean(0), m)
                self.code_var.lerp_(z.var(0, unbiased=False) if len(z) > 1 else self.code_var, m)
        return {"loss": simple_loss(self.unet, self.schedule, to_signed(x), prediction=self.config.prediction,
                                    vector=z)}

    def pipeline(self) -> DiffusionPipeline:
        cfg = self.config
        return DiffusionPipeline(self.unet, self.schedule, prediction=cfg.prediction,
                                 defaults=SamplerDefaults("ddim", cfg.sample_steps, 0.0, 1.0))

    @torch.no_grad()
    def invert(self, x: torch.Tensor, z_sem: torch.Tensor | None = None, *, steps: int | None = None) -> torch.Tensor:
        """The stochastic code x_T: deterministic DDIM inversion of ``x`` under its semantic code."""
        z_sem = self.encode(x) if z_sem is None else z_sem
        return self.pipeline().invert(to_signed(x), cond=Conditioning(vector=z_sem),
                                      steps=steps or self.config.sample_steps)

    @torch.no_grad()
    def decode(self, z_sem: torch.Tensor, x_T: torch.Tensor, *, steps: int | None = None) -> torch.Tensor:
        """Images in [0, 1] from the two codes by deterministic DDIM (no clipping, so inversion round-trips)."""
        x = self.pipeline().sample(x_T, cond=Conditioning(vector=z_sem), sampler="ddim", eta=0.0,
                                   steps=steps or self.config.sample_steps, clip_sample=False)
        return to_unit(x).clamp(0.0, 1.0)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, *, steps: int | None = None) -> torch.Tensor:
        z = self.encode(x)
        return self.decode(z, self.invert(x, z, steps=steps), steps=steps)

    @torch.no_grad()
    def interpolate(self, a: torch.Tensor, b: torch.Tensor, n: int = 8, *, steps: int | None = None) -> torch.Tensor:
        """``n`` images from ``a`` to ``b`` (each (1, C, H, W)): z_sem linear, x_T spherical (slerp)."""
        n = check_int(n, "n", low=2)
        za, zb = self.encode(a), self.encode(b)
        ta, tb = self.invert(a, za, steps=steps), self.invert(b, zb, steps=steps)
        w = torch.linspace(0, 1, n, device=a.device).view(-1, 1)
        z = (1 - w) * za + w * zb
        fa, fb = ta.flatten(1), tb.flatten(1)
        omega = torch.arccos((F.normalize(fa, dim=1) * F.normalize(fb, dim=1)).sum().clamp(-1 + 1e-7, 1 - 1e-7))
        xt = (torch.sin((1 - w) * omega) * fa + torch.sin(w * omega) * fb) / torch.sin(omega)
        return self.decode(z, xt.view(n, *a.shape[1:]), steps=steps)

    @torch.no_grad()
    def manipulate(self, x: torch.Tensor, direction: torch.Tensor, scales: list[float] | torch.Tensor, *,
                   steps: int | None = None) -> torch.Tensor:
        """``x`` (1, C, H, W) decoded with ``z_sem + s * direction / |direction|`` for each scale s (its own x_T
        kept), e.g. the normal of a linear classifier of an attribute on the codes (stroke thickness, slant)."""
        z = self.encode(x)
        xt = self.invert(x, z, steps=steps)
        s = torch.as_tensor(scales, dtype=z.dtype, device=z.device).view(-1, 1)
        d = direction.to(z).view(1, -1)
        zs = z + s * d / d.norm().clamp_min(1e-12)
        return self.decode(zs, xt.expand(len(s), *xt.shape[1:]), steps=steps)

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               steps: int | None = None, temperature: float = 1.0, **kwargs: Any) -> torch.Tensor:
        """New images: z_sem from the Gaussian of the training codes (temperature scales its spread), x_T from
        N(0, I), decoded by DDIM (a stand-in for the paper's latent DDIM over the codes)."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected steps, temperature")
        n = check_int(n, "n", low=1)
        dev = self.code_mean.device
        cfg = self.config
        z = torch.randn(n, cfg.sem_dim, generator=generator).to(dev) * self.code_var.sqrt() * float(temperature) \
            + self.code_mean
        xt = torch.randn(n, cfg.in_channels, cfg.image_size, cfg.image_size, generator=generator).to(dev)
        return self.decode(z, xt, steps=steps)
