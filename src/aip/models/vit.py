"""Vision transformer (ViT): an image as a sequence of patches, classified by a transformer encoder.

The image (C, H, W) is cut into non-overlapping ``p x p`` patches, each flattened and projected linearly to
``dim`` (one strided convolution does both: kernel = stride = p); a learned class token is prepended and a
learned position embedding added; pre-norm transformer blocks (multi-head self-attention and a GELU MLP,
:class:`~aip.models.layers.TransformerBlock`) follow, and the class token's final, layer-normalised state is
the image's feature vector (``features``: FID's features beside FID-LeNet) and, through one linear layer, its
class logits. Two views of what it learned, as in the paper's Figure 7: the principal components of the
patch-embedding filters (:meth:`ViT.embedding_components`) and the cosine similarity of every position's
embedding to every other (:meth:`ViT.position_similarity`).

One classifier per built-in dataset is trained by ``benchmarks/train_vit.py`` and shipped as the asset
``vit_<dataset>``; :func:`load_vit` loads it.

References
----------
Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale", ICLR 2021.
Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from aip._shared.validate import check_int
from aip.models.base import Classifier
from aip.models.layers import TransformerBlock, check_transformer

__all__ = ["ViT", "ViTConfig", "load_vit"]

_PREFIX = "vit_"


@dataclasses.dataclass
class ViTConfig:
    """ViT geometry: ``image_size`` a multiple of ``patch_size`` (28 / 4: a 7 x 7 grid of 49 patches)."""

    image_size: int = 28
    in_channels: int = 1
    patch_size: int = 4
    dim: int = 64
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    num_classes: int = 10

    def validate(self) -> None:
        check_int(self.image_size, "image_size", low=1)
        check_int(self.in_channels, "in_channels", low=1, high=4)
        check_int(self.patch_size, "patch_size", low=1)
        if self.image_size % self.patch_size:
            raise ValueError(f"patch_size: expected a divisor of image_size {self.image_size}, got {self.patch_size}")
        check_transformer(self)
        check_int(self.num_classes, "num_classes", low=1)


class ViT(Classifier):
    """Vision transformer classifier on float (B, C, H, W) images in [0, 1] (normalised inside).

    Example
    -------
    >>> net = ViT(ViTConfig(depth=2, dim=32))
    >>> net(torch.rand(3, 1, 28, 28)).shape, net.features(torch.rand(3, 1, 28, 28)).shape
    (torch.Size([3, 10]), torch.Size([3, 32]))
    """

    config_class = ViTConfig

    def __init__(self, config: ViTConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ViTConfig()
        c.validate()
        self.grid = c.image_size // c.patch_size
        self.patch_embed = nn.Conv2d(c.in_channels, c.dim, c.patch_size, stride=c.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid ** 2, c.dim))
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(c.dim, c.heads, c.mlp_ratio, c.dropout) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.num_classes)
        for t in (self.cls_token, self.pos_embed):
            nn.init.trunc_normal_(t, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, 1 + N, dim) input sequence: class token, then the N patch embeddings, plus positions."""
        c = self.config
        if x.ndim != 4 or x.shape[1:] != (c.in_channels, c.image_size, c.image_size):
            raise ValueError(f"x: expected (B, {c.in_channels}, {c.image_size}, {c.image_size}) images, "
                             f"got shape {tuple(x.shape)}")
        patches = self.patch_embed((x - 0.5) / 0.5).flatten(2).transpose(1, 2)     # (B, N, dim), raster order
        seq = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), patches], dim=1)
        return self.dropout(seq + self.pos_embed)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, dim) final class-token state (after the last layer norm): the FID-ViT features."""
        h = self.tokens(x)
        for block in self.blocks:
            h = block(h)
        return self.norm(h[:, 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer, (depth, B, heads, 1 + N, 1 + N)."""
        h, maps = self.tokens(x), []
        for block in self.blocks:
            maps.append(block.attn.attention(block.norm1(h)))
            h = block(h)
        return torch.stack(maps)

    @torch.no_grad()
    def embedding_components(self, k: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Principal components of the ``dim`` patch-embedding filters (each a flattened C x p x p patch):
        the top ``k`` (default all, at most C p^2) as (k, C, p, p), and the fraction of variance of each."""
        w = self.patch_embed.weight.detach().flatten(1).double()           # (dim, C p p)
        _, s, vt = torch.linalg.svd(w - w.mean(0), full_matrices=False)
        k = vt.shape[0] if k is None else min(check_int(k, "k", low=1), vt.shape[0])
        var = s.square() / s.square().sum()
        return vt[:k].reshape(k, *self.patch_embed.weight.shape[1:]).float(), var[:k].float()

    @torch.no_grad()
    def position_similarity(self) -> torch.Tensor:
        """Cosine similarity of each patch position's embedding to every other: (g, g, g, g) for a g x g grid,
        entry [i, j] the map of position (i, j) against all positions."""
        p = torch.nn.functional.normalize(self.pos_embed[0, 1:].detach(), dim=1)
        g = self.grid
        return (p @ p.T).reshape(g, g, g, g)


def load_vit(dataset: str) -> ViT:
    """The shipped ViT classifier of the built-in ``dataset`` (``"digits"``).

    ValueError for a dataset without one; :class:`~aip.io.assets.MissingAssetError` naming the command that
    retrains it when a known one's files are gone.
    """
    from aip.io.assets import ASSET_COMMANDS, list_assets, weights_dir

    asset = f"{_PREFIX}{dataset}"
    have = [a[len(_PREFIX):] for a in list_assets(_PREFIX)]
    if dataset not in have and asset not in ASSET_COMMANDS:
        raise ValueError(f"dataset: expected one with a shipped ViT ({', '.join(have) or 'none'}), got {dataset!r}")
    return ViT.load(weights_dir() / asset)
