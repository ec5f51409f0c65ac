"""Diffusion autoencoder: codes of the stated shapes, the decoder conditioned by z_sem, a loss that falls,
near-exact reconstruction through DDIM inversion, interpolation end points and manipulation."""

import math

import torch

from aip.models.diffae import DiffAE, DiffAEConfig


def psnr(a, b):
    return 10 * math.log10(1.0 / float(((a - b) ** 2).mean()))


def tiny():
    torch.manual_seed(0)
    return DiffAE(DiffAEConfig(image_size=12, sem_dim=8, encoder_channels=(8, 8), base_channels=8,
                               channel_mult=(1, 2), num_heads=2, num_timesteps=1000, sample_steps=50))


def data(n=16):
    x = torch.zeros(n, 1, 12, 12)
    for i in range(n):
        x[i, 0, 2:10, 2 + i % 6: 4 + i % 6] = 1.0       # bars at six positions
    return 0.1 + 0.8 * x


def fit(m, x, steps=60):
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    m.train()
    losses = []
    for _ in range(steps):
        loss = m(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    m.eval()
    return losses


def test_codes_and_the_loss_falls_with_the_encoder_trained():
    m = tiny()
    x = data()
    assert m.encode(x).shape == (16, 8)
    before = [p.clone() for p in m.encoder.parameters()]
    losses = fit(m, x)
    assert sum(losses[-10:]) < sum(losses[:10])
    assert any(not torch.equal(a, b) for a, b in zip(before, m.encoder.parameters()))   # trained end to end
    assert float(m.code_var.mean()) != 1.0                                           # the codes' spread recorded


def test_reconstruction_through_inversion_is_near_exact():
    m = tiny()
    x = data(4)
    fit(m, data(), 40)
    coarse, rec = m.reconstruct(x, steps=20), m.reconstruct(x, steps=200)
    assert psnr(x, rec) > 28.0 and psnr(x, rec) > psnr(x, coarse) + 3   # the error is DDIM's step size
    xt = m.invert(x, steps=100)
    assert xt.std().item() > 0.5                       # a noise-like code, not the image
    other = m.decode(m.encode(x.flip(0)), xt, steps=100)
    assert (other - rec).abs().mean() > 1e-3            # the semantic code changes the decode


def test_interpolation_ends_at_the_images_and_manipulation_moves_along_the_direction():
    m = tiny()
    fit(m, data(), 40)
    a, b = data(6)[1:2], data(6)[4:5]
    strip = m.interpolate(a, b, 5, steps=200)
    assert strip.shape == (5, 1, 12, 12)
    assert psnr(a, strip[:1]) > 27 and psnr(b, strip[-1:]) > 27
    d = torch.zeros(8)
    d[0] = 1.0
    out = m.manipulate(a, d, [0.0, 3.0], steps=50)
    assert out.shape == (2, 1, 12, 12) and (out[0] - out[1]).abs().mean() > 0
    assert m.sample(3, steps=5, generator=torch.Generator().manual_seed(0)).shape == (3, 1, 12, 12)
