"""A compact U-Net for diffusion and score models on small images (28x28, 32x32), built for CPU speed.

Layout (ADM-like, Ho 2020 / Dhariwal & Nichol 2021, trimmed): sinusoidal time embedding -> MLP; an optional
class embedding with one extra *null* row (index ``num_classes``) for classifier-free guidance, added to the
time embedding; per resolution ``num_res_blocks`` GroupNorm/SiLU residual blocks, one skip connection per
resolution (not per block, which halves the concatenations of the classic layout), an optional space-to-depth
stem (``patch_size=2``: pixel_unshuffle in, pixel_shuffle out, so no convolution runs at full resolution,
as in the patch stems of DiT/U-ViT), self-attention only in the
middle block at the lowest resolution, and nearest-neighbour upsampling. Most parameters sit at the lowest
resolutions where a parameter costs the fewest FLOPs. Tensors run in ``channels_last`` memory format on CPU
by default (oneDNN convolutions are faster in NHWC).

References
----------
Ronneberger, Fischer, Brox, "U-Net", MICCAI 2015.
Ho, Jain, Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
Dhariwal, Nichol, "Diffusion Models Beat GANs on Image Synthesis", NeurIPS 2021.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_fraction, check_int
from aip.models.layers import (
    Downsample,
    ResBlock,
    SelfAttention2d,
    Upsample,
    group_norm,
    sinusoidal_embedding,
)


@dataclass
class UNetConfig:
    """Configuration of :class:`UNet`.

    ``channel_mult[i] * base_channels`` channels at resolution ``image_size / 2**i``; ``num_classes > 0``
    adds a class embedding with a null label (index ``num_classes``). General conditioning
    (:class:`aip.sampling.Conditioning`): ``cond_channels > 0`` concatenates an image of that many channels to
    x_t (SR3, Palette), ``cond_dim > 0`` adds a projected vector to the time embedding (a semantic code).
    """

    image_size: int = 28
    in_channels: int = 1
    out_channels: int | None = None
    patch_size: int = 1
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    mid_attention: bool = True
    num_heads: int = 4
    num_classes: int = 0
    dropout: float = 0.0
    groups: int = 8
    cond_channels: int = 0
    cond_dim: int = 0
    channels_last: bool = True

    def validate(self) -> None:
        check_int(self.image_size, "image_size", low=4)
        check_int(self.in_channels, "in_channels", low=1, high=4)
        if self.out_channels is not None:
            check_int(self.out_channels, "out_channels", low=1)
        check_int(self.patch_size, "patch_size", low=1)
        if self.image_size % self.patch_size:
            raise ValueError(f"patch_size: expected a divisor of image_size {self.image_size}, got {self.patch_size}")
        check_int(self.base_channels, "base_channels", low=4)
        mult = tuple(self.channel_mult)
        if not mult or not all(isinstance(m, int) and m > 0 for m in mult):
            raise ValueError(f"channel_mult: expected a non-empty sequence of positive integers, got {self.channel_mult!r}")
        if self.image_size // self.patch_size // 2 ** (len(mult) - 1) < 2:
            raise ValueError(f"channel_mult: {len(mult)} levels need image_size >= {2 ** len(mult)}, "
                             f"got {self.image_size}")
        check_int(self.num_res_blocks, "num_res_blocks", low=1)
        check_int(self.num_heads, "num_heads", low=1)
        check_int(self.num_classes, "num_classes", low=0)
        check_int(self.cond_channels, "cond_channels", low=0)
        check_int(self.cond_dim, "cond_dim", low=0)
        check_fraction(self.dropout, "dropout")
        if self.mid_attention and (self.base_channels * mult[-1]) % self.num_heads:
            raise ValueError(f"num_heads: expected a divisor of the lowest-resolution channels "
                             f"{self.base_channels * mult[-1]}, got {self.num_heads}")


class UNet(nn.Module):
    """Noise-prediction U-Net ``eps_theta(x_t, t, y)``.

    Example
    -------
    >>> net = UNet(UNetConfig(image_size=28, base_channels=16, num_classes=10))
    >>> net(torch.zeros(2, 1, 28, 28), torch.tensor([5, 500]), torch.tensor([3, 10])).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, config: UNetConfig | None = None, **overrides) -> None:
        super().__init__()
        config = dataclasses.replace(config or UNetConfig(), **overrides)
        config.channel_mult = tuple(config.channel_mult)
        config.validate()
        self.config = config
        c0 = config.base_channels
        emb_dim = 4 * c0
        chans = [c0 * m for m in config.channel_mult]
        kw = {"dropout": config.dropout, "groups": config.groups}
        self.time_mlp = nn.Sequential(nn.Linear(c0, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(config.num_classes + 1, emb_dim) if config.num_classes else None
        self.vector_emb = nn.Linear(config.cond_dim, emb_dim) if config.cond_dim else None
        p2 = config.patch_size ** 2
        self.conv_in = nn.Conv2d((config.in_channels + config.cond_channels) * p2, c0, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        ch = c0
        for i, c in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks):
                blocks.append(ResBlock(ch, c, emb_dim, **kw))
                ch = c
            self.down.append(blocks)
            self.downsample.append(Downsample(ch) if i < len(chans) - 1 else nn.Identity())
        self.mid1 = ResBlock(ch, ch, emb_dim, **kw)
        self.mid_attn = SelfAttention2d(ch, config.num_heads, config.groups) if config.mid_attention else None
        self.mid2 = ResBlock(ch, ch, emb_dim, **kw)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(chans))):
            self.upsample.append(Upsample(ch) if i < len(chans) - 1 else nn.Identity())
            blocks = nn.ModuleList()
            for j in range(config.num_res_blocks):
                blocks.append(ResBlock(ch + c if j == 0 else c, c, emb_dim, **kw))
                ch = c
            self.up.append(blocks)
        self.norm_out = group_norm(ch, config.groups)
        self.conv_out = nn.Conv2d(ch, (config.out_channels or config.in_channels) * p2, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        if config.channels_last:
            self.to(memory_format=torch.channels_last)

    @property
    def null_label(self) -> int:
        return self.config.num_classes

    def embed(self, t: torch.Tensor, y: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        t = torch.as_tensor(t, device=device)
        if t.ndim == 0:
            t = t.expand(batch)
        emb = self.time_mlp(sinusoidal_embedding(t, self.config.base_channels))
        if self.class_emb is not None:
            if y is None:
                y = torch.full((batch,), self.null_label, device=device, dtype=torch.long)
            emb = emb + self.class_emb(y)
        return emb

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None, *,
                vector: torch.Tensor | None = None, image: torch.Tensor | None = None) -> torch.Tensor:
        """Noise estimate for ``x`` (B, C, H, W) at timesteps ``t`` (B,) or scalar, labels ``y`` (null if None),
        and, when the config asks for them, a condition ``vector`` (B, cond_dim; zeros if None) and ``image``
        (B, cond_channels, H, W), concatenated to x."""
        cfg = self.config
        emb = self.embed(t, y, x.shape[0], x.device)
        if self.vector_emb is not None:
            if vector is not None:
                if vector.shape != (x.shape[0], cfg.cond_dim):
                    raise ValueError(f"vector: expected shape ({x.shape[0]}, {cfg.cond_dim}), got {tuple(vector.shape)}")
                emb = emb + self.vector_emb(vector.to(emb.dtype))
            else:
                emb = emb + self.vector_emb.bias
        elif vector is not None:
            raise ValueError("vector: this U-Net has cond_dim 0, so it takes no condition vector")
        if cfg.cond_channels:
            if image is None or image.shape[0] != x.shape[0] or image.shape[1] != cfg.cond_channels \
                    or image.shape[-2:] != x.shape[-2:]:
                got = "None" if image is None else str(tuple(image.shape))
                raise ValueError(f"image: expected a condition image of shape ({x.shape[0]}, {cfg.cond_channels}, "
                                 f"{x.shape[-2]}, {x.shape[-1]}), got {got}")
            x = torch.cat([x, image.to(x.dtype)], dim=1)
        elif image is not None:
            raise ValueError("image: this U-Net has cond_channels 0, so it takes no condition image")
        if self.config.channels_last and x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        if self.config.patch_size > 1:
            x = F.pixel_unshuffle(x, self.config.patch_size)
        h = self.conv_in(x)
        skips = []
        for blocks, down in zip(self.down, self.downsample):
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
            h = down(h)
        h = self.mid1(h, emb)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid2(h, emb)
        for blocks, up in zip(self.up, self.upsample):
            skip = skips.pop()
            if not isinstance(up, nn.Identity):
                h = up(h, skip.shape[-2:])
            h = torch.cat([h, skip], dim=1)
            for block in blocks:
                h = block(h, emb)
        out = self.conv_out(F.silu(self.norm_out(h)))
        if self.config.patch_size > 1:
            out = F.pixel_shuffle(out, self.config.patch_size)
        return out.contiguous()


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
