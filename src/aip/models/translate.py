"""Image-to-image translation: pix2pix with paired data (Isola et al. 2017), CycleGAN without (Zhu et al. 2017).

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

CycleGAN learns G: A -> B and F: B -> A from two unpaired sets, with a discriminator per domain (least-squares
GAN, PatchGAN 70), cycle consistency ``||F(G(a)) - a||_1 + ||G(F(b)) - b||_1`` (weight 10), the identity loss
``||G(b) - b||_1 + ||F(a) - a||_1`` (half the cycle weight; keeps colours and what needs no change), and a pool of
the last 50 generated images that the discriminators see instead of only the newest.

References
----------
J.-Y. Zhu, T. Park, P. Isola and A. A. Efros, "Unpaired image-to-image translation using cycle-consistent
adversarial networks", ICCV 2017.
P. Isola, J.-Y. Zhu, T. Zhou and A. A. Efros, "Image-to-image translation with conditional adversarial
networks", CVPR 2017.
O. Ronneberger, P. Fischer and T. Brox, "U-Net", MICCAI 2015.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import RestorationModel, TwoPlayer
from aip.models.restorers import _check_batch

__all__ = [
    "PATCH_SIZES",
    "CycleGAN",
    "CycleGANConfig",
    "ImagePool",
    "PatchDiscriminator",
    "Pix2Pix",
    "Pix2PixConfig",
    "ResnetGenerator",
    "UNetGenerator",
    "cycle_consistency",
    "receptive_field",
]

PATCH_SIZES = ("1", "16", "70", "full")
TASKS = ("edges", "colorize", "sketch", "degrade")


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

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        """Logits of the channel concatenation of ``images``: (source, target) for pix2pix, one image for
        CycleGAN's unconditional discriminators."""
        out = self.net(torch.cat(images, dim=1) if len(images) > 1 else images[0])
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
    """pix2pix: ``task`` makes the source from the target (``edges``, ``colorize``, ``sketch``: XDoG,
    ``degrade``); ``channels``
    of the target (the data's); generator ``base``/``depth``; discriminator ``d_base`` and ``patch`` (1, 16,
    70 or full); loss ``gan_weight * cGAN + l1_weight * L1`` (the paper: 1 and 100; ``gan_weight=0`` is
    the L1-only U-Net); Adam 2e-4, betas (0.5, 0.999) as in the paper. ``reverse``: learn the task itself
    (x -> task(x), e.g. photo -> sketch, the deterministic direction) instead of its inverse."""

    channels: int = 1
    task: Literal["edges", "colorize", "sketch", "degrade"] = "edges"
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
    reverse: bool = False

    @property
    def task_channels(self) -> int:
        """Channels of task(x): one for edges, sketches and gray, the data's for a degraded image."""
        return self.channels if self.task == "degrade" else 1

    @property
    def in_channels(self) -> int:
        """Channels of the source image: task(x)'s, or the data's with ``reverse``."""
        return self.channels if self.reverse else self.task_channels

    @property
    def out_channels(self) -> int:
        """Channels of the translation: the data's, or task(x)'s with ``reverse``."""
        return self.task_channels if self.reverse else self.channels

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


class Pix2Pix(TwoPlayer, RestorationModel):
    """pix2pix: ``restore(y)`` is the generator's translation; training alternates phases ``"d"`` then ``"g"``
    (only ``"g"`` for the L1-only U-Net)."""

    name: ClassVar[str] = "pix2pix"
    config_class = Pix2PixConfig

    def __init__(self, config: Pix2PixConfig | None = None) -> None:
        config = config or Pix2PixConfig()
        config.betas = tuple(config.betas)
        config.validate()
        super().__init__(config)
        self.generator = UNetGenerator(config.in_channels, config.out_channels, config.base, config.depth)
        self.discriminator = PatchDiscriminator(config.in_channels + config.out_channels, config.d_base, config.patch,
                                                config.image_size)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """The translation of sources ``y`` (B, in_channels, H, W) in [0, 1]."""
        _check_batch(y, self.config.in_channels)
        return self.generator(y)

    def phases(self) -> list[str]:
        return ["d", "g"] if self.config.gan_weight > 0 else ["g"]

    def evaluation_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Held-out pairs in the model's direction: with ``reverse``, x is scored from task(x)'s source x."""
        return {**batch, "x": batch["y"], "y": batch["x"]} if self.config.reverse else batch

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        from aip.train.losses import gan_d_loss, gan_g_loss

        cfg = self.config
        batch = self.evaluation_batch(batch)
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


# --------------------------------------------------------------------------------------------------
# CycleGAN
# --------------------------------------------------------------------------------------------------
class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Johnson et al.'s layout): a 7x7 convolution, two stride-2 convolutions, ``n_blocks``
    residual blocks, two transposed convolutions back and a 7x7 output convolution; instance norm, sigmoid
    output in [0, 1]. Sides are padded to a multiple of 4 and cropped back."""

    def __init__(self, in_channels: int, out_channels: int, base: int = 32, n_blocks: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, base, 7), nn.InstanceNorm2d(base),
                                   nn.ReLU(True)]
        c = base
        for _ in range(2):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
            c *= 2
        layers += [_Residual(c) for _ in range(n_blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        return torch.sigmoid(self.net(xp))[..., :h, :w]


class ImagePool:
    """The last ``size`` generated images (Shrivastava et al. 2017, as CycleGAN uses it): each query returns,
    per image, the new one or (with probability 1/2 once the pool is full) a stored one it replaces."""

    def __init__(self, size: int = 50) -> None:
        self.size = check_int(size, "pool_size", low=0)
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif float(torch.rand(())) < 0.5:
                k = int(torch.randint(len(self.images), ()))
                out.append(self.images[k].clone())
                self.images[k] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)


def cycle_consistency(g: Any, f: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``mean|f(g(a)) - a| + mean|g(f(b)) - b|``: zero when ``f`` inverts ``g`` on both sets."""
    return (f(g(a)) - a).abs().mean() + (g(f(b)) - b).abs().mean()


@dataclass
class CycleGANConfig:
    """CycleGAN between domain A (``source_channels``, default ``channels``) and domain B (``channels``): ResNet
    generators of ``base`` channels and ``n_blocks`` residual blocks, PatchGAN discriminators (``patch``),
    least-squares GAN loss, ``cycle_weight`` (10) and ``identity_weight`` (0.5, relative to the cycle weight;
    only when both domains have the same channels), an image pool of ``pool_size``; Adam 2e-4, (0.5, 0.999)."""

    channels: int = 1
    source_channels: int | None = None
    image_size: int = 28
    base: int = 32
    n_blocks: int = 4
    d_base: int = 32
    patch: str = "70"
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    gan_loss: Literal["non_saturating", "least_squares", "hinge"] = "least_squares"
    pool_size: int = 50
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)

    @property
    def in_channels(self) -> int:
        return self.channels if self.source_channels is None else self.source_channels

    def validate(self) -> None:
        for name in ("channels", "in_channels"):
            if getattr(self, name) not in (1, 3):
                raise ValueError(f"{name}: expected 1 (gray) or 3 (colour), got {getattr(self, name)}")
        self.patch = check_choice(str(self.patch), "patch", PATCH_SIZES)
        check_int(self.image_size, "image_size", low=4)
        check_int(self.base, "base", low=1)
        check_int(self.n_blocks, "n_blocks", low=0)
        check_int(self.d_base, "d_base", low=1)
        check_positive(self.cycle_weight, "cycle_weight", allow_zero=True)
        check_positive(self.identity_weight, "identity_weight", allow_zero=True)
        check_choice(self.gan_loss, "gan_loss", ("non_saturating", "least_squares", "hinge"))
        check_int(self.pool_size, "pool_size", low=0)
        check_positive(self.lr, "lr")


class CycleGAN(TwoPlayer, RestorationModel):
    """CycleGAN: ``restore(y)`` translates A -> B (``translate(b, "b2a")`` the other way); phases ``"d"`` (both
    discriminators, on pooled fakes) then ``"g"`` (both generators). Batches are ``{"y": from A, "x": from B}``
    (:class:`aip.data.Unpaired`); held-out aligned pairs (``x`` the true translation of ``y``) score it."""

    name: ClassVar[str] = "cyclegan"
    config_class = CycleGANConfig
    unpaired: ClassVar[bool] = True
    phase_modules: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d_a", "d_b"), "g": ("g_ab", "g_ba")}

    def __init__(self, config: CycleGANConfig | None = None) -> None:
        config = config or CycleGANConfig()
        config.betas = tuple(config.betas)
        config.validate()
        super().__init__(config)
        ca, cb = config.in_channels, config.channels
        self.g_ab = ResnetGenerator(ca, cb, config.base, config.n_blocks)
        self.g_ba = ResnetGenerator(cb, ca, config.base, config.n_blocks)
        self.d_a = PatchDiscriminator(ca, config.d_base, config.patch, config.image_size)
        self.d_b = PatchDiscriminator(cb, config.d_base, config.patch, config.image_size)
        self.pool_a, self.pool_b = ImagePool(config.pool_size), ImagePool(config.pool_size)

    def restore(self, y: torch.Tensor, *, sigma: Any = None, **kwargs: Any) -> torch.Tensor:
        """G(y): images of domain A (B, source_channels, H, W) translated to domain B."""
        return self.translate(y, "a2b")

    def translate(self, images: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        direction = check_choice(direction, "direction", ("a2b", "b2a"))
        c = self.config.in_channels if direction == "a2b" else self.config.channels
        _check_batch(images, c, "images")
        return (self.g_ab if direction == "a2b" else self.g_ba)(images)


    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        from aip.train.losses import gan_d_loss, gan_g_loss

        cfg = self.config
        a, b = batch["y"], batch["x"]
        _check_batch(a, cfg.in_channels, "y (domain A)")
        _check_batch(b, cfg.channels, "x (domain B)")
        kind = cfg.gan_loss
        if phase == "d":
            with torch.no_grad():
                fake_b, fake_a = self.pool_b.query(self.g_ab(a)), self.pool_a.query(self.g_ba(b))
            loss_b = gan_d_loss(self.d_b(b).flatten(), self.d_b(fake_b).flatten(), kind=kind)
            loss_a = gan_d_loss(self.d_a(a).flatten(), self.d_a(fake_a).flatten(), kind=kind)
            loss = 0.5 * (loss_a + loss_b)
            return {"loss": loss, "d_a": loss_a.detach(), "d_b": loss_b.detach()}
        if phase != "g":
            raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adv = gan_g_loss(self.d_b(fake_b).flatten(), kind=kind) + gan_g_loss(self.d_a(fake_a).flatten(), kind=kind)
        cyc = (self.g_ba(fake_b) - a).abs().mean() + (self.g_ab(fake_a) - b).abs().mean()
        loss = adv + cfg.cycle_weight * cyc
        out = {"adv": adv.detach(), "cycle": cyc.detach()}
        if cfg.identity_weight > 0 and cfg.in_channels == cfg.channels:
            idt = (self.g_ab(b) - b).abs().mean() + (self.g_ba(a) - a).abs().mean()
            loss = loss + cfg.identity_weight * cfg.cycle_weight * idt
            out["identity"] = idt.detach()
        return {"loss": loss, **out}
