"""Autoencoders: AE, VAE, conditional VAE, VampPrior VAE and VQ-VAE.

Likelihood (stated once for all of them): images are in [0, 1]. ``likelihood="bernoulli"`` scores each pixel
with log Bernoulli(x; sigmoid(logit)) = -BCE(logit, x), the standard choice on (binarized) MNIST, where the
reported NLL is exact in nats for binary data and a (non-normalised) score for grey levels; ``binarize=True``
thresholds every batch at 0.5 first (a model of binarized digits, scored like PixelCNN with ``levels=2``).
``"gaussian"`` uses N(x; sigmoid(logit), sigma^2) per pixel with one learned sigma (a proper density on the
reals, Rybkin et al. 2021). Latent priors are standard normal (VAE, CVAE) or the VampPrior mixture (Tomczak & Welling 2018).

Importance-weighted NLL (Burda et al. 2016): ``-log (1/k) sum_i p(x, z_i) / q(z_i | x)``, ``z_i ~ q(z | x)``,
computed with logsumexp; for every k it is an upper bound on -log p(x) that tightens as k grows, and k = 1 is
the (negative) ELBO in expectation.

References
----------
Kingma, Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
Sohn, Lee, Yan, "Learning Structured Output Representation using Deep Conditional Generative Models", 2015.
Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
Tomczak, Welling, "VAE with a VampPrior", AISTATS 2018.
van den Oord, Vinyals, Kavukcuoglu, "Neural Discrete Representation Learning", NeurIPS 2017.
Razavi, van den Oord, Vinyals, "Generating Diverse High-Fidelity Images with VQ-VAE-2", NeurIPS 2019 (EMA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aip._shared.validate import check_choice, check_fraction, check_int, check_positive
from aip.models.base import GenerativeModel
from aip.models.layers import (
    check_image_batch,
    check_labels,
    crop_to,
    nats_to_bits_per_dim,
    pad_to,
    padded_size,
)
from aip.models.pixelcnn import PixelCNNPrior

LOG_2PI = math.log(2 * math.pi)


# -- conv encoder / decoder -------------------------------------------------------------------------------

class ConvEncoder(nn.Module):
    """Two stride-2 4x4 convolutions with ReLU, flattened, then a linear layer (+ optional one-hot label).

    Images whose side is not a multiple of 4 are zero-padded to the next one.
    """

    def __init__(self, in_ch: int, size: int, hidden: tuple[int, int], out_dim: int, label_dim: int = 0,
                 hidden_dim: int = 256) -> None:
        super().__init__()
        h1, h2 = hidden
        self.padded = size = padded_size(size)
        self.conv = nn.Sequential(nn.Conv2d(in_ch, h1, 4, 2, 1), nn.ReLU(), nn.Conv2d(h1, h2, 4, 2, 1), nn.ReLU(),
                                  nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(h2 * (size // 4) ** 2 + label_dim, hidden_dim), nn.ReLU(),
                                nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(pad_to(x, self.padded))
        if label is not None:
            h = torch.cat([h, label], 1)
        return self.fc(h)


class ConvDecoder(nn.Module):
    """Linear layers to a (h2, H/4, W/4) map, then two stride-2 transposed convolutions to logits
    (cropped to ``size`` when it is not a multiple of 4)."""

    def __init__(self, in_dim: int, out_ch: int, size: int, hidden: tuple[int, int], hidden_dim: int = 256) -> None:
        super().__init__()
        h1, h2 = hidden
        self.size = size
        size = padded_size(size)
        self.shape = (h2, size // 4, size // 4)
        self.fc = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(),
                                nn.Linear(hidden_dim, h2 * (size // 4) ** 2), nn.ReLU())
        self.deconv = nn.Sequential(nn.ConvTranspose2d(h2, h1, 4, 2, 1), nn.ReLU(),
                                    nn.ConvTranspose2d(h1, out_ch, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return crop_to(self.deconv(self.fc(z).view(-1, *self.shape)), self.size)


# -- VAE family ---------------------------------------------------------------------------------------------

def _check_geometry(config) -> None:
    """The image and encoder checks the VAE and VQ-VAE configurations share."""
    check_int(config.image_size, "image_size", low=4)
    check_int(config.in_channels, "in_channels", low=1, high=4)
    if len(tuple(config.hidden_channels)) != 2:
        raise ValueError(f"hidden_channels: expected two channel counts, got {config.hidden_channels!r}")


@dataclass
class VAEConfig:
    """Configuration shared by AE, VAE, CVAE and VampPrior VAE (image side a multiple of 4)."""

    image_size: int = 28
    in_channels: int = 1
    latent_dim: int = 16
    hidden_channels: tuple[int, int] = (32, 64)
    hidden_dim: int = 256
    likelihood: str = "bernoulli"
    binarize: bool = False
    num_classes: int = 0
    beta: float = 1.0
    num_pseudo_inputs: int = 0
    lr: float = 1e-3

    def validate(self) -> None:
        _check_geometry(self)
        check_int(self.latent_dim, "latent_dim", low=1)
        check_int(self.hidden_dim, "hidden_dim", low=1)
        check_choice(self.likelihood, "likelihood", ("bernoulli", "gaussian"))
        if self.binarize and self.likelihood != "bernoulli":
            raise ValueError(f"binarize: binary data needs likelihood 'bernoulli', got {self.likelihood!r}")
        check_int(self.num_classes, "num_classes", low=0)
        check_positive(self.beta, "beta", allow_zero=True)
        check_int(self.num_pseudo_inputs, "num_pseudo_inputs", low=0)
        check_positive(self.lr, "lr")


class _AEBase(GenerativeModel):
    """Encoder/decoder plumbing and the likelihood shared by the AE and VAE models."""

    config_class = VAEConfig
    latent_multiplier = 2

    def __init__(self, config: VAEConfig | None = None) -> None:
        config = config or self.config_class()
        config.hidden_channels = tuple(config.hidden_channels)
        config.validate()
        super().__init__(config)
        k = config.num_classes
        self.encoder = ConvEncoder(config.in_channels, config.image_size, config.hidden_channels,
                                   self.latent_multiplier * config.latent_dim, k, config.hidden_dim)
        self.decoder = ConvDecoder(config.latent_dim + k, config.in_channels, config.image_size,
                                   config.hidden_channels, config.hidden_dim)
        if config.likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.tensor(math.log(0.1)))

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """Adam defaults for the trainer (``lr`` from the config)."""
        return {"lr": float(self.config.lr)}

    @property
    def num_dims(self) -> int:
        return self.config.in_channels * self.config.image_size ** 2

    def _onehot(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return None if y is None else F.one_hot(y, self.config.num_classes).float()

    def _check(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The checked batch (thresholded at 0.5 when ``binarize``, as PixelCNN's levels=2) and labels."""
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        y = check_labels(y, x.shape[0], self.config.num_classes)
        return ((x >= 0.5).to(x.dtype) if self.config.binarize else x), y

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        oh = self._onehot(y)
        return self.decoder(z if oh is None else torch.cat([z, oh.to(z.dtype)], 1))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Mean image in [0, 1] of p(x | z, y)."""
        return torch.sigmoid(self.decode_logits(z, y))

    def log_likelihood(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """log p(x | z) per image (nats), Bernoulli or Gaussian as configured."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        ls = self.log_sigma
        r = (x - torch.sigmoid(logits)) / ls.exp()
        return (-0.5 * r.square() - ls - 0.5 * LOG_2PI).flatten(1).sum(1)

    def default_labels(self, n: int, device: torch.device) -> torch.Tensor | None:
        if not self.config.num_classes:
            return None
        return torch.arange(n, device=device) % self.config.num_classes

    def _sample_labels(self, n: int, y: torch.Tensor | None) -> torch.Tensor | None:
        device = next(self.parameters()).device
        if y is None:
            return self.default_labels(n, device)
        return check_labels(y, n, self.config.num_classes).to(device)


class AE(_AEBase):
    """Deterministic autoencoder; samples from a diagonal Gaussian fitted (by running moments) to its codes.

    Example
    -------
    >>> ae = AE(VAEConfig(latent_dim=4))
    >>> ae(torch.rand(3, 1, 28, 28))["loss"].ndim
    0
    """

    name = "ae"
    latent_multiplier = 1

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__(config)
        self.register_buffer("code_mean", torch.zeros(self.config.latent_dim))
        self.register_buffer("code_var", torch.ones(self.config.latent_dim))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x, self._onehot(y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        x, y = self._check(x, y)
        z = self.encode(x, y)
        if self.training:
            with torch.no_grad():  # running moments of the codes, for sampling
                self.code_mean.lerp_(z.mean(0), 0.01)
                self.code_var.lerp_(z.var(0, unbiased=False) if z.shape[0] > 1 else self.code_var, 0.01)
        rec = -self.log_likelihood(x, self.decode_logits(z, y)).mean()
        return {"loss": rec, "recon": rec.detach()}

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               **kwargs: Any) -> torch.Tensor:
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}")
        n = check_int(n, "n", low=1)
        y = self._sample_labels(n, y)
        eps = torch.randn(n, self.config.latent_dim, generator=generator).to(self.code_mean.device)
        return self.decode(self.code_mean + self.code_var.sqrt() * eps, y)


class VAE(_AEBase):
    """Variational autoencoder with a standard normal prior (Kingma & Welling 2014).

    ``forward`` returns the negative ELBO per image (nats) as ``loss`` (``beta`` weights the KL term), with
    ``recon`` and ``kl``; ``elbo``, ``iwae_bound`` and ``nll`` give the bounds in nats.

    Example
    -------
    >>> vae = VAE(VAEConfig(latent_dim=4))
    >>> x = torch.rand(2, 1, 28, 28).round()
    >>> bool((vae.nll(x, k=8) <= -vae.elbo(x) + 50).all())
    True
    """

    name = "vae"

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, y)."""
        mu, logvar = self.encoder(x, self._onehot(y)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (the reparameterisation trick)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps

    @staticmethod
    def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """log N(z; mu, diag(exp(logvar))) summed over the last dimension."""
        return (-0.5 * (LOG_2PI + logvar + (z - mu).square() / logvar.exp())).sum(-1)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z), standard normal."""
        return (-0.5 * (LOG_2PI + z.square())).sum(-1)

    def kl(self, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)): closed form for the standard normal prior."""
        return 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(-1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        x, y = self._check(x, y)
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        rec = -self.log_likelihood(x, self.decode_logits(z, y))
        kl = self.kl(z, mu, logvar)
        loss = (rec + self.config.beta * kl).mean()
        return {"loss": loss, "recon": rec.mean().detach(), "kl": kl.mean().detach()}

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None, *,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One-sample ELBO per image in nats (beta = 1)."""
        x, y = self._check(x, y)
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar, generator)
        return self.log_likelihood(x, self.decode_logits(z, y)) - self.kl(z, mu, logvar)

    @torch.no_grad()
    def iwae_bound(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 100, chunk: int = 50,
                   generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-weighted lower bound ``log (1/k) sum_i p(x, z_i) / q(z_i | x)`` per image (nats)."""
        k = check_int(k, "k", low=1)
        x, y = self._check(x, y)
        mu, logvar = self.encode(x, y)
        logw = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            mu_r = mu.unsqueeze(0).expand(m, *mu.shape)
            lv_r = logvar.unsqueeze(0).expand(m, *logvar.shape)
            z = self.reparameterize(mu_r, lv_r, generator)                    # (m, B, D)
            flat = z.reshape(-1, z.shape[-1])
            yy = None if y is None else y.repeat(m)
            xx = x.unsqueeze(0).expand(m, *x.shape).reshape(-1, *x.shape[1:])
            log_px = self.log_likelihood(xx, self.decode_logits(flat, yy)).view(m, -1)
            logw.append(log_px + self.log_prior(z) - self.log_normal(z, mu_r, lv_r))
        logw = torch.cat(logw, 0)
        return torch.logsumexp(logw, 0) - math.log(k)

    def nll(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 100,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-weighted NLL estimate per image in nats (Burda et al. 2016); see ``bits_per_dim``."""
        return -self.iwae_bound(x, y, k=k, generator=generator)

    def bits_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 100) -> torch.Tensor:
        """The importance-weighted NLL in bits per dimension."""
        return nats_to_bits_per_dim(self.nll(x, y, k=k), self.num_dims)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator).to(next(self.parameters()).device)

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, **kwargs: Any) -> torch.Tensor:
        """Mean images of p(x | z, y) for z from the prior (``y=None`` on a CVAE cycles 0, 1, 2, ...)."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}; expected temperature")
        n = check_int(n, "n", low=1)
        y = self._sample_labels(n, y)
        z = self.sample_prior(n, generator) * check_positive(temperature, "temperature")
        return self.decode(z, y)

    @torch.no_grad()
    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, steps: int = 8, *,
                    y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``steps`` points on the line between the posterior means of two images: (steps, C, H, W)."""
        steps = check_int(steps, "steps", low=2)
        x = torch.stack([x0, x1]) if x0.ndim == 3 else torch.cat([x0, x1])
        yy = None if y is None else torch.as_tensor(y).reshape(-1)[:1].repeat(2)
        x, yy = self._check(x, yy)
        mu, _ = self.encode(x, yy)
        w = torch.linspace(0, 1, steps, device=mu.device).view(-1, 1)
        z = (1 - w) * mu[0] + w * mu[1]
        return self.decode(z, None if yy is None else yy[:1].repeat(steps))


@dataclass
class CVAEConfig(VAEConfig):
    """VAEConfig with 10 classes by default."""

    num_classes: int = 10


@dataclass
class VampVAEConfig(VAEConfig):
    """VAEConfig with 100 pseudo-inputs by default (Tomczak & Welling used 500 on MNIST)."""

    num_pseudo_inputs: int = 100


class CVAE(VAE):
    """Conditional VAE: the one-hot label enters the encoder's dense layer and the decoder's input (Sohn 2015)."""

    config_class = CVAEConfig
    name = "cvae"

    def __init__(self, config: VAEConfig | None = None) -> None:
        config = config or CVAEConfig()
        if not config.num_classes:
            raise ValueError("num_classes: a CVAE needs num_classes >= 1, got 0")
        super().__init__(config)


class VampVAE(VAE):
    """VAE with the VampPrior p(z) = 1/K sum_k q(z | u_k) over K learned pseudo-inputs (Tomczak & Welling 2018).

    Pseudo-inputs are ``sigmoid`` of free parameters (so they stay images in [0, 1]); log p(z) uses logsumexp.
    The KL term is estimated with the single reparameterised sample (no closed form for a mixture).
    """

    config_class = VampVAEConfig
    name = "vampvae"

    def __init__(self, config: VAEConfig | None = None) -> None:
        config = config or VampVAEConfig()
        if not config.num_pseudo_inputs:
            raise ValueError("num_pseudo_inputs: the VampPrior needs at least 1 pseudo-input, got 0")
        if config.num_classes:
            raise ValueError(f"num_classes: the VampPrior VAE is unconditional, got {config.num_classes}")
        super().__init__(config)
        c, s = config.in_channels, config.image_size
        self.pseudo_logits = nn.Parameter(0.5 * torch.randn(config.num_pseudo_inputs, c, s, s))

    def pseudo_inputs(self) -> torch.Tensor:
        return torch.sigmoid(self.pseudo_logits)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log (1/K) sum_k N(z; mu_k, var_k), computed with logsumexp."""
        mu_k, lv_k = self.encode(self.pseudo_inputs())                     # (K, D)
        lp = self.log_normal(z.unsqueeze(-2), mu_k, lv_k)                  # (..., K)
        return torch.logsumexp(lp, -1) - math.log(mu_k.shape[0])

    def kl(self, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return self.log_normal(z, mu, logvar) - self.log_prior(z)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        mu_k, lv_k = self.encode(self.pseudo_inputs())
        idx = torch.randint(0, mu_k.shape[0], (n,), generator=generator).to(mu_k.device)
        eps = torch.randn(n, mu_k.shape[1], generator=generator).to(mu_k.device)
        return mu_k[idx] + (0.5 * lv_k[idx]).exp() * eps


# -- VQ-VAE -------------------------------------------------------------------------------------------------

class VectorQuantizerEMA(nn.Module):
    """Codebook with exponential-moving-average updates and dead-code restart (van den Oord 2017, App. A.1).

    With one-hot assignments n_k (counts) and sums m_k = sum of the encoder outputs assigned to code k:

        N_k <- gamma N_k + (1 - gamma) n_k,   M_k <- gamma M_k + (1 - gamma) m_k,
        e_k = M_k / N~_k,  N~_k = (N_k + eps) / (sum_j N_j + K eps) * sum_j N_j  (Laplace smoothing).

    A code whose N_k falls below ``dead_threshold`` is restarted at a random encoder output of the batch.
    """

    def __init__(self, num_embeddings: int, dim: int, *, decay: float = 0.99, eps: float = 1e-5,
                 dead_threshold: float = 1e-3) -> None:
        super().__init__()
        self.num_embeddings, self.dim = num_embeddings, dim
        self.decay, self.eps, self.dead_threshold = decay, eps, dead_threshold
        embed = torch.randn(num_embeddings, dim) * 0.1
        self.register_buffer("embedding", embed)
        self.register_buffer("cluster_size", torch.ones(num_embeddings))
        self.register_buffer("embed_sum", embed.clone())
        self.register_buffer("initialized", torch.tensor(False))

    def assign(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of ``flat`` (N, D)."""
        d = (flat.square().sum(1, keepdim=True) - 2 * flat @ self.embedding.T
             + self.embedding.square().sum(1).view(1, -1))
        return d.argmin(1)

    def _batch_rows(self, flat: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
        """``count`` random rows of the batch (the same on every rank under DDP)."""
        pick = torch.randint(0, flat.shape[0], (count,), generator=generator).to(flat.device)
        rows = flat[pick].contiguous()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(rows, 0)
        return rows

    @torch.no_grad()
    def ema_update(self, flat: torch.Tensor, idx: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> None:
        """One EMA step of the codebook on encoder outputs ``flat`` (N, D) assigned to codes ``idx``.

        The first call only initialises the codebook at random encoder outputs (data-dependent init).
        """
        if not bool(self.initialized):
            rows = self._batch_rows(flat, self.num_embeddings, generator)
            self.embedding.copy_(rows)
            self.embed_sum.copy_(rows)
            self.cluster_size.fill_(1.0)
            self.initialized.fill_(True)
            return
        if idx is None:
            idx = self.assign(flat)
        onehot = F.one_hot(idx, self.num_embeddings).to(flat.dtype)
        counts, sums = onehot.sum(0), onehot.T @ flat
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            ws = torch.distributed.get_world_size()
            torch.distributed.all_reduce(counts)
            torch.distributed.all_reduce(sums)
            counts, sums = counts / ws, sums / ws
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.num_embeddings * self.eps) * n
        self.embedding.copy_(self.embed_sum / smoothed.unsqueeze(1))
        dead = self.cluster_size < self.dead_threshold
        if bool(dead.any()):
            fresh = self._batch_rows(flat, int(dead.sum()), generator)
            self.embedding[dead] = fresh
            self.embed_sum[dead] = fresh
            self.cluster_size[dead] = 1.0

    def forward(self, z_e: torch.Tensor, *, update: bool | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize (B, D, h, w): straight-through z_q, code indices (B, h, w), commitment MSE."""
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        idx = self.assign(flat.detach())
        if self.training if update is None else update:
            self.ema_update(flat.detach().float(), idx)
            idx = self.assign(flat.detach())
        z_q = self.embedding[idx].view(b, h, w, d).permute(0, 3, 1, 2).to(z_e.dtype)
        commit = F.mse_loss(z_e, z_q.detach())
        return z_e + (z_q - z_e).detach(), idx.view(b, h, w), commit

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, h, w) indices -> (B, D, h, w) code vectors."""
        return self.embedding[idx].permute(0, 3, 1, 2)


@dataclass
class VQVAEConfig:
    """Configuration of :class:`VQVAE`; ``prior="pixelcnn"`` trains an autoregressive code prior as a second
    phase, ``"frequency"`` samples codes independently from their EMA usage frequencies."""

    image_size: int = 28
    in_channels: int = 1
    hidden_channels: tuple[int, int] = (32, 64)
    embedding_dim: int = 16
    num_embeddings: int = 64
    commitment: float = 0.25
    decay: float = 0.99
    eps: float = 1e-5
    dead_threshold: float = 1e-3
    prior: str = "pixelcnn"
    prior_channels: int = 64
    prior_layers: int = 4
    num_classes: int = 0
    lr: float = 1e-3

    def validate(self) -> None:
        _check_geometry(self)
        check_int(self.embedding_dim, "embedding_dim", low=1)
        check_int(self.num_embeddings, "num_embeddings", low=2)
        check_positive(self.commitment, "commitment", allow_zero=True)
        check_fraction(self.decay, "decay")
        check_positive(self.eps, "eps")
        check_choice(self.prior, "prior", ("pixelcnn", "frequency"))
        check_int(self.num_classes, "num_classes", low=0)
        if self.num_classes and self.prior != "pixelcnn":
            raise ValueError("prior: class-conditional sampling needs prior='pixelcnn', got 'frequency'")
        check_positive(self.lr, "lr")


class VQVAE(GenerativeModel):
    """VQ-VAE with an EMA codebook, MSE reconstruction on [0, 1] and a PixelCNN (or frequency) code prior.

    Loss of the "main" phase: ``MSE(x, x_hat) + commitment * ||z_e - sg(e)||^2`` (the codebook moves by EMA).
    Phase "prior" (pixelcnn prior only) trains the prior on the current codes with cross-entropy.

    Example
    -------
    >>> vq = VQVAE(VQVAEConfig(num_embeddings=8, prior="frequency"))
    >>> vq.sample(2).shape
    torch.Size([2, 1, 28, 28])
    """

    config_class = VQVAEConfig
    name = "vqvae"

    def __init__(self, config: VQVAEConfig | None = None) -> None:
        config = config or VQVAEConfig()
        config.hidden_channels = tuple(config.hidden_channels)
        config.validate()
        super().__init__(config)
        h1, h2 = config.hidden_channels
        c, d = config.in_channels, config.embedding_dim
        self.encoder = nn.Sequential(nn.Conv2d(c, h1, 4, 2, 1), nn.ReLU(), nn.Conv2d(h1, h2, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(h2, h2, 3, 1, 1), nn.ReLU(), nn.Conv2d(h2, d, 1))
        self.quantizer = VectorQuantizerEMA(config.num_embeddings, d, decay=config.decay, eps=config.eps,
                                            dead_threshold=config.dead_threshold)
        self.decoder = nn.Sequential(nn.Conv2d(d, h2, 3, 1, 1), nn.ReLU(), nn.ConvTranspose2d(h2, h1, 4, 2, 1),
                                     nn.ReLU(), nn.ConvTranspose2d(h1, c, 4, 2, 1))
        self.prior = (PixelCNNPrior(config.num_embeddings, config.prior_channels, config.prior_layers,
                                    config.num_classes) if config.prior == "pixelcnn" else None)

    def phases(self) -> list[str]:
        return ["main", "prior"] if self.prior is not None else ["main"]

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """Adam defaults for the trainer (``lr`` from the config, both phases)."""
        return {"lr": float(self.config.lr)}

    def phase_parameters(self, phase: str):
        if phase == "main":
            return [*self.encoder.parameters(), *self.decoder.parameters()]
        if phase == "prior" and self.prior is not None:
            return list(self.prior.parameters())
        raise ValueError(f"phase: expected one of {', '.join(self.phases())}, got {phase!r}")

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(pad_to(x, padded_size(self.config.image_size)))

    def _decode(self, z_q: torch.Tensor) -> torch.Tensor:
        return crop_to(self.decoder(z_q), self.config.image_size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code indices (B, ceil(H/4), ceil(W/4)) of images in [0, 1] (no codebook update)."""
        _, idx, _ = self.quantizer(self._encode(x), update=False)
        return idx

    def decode_codes(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self._decode(self.quantizer.lookup(idx)))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        check_image_batch(x, self.config.in_channels, self.config.image_size)
        y = check_labels(y, x.shape[0], self.config.num_classes, required=phase == "prior")
        if phase == "main":
            z_q, idx, commit = self.quantizer(self._encode(x))
            rec = F.mse_loss(torch.sigmoid(self._decode(z_q)), x)
            with torch.no_grad():
                p = torch.bincount(idx.flatten(), minlength=self.config.num_embeddings).float()
                p = p / p.sum()
                perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
            return {"loss": rec + self.config.commitment * commit, "recon": rec.detach(),
                    "commit": commit.detach(), "perplexity": perplexity}
        if phase == "prior" and self.prior is not None:
            with torch.no_grad():
                idx = self.encode(x)
            nll = F.cross_entropy(self.prior(idx, y), idx)
            return {"loss": nll, "prior_nll": nll.detach()}
        raise ValueError(f"phase: expected one of {', '.join(self.phases())}, got {phase!r}")

    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               **kwargs: Any) -> torch.Tensor:
        """Codes from the prior (PixelCNN, raster order; or independent EMA frequencies), decoded to [0, 1]."""
        if kwargs:
            raise TypeError(f"sample: unexpected keyword arguments {sorted(kwargs)}")
        n = check_int(n, "n", low=1)
        device = self.quantizer.embedding.device
        s = padded_size(self.config.image_size) // 4
        if y is None and self.config.num_classes:
            y = torch.arange(n, device=device) % self.config.num_classes
        elif y is not None:
            y = check_labels(y, n, self.config.num_classes).to(device)
        was_training = self.training
        self.eval()
        try:
            if self.prior is not None:
                idx = self.prior.sample(n, s, s, y, generator, device)
            else:
                p = self.quantizer.cluster_size.float().clamp(min=0).cpu()
                idx = torch.multinomial(p / p.sum(), n * s * s, replacement=True, generator=generator)
                idx = idx.view(n, s, s).to(device)
            return self.decode_codes(idx)
        finally:
            self.train(was_training)
