"""Image-to-image translation with paired data: pix2pix (Isola et al. 2017).

A U-Net generator G maps a source image y (edges, a gray image, a degraded image) to the target domain x; a
PatchGAN discriminator D scores (y, x) pairs patch by patch, so it judges local texture while the L1 term keeps
the low frequencies right. The objective is ``min_G max_D  L_cGAN(G, D) + lambda * ||x - G(y)||_1`` (lambda 100
in the paper). The patch size is the discriminator's receptive field, an option as in the paper's Table 3:
``"1"`` (PixelGAN: 1x1 convolutions), ``"16"``, ``"70"`` (the paper's default) and ``"full"`` (ImageGAN: strided
layers until one score covers the whole image); :func:`receptive_field` computes it from the layers.
``gan_weight=0`` trains the L1-only U-Net, the paper's baseline.

Translation tasks (what makes y from a target image x, batch by batch) are in :mod:`aip.data.tasks`:
``edges`` (a fixed Sobel edge detector), ``colorize`` (luma of a colour image) and ``degrade`` (the run's
``--noise``/``--blur``).

References
----------
P. Isola, J.-Y. Zhu, T. Zhou and A. A. Efros, "Image-to-image translation with conditional adversarial
networks", CVPR 2017.
O. Ronneberger, P. Fischer and T. Brox, "U-Net", MICCAI 2015.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import RestorationModel
from aip.models.restorers import _check_batch

__all__ = ["PATCH_SIZES", "PatchDiscriminator", "Pix2Pix", "Pix2PixConfig", "UNetGenerator", "receptive_field"]

PATCH_SIZES = ("1", "16", "70", "full")
TASKS = ("edges", "colorize", "degrade")


def _norm(c: int) -> nn.Module:
    return nn.BatchNorm2d(c)


class UNetGenerator(nn.Module):
    """The pix2pix U-Net: ``depth`` 4x4 stride-2 convolutions down (LeakyReLU 0.2, batch norm but on the first),
    as many transposed convolutions up (ReLU, dropout 0.5 on the innermost ``dropout_layers`` decoders, the
    paper's noise z), a skip from each encoder level to its decoder, and a sigmoid output in [0, 1].
    Sides that are not multiples of ``2**depth`` are padded by reflection and cropped back."""

    def __init__(self, in_channels: int, out_channels: int, base: int = 32, depth: int = 4,
                 max_mult: int = 8, dropout_layers: int = 2) -> None:
        super().__init__()
        chans = [base * min(2 ** i, max_mult) for i in range(depth)]
        self.depth = depth
        self.down = nn.ModuleList()
        prev = in_channels
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [nn.Conv2d(prev, c, 4, stride=2, padding=1, bias=i == 0)]
            if 0 < i < depth - 1:
                layers.append(_norm(c))
            self.down.append(nn.Sequential(*layers))
            prev = c
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            c_in = chans[i] if i == depth - 1 else 2 * chans[i]
            c_out = chans[i - 1] if i > 0 else base
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                      _norm(c_out)]
            if depth - 1 - i < dropout_layers and i > 0:
                layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))
        self.out = nn.Sequential(nn.ReLU(True), nn.Conv2d(base + in_channels, out_channels, 3, padding=1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h, w = y.shape[-2:]
        m = 2 ** self.depth
        ph, pw = (-h) % m, (-w) % m
        x = F.pad(y, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate") if ph or pw else y
        skips = []
        hcur = x
        for i, down in enumerate(self.down):
            hcur = down(F.leaky_relu(hcur, 0.2) if i else hcur)
            skips.append(hcur)
        skips.pop()
        for up in self.up:
            hcur = up(hcur)
            if skips:
                hcur = torch.cat([hcur, skips.pop()], dim=1)
        out = torch.sigmoid(self.out(torch.cat([hcur, x], dim=1)))
        return out[..., :h, :w]


class PatchDiscriminator(nn.Module):
    """PatchGAN on the channel concatenation of source and target; one logit per patch of side ``patch``.

    ``"1"``: 1x1 convolutions (64, 128, out); ``"16"``: one 4x4 stride-2 layer then two 4x4 stride-1 layers;
    ``"70"``: three stride-2 layers then two stride-1 (the paper's); ``"full"``: stride-2 layers until the
    receptive field covers ``image_size``, then the scores are averaged to one per image.
    """

    def __init__(self, in_channels: int, base: int = 32, patch: str = "70", image_size: int = 64) -> None:
        super().__init__()
        patch = check_choice(str(patch), "patch", PATCH_SIZES)
        self.patch = patch
        if patch == "1":
            self.net = nn.Sequential(nn.Conv2d(in_channels, base, 1), nn.LeakyReLU(0.2, True),
                                     nn.Conv2d(base, 2 * base, 1, bias=False), _norm(2 * base),
                                     nn.LeakyReLU(0.2, True), nn.Conv2d(2 * base, 1, 1))
            return
        n_down = {"16": 1, "70": 3}.get(patch)
        if n_down is None:  # full: enough stride-2 layers for the field (2 stride-1 after) to cover the image
            n_down = 1
            while _field([2] * n_down + [1, 1]) < image_size:
                n_down += 1
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        c = base
        for i in range(1, n_down):
            c_next = base * min(2 ** i, 8)
            layers += [nn.Conv2d(c, c_next, 4, stride=2, padding=1, bias=False), _norm(c_next),
                       nn.LeakyReLU(0.2, True)]
            c = c_next
        c_next = base * min(2 ** n_down, 8)
        layers += [nn.Conv2d(c, c_next, 4, stride=1, padding=1, bias=False), _norm(c_next), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(c_next, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.net(torch.cat([y, x], dim=1))
        return out.mean(dim=(2, 3), keepdim=True) if self.patch == "full" else out


def _field(strides: list[int], kernel: int = 4) -> int:
    r = 1
    for s in reversed(strides):
        r = r * s + (kernel - s)
    return r


def receptive_field(disc: PatchDiscriminator) -> int:
    """The side of the input patch one output logit sees, from the convolutions' kernels and strides
    (before the ``"full"`` averaging)."""
    r = 1
    convs = [m for m in disc.net if isinstance(m, nn.Conv2d)]
    for conv in reversed(convs):
        k, s = conv.kernel_size[0], conv.stride[0]
        r = r * s + (k - s)
    return r


@dataclass
class Pix2PixConfig:
    """pix2pix: ``task`` makes the source from the target (``edges``, ``colorize``, ``degrade``); ``channels``
    of the target (the data's); generator ``base``/``depth``; discriminator ``d_base`` and ``patch`` (1, 16,
    70 or full); loss ``gan_weight * cGAN + l1_weight * L1`` (the paper: 1 and 100; ``gan_weight=0`` is
    the L1-only U-Net); Adam 2e-4, betas (0.5, 0.999) as in the paper."""

    channels: int = 1
    task: Literal["edges", "colorize", "degrade"] = "edges"
    image_size: int = 64
    base: int = 32
    depth: int = 4
    d_base: int = 32
    patch: str = "70"
    gan_weight: float = 1.0
    l1_weight: float = 100.0
    gan_loss: Literal["non_saturating", "least_squares", "hinge"] = "non_saturating"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)

    @property
    def in_channels(self) -> int:
        """Channels of the source image: one for edges and gray, the target's for a degraded image."""
        return self.channels if self.task == "degrade" else 1

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (gray) or 3 (colour), got {self.channels}")
        check_choice(self.task, "task", TASKS)
        if self.task == "colorize" and self.channels != 3:
            raise ValueError(f"task colorize: expected colour targets (channels 3), got channels {self.channels}")
        self.patch = check_choice(str(self.patch), "patch", PATCH_SIZES)
        check_int(self.image_size, "image_size", low=4)
        check_int(self.base, "base", low=1)
        check_int(self.depth, "depth", low=1, high=8)
        check_int(self.d_base, "d_base", low=1)
        check_positive(self.gan_weight, "gan_weight", allow_zero=True)
        check_positive(self.l1_weight, "l1_weight", allow_zero=True)
        check_choice(self.gan_loss, "gan_loss", ("non_saturating", "least_squares", "hinge"))
        check_positive(self.lr, "lr")


class Pix2Pix(RestorationModel):
    """pix2pix: ``restore(y)`` is the generator's translation; training alternates phases ``"d"`` then ``"g"``
    (only ``"g"`` for the L1-only U-Net)."""

    name: ClassVar[str] = "pix2pix"
    config_class = Pix2PixConfig

    def __init__(self, config: Pix2PixConfig | None = None) -> None:
        config = config or Pix2PixConfig()
        config.betas = tuple(config.betas)
        config.validate()
        super().__init__(config)
        self.generator = UNetGenerator(config.in_channels, config.channels, config.base, config.depth)
        self.discriminator = PatchDiscriminator(config.in_channels + config.channels, config.d_base, config.patch,
                                                config.image_size)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """The translation of sources ``y`` (B, in_channels, H, W) in [0, 1]."""
        _check_batch(y, self.config.in_channels)
        return self.generator(y)

    def phases(self) -> list[str]:
        return ["d", "g"] if self.config.gan_weight > 0 else ["g"]

    def phase_parameters(self, phase: str) -> Iterable[nn.Parameter]:
        if phase == "d":
            return self.discriminator.parameters()
        if phase == "g":
            return self.generator.parameters()
        raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        return {"lr": float(self.config.lr), "betas": tuple(self.config.betas)}

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        from aip.train.losses import gan_d_loss, gan_g_loss

        cfg = self.config
        x, y = batch["x"], batch["y"]
        _check_batch(y, cfg.in_channels)
        if phase == "d":
            with torch.no_grad():
                fake = self.generator(y)
            loss = gan_d_loss(self.discriminator(y, x).flatten(), self.discriminator(y, fake).flatten(),
                              kind=cfg.gan_loss)
            return {"loss": loss, "d_loss": loss.detach()}
        if phase != "g":
            raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")
        fake = self.generator(y)
        l1 = (fake - x).abs().mean()
        loss = cfg.l1_weight * l1
        out = {"l1": l1.detach(), "mse": (fake.detach() - x).square().mean()}
        if cfg.gan_weight > 0:
            adv = gan_g_loss(self.discriminator(y, fake).flatten(), kind=cfg.gan_loss)
            loss = loss + cfg.gan_weight * adv
            out["adv"] = adv.detach()
        return {"loss": loss, **out}
