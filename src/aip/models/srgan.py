"""SRResNet and SRGAN (Ledig et al. 2017): a residual super-resolution generator, trained for PSNR alone
(SRResNet) or with a discriminator (SRGAN).

The paper's content loss compares VGG-19 features; no VGG weights can be had here, so SRGAN's content loss
is the pixel MSE plus **discriminator feature matching** (the L1 distance between the discriminator's
intermediate features of real and generated images, as in pix2pixHD), a perceptual-like term from a network
trained alongside. ``content_weight``/``feature_weight``/``adv_weight`` set the mix.

References
----------
C. Ledig et al., "Photo-realistic single image super-resolution using a generative adversarial network",
CVPR 2017.
T.-C. Wang et al., "High-resolution image synthesis and semantic manipulation with conditional GANs"
(pix2pixHD: feature matching), CVPR 2018.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from aip.models.base import RestorationModel, TwoPlayer
from aip.models.restorers import _check_batch, bicubic_up

__all__ = ["SRGAN", "SRGANConfig", "SRResNet", "SRResNetConfig"]


@dataclass
class SRResNetConfig:
    """SRResNet: ``n_blocks`` residual blocks of ``features`` channels (the paper: 16 of 64) and
    sub-pixel upsampling by ``scale`` (2, 3 or 4)."""

    channels: int = 1
    scale: int = 4
    n_blocks: int = 16
    features: int = 64
    loss: Literal["l1", "l2"] = "l2"
    lr: float = 1e-4

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (gray) or 3 (colour), got {self.channels}")
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale: expected 2, 3 or 4, got {self.scale}")
        if self.n_blocks < 1 or self.features < 1:
            raise ValueError(f"n_blocks, features: expected positive sizes, got {self.n_blocks}, {self.features}")


class _ResBlock(nn.Module):
    def __init__(self, f: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f), nn.PReLU(f),
                                  nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """The SRResNet generator: conv 9x9, residual blocks with a long skip, sub-pixel upsampling, conv 9x9;
    its output is added to the bicubic upsampling (the network learns the detail)."""

    def __init__(self, c: int, scale: int, n_blocks: int, f: int) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(c, f, 9, padding=4), nn.PReLU(f))
        self.blocks = nn.Sequential(*[_ResBlock(f) for _ in range(n_blocks)],
                                    nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f))
        ups: list[nn.Module] = []
        for s in ([2, 2] if scale == 4 else [scale]):
            ups += [nn.Conv2d(f, f * s * s, 3, padding=1), nn.PixelShuffle(s), nn.PReLU(f)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(f, c, 9, padding=4)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h = self.head(y)
        return bicubic_up(y, self.scale) + self.tail(self.up(h + self.blocks(h)))


class SRResNet(RestorationModel):
    """SRResNet: the generator trained with the pixel loss (the PSNR-oriented twin of :class:`SRGAN`)."""

    name: ClassVar[str] = "srresnet"
    config_class = SRResNetConfig

    def __init__(self, config: SRResNetConfig | None = None) -> None:
        config = config or SRResNetConfig()
        config.validate()
        super().__init__(config)
        self.generator = Generator(config.channels, config.scale, config.n_blocks, config.features)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        _check_batch(y, self.config.channels)
        return self.generator(y)


@dataclass
class SRGANConfig(SRResNetConfig):
    """SRGAN: the SRResNet generator plus a discriminator of ``d_features`` base channels (doubling every
    other layer, 8 convolutions as in the paper); loss = ``content_weight`` MSE + ``feature_weight`` feature
    matching + ``adv_weight`` adversarial (``gan_loss``: non-saturating, hinge or least-squares).
    ``init``: a run of ``aip train srresnet`` of the same shape whose (EMA) generator starts the GAN, as in
    the paper ("" starts from scratch)."""

    init: str = ""
    d_features: int = 64
    content_weight: float = 1.0
    feature_weight: float = 1.0
    adv_weight: float = 1e-3
    gan_loss: Literal["non_saturating", "hinge", "least_squares"] = "non_saturating"
    betas: tuple[float, float] = (0.9, 0.999)


class Discriminator(nn.Module):
    """Strided 3x3 convolutions with LeakyReLU (BN after the first), global pooling and a 2-layer head;
    :meth:`features` gives the activation of every stage (for feature matching)."""

    def __init__(self, c: int, f: int) -> None:
        super().__init__()
        chans = [f, f, 2 * f, 2 * f, 4 * f, 4 * f, 8 * f, 8 * f]
        layers: list[nn.Module] = []
        prev = c
        for i, ch in enumerate(chans):
            stage = [nn.Conv2d(prev, ch, 3, stride=1 + i % 2, padding=1)]
            if i:
                stage.append(nn.BatchNorm2d(ch))
            stage.append(nn.LeakyReLU(0.2, inplace=True))
            layers.append(nn.Sequential(*stage))
            prev = ch
        self.stages = nn.ModuleList(layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev, 4 * f),
                                  nn.LeakyReLU(0.2, inplace=True), nn.Linear(4 * f, 1))

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return self.head(x).squeeze(1), feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]


class SRGAN(TwoPlayer, SRResNet):
    """SRGAN: two phases per step, ``"d"`` (discriminator on real vs generated) then ``"g"`` (generator)."""

    name: ClassVar[str] = "srgan"
    config_class = SRGANConfig
    init_fields = ("init",)

    def __init__(self, config: SRGANConfig | None = None) -> None:
        config = config or SRGANConfig()
        super().__init__(config)
        self.discriminator = Discriminator(config.channels, config.d_features)
        if config.init:
            self.generator.load_state_dict(self._init_generator(config).state_dict())

    @staticmethod
    def _init_generator(config: SRGANConfig) -> nn.Module:
        from aip.train.run import load_run  # imported here: train sits above models

        model, _ = load_run(config.init, ema=True)
        if not isinstance(model, SRResNet) or isinstance(model, SRGAN):
            raise TypeError(f"init: expected a run of aip train srresnet, got one of {type(model).__name__}")
        shape = ("channels", "scale", "n_blocks", "features")
        want, got = ([getattr(c, k) for k in shape] for c in (config, model.config))
        if want != got:
            raise ValueError(f"init: expected an srresnet of channels, scale, n_blocks, features = {want}, "
                             f"got {got}")
        return model.generator

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        from aip.train.losses import feature_matching, gan_d_loss, gan_g_loss

        cfg = self.config
        x, y = batch["x"], batch["y"]
        if phase == "d":
            with torch.no_grad():
                fake = self.generator(y)
            loss = gan_d_loss(self.discriminator(x), self.discriminator(fake), kind=cfg.gan_loss)
            return {"loss": loss, "d_loss": loss.detach()}
        if phase != "g":
            raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")
        fake = self.generator(y)
        logit_f, feat_f = self.discriminator.features(fake)
        with torch.no_grad():
            _, feat_r = self.discriminator.features(x)
        mse = (fake - x).square().mean()
        fm = feature_matching(feat_r, feat_f)
        adv = gan_g_loss(logit_f, kind=cfg.gan_loss)
        loss = cfg.content_weight * mse + cfg.feature_weight * fm + cfg.adv_weight * adv
        return {"loss": loss, "mse": mse.detach(), "feature": fm.detach(), "adv": adv.detach()}
