"""Conditional diffusion for restoration: SR3 (Saharia et al. 2022) and Palette (Saharia et al. 2022).

"Learning to sample, instead of learning to regress": a U-Net predicts the noise of x_t given the observation,
concatenated to x_t as extra channels (:class:`aip.sampling.Conditioning` ``image``), and restoring is sampling
the pipeline from noise with that condition, so each call draws one plausible restoration (seeded):

* ``task="sr"`` (SR3): the condition is the low-resolution image upsampled bicubically to the output size;
  the training pairs are the data decimated by ``scale`` (:class:`aip.data.Degraded`).
* ``task="inpaint"`` (Palette): the condition is the image with its holes zeroed and the mask; the model cuts
  its own training holes, a random mix of scattered pixels (30-90% missing) and boxes (a quarter to a half of the
  side); known pixels are pasted back after sampling.
* ``task="colorize"`` (Palette): the condition is the luma; the output has ``channels`` (3) channels.

Training is the DDPM loss L_simple on x_0 in [-1, 1] with the condition kept clean, as in both papers.

References
----------
C. Saharia, J. Ho, W. Chan, T. Salimans, D. J. Fleet, M. Norouzi, "Image super-resolution via iterative
refinement", IEEE TPAMI 2022 (SR3).
C. Saharia, W. Chan, H. Chang, C. Lee, J. Ho, T. Salimans, D. Fleet, M. Norouzi, "Palette: image-to-image
diffusion models", SIGGRAPH 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import RestorationModel
from aip.models.layers import to_signed, to_unit
from aip.models.restorers import _check_batch, bicubic_up
from aip.models.unet import UNet, UNetConfig
from aip.sampling.pipelines import SAMPLERS, Conditioning, DiffusionPipeline, SamplerDefaults
from aip.sampling.schedules import NoiseSchedule

__all__ = ["SR3", "ConditionalDiffusion", "ConditionalDiffusionConfig", "Palette", "training_masks"]


@dataclass
class ConditionalDiffusionConfig:
    """The task (``sr``, ``inpaint``, ``colorize``), the target's ``channels`` and ``image_size`` (the U-Net's),
    ``scale`` for SR, the U-Net (``base_channels``, ``channel_mult``, ``num_res_blocks``, ``patch_size``), the
    noise schedule and the sampler used by :meth:`ConditionalDiffusion.restore` (DDIM, 50 steps by default)."""

    task: Literal["sr", "inpaint", "colorize"] = "sr"
    channels: int = 1
    image_size: int = 28
    scale: int = 4
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    patch_size: int | None = None
    schedule: str = "linear"
    num_timesteps: int = 1000
    sampler: str = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    lr: float = 2e-4

    @property
    def data_scale(self) -> int:
        """How much the training data's observations are decimated: ``scale`` for SR, else 1."""
        return self.scale if self.task == "sr" else 1

    @property
    def cond_channels(self) -> int:
        return {"sr": self.channels, "inpaint": self.channels + 1, "colorize": 1}[self.task]

    def validate(self) -> None:
        check_choice(self.task, "task", ("sr", "inpaint", "colorize"))
        if self.channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (gray) or 3 (colour), got {self.channels}")
        if self.task == "colorize" and self.channels != 3:
            raise ValueError(f"task colorize: expected colour targets (channels 3), got channels {self.channels}")
        if self.task == "sr" and self.scale not in (2, 3, 4):
            raise ValueError(f"scale: expected 2, 3 or 4, got {self.scale}")
        check_int(self.image_size, "image_size", low=4)
        check_choice(self.schedule, "schedule", ("linear", "cosine"))
        check_int(self.num_timesteps, "num_timesteps", low=2)
        check_choice(self.sampler, "sampler", tuple(SAMPLERS))
        check_int(self.sample_steps, "sample_steps", low=1, high=self.num_timesteps)
        check_positive(self.eta, "eta", allow_zero=True)
        check_positive(self.lr, "lr")

    def unet_config(self) -> UNetConfig:
        patch = self.patch_size or (2 if self.image_size % 2 == 0 else 1)
        return UNetConfig(image_size=self.image_size, in_channels=self.channels, base_channels=self.base_channels,
                          channel_mult=tuple(self.channel_mult), num_res_blocks=self.num_res_blocks,
                          patch_size=patch, cond_channels=self.cond_channels, num_heads=4)


def training_masks(n: int, h: int, w: int, *, generator: torch.Generator | None = None,
                   device: Any = "cpu") -> torch.Tensor:
    """(n, 1, h, w) boolean masks, True where missing: half scattered pixels (30-90% missing), half a box."""
    g = generator
    frac = 0.3 + 0.6 * torch.rand(n, 1, 1, 1, generator=g, device=device)
    scattered = torch.rand(n, 1, h, w, generator=g, device=device) < frac
    side = (torch.rand(n, generator=g, device=device) * 0.25 + 0.25) * min(h, w)
    top = torch.rand(n, generator=g, device=device) * (h - side)
    left = torch.rand(n, generator=g, device=device) * (w - side)
    ys = torch.arange(h, device=device).view(1, h, 1)
    xs = torch.arange(w, device=device).view(1, 1, w)
    box = ((ys >= top.view(-1, 1, 1)) & (ys < (top + side).view(-1, 1, 1))
           & (xs >= left.view(-1, 1, 1)) & (xs < (left + side).view(-1, 1, 1)))[:, None]
    use_box = (torch.rand(n, 1, 1, 1, generator=g, device=device) < 0.5)
    return torch.where(use_box, box, scattered)


class ConditionalDiffusion(RestorationModel):
    """A DDPM whose U-Net sees the observation (SR3 / Palette); ``restore`` samples a restoration."""

    name: ClassVar[str] = "conditional_diffusion"
    config_class = ConditionalDiffusionConfig

    def __init__(self, config: ConditionalDiffusionConfig | None = None) -> None:
        config = config or ConditionalDiffusionConfig()
        config.channel_mult = tuple(config.channel_mult)
        config.validate()
        super().__init__(config)
        self.unet = UNet(config.unet_config())
        self.schedule = NoiseSchedule(config.schedule, config.num_timesteps)

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        return {"lr": float(self.config.lr)}

    def pipeline(self) -> DiffusionPipeline:
        cfg = self.config
        return DiffusionPipeline(self.unet, self.schedule, defaults=SamplerDefaults(cfg.sampler, cfg.sample_steps,
                                                                                    cfg.eta))

    # -- the condition ---------------------------------------------------------------------------------
    def condition(self, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The condition image on the [-1, 1] scale from an observation ``y`` in [0, 1] (and ``mask``)."""
        cfg = self.config
        if cfg.task == "sr":
            _check_batch(y, cfg.channels)
            return to_signed(bicubic_up(y, cfg.scale).clamp(0, 1))
        if cfg.task == "colorize":
            _check_batch(y, 1)
            return to_signed(y)
        _check_batch(y, cfg.channels)
        if mask is None:
            raise ValueError("mask: Palette inpainting needs the mask of missing pixels, got None")
        m = mask.to(y.dtype).expand(y.shape[0], 1, *y.shape[-2:])
        return torch.cat([to_signed(y) * (1 - m), m], dim=1)

    def _output_size(self, y: torch.Tensor) -> tuple[int, int]:
        h, w = y.shape[-2:]
        return (h * self.config.scale, w * self.config.scale) if self.config.task == "sr" else (h, w)

    # -- training --------------------------------------------------------------------------------------
    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        cfg = self.config
        x = batch["x"]
        _check_batch(x, cfg.channels, "x")
        if cfg.task == "inpaint":
            mask = training_masks(x.shape[0], *x.shape[-2:], device=x.device)
            cond = self.condition(x * ~mask, mask)
        elif cfg.task == "colorize":
            from aip.data.tasks import luma

            cond = self.condition(luma(x))
        else:
            cond = self.condition(batch["y"])
        x0 = to_signed(x)
        t = torch.randint(0, cfg.num_timesteps, (x.shape[0],), device=x.device)
        noise = torch.randn_like(x0)
        xt = self.schedule.q_sample(x0, t, noise)
        loss = F.mse_loss(self.unet(xt, t, image=cond), noise)
        return {"loss": loss}

    def evaluation_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Held-out inpainting is scored on a fixed box hole (the middle half of each side); colorization on the
        luma; SR on the data's own low-resolution images."""
        x = batch["x"]
        if self.config.task == "inpaint":
            h, w = x.shape[-2:]
            mask = torch.zeros(x.shape[0], 1, h, w, dtype=torch.bool)
            mask[..., h // 4: h - h // 4, w // 4: w - w // 4] = True
            return {**batch, "y": x * ~mask, "mask": mask}
        if self.config.task == "colorize":
            from aip.data.tasks import luma

            return {**batch, "y": luma(x)}
        return batch

    # -- restoring -------------------------------------------------------------------------------------
    def restore(self, y: torch.Tensor, *, sigma: Any = None, mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None, steps: int | None = None, **kwargs: Any) -> torch.Tensor:
        """One sampled restoration (B, channels, H', W') of ``y`` in [0, 1]: SR of a low-resolution batch,
        inpainting where ``mask`` (B or 1, 1, H, W; True = missing) is set, or colorization of a gray batch."""
        cond = self.condition(y, mask)
        h, w = self._output_size(y)
        shape = (y.shape[0], self.config.channels, h, w)
        x = self.pipeline().sample(shape, cond=Conditioning(image=cond), steps=steps, generator=generator)
        out = to_unit(x)
        if self.config.task == "inpaint":
            out = torch.where(mask.to(torch.bool).expand_as(out), out, y)
        return out


class SR3(ConditionalDiffusion):
    """SR3: conditional diffusion super-resolution (``task="sr"``, x4 on 28x28 digits by default)."""

    name: ClassVar[str] = "sr3"


@dataclass
class PaletteConfig(ConditionalDiffusionConfig):
    task: Literal["sr", "inpaint", "colorize"] = "inpaint"


class Palette(ConditionalDiffusion):
    """Palette: conditional diffusion inpainting (default) or colorization (``task="colorize"``)."""

    name: ClassVar[str] = "palette"
    config_class = PaletteConfig
