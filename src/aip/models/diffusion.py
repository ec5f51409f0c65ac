"""DDPM: a noise-prediction U-Net with its noise schedule, trained with L_simple (Ho et al. 2020).

Training (Algorithm 1): x_0 in [-1, 1] (the [0, 1] batch rescaled), t ~ U{0..T-1} (or log-normal in the noise
level, ``t_sampling="lognormal"``), eps ~ N(0, I),
``L_simple = || eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t, y) ||^2`` (mean over
pixels). With ``prediction="v"`` the network predicts instead ``v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0``
(Salimans & Ho 2022) and the loss is the MSE on v; :class:`~aip.sampling.DiffusionPipeline` converts the output to
``eps = sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v`` so the samplers, guidance and inversion are shared.
For classifier-free guidance (Ho & Salimans 2021) a conditional model replaces each label by the null
label with probability ``p_uncond`` (0.1), so one network gives both eps(x, t, y) and eps(x, t, null).

Sampling goes through :meth:`DDPM.pipeline` (:class:`aip.sampling.DiffusionPipeline`): DDPM ancestral steps (Algorithm 2) or DDIM with ``eta``; guidance
``w`` combines ``eps_u + w (eps_c - eps_u)`` (w = 1: the conditional model, w = 0: unconditional); a
:class:`NoiseAwareClassifier` adds classifier guidance (Dhariwal & Nichol 2021).

References
----------
Ho, Jain, Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
Song, Meng, Ermon, "Denoising Diffusion Implicit Models", ICLR 2021.
Ho, Salimans, "Classifier-Free Diffusion Guidance", 2021.
Dhariwal, Nichol, "Diffusion Models Beat GANs on Image Synthesis", NeurIPS 2021.
Salimans, Ho, "Progressive Distillation for Fast Sampling of Diffusion Models", ICLR 2022 (v-prediction).
Karras, Aittala, Aila, Laine, "Elucidating the Design Space of Diffusion-Based Generative Models", NeurIPS 2022.
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
    Downsample,
    ResBlock,
    check_image_batch,
    check_labels,
    group_norm,
    sinusoidal_embedding,
    to_signed,
    to_unit,
)
from aip.models.unet import UNet, UNetConfig
from aip.sampling.pipelines import SAMPLERS, DiffusionPipeline, SamplerDefaults
from aip.sampling.schedules import NoiseSchedule


def simple_loss(unet: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor | None = None, *,
                y: torch.Tensor | None = None, p_uncond: float = 0.0, prediction: str = "eps",
                **condition: Any) -> torch.Tensor:
    """L_simple of a noise-prediction network on clean ``x0`` (its own scale: [-1, 1] pixels, or latents):
    ``|| target - unet(q_sample(x0, t, eps), t, y, **condition) ||^2`` with target eps (or v), ``t`` uniform
    when None, and each label replaced by the network's null label with probability ``p_uncond``
    (classifier-free guidance). Shared by :class:`DDPM`, latent diffusion and the diffusion autoencoder."""
    b = x0.shape[0]
    if t is None:
        t = torch.randint(0, schedule.num_timesteps, (b,), device=x0.device)
    noise = torch.randn_like(x0)
    xt = schedule.q_sample(x0, t, noise)
    if y is not None and p_uncond > 0:
        drop = torch.rand(b, device=x0.device) < p_uncond
        y = torch.where(drop, torch.full_like(y, unet.null_label), y)
    target = schedule.predict_v(x0, t, noise) if prediction == "v" else noise
    return F.mse_loss(unet(xt, t, y, **condition), target)


@dataclass
class DDPMConfig:
    """Configuration of :class:`DDPM` (network, schedule, label dropout, optimiser defaults for the trainer).

    The default network (about 0.8 M parameters) works on a 2x2 space-to-depth view of 28x28 images with
    three resolutions (14, 7, 4) and attention at the lowest. ``patch_size=None`` means 2 for even image sides
    and 1 for odd ones. ``prediction`` is the network's target: ``"eps"`` (the noise, Ho 2020) or ``"v"``
    (Salimans & Ho 2022). ``t_sampling`` picks the training timesteps: ``"uniform"`` (Ho 2020) or
    ``"lognormal"`` in the noise level (Karras et al. 2022; see :meth:`DDPM.training_timesteps`).
    """

    image_size: int = 28
    in_channels: int = 1
    num_classes: int = 0
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    patch_size: int | None = None
    mid_attention: bool = True
    num_heads: int = 4
    dropout: float = 0.0
    schedule: str = "linear"
    prediction: str = "eps"
    t_sampling: str = "uniform"
    t_log_mean: float = -1.2
    t_log_std: float = 1.2
    t_uniform_share: float = 0.25
    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    p_uncond: float = 0.1
    sampler: str = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    guidance: float = 1.0
    lr: float = 2e-4
    channels_last: bool = True

    def validate(self) -> None:
        check_choice(self.schedule, "schedule", ("linear", "cosine"))
        check_choice(self.prediction, "prediction", ("eps", "v"))
        check_choice(self.t_sampling, "t_sampling", ("uniform", "lognormal"))
        check_positive(self.t_log_std, "t_log_std")
        check_fraction(self.t_uniform_share, "t_uniform_share")
        check_choice(self.sampler, "sampler", tuple(SAMPLERS))
        check_int(self.num_timesteps, "num_timesteps", low=2)
        check_int(self.sample_steps, "sample_steps", low=1, high=self.num_timesteps)
        check_fraction(self.p_uncond, "p_uncond")
        check_positive(self.eta, "eta", allow_zero=True)
        check_positive(self.guidance, "guidance", allow_zero=True)
        check_positive(self.lr, "lr")

    def resolved_patch_size(self) -> int:
        if self.patch_size is None:
            return 2 if self.image_size % 2 == 0 else 1
        return self.patch_size

    def unet_config(self) -> UNetConfig:
        return UNetConfig(image_size=self.image_size, in_channels=self.in_channels,
                          base_channels=self.base_channels, channel_mult=tuple(self.channel_mult),
                          num_res_blocks=self.num_res_blocks, patch_size=self.resolved_patch_size(),
                          mid_attention=self.mid_attention, num_heads=self.num_heads,
                          num_classes=self.num_classes, dropout=self.dropout,
                          channels_last=self.channels_last)


class DDPM(GenerativeModel):
    """Denoising diffusion probabilistic model with classifier-free guidance.

    Example
    -------
    >>> model = DDPM(DDPMConfig(num_classes=10, base_channels=8, num_timesteps=100))
    >>> model(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))["loss"].shape
    torch.Size([])
    >>> model.sample(2, y=torch.tensor([7, 7]), steps=5, guidance=3.0).shape
    torch.Size([2, 1, 28, 28])
    """

    config_class = DDPMConfig
    name = "ddpm"

    def __init__(self, config: DDPMConfig | None = None) -> None:
        config = config or DDPMConfig()
        config.channel_mult = tuple(config.channel_mult)
        config.validate()
        super().__init__(config)
        self.unet = UNet(config.unet_config())
        self.schedule = NoiseSchedule(config.schedule, config.num_timesteps, beta_start=config.beta_start,
                                      beta_end=config.beta_end)

    # -- training ---------------------------------------------------------------------------------------
    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """Adam defaults for the trainer (``lr`` from the config)."""
        return {"lr": float(self.config.lr)}

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        cfg = self.config
        check_image_batch(x, cfg.in_channels, cfg.image_size)
        y = check_labels(y, x.shape[0], cfg.num_classes)
        x0 = to_signed(x)
        t = self.training_timesteps(x0.shape[0], x.device)
        return {"loss": simple_loss(self.unet, self.schedule, x0, t, y=y, p_uncond=cfg.p_uncond,
                                    prediction=cfg.prediction)}

    def training_timesteps(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """``n`` training timesteps: uniform (Ho 2020) or log-normal in the noise level (Karras et al. 2022).

        ``"lognormal"`` draws ``ln sigma ~ N(t_log_mean, t_log_std^2)`` with ``sigma = sqrt((1 - a_t) / a_t)`` and
        takes the timestep of the nearest sigma; a share ``t_uniform_share`` of the draws stays uniform, so the
        high-noise end where sampling starts is still trained.
        """
        cfg = self.config
        T = cfg.num_timesteps
        if cfg.t_sampling == "uniform":
            return torch.randint(0, T, (n,), device=device)
        log_sigma = -0.5 * torch.log(self.schedule.snr()).to(device)  # increasing in t
        draw = torch.randn(n, device=device, dtype=log_sigma.dtype) * cfg.t_log_std + cfg.t_log_mean
        hi = torch.searchsorted(log_sigma, draw).clamp(1, T - 1)  # the nearer of the two grid points around
        t = torch.where((draw - log_sigma[hi - 1]).abs() < (log_sigma[hi] - draw).abs(), hi - 1, hi)
        uniform = torch.rand(n, device=device) < cfg.t_uniform_share
        return torch.where(uniform, torch.randint(0, T, (n,), device=device), t)

    # -- sampling: through the pipeline (aip.sampling.DiffusionPipeline) -----------------------------------
    def pipeline(self) -> DiffusionPipeline:
        """This model's network and schedule as a :class:`~aip.sampling.DiffusionPipeline` (shares the weights),
        with the config's sampler, steps, eta and guidance as defaults."""
        cfg = self.config
        return DiffusionPipeline(self.unet, self.schedule, prediction=cfg.prediction,
                                 defaults=SamplerDefaults(cfg.sampler, cfg.sample_steps, cfg.eta, cfg.guidance))

    def default_labels(self, n: int, device: torch.device) -> torch.Tensor | None:
        """Labels used when a conditional model is sampled without ``y``: 0, 1, ..., cycling."""
        if not self.config.num_classes:
            return None
        return torch.arange(n, device=device) % self.config.num_classes

    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               sampler: str | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, classifier: nn.Module | None = None, classifier_scale: float = 1.0,
               x_T: torch.Tensor | None = None, clip_sample: bool = True, spacing: str | None = None,
               progress: bool = False, **kwargs: Any) -> torch.Tensor:
        """Draw ``n`` images in [0, 1] with a sampler of :data:`aip.sampling.SAMPLERS` (default: config.sampler).

        ``y=None`` on a conditional model uses the labels 0, 1, 2, ... cycling. ``guidance`` is the
        classifier-free scale w; ``classifier`` (a :class:`NoiseAwareClassifier`) adds classifier guidance.
        ``clip_sample`` clips the x_0 estimate to [-1, 1] at each step (turn off to undo ``invert`` exactly);
        ``spacing`` picks how the ``steps`` timesteps are spread (:func:`aip.sampling.spaced_timesteps`; None:
        the sampler's default).
        """
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected sampler, steps, "
                            "eta, guidance, classifier, classifier_scale, x_T, clip_sample, spacing, progress")
        n = check_int(n, "n", low=1)
        device = next(self.parameters()).device
        y = check_labels(y, n, self.config.num_classes) if y is not None else self.default_labels(n, device)
        c, s = self.config.in_channels, self.config.image_size
        x = self.pipeline().sample(x_T if x_T is not None else (n, c, s, s), cond=y, sampler=sampler, steps=steps,
                                   eta=eta, guidance=guidance, classifier=classifier,
                                   classifier_scale=classifier_scale, clip_sample=clip_sample, spacing=spacing,
                                   generator=generator, progress=progress)
        return to_unit(x)

    def invert(self, images: torch.Tensor, *, y: torch.Tensor | None = None, steps: int = 50,
               guidance: float = 1.0) -> torch.Tensor:
        """DDIM inversion: the x_T that deterministic DDIM (eta = 0, same steps) maps back to ``images``."""
        check_image_batch(images, self.config.in_channels, self.config.image_size, "images")
        y = check_labels(y, images.shape[0], self.config.num_classes, required=False)
        return self.pipeline().invert(to_signed(images), cond=y, steps=steps, guidance=guidance)


@dataclass
class NoiseAwareClassifierConfig:
    """Configuration of :class:`NoiseAwareClassifier` (a small time-conditioned CNN)."""

    image_size: int = 28
    in_channels: int = 1
    num_classes: int = 10
    base_channels: int = 32
    schedule: str = "linear"
    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02


class NoiseAwareClassifier(nn.Module):
    """Classifier p_phi(y | x_t, t) on noisy images, for classifier guidance (Dhariwal & Nichol 2021).

    ``forward(x_t, t)`` takes x_t on the diffusion scale ([-1, 1] data plus noise) and returns logits;
    ``training_loss(x, y)`` noises a clean [0, 1] batch at random timesteps and returns the cross-entropy.

    Example
    -------
    >>> clf = NoiseAwareClassifier(NoiseAwareClassifierConfig(base_channels=8))
    >>> clf(torch.zeros(2, 1, 28, 28), torch.tensor([0, 999])).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: NoiseAwareClassifierConfig | None = None) -> None:
        super().__init__()
        config = config or NoiseAwareClassifierConfig()
        check_int(config.num_classes, "num_classes", low=2)
        self.config = config
        c = config.base_channels
        emb = 4 * c
        self.schedule = NoiseSchedule(config.schedule, config.num_timesteps, beta_start=config.beta_start,
                                      beta_end=config.beta_end)
        self.time_mlp = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.conv_in = nn.Conv2d(config.in_channels, c, 3, padding=1)
        self.block1 = ResBlock(c, c, emb)
        self.down1 = Downsample(c)
        self.block2 = ResBlock(c, 2 * c, emb)
        self.down2 = Downsample(2 * c)
        self.block3 = ResBlock(2 * c, 2 * c, emb)
        self.norm = group_norm(2 * c)
        self.head = nn.Linear(2 * c, config.num_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        e = self.time_mlp(sinusoidal_embedding(t, self.config.base_channels))
        h = self.conv_in(x)
        h = self.down1(self.block1(h, e))
        h = self.down2(self.block2(h, e))
        h = F.silu(self.norm(self.block3(h, e)))
        return self.head(h.mean(dim=(2, 3)))

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cross-entropy on ``x`` ([0, 1]) noised to random timesteps; also returns the batch accuracy."""
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        y = check_labels(y, x.shape[0], self.config.num_classes)
        t = torch.randint(0, self.config.num_timesteps, (x.shape[0],), device=x.device)
        logits = self(self.schedule.q_sample(to_signed(x), t), t)
        return {"loss": F.cross_entropy(logits, y), "acc": (logits.argmax(1) == y).float().mean()}
