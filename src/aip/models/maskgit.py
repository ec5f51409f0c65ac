"""MaskGIT: a bidirectional transformer over VQ-VAE tokens, decoded in a few parallel steps.

Images become an ``s x s`` map of code indices by a frozen VQ-VAE tokenizer (:class:`~aip.models.vae.VQVAE`,
``tokenizer=`` a run folder of ``aip train vqvae``). A transformer (:class:`~aip.models.layers.TransformerBlock`)
reads a class token and the N = s^2 tokens, some replaced by a [MASK] token, and predicts the code at every
position.

- ``decoding="maskgit"`` (Chang et al. 2022): training masks a fraction gamma(r) = cos(pi r / 2), r ~ U(0, 1),
  of the tokens and scores the cross-entropy on the masked ones. Sampling starts from all [MASK] and runs
  ``steps`` rounds: predict every masked token, keep the most confident, and re-mask the others so that
  gamma((t + 1) / T) N stay masked after round t (the cosine schedule), with Gumbel noise on the confidences
  annealed to zero ("choice temperature").
- ``decoding="autoregressive"``: the same network with a causal mask predicts token i from the class token and
  tokens before it (raster order), trained on every token; sampling is token by token, N network passes
  (no key-value cache, so each pass costs what a MaskGIT round costs). Its loss is the exact NLL of the codes.

Class conditioning: the class token is the label's embedding, or a null label with probability ``cond_drop``
in training, which gives classifier-free guidance: logits = l_null + w (l_y - l_null).

References
----------
Chang, Zhang, Jiang, Liu, Freeman, "MaskGIT: Masked Generative Image Transformer", CVPR 2022.
Esser, Rombach, Ommer, "Taming Transformers for High-Resolution Image Synthesis", CVPR 2021.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_choice, check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.layers import TransformerBlock, check_image_batch, check_labels, check_transformer

__all__ = ["MaskGIT", "MaskGITConfig", "cosine_mask_schedule", "masked_after_rounds"]


def cosine_mask_schedule(r: torch.Tensor | float) -> torch.Tensor | float:
    """gamma(r) = cos(pi r / 2): the fraction of tokens masked at progress r in [0, 1] (1 at 0, 0 at 1)."""
    if isinstance(r, torch.Tensor):
        return torch.cos(0.5 * math.pi * r)
    return math.cos(0.5 * math.pi * r)


def masked_after_rounds(steps: int, n: int) -> list[int]:
    """Tokens still masked after each of ``steps`` decoding rounds over ``n`` tokens: floor(gamma((t+1)/T) n),
    at least one fewer each round, 0 after the last (so every round reveals at least one token)."""
    steps, n = check_int(steps, "steps", low=1), check_int(n, "n", low=1)
    if steps > n:
        raise ValueError(f"steps: expected at most the {n} tokens (one revealed per round), got {steps}")
    out, left = [], n
    for t in range(steps):
        k = 0 if t == steps - 1 else min(math.floor(cosine_mask_schedule((t + 1) / steps) * n), left - 1)
        k = max(k, steps - 1 - t)      # leave a token for every later round
        out.append(k)
        left = k
    return out


@dataclass
class MaskGITConfig:
    """``tokenizer``: a run folder of ``aip train vqvae`` (frozen); "" builds an untrained default VQ-VAE (tests)."""

    tokenizer: str = ""
    image_size: int = 28
    in_channels: int = 1
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    num_classes: int = 10
    cond_drop: float = 0.1
    decoding: str = "maskgit"
    steps: int = 8
    choice_temperature: float = 4.5
    lr: float = 5e-4
    weight_decay: float = 0.01

    def validate(self) -> None:
        check_transformer(self)
        check_int(self.num_classes, "num_classes", low=0)
        if not 0 <= self.cond_drop < 1:
            raise ValueError(f"cond_drop: expected a probability in [0, 1), got {self.cond_drop!r}")
        check_choice(self.decoding, "decoding", ("maskgit", "autoregressive"))
        check_int(self.steps, "steps", low=1)
        check_positive(self.choice_temperature, "choice_temperature", allow_zero=True)
        check_positive(self.lr, "lr")


class MaskGIT(GenerativeModel):
    """Masked (or causal) transformer over the codes of a frozen VQ-VAE; see the module docstring.

    Example
    -------
    >>> m = MaskGIT(MaskGITConfig(dim=32, depth=1, num_classes=0))
    >>> m.sample(2, steps=4).shape
    torch.Size([2, 1, 28, 28])
    """

    config_class = MaskGITConfig
    name = "maskgit"
    frozen = ("tokenizer",)         # the VQ-VAE: trained first, fixed (its codebook EMA stays off)

    def __init__(self, config: MaskGITConfig | None = None) -> None:
        config = config or MaskGITConfig()
        config.validate()
        super().__init__(config)
        self.tokenizer = self._load_tokenizer(config)
        self.freeze()
        s = self.tokenizer.encode(torch.zeros(1, config.in_channels, config.image_size, config.image_size)).shape[-1]
        self.grid, self.num_tokens = s, s * s
        k = self.tokenizer.config.num_embeddings
        self.vocab, self.mask_id = k, k                                  # [MASK] is the extra index k
        self.token_embed = nn.Embedding(k + 1, config.dim)
        self.class_embed = nn.Embedding(config.num_classes + 1, config.dim)   # the last: the null label
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.num_tokens, config.dim))
        self.blocks = nn.ModuleList(TransformerBlock(config.dim, config.heads, config.mlp_ratio, config.dropout)
                                    for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, k)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in [self.token_embed, self.class_embed, self.head, *self.blocks.modules()]:
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        causal = torch.ones(1 + self.num_tokens, 1 + self.num_tokens, dtype=torch.bool).tril()
        self.register_buffer("causal", causal, persistent=False)

    @staticmethod
    def _load_tokenizer(config: MaskGITConfig) -> nn.Module:
        from aip.models.vae import VQVAE, VQVAEConfig

        if not config.tokenizer:
            return VQVAE(VQVAEConfig(image_size=config.image_size, in_channels=config.in_channels,
                                     prior="frequency")).eval()
        return MaskGIT.load_stage(config.tokenizer, VQVAE, "tokenizer", config.image_size, config.in_channels)

    # -- the network --------------------------------------------------------------------------------------

    def logits(self, tokens: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """(B, N, K) code logits for (B, N) token indices (``mask_id`` where masked) and labels (None: null)."""
        b = tokens.shape[0]
        null = torch.full((b,), self.config.num_classes, dtype=torch.long, device=tokens.device)
        lab = null if y is None else y
        h = torch.cat([self.class_embed(lab)[:, None], self.token_embed(tokens)], 1) + self.pos_embed
        mask = self.causal if self.config.decoding == "autoregressive" else None
        for block in self.blocks:
            h = block(h, mask)
        out = self.head(self.norm(h))
        # bidirectional: the output at token i predicts token i; causal: the output at i predicts token i + 1
        return out[:, :-1] if self.config.decoding == "autoregressive" else out[:, 1:]

    def _guided(self, tokens: torch.Tensor, y: torch.Tensor | None, guidance: float) -> torch.Tensor:
        cond = self.logits(tokens, y)
        if y is None or guidance == 1.0:
            return cond
        return self.logits(tokens, None) + guidance * (cond - self.logits(tokens, None))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N) code indices of images in [0, 1], raster order."""
        return self.tokenizer.encode(x).flatten(1)

    def _drop_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        if y is None or not self.training or self.config.cond_drop == 0:
            return y
        drop = torch.rand(y.shape, device=y.device) < self.config.cond_drop
        return torch.where(drop, torch.full_like(y, self.config.num_classes), y)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        y = check_labels(y, x.shape[0], self.config.num_classes)
        codes = self.encode(x)
        yy = self._drop_labels(y)
        if self.config.decoding == "autoregressive":
            inp = torch.cat([codes[:, :1], codes[:, :-1]], 1)   # position 0 is the class token's; its input unused
            ce = F.cross_entropy(self.logits(inp, yy).transpose(1, 2), codes, reduction="none")
            nll = ce.sum(1).mean()
            return {"loss": ce.mean(), "code_nll_nats": nll.detach()}
        b, n = codes.shape
        ratio = cosine_mask_schedule(torch.rand(b, device=x.device))
        m = (ratio * n).ceil().clamp(min=1).long()                     # tokens masked per image
        rank = torch.rand(b, n, device=x.device).argsort(1).argsort(1)  # a random order of the positions
        masked = rank < m[:, None]
        inp = torch.where(masked, torch.full_like(codes, self.mask_id), codes)
        logits = self.logits(inp, yy)
        ce = F.cross_entropy(logits.transpose(1, 2), codes, reduction="none")
        loss = (ce * masked).sum() / masked.sum()
        acc = ((logits.argmax(-1) == codes) & masked).sum() / masked.sum()
        return {"loss": loss, "masked_accuracy": acc.detach().float()}

    def code_nll(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Exact NLL (nats, (B,)) of the images' codes under the autoregressive model."""
        if self.config.decoding != "autoregressive":
            raise ValueError("code_nll: expected decoding='autoregressive' (MaskGIT has no exact likelihood)")
        codes = self.encode(x)
        inp = torch.cat([codes[:, :1], codes[:, :-1]], 1)
        return F.cross_entropy(self.logits(inp, y).transpose(1, 2), codes, reduction="none").sum(1)

    # -- sampling -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample_codes(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     steps: int | None = None, temperature: float = 1.0, guidance: float = 1.0,
                     choice_temperature: float | None = None) -> tuple[torch.Tensor, int]:
        """(n, N) code indices and the number of network passes used."""
        dev = self.pos_embed.device
        g = generator

        def draw(logits: torch.Tensor) -> torch.Tensor:
            p = torch.softmax(logits.float() / temperature, -1)
            return torch.multinomial(p.reshape(-1, p.shape[-1]).cpu(), 1, generator=g).view(p.shape[:-1]).to(dev)

        if self.config.decoding == "autoregressive":
            codes = torch.zeros(n, self.num_tokens, dtype=torch.long, device=dev)
            for i in range(self.num_tokens):
                inp = torch.cat([codes[:, :1], codes[:, :-1]], 1)
                codes[:, i] = draw(self._guided(inp, y, guidance)[:, i])
            return codes, self.num_tokens * (1 if y is None or guidance == 1.0 else 2)
        # the config's default is capped at N (tiny images have few tokens); an explicit ``steps`` is checked
        t_total = min(self.config.steps, self.num_tokens) if steps is None else check_int(steps, "steps", low=1)
        tau = self.config.choice_temperature if choice_temperature is None else choice_temperature
        codes = torch.full((n, self.num_tokens), self.mask_id, dtype=torch.long, device=dev)
        plan = masked_after_rounds(t_total, self.num_tokens)
        for t in range(t_total):
            unknown = codes == self.mask_id
            logits = self._guided(codes, y, guidance)
            pred = draw(logits)
            pred = torch.where(unknown, pred, codes)
            conf = torch.log_softmax(logits.float() / temperature, -1).gather(-1, pred[..., None])[..., 0]
            u = torch.rand(conf.shape, generator=g).to(dev).clamp(1e-20, 1.0)
            conf = conf + tau * (1 - (t + 1) / t_total) * -torch.log(-torch.log(u))   # annealed Gumbel noise
            conf = torch.where(unknown, conf, torch.full_like(conf, math.inf))
            keep_masked = plan[t]
            codes = pred
            if keep_masked > 0:
                low = conf.argsort(1)[:, :keep_masked]                 # the least confident new tokens
                codes = codes.scatter(1, low, self.mask_id)
        return codes, t_total * (1 if y is None or guidance == 1.0 else 2)

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               steps: int | None = None, temperature: float = 1.0, guidance: float = 1.0,
               choice_temperature: float | None = None, **kwargs: Any) -> torch.Tensor:
        """``n`` images in [0, 1]: codes by the model's decoding (``steps`` MaskGIT rounds, default the
        config's; the autoregressive model always takes N), decoded by the tokenizer. ``y=None`` on a
        class-conditional model cycles the labels 0, 1, 2, ..."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected steps, "
                            "temperature, guidance, choice_temperature")
        n = check_int(n, "n", low=1)
        check_positive(temperature, "temperature")
        if self.config.num_classes and y is None:
            y = torch.arange(n) % self.config.num_classes
        y = check_labels(y, n, self.config.num_classes, required=False)
        y = None if y is None else y.to(self.pos_embed.device)
        was = self.training
        self.eval()
        try:
            codes, _ = self.sample_codes(n, y=y, generator=generator, steps=steps, temperature=temperature,
                                         guidance=guidance, choice_temperature=choice_temperature)
            return self.tokenizer.decode_codes(codes.view(n, self.grid, self.grid))
        finally:
            self.train(was)
