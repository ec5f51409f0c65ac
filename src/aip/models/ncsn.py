"""Noise-conditional score network (NCSN, Song & Ermon 2019) with annealed Langevin sampling.

The score network reuses the U-Net: ``s_theta(x, sigma) = unet(x, c(sigma)) / sigma`` where ``c`` maps
log sigma linearly onto [0, 999] for the sinusoidal embedding; the 1/sigma output scaling is the
"noise-conditional" parametrisation of Song & Ermon (2020), Technique 3. Data stay in [0, 1] as in the paper.

Loss (denoising score matching over geometric sigmas, weight lambda(sigma) = sigma^2):

    L = 1/2 E_{sigma, x, z} || sigma s_theta(x + sigma z, sigma) + z ||^2,

averaged over pixels (the paper sums; the mean only rescales the loss).

References
----------
Song, Ermon, "Generative Modeling by Estimating Gradients of the Data Distribution", NeurIPS 2019.
Song, Ermon, "Improved Techniques for Training Score-Based Generative Models", NeurIPS 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.layers import check_image_batch
from aip.models.unet import UNet, UNetConfig
from aip.sampling.langevin import AnnealedLangevinScheduler
from aip.sampling.pipelines import langevin_sample
from aip.sampling.schedules import geometric_sigmas


@dataclass
class NCSNConfig:
    """Configuration of :class:`NCSN`: network, noise levels, Langevin defaults (Song & Ermon 2019: sigma_1 = 1,
    sigma_L = 0.01, L = 10, T = 100 steps per level, epsilon = 2e-5)."""

    image_size: int = 28
    in_channels: int = 1
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    patch_size: int | None = None
    mid_attention: bool = True
    sigma_max: float = 1.0
    sigma_min: float = 0.01
    num_sigmas: int = 10
    n_steps_each: int = 100
    step_lr: float = 2e-5
    lr: float = 1e-3
    channels_last: bool = True

    def validate(self) -> None:
        check_positive(self.sigma_max, "sigma_max")
        check_positive(self.sigma_min, "sigma_min")
        if self.sigma_min >= self.sigma_max:
            raise ValueError(f"sigmas: expected sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")
        check_int(self.num_sigmas, "num_sigmas", low=2)
        check_int(self.n_steps_each, "n_steps_each", low=1)
        check_positive(self.step_lr, "step_lr")
        check_positive(self.lr, "lr")


class NCSN(GenerativeModel):
    """Score model over geometric noise levels, sampled by annealed Langevin dynamics.

    Example
    -------
    >>> model = NCSN(NCSNConfig(base_channels=8))
    >>> float(model(torch.rand(2, 1, 28, 28))["loss"]) > 0
    True
    """

    config_class = NCSNConfig
    name = "ncsn"

    def __init__(self, config: NCSNConfig | None = None) -> None:
        config = config or NCSNConfig()
        config.channel_mult = tuple(config.channel_mult)
        config.validate()
        super().__init__(config)
        self.unet = UNet(UNetConfig(image_size=config.image_size, in_channels=config.in_channels,
                                    base_channels=config.base_channels, channel_mult=config.channel_mult,
                                    num_res_blocks=config.num_res_blocks,
                                    patch_size=config.patch_size or (2 if config.image_size % 2 == 0 else 1),
                                    mid_attention=config.mid_attention, channels_last=config.channels_last))
        self.register_buffer("sigmas", geometric_sigmas(config.sigma_max, config.sigma_min,
                                                        config.num_sigmas).float(), persistent=False)

    def _noise_input(self, sigma: torch.Tensor) -> torch.Tensor:
        lo, hi = math.log(self.config.sigma_min), math.log(self.config.sigma_max)
        return (torch.log(sigma) - lo) / (hi - lo) * 999.0

    def score(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """s_theta(x, sigma) ~ grad_x log p_sigma(x); ``sigma`` scalar or (B,)."""
        sigma = torch.as_tensor(sigma, device=x.device, dtype=x.dtype)
        if sigma.ndim == 0:
            sigma = sigma.expand(x.shape[0])
        return self.unet(x, self._noise_input(sigma)) / sigma.view(-1, 1, 1, 1)

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """Adam defaults for the trainer (``lr`` from the config)."""
        return {"lr": float(self.config.lr)}

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        if y is not None:
            raise ValueError("y: NCSN is unconditional, got labels")
        idx = torch.randint(0, self.sigmas.numel(), (x.shape[0],), device=x.device)
        sigma = self.sigmas[idx].to(x.dtype)
        z = torch.randn_like(x)
        s = self.score(x + sigma.view(-1, 1, 1, 1) * z, sigma)
        loss = 0.5 * (sigma.view(-1, 1, 1, 1) * s + z).square().mean()
        return {"loss": loss}

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               n_steps_each: int | None = None, step_lr: float | None = None, denoise: bool = True,
               sampler: str | None = None, steps: int | None = None, progress: bool = False,
               **kwargs: Any) -> torch.Tensor:
        """Annealed Langevin dynamics from uniform noise (Song & Ermon 2019, Algorithm 1), clamped to [0, 1].

        ``steps`` is an alias of ``n_steps_each`` (Langevin updates per noise level); ``sampler`` may only be
        ``"langevin"``.
        """
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected n_steps_each, "
                            "steps, step_lr, denoise, sampler, progress")
        if sampler is not None:
            check_choice(sampler, "sampler", ("langevin",))
        if steps is not None and n_steps_each is None:
            n_steps_each = steps
        if y is not None:
            raise ValueError("y: NCSN is unconditional, got labels")
        n = check_int(n, "n", low=1)
        cfg = self.config
        sched = AnnealedLangevinScheduler(self.sigmas.double().cpu(), n_steps_each=n_steps_each or cfg.n_steps_each,
                                          step_lr=step_lr or cfg.step_lr)
        sigmas = self.sigmas
        device = sigmas.device
        was_training = self.training
        self.eval()
        try:
            x = langevin_sample(lambda x, i: self.score(x, sigmas[int(i)]), sched,
                                (n, cfg.in_channels, cfg.image_size, cfg.image_size), generator=generator,
                                device=device, denoise=denoise, progress=progress)
        finally:
            self.train(was_training)
        return x.clamp(0, 1)
