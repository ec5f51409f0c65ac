"""VAE family: bounds against exact log p (1-D latent, quadrature), VampPrior mixture, VQ EMA maths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from aip.models import AE, CVAE, VAE, VQVAE, VampVAE, build_model, nats_to_bits_per_dim
from aip.models.pixelcnn import MaskedConv2d, PixelCNNPrior
from aip.models.vae import (
    VAEConfig,
    VampVAEConfig,
    VectorQuantizerEMA,
    VQVAEConfig,
)


def tiny_data(n=16, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.zeros(n, 1, size, size)
    for i in range(n):   # bars at a few positions: a learnable structure
        base[i, 0, :, (i % 4) * 2] = 1.0
    return (base + 0.05 * torch.rand(base.shape, generator=g)).clamp(0, 1), torch.arange(n) % 4


def train_steps(model, x, y, steps=30, lr=3e-3):
    torch.manual_seed(0)
    opts = {ph: torch.optim.Adam(list(model.phase_parameters(ph)), lr=lr) for ph in model.phases()}
    first = {}
    last = {}
    for i in range(steps):
        for ph, opt in opts.items():
            out = model(x, y, phase=ph)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            first.setdefault(ph, float(out["loss"].detach()))
            last[ph] = float(out["loss"].detach())
    return first, last


@pytest.mark.parametrize("name", ["ae", "vae", "cvae", "vampvae", "vqvae"])
def test_loss_decreases(name):
    kw = {"image_size": 8, "hidden_channels": (8, 16)}
    if name in ("cvae",):
        kw["num_classes"] = 4
    if name == "vampvae":
        kw["num_pseudo_inputs"] = 8
    if name == "vqvae":
        kw.update(num_embeddings=8, embedding_dim=4, prior_channels=16, prior_layers=2)
    model = build_model(name, **kw)
    x, y = tiny_data()
    first, last = train_steps(model, x, y if model.conditional else None)
    for ph in first:
        assert last[ph] < 0.8 * first[ph], (name, ph, first[ph], last[ph])


def exact_log_px(model, x, y=None):
    """log p(x) = log int p(x|z) p(z) dz for a 1-D latent by quadrature on a fine grid."""
    grid = torch.linspace(-9, 9, 6001)
    dz = float(grid[1] - grid[0])
    out = []
    with torch.no_grad():
        for i in range(x.shape[0]):
            yy = None if y is None else y[i:i + 1].repeat(grid.numel())
            logits = model.decode_logits(grid.view(-1, 1), yy)
            lp = model.log_likelihood(x[i:i + 1].expand(grid.numel(), -1, -1, -1), logits) \
                + model.log_prior(grid.view(-1, 1))
            out.append(float(torch.logsumexp(lp.double(), 0)) + math.log(dz))
    return torch.tensor(out)


@pytest.mark.parametrize("cls,kw", [(VAE, {}), (CVAE, {"num_classes": 4}), (VampVAE, {"num_pseudo_inputs": 5}),
                                    (VAE, {"likelihood": "gaussian"})])
def test_elbo_le_iwae_le_log_p(cls, kw):
    torch.manual_seed(0)
    model = cls(VAEConfig(image_size=8, latent_dim=1, hidden_channels=(4, 8), hidden_dim=16, **kw)).eval()
    x, y = tiny_data(4)
    y = y if model.conditional else None
    train_steps(model.train(), x, y, steps=20)
    model.eval()
    logp = exact_log_px(model, x, y)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        elbo = torch.stack([model.elbo(x, y, generator=g) for _ in range(400)]).mean(0)
        iw10 = torch.stack([model.iwae_bound(x, y, k=10, generator=g) for _ in range(40)]).mean(0)
        iw2000 = model.iwae_bound(x, y, k=2000, generator=g)
    tol = 0.05
    assert bool((elbo <= iw10 + tol).all()), (elbo, iw10)
    assert bool((iw10 <= logp + tol).all()), (iw10, logp)
    assert bool((elbo < logp).all())
    if model.config.likelihood == "gaussian":
        return        # a sharp Gaussian likelihood needs far more samples to converge
    # IWAE with many samples converges to log p (Burda et al. Thm 1)
    torch.testing.assert_close(iw2000, logp.float(), atol=0.05, rtol=0)
    torch.testing.assert_close(model.nll(x, y, k=2000, generator=torch.Generator().manual_seed(2)), -logp.float(),
                               atol=0.05, rtol=0)


def test_vampprior_log_prior_is_the_mixture():
    torch.manual_seed(0)
    model = VampVAE(VampVAEConfig(image_size=8, latent_dim=3, hidden_channels=(4, 8), num_pseudo_inputs=7))
    z = torch.randn(5, 3)
    with torch.no_grad():
        mu, lv = model.encode(model.pseudo_inputs())
        got = model.log_prior(z).numpy()
    mu, var = mu.double().numpy(), np.exp(lv.double().numpy())
    comp = -0.5 * (np.log(2 * np.pi * var)[None] + (z.double().numpy()[:, None] - mu[None]) ** 2 / var[None]).sum(-1)
    np.testing.assert_allclose(got, logsumexp(comp, axis=1) - np.log(7), rtol=1e-5)


@pytest.mark.parametrize("name", ["vae", "vampvae"])
def test_binarize_models_the_thresholded_digits(name):
    """binarize=True scores x as PixelCNN's levels=2 does: exactly the plain model on (x >= 0.5)."""
    torch.manual_seed(0)
    kw = {"image_size": 8, "latent_dim": 3, "hidden_channels": (4, 8)}
    binary, plain = build_model(name, binarize=True, **kw), build_model(name, **kw)
    plain.load_state_dict(binary.state_dict())
    x = torch.rand(6, 1, 8, 8)
    xb = (x >= 0.5).float()
    got = binary.nll(x, k=7, generator=torch.Generator().manual_seed(3))
    want = plain.nll(xb, k=7, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert not torch.allclose(plain.nll(x, k=7, generator=torch.Generator().manual_seed(3)), want)
    torch.manual_seed(1)
    a = binary(x)["loss"]
    torch.manual_seed(1)
    torch.testing.assert_close(a, plain(xb)["loss"], rtol=0, atol=0)


def test_vq_ema_update_maths():
    q = VectorQuantizerEMA(4, 2, decay=0.9, eps=1e-5)
    q.initialized.fill_(True)
    e0 = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    q.embedding.copy_(e0)
    q.embed_sum.copy_(e0)
    q.cluster_size.fill_(1.0)
    flat = torch.tensor([[0.1, 0.0], [0.9, 0.1], [1.1, -0.1], [0.0, 1.2]])
    idx = q.assign(flat)
    assert idx.tolist() == [0, 1, 1, 2]
    q.ema_update(flat, idx)
    counts = np.array([1, 2, 1, 0.0])
    sums = np.array([[0.1, 0.0], [2.0, 0.0], [0.0, 1.2], [0.0, 0.0]])
    N = 0.9 * 1.0 + 0.1 * counts
    M = 0.9 * e0.numpy() + 0.1 * sums
    n = N.sum()
    smoothed = (N + 1e-5) / (n + 4 * 1e-5) * n
    np.testing.assert_allclose(q.cluster_size.numpy(), N, rtol=1e-6)
    np.testing.assert_allclose(q.embedding.numpy(), M / smoothed[:, None], rtol=1e-5)


def test_vq_dead_code_restart_and_data_init():
    torch.manual_seed(0)
    q = VectorQuantizerEMA(3, 2, decay=0.5, dead_threshold=0.2)
    flat = torch.randn(10, 2)
    q.ema_update(flat)                                           # first call: codebook := batch rows
    assert all(any(torch.allclose(e, r) for r in flat) for e in q.embedding)
    q.embedding[2] = torch.tensor([100.0, 100.0])                # far away: never assigned
    q.embed_sum[2] = q.embedding[2] * q.cluster_size[2]
    for _ in range(3):                                           # its usage decays 1 -> 0.125 < 0.2
        q.ema_update(flat, q.assign(flat))
    assert q.embedding[2].abs().max() < 10                       # restarted at an encoder output
    assert any(torch.allclose(q.embedding[2], r) for r in flat)


def test_pixelcnn_prior_is_causal():
    torch.manual_seed(0)
    prior = PixelCNNPrior(5, channels=8, layers=2)
    idx = torch.randint(0, 5, (1, 5, 5))
    emb = prior.embed(idx).permute(0, 3, 1, 2).detach().requires_grad_(True)
    h = prior.first(emb)
    for layer in prior.layers:
        h = h + layer(torch.relu(h))
    out = prior.out(torch.relu(h))
    out[0, :, 2, 2].sum().backward()
    grad = emb.grad[0].abs().sum(0)
    flat = grad.flatten()
    assert float(flat[2 * 5 + 2:].sum()) == 0.0                   # no dependence on (2,2) or later pixels
    assert float(flat[:2 * 5 + 2].sum()) > 0
    assert isinstance(prior.first, MaskedConv2d)


def test_samples_interpolation_and_bits_per_dim():
    torch.manual_seed(0)
    vae = CVAE(VAEConfig(image_size=8, latent_dim=3, hidden_channels=(4, 8), num_classes=3))
    s = vae.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1
    s2 = vae.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(s, s2)
    x, _ = tiny_data(2)
    path = vae.interpolate(x[0], x[1], 5, y=torch.tensor([1]))
    mu, _ = vae.encode(x, torch.tensor([1, 1]))
    torch.testing.assert_close(path[0], vae.decode(mu[:1], torch.tensor([1]))[0])
    torch.testing.assert_close(path[-1], vae.decode(mu[1:], torch.tensor([1]))[0])
    assert nats_to_bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    vq = VQVAE(VQVAEConfig(image_size=8, num_embeddings=4, embedding_dim=2, prior_channels=8, prior_layers=1,
                           num_classes=3))
    s = vq.sample(4, y=torch.tensor([0, 1, 2, 0]))
    assert s.shape == (4, 1, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1
    ae = AE(VAEConfig(image_size=8, latent_dim=2, hidden_channels=(4, 8)))
    assert ae.sample(3).shape == (3, 1, 8, 8)


def test_bad_configs():
    with pytest.raises(ValueError, match=r"image_size: expected an integer in \[4, inf\]"):
        build_model("vae", image_size=3)
    with pytest.raises(ValueError, match="likelihood: expected one of bernoulli, gaussian"):
        build_model("vae", likelihood="poisson")
    with pytest.raises(ValueError, match="binarize: binary data needs likelihood 'bernoulli', got 'gaussian'"):
        build_model("vae", binarize=True, likelihood="gaussian")
    with pytest.raises(ValueError, match="a CVAE needs num_classes >= 1"):
        build_model("cvae", num_classes=0)
    with pytest.raises(ValueError, match="prior: expected one of pixelcnn, frequency"):
        build_model("vqvae", prior="transformer")
    vae = build_model("vae", image_size=8, hidden_channels=(4, 8))
    with pytest.raises(ValueError, match=r"x: expected shape \(B, 1, 8, 8\)"):
        vae(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="unconditional"):
        vae(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    cvae = build_model("cvae", image_size=8, hidden_channels=(4, 8))
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 9\]"):
        cvae(torch.rand(2, 1, 8, 8), torch.tensor([0, 12]))
    with pytest.raises(ValueError, match="y: expected labels"):
        cvae(torch.rand(2, 1, 8, 8))
