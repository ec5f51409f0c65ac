"""Autoregressive image models: PixelCNN (masked convolutions) and the gated PixelCNN.

An image of ``levels`` grey levels (2: binarized, 256: 8-bit) is modelled pixel by pixel in raster order,
``p(x) = prod_i p(x_i | x_<i)``, each factor a softmax over the levels, so the negative log-likelihood is exact
(:meth:`PixelCNN.nll`, nats per image; bits/dim = nats / (H W ln 2)).

* ``variant="plain"`` (van den Oord et al. 2016a): a 7x7 type-A masked convolution (the centre pixel hidden),
  then residual blocks of 3x3 type-B masked convolutions (centre shown). Its receptive field has the known
  blind spot to the upper right.
* ``variant="gated"`` (van den Oord et al. 2016b): a vertical stack (the rows above, from ``(k//2 + 1) x k``
  convolutions shifted down one row) feeding a horizontal stack (the pixels to the left in the row), both with
  ``tanh(a) * sigmoid(b)`` gates, residual connections in the horizontal stack and a class embedding added to
  every gate (class-conditional with ``num_classes > 0``). No blind spot.

Sampling draws one pixel at a time. Pixel ``(i, j)`` depends on rows ``i - R .. i`` only (R: the model's
``receptive_rows``), so each step runs the network on that band of rows, not the whole image: on 28x28 digits
with the default depth about a third of the work of full recomputation, with the same result
(:meth:`PixelCNN.sample`, ``band=False`` for the full reference loop).

Colour: the channels of a pixel are independent given the pixels before it (one softmax each; still an
exact, normalised likelihood, less expressive than the paper's R -> G -> B ordering within the pixel).

Data: images in [0, 1] become levels ``round(x (levels - 1))`` (binarized: ``x >= 0.5``, a fixed threshold,
not the stochastic binarization of some published MNIST figures).

References
----------
A. van den Oord, N. Kalchbrenner and K. Kavukcuoglu, "Pixel recurrent neural networks", ICML 2016.
A. van den Oord, N. Kalchbrenner, O. Vinyals, L. Espeholt, A. Graves and K. Kavukcuoglu, "Conditional image
generation with PixelCNN decoders", NeurIPS 2016.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.progress import progress as progress_bar
from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.layers import check_image_batch, check_labels, nats_to_bits_per_dim

__all__ = ["MaskedConv2d", "PixelCNN", "PixelCNNConfig", "PixelCNNPrior", "PixelRNN", "PixelRNNConfig", "to_levels"]


class MaskedConv2d(nn.Conv2d):
    """PixelCNN masked convolution: type "A" hides the centre pixel, type "B" shows it (van den Oord 2016)."""

    def __init__(self, mask_type: str, in_ch: int, out_ch: int, kernel: int) -> None:
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        check_choice(mask_type, "mask_type", ("A", "B"))
        mask = torch.ones_like(self.weight)
        c = kernel // 2
        mask[:, :, c, c + (mask_type == "B"):] = 0
        mask[:, :, c + 1:] = 0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNNPrior(nn.Module):
    """Small autoregressive prior over a map of code indices (optionally class-conditional): the VQ-VAE's."""

    def __init__(self, num_embeddings: int, channels: int = 64, layers: int = 4, num_classes: int = 0) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embed = nn.Embedding(num_embeddings, channels)
        self.first = MaskedConv2d("A", channels, channels, 5)
        self.layers = nn.ModuleList(MaskedConv2d("B", channels, channels, 3) for _ in range(layers))
        self.cond = nn.Embedding(num_classes, channels) if num_classes else None
        self.out = nn.Conv2d(channels, num_embeddings, 1)

    def forward(self, idx: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, K, h, w) of each code given the codes before it in raster order."""
        h = self.first(self.embed(idx).permute(0, 3, 1, 2))
        c = self.cond(y)[:, :, None, None] if (self.cond is not None and y is not None) else 0
        for layer in self.layers:
            h = h + layer(F.relu(h + c))
        return self.out(F.relu(h))

    @torch.no_grad()
    def sample(self, n: int, h: int, w: int, y: torch.Tensor | None, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
        idx = torch.zeros(n, h, w, dtype=torch.long, device=device)
        for i in range(h):
            for j in range(w):
                probs = torch.softmax(self(idx, y)[:, :, i, j].float(), 1).cpu()
                idx[:, i, j] = torch.multinomial(probs, 1, generator=generator).view(-1).to(device)
        return idx


def to_levels(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Images in [0, 1] -> int64 levels in [0, levels - 1] (2 levels: a threshold at 0.5)."""
    if levels == 2:
        return (x >= 0.5).long()
    return (x.clamp(0, 1) * (levels - 1)).round().long()


@dataclass
class PixelCNNConfig:
    """``variant`` "gated" or "plain"; ``layers`` blocks of ``features`` channels with ``kernel`` x ``kernel``
    convolutions (the first block's kernel ``first_kernel``); ``levels`` grey levels (2 or 256, or any in
    between); ``num_classes > 0``: class-conditional."""

    image_size: int = 28
    in_channels: int = 1
    levels: int = 2
    variant: str = "gated"
    features: int = 64
    layers: int = 8
    kernel: int = 3
    first_kernel: int = 7
    head_features: int = 128
    num_classes: int = 0
    lr: float = 1e-3
    VARIANTS: ClassVar[tuple[str, ...]] = ("gated", "plain")

    def validate(self) -> None:
        check_int(self.image_size, "image_size", low=2)
        check_int(self.in_channels, "in_channels", low=1, high=4)
        check_int(self.levels, "levels", low=2, high=256)
        check_choice(self.variant, "variant", self.VARIANTS)
        check_int(self.features, "features", low=1)
        check_int(self.layers, "layers", low=1)
        check_int(self.head_features, "head_features", low=1)
        for name in ("kernel", "first_kernel"):
            k = getattr(self, name)
            if not isinstance(k, int) or k < 1 or k % 2 == 0:
                raise ValueError(f"{name}: expected an odd kernel size, got {k!r}")
        check_int(self.num_classes, "num_classes", low=0)
        check_positive(self.lr, "lr")


def _down_shift(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (0, 0, 1, 0))[..., :-1, :]


def _right_shift(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (1, 0, 0, 0))[..., :, :-1]


class _GatedBlock(nn.Module):
    """One gated layer: the vertical stack (the rows strictly above: the first block shifts its input down one
    row, so every later vertical feature already excludes the pixel's row) feeding the horizontal stack (the
    pixels to the left; the first block shifts its input right, hiding the pixel itself)."""

    def __init__(self, cin: int, c: int, k: int, first: bool, num_classes: int) -> None:
        super().__init__()
        self.first, self.k = first, k
        self.v = nn.Conv2d(cin, 2 * c, (k // 2 + 1, k))
        self.h = nn.Conv2d(cin, 2 * c, (1, k // 2 + 1))
        self.v2h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)
        self.cond = nn.Embedding(num_classes, 2 * c) if num_classes else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.k
        if self.first:  # the current pixel and row must not be seen: shift the inputs first
            v_in, h_in = _down_shift(v), _right_shift(h)
        else:
            v_in, h_in = v, h
        va = self.v(F.pad(v_in, (k // 2, k // 2, k // 2, 0)))
        ha = self.h(F.pad(h_in, (k // 2, 0, 0, 0))) + self.v2h(va)  # va holds only rows above already
        if self.cond is not None and y is not None:
            c = self.cond(y)[:, :, None, None]
            va, ha = va + c, ha + c
        v_out = torch.tanh(va.chunk(2, 1)[0]) * torch.sigmoid(va.chunk(2, 1)[1])
        hg = torch.tanh(ha.chunk(2, 1)[0]) * torch.sigmoid(ha.chunk(2, 1)[1])
        h_out = self.h_out(hg)
        return v_out, (h_out if self.first else h + h_out)


class PixelCNN(GenerativeModel):
    """PixelCNN / gated PixelCNN over ``levels`` grey levels; exact NLL, raster-order sampling."""

    name: ClassVar[str] = "pixelcnn"
    config_class = PixelCNNConfig

    def __init__(self, config: PixelCNNConfig | None = None) -> None:
        config = config or PixelCNNConfig()
        config.validate()
        super().__init__(config)
        c, k, L = config.features, config.kernel, config.levels
        self.embed = nn.Conv2d(config.in_channels, c, 1)  # the levels as numbers in [-1, 1]
        if config.variant == "gated":
            self.blocks = nn.ModuleList(_GatedBlock(c, c, config.first_kernel if i == 0 else k, i == 0,
                                                    config.num_classes) for i in range(config.layers))
        else:
            self.first = MaskedConv2d("A", c, c, config.first_kernel)
            self.blocks = nn.ModuleList(MaskedConv2d("B", c, c, k) for _ in range(config.layers))
            self.cond = nn.Embedding(config.num_classes, c) if config.num_classes else None
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, config.head_features, 1), nn.ReLU(),
                                  nn.Conv2d(config.head_features, L * config.in_channels, 1))

    @property
    def num_dims(self) -> int:
        return self.config.in_channels * self.config.image_size ** 2

    @property
    def receptive_rows(self) -> int:
        """How many rows above a pixel can reach it (the band :meth:`sample` recomputes)."""
        cfg = self.config
        if cfg.variant == "gated":  # the first block reaches k//2 + 1 rows up, each later one k//2 more
            return cfg.first_kernel // 2 + 1 + (cfg.layers - 1) * (cfg.kernel // 2)
        return cfg.first_kernel // 2 + cfg.layers * (cfg.kernel // 2)

    def logits(self, levels: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, levels, C, H, W) logits of each pixel's channels given the pixels before it; ``levels`` int
        (B, C, H, W)."""
        L = self.config.levels
        x = self.embed(levels.to(self.embed.weight.dtype) * (2.0 / (L - 1)) - 1.0)
        if self.config.variant == "gated":
            v, h = x, x
            for block in self.blocks:
                v, h = block(v, h, y)
        else:
            h = self.first(x)
            c = self.cond(y)[:, :, None, None] if (self.cond is not None and y is not None) else 0
            for block in self.blocks:
                h = h + block(F.relu(h + c))
        out = self.head(h)
        return out.view(out.shape[0], L, self.config.in_channels, *out.shape[-2:])

    def _check(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor | None:
        s = self.config.image_size
        check_image_batch(x, self.config.in_channels, s, "x")
        if self.conditional:
            if y is None:
                raise ValueError("y: expected class labels for this class-conditional PixelCNN, got None")
            return check_labels(y, x.shape[0], self.config.num_classes)
        return None

    def nll(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Exact negative log-likelihood per image in nats (B,) of images in [0, 1] (quantised to the levels)."""
        y = self._check(x, y)
        lv = to_levels(x, self.config.levels)
        return F.cross_entropy(self.logits(lv, y), lv, reduction="none").flatten(1).sum(1)

    def bits_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return nats_to_bits_per_dim(self.nll(x, y), self.num_dims)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        nll = self.nll(x, y)
        loss = nll.mean() / self.num_dims
        return {"loss": loss, "nll_nats": nll.mean().detach(),
                "bits_per_dim": nats_to_bits_per_dim(nll.mean().detach(), self.num_dims)}

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, band: bool = True, progress: bool = False, **kwargs: Any) -> torch.Tensor:
        """``n`` images in [0, 1], one pixel at a time in raster order (``temperature`` divides the logits).

        ``band=True`` runs the network on the ``receptive_rows`` rows above each pixel only (the same
        samples as ``band=False``, which recomputes the whole image each time)."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected y, generator, "
                            "temperature, band, progress")
        n = check_int(n, "n", low=1)
        temperature = check_positive(temperature, "temperature")
        dev = next(self.parameters()).device
        if self.conditional:
            y = (torch.arange(n, device=dev) % self.config.num_classes if y is None
                 else check_labels(y, n, self.config.num_classes).to(dev))
        else:
            y = None
        s, R, C = self.config.image_size, self.receptive_rows, self.config.in_channels
        lv = torch.zeros(n, C, s, s, dtype=torch.long, device=dev)
        for i in progress_bar(range(s), progress, "sampling rows"):
            top = max(0, i - R) if band else 0
            for j in range(s):
                logits = self.logits(lv[:, :, top:i + 1] if band else lv, y)[..., i - top, j].float()  # (n, L, C)
                probs = torch.softmax(logits / temperature, 1).permute(0, 2, 1).reshape(n * C, -1).cpu()
                lv[:, :, i, j] = torch.multinomial(probs, 1, generator=generator).view(n, C).to(dev)
        return lv.float() / (self.config.levels - 1)


# -- PixelRNN: the Row LSTM (van den Oord et al. 2016a), the slow reference ------------------------------------

@dataclass
class PixelRNNConfig(PixelCNNConfig):
    """Configuration of :class:`PixelRNN`: a 7x7 type-A masked convolution, then ``layers`` Row LSTM layers
    of ``features`` units (``kernel`` the width of their row convolutions), then the 1x1 head."""

    features: int = 32
    layers: int = 1
    kernel: int = 3
    first_kernel: int = 7
    head_features: int = 64
    variant: str = "row_lstm"
    VARIANTS: ClassVar[tuple[str, ...]] = ("row_lstm",)


class _RowLSTM(nn.Module):
    """One Row LSTM layer: row i's gates from a masked (type B: centre and left) 1 x k convolution of the
    input row and a 1 x k convolution of row i-1's hidden state, so each state sees a triangle of rows above
    and the pixels to its left; the rows are computed one after another (the slow part)."""

    def __init__(self, c: int, k: int, num_classes: int) -> None:
        super().__init__()
        self.k = k
        self.input_to_state = nn.Conv1d(c, 4 * c, k, padding=k // 2)
        self.state_to_state = nn.Conv1d(c, 4 * c, k, padding=k // 2)
        mask = torch.ones_like(self.input_to_state.weight)
        mask[:, :, k // 2 + 1:] = 0                       # type B: the pixels right of the centre hidden
        self.register_buffer("mask", mask, persistent=False)
        self.cond = nn.Embedding(num_classes, 4 * c) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        b, c, H, W = x.shape
        gates_in = F.conv1d(x.permute(0, 2, 1, 3).reshape(b * H, c, W), self.input_to_state.weight * self.mask,
                            self.input_to_state.bias, padding=self.k // 2).view(b, H, 4 * c, W)
        if self.cond is not None and y is not None:
            gates_in = gates_in + self.cond(y)[:, None, :, None]
        h = x.new_zeros(b, c, W)
        cell = x.new_zeros(b, c, W)
        rows = []
        for i in range(H):
            g = gates_in[:, i] + self.state_to_state(h)
            ig, fg, og, cand = g.chunk(4, 1)
            cell = torch.sigmoid(fg) * cell + torch.sigmoid(ig) * torch.tanh(cand)
            h = torch.sigmoid(og) * torch.tanh(cell)
            rows.append(h)
        return torch.stack(rows, 2)


class PixelRNN(PixelCNN):
    """PixelRNN with Row LSTM layers (van den Oord et al. 2016a): the same exact likelihood, levels, classes
    and pixel-by-pixel sampling as :class:`PixelCNN`, with recurrent rows instead of masked convolutions,
    the slow reference (each network pass is sequential over the rows; sampling recomputes the whole image).

    Example
    -------
    >>> m = PixelRNN(PixelRNNConfig(image_size=6, levels=2, features=8, head_features=8))
    >>> m.nll(torch.rand(2, 1, 6, 6)).shape
    torch.Size([2])
    """

    name: ClassVar[str] = "pixelrnn"
    config_class = PixelRNNConfig

    def __init__(self, config: PixelRNNConfig | None = None) -> None:
        config = config or PixelRNNConfig()
        config.validate()
        GenerativeModel.__init__(self, config)
        c = config.features
        self.embed = nn.Conv2d(config.in_channels, c, 1)
        self.first = MaskedConv2d("A", c, c, config.first_kernel)
        self.rows = nn.ModuleList(_RowLSTM(c, config.kernel, config.num_classes) for _ in range(config.layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, config.head_features, 1), nn.ReLU(),
                                  nn.Conv2d(config.head_features, config.levels * config.in_channels, 1))

    @property
    def receptive_rows(self) -> int:
        return self.config.image_size        # a recurrence over the rows: every row above

    def logits(self, levels: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        L = self.config.levels
        h = self.first(self.embed(levels.to(self.embed.weight.dtype) * (2.0 / (L - 1)) - 1.0))
        for layer in self.rows:
            h = h + layer(h, y)
        out = self.head(h)
        return out.view(out.shape[0], L, self.config.in_channels, *out.shape[-2:])
