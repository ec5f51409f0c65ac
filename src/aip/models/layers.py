"""Building blocks shared by the networks: embeddings, residual blocks, attention, transformer blocks, conv stacks."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn


def nats_to_bits_per_dim(nats: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Convert a negative log-likelihood in nats per image to bits per dimension: ``nats / (D ln 2)``."""
    return nats / (num_dims * math.log(2))


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer sinusoidal embedding of (possibly fractional) timesteps, shape (B, dim).

    References
    ----------
    Vaswani et al., "Attention Is All You Need", 2017; used for diffusion timesteps by Ho et al. 2020.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float().view(-1, 1) * freqs.view(1, -1)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def group_norm(channels: int, groups: int = 8) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return nn.GroupNorm(g, channels, eps=1e-5)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv residual block with an additive embedding (time, class) after the first conv."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, *, dropout: float = 0.0, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = group_norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2 = group_norm(out_ch, groups)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # the block starts as the identity (Ho 2020 code)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (residual, pre-GroupNorm)."""

    def __init__(self, channels: int, heads: int = 4, groups: int = 8) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"attention: expected channels divisible by heads, got {channels} and {heads}")
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))      # (B, heads, HW, d)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention over tokens (Vaswani et al. 2017), (B, N, D) -> (B, N, D).

    softmax(Q K^T / sqrt(d)) V per head with Q, K, V = x W_q, x W_k, x W_v (one fused projection), then an
    output projection. ``mask`` (N, N) bool, True where attention is allowed (e.g. causal for token-by-token
    decoding); ``attention(x)`` returns the (B, heads, N, N) weights for plots.
    """

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention: expected dim divisible by heads, got {dim} and {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return q, k, v                                                   # (B, heads, N, d_head) each

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self._qkv(x)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(x.shape))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        q, k, _ = self._qkv(x)
        return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block: x + MHA(LN(x)), then x + MLP(LN(x)) with a GELU MLP of
    ``mlp_ratio * dim`` hidden units (the ViT form, Dosovitskiy et al. 2021)."""

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = round(mlp_ratio * dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


def check_transformer(config) -> None:
    """The checks of a transformer config's ``dim``, ``depth``, ``heads``, ``mlp_ratio`` and ``dropout`` (ViT,
    MaskGIT)."""
    from aip._shared.validate import check_int, check_positive

    for name in ("dim", "depth", "heads"):
        check_int(getattr(config, name), name, low=1)
    if config.dim % config.heads:
        raise ValueError(f"heads: expected a divisor of dim {config.dim}, got {config.heads}")
    check_positive(config.mlp_ratio, "mlp_ratio")
    if not 0 <= config.dropout < 1:
        raise ValueError(f"dropout: expected a probability in [0, 1), got {config.dropout!r}")


class Downsample(nn.Module):
    """Strided 3x3 convolution (halves H and W, rounding up)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """3x3 convolution at the low resolution, then nearest-neighbour upsampling to ``size``.

    Convolving before upsampling costs a quarter of the usual order's FLOPs (the CPU budget matters here).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(self.conv(x), size=size, mode="nearest")


def mlp(sizes: list[int], *, act: type[nn.Module] = nn.ReLU, final_act: nn.Module | None = None,
        negative_slope: float | None = None) -> nn.Sequential:
    """Linear layers with an activation between them (LeakyReLU when ``negative_slope`` is given)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope) if negative_slope is not None else act())
    if final_act is not None:
        layers.append(final_act)
    return nn.Sequential(*layers)


def check_image_batch(x: torch.Tensor, channels: int, size: int, name: str = "x") -> None:
    """Raise a one-line error unless ``x`` is a float (B, channels, size, size) tensor."""
    if not torch.is_tensor(x):
        raise TypeError(f"{name}: expected a torch tensor (B, C, H, W), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a float tensor in [0, 1], got dtype {x.dtype}")
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"{name}: expected shape (B, {channels}, {size}, {size}), got {tuple(x.shape)}")


def check_labels(y: torch.Tensor | None, n: int, num_classes: int, *, required: bool = True,
                 allow_null: bool = False) -> torch.Tensor | None:
    """Validate a label tensor of length ``n`` with values in [0, num_classes) (or the null label)."""
    if y is None:
        if required and num_classes:
            raise ValueError(f"y: expected labels (a conditional model with {num_classes} classes), got None")
        return None
    if not num_classes:
        raise ValueError("y: this model is unconditional (num_classes=0), got labels")
    y = torch.as_tensor(y)
    if y.ndim == 0:
        y = y.expand(n)
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y: expected {n} integer labels, got tensor of shape {tuple(y.shape)} and dtype {y.dtype}")
    hi = num_classes if allow_null else num_classes - 1
    if y.numel() and (int(y.min()) < 0 or int(y.max()) > hi):
        raise ValueError(f"y: expected labels in [0, {num_classes - 1}], got values in [{int(y.min())}, {int(y.max())}]")
    return y.long()


def padded_size(size: int, multiple: int = 4) -> int:
    """The smallest multiple of ``multiple`` >= ``size`` (conv stacks run on images zero-padded to it)."""
    return -(-size // multiple) * multiple


def pad_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad (B, C, H, W) at the bottom and right to (size, size)."""
    ph, pw = size - x.shape[-2], size - x.shape[-1]
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


def crop_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Top-left (size, size) crop of (B, C, H, W)."""
    return x[..., :size, :size] if x.shape[-1] != size or x.shape[-2] != size else x


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (clamped)."""
    return ((x + 1) * 0.5).clamp(0, 1)
