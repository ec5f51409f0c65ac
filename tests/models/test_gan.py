"""GANs: losses against their closed forms, training signal, inversion, latent helpers, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aip.models import CGAN, DCGAN, GAN, build_model
from aip.models.gan import GANConfig


def tiny_images(n=16, size=8):
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        x[i, 0, (i % 4) * 2, :] = 1.0
    return x, torch.arange(n) % 4


@pytest.mark.parametrize("name,kw", [("gan", {"hidden_dim": 32}), ("dcgan", {"base_channels": 8}),
                                     ("cgan", {"base_channels": 8, "num_classes": 4})])
def test_each_phase_loss_decreases(name, kw):
    torch.manual_seed(0)
    model = build_model(name, image_size=8, latent_dim=8, **kw)
    x, y = tiny_images()
    y = y if model.conditional else None
    for phase in ("d", "g"):      # each player, trained alone against the frozen other, lowers its loss
        opt = torch.optim.Adam(model.phase_parameters(phase), lr=2e-3, betas=model.config.betas)
        losses = []
        for _ in range(25):
            out = model(x, y, phase=phase)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            losses.append(float(out["loss"].detach()))
        assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, (name, phase, losses[:3], losses[-3:])


def test_non_saturating_losses_match_the_formula():
    torch.manual_seed(0)
    model = GAN(GANConfig(image_size=8, latent_dim=4, hidden_dim=8)).eval()
    x = torch.rand(6, 1, 8, 8)
    torch.manual_seed(5)
    out_d = model(x, phase="d")
    torch.manual_seed(5)
    z = torch.randn(6, 4)
    fake = model.generate(z)
    d_real, d_fake = model.discriminate(x * 2 - 1), model.discriminate(fake)
    expected = (F.softplus(-d_real) + F.softplus(d_fake)).mean()      # -log D(x) - log(1 - D(G(z)))
    torch.testing.assert_close(out_d["loss"], expected)
    torch.manual_seed(5)
    out_g = model(x, phase="g")
    torch.testing.assert_close(out_g["loss"], -torch.log(torch.sigmoid(d_fake)).mean())


def test_phases_partition_the_parameters():
    model = CGAN(GANConfig(image_size=8, latent_dim=4, base_channels=4, arch="dcgan", num_classes=3))
    d = {id(p) for p in model.phase_parameters("d")}
    g = {id(p) for p in model.phase_parameters("g")}
    assert not d & g and d | g == {id(p) for p in model.parameters()}
    assert model.phases() == ["d", "g"]
    assert model.config.lr == 2e-4 and model.config.betas == (0.5, 0.999)   # Radford 2015
    # DCGAN: no pooling, LeakyReLU(0.2) in D, batch norm in G
    mods = list(model.discriminator.modules())
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in mods)
    assert all(m.negative_slope == 0.2 for m in mods if isinstance(m, torch.nn.LeakyReLU))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.generator.modules())


def test_inversion_reduces_reconstruction_error():
    torch.manual_seed(0)
    model = DCGAN(GANConfig(image_size=8, latent_dim=6, base_channels=8, arch="dcgan")).eval()
    with torch.no_grad():                      # a generator whose images depend visibly on z
        for p in model.generator.parameters():
            if p.ndim > 1:
                p.normal_(0, 0.5)
    z_true = torch.randn(4, 6)
    target = model.decode(z_true)
    g = torch.Generator().manual_seed(1)
    _z0, err0 = model.invert(target, steps=0, generator=g)
    g = torch.Generator().manual_seed(1)
    z, err = model.invert(target, steps=150, lr=0.05, generator=g)
    assert bool((err0 > 1e-3).all())
    assert bool((err < 0.2 * err0).all()), (err0, err)
    torch.testing.assert_close(err, (model.decode(z) - target).square().flatten(1).mean(1))
    assert all(p.requires_grad for p in model.parameters())


def test_latent_helpers():
    model = GAN(GANConfig(image_size=8, latent_dim=5, hidden_dim=8))
    z0, z1 = torch.randn(5), torch.randn(5)
    path = model.interpolate_latents(z0, z1, 7)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    # slerp between equal-norm vectors stays on the sphere
    z1n = z1 / z1.norm() * z0.norm()
    norms = model.interpolate_latents(z0, z1n, 9).norm(dim=1)
    torch.testing.assert_close(norms, torch.full_like(norms, float(z0.norm())))
    lin = model.interpolate_latents(z0, z1, 3, mode="linear")
    torch.testing.assert_close(lin[1], (z0 + z1) / 2)
    a, b, c = torch.randn(3, 5), torch.randn(2, 5), torch.randn(4, 5)
    torch.testing.assert_close(GAN.latent_arithmetic(a, b, c), a.mean(0) - b.mean(0) + c.mean(0))
    imgs = model.interpolate(z0, z1, 4)
    assert imgs.shape == (4, 1, 8, 8) and float(imgs.min()) >= 0 and float(imgs.max()) <= 1


def test_samples_shapes_ranges_and_labels():
    torch.manual_seed(0)
    model = CGAN(GANConfig(image_size=8, latent_dim=4, base_channels=4, arch="dcgan", num_classes=3))
    z = torch.randn(3, 4)
    a = model.sample(3, z=z, y=torch.tensor([0, 0, 0]))
    b = model.sample(3, z=z, y=torch.tensor([2, 2, 2]))
    assert a.shape == (3, 1, 8, 8) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.allclose(a, b)                         # the label changes the image
    assert model.training                                   # sampling restores the mode
    s1 = model.sample(4, generator=torch.Generator().manual_seed(3))
    s2 = model.sample(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(s1, s2)


@pytest.mark.parametrize("name, kwargs, error, match", [
    ("gan", {"arch": "resnet"}, ValueError, "arch: expected one of mlp, dcgan"),
    ("dcgan", {"image_size": 28.0}, TypeError, "image_size: expected an integer"),
    ("cgan", {"num_classes": 0}, ValueError, "a conditional GAN needs num_classes >= 1"),
    ("gan", {"betas": (0.5, 1.5)}, ValueError, "betas: expected two Adam betas"),
])
def test_bad_configs(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        build_model(name, **kwargs)


def test_bad_phase():
    model = build_model("gan", image_size=8, hidden_dim=8)
    with pytest.raises(ValueError, match="phase: expected 'd' or 'g'"):
        model(torch.rand(2, 1, 8, 8), phase="main")
    with pytest.raises(ValueError, match="phase: expected 'd' or 'g'"):
        model.phase_parameters("main")
    assert math.isfinite(float(model(torch.rand(2, 1, 8, 8), phase="g")["loss"].detach()))


def test_anti_collapse_parts_minibatch_std_and_mode_seeking():
    from aip.models.gan import CGAN, CGANConfig, MinibatchStd

    x = torch.rand(6, 3, 4, 4)
    out = MinibatchStd()(x)
    assert out.shape == (6, 4, 4, 4)
    assert float(out[0, 3, 0, 0]) == pytest.approx(float(x.std(0, unbiased=False).mean()))
    assert float(MinibatchStd()(x[:1].repeat(6, 1, 1, 1))[0, 3].abs().max()) == 0.0   # a collapsed batch: 0
    torch.manual_seed(0)
    g = CGAN(CGANConfig(base_channels=8, latent_dim=8, minibatch_std=True, mode_seeking=1.0))
    res = g(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]), phase="g")
    assert float(res["ms_ratio"]) > 0 and torch.isfinite(res["loss"])
    assert torch.isfinite(g(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]), phase="d")["loss"])
    with pytest.raises(ValueError, match="minibatch_std: expected arch 'dcgan'"):
        CGAN(CGANConfig(arch="mlp", minibatch_std=True))
