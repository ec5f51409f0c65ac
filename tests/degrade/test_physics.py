"""Noise models as torch modules, the rng rule, and Physics y = N(A x) on batches."""

import numpy as np
import pytest
import torch

from aip.degrade import (
    Blur,
    Downsample,
    GaussianNoise,
    Mask,
    Physics,
    PoissonGaussianNoise,
    PoissonNoise,
    SaltPepperNoise,
    add_gaussian_noise,
    degrade,
    gaussian,
    make_noise,
    random_mask,
)

NOISE_MODELS = [GaussianNoise(0.1), GaussianNoise((0.02, 0.2)), PoissonNoise(30.0),
                PoissonGaussianNoise(30.0, 0.05), SaltPepperNoise(0.1)]


@pytest.mark.parametrize("noise", NOISE_MODELS, ids=repr)
def test_rng_none_is_fresh_and_seeds_reproduce(noise):
    """rng=None draws fresh noise at every call; an int or a Generator reproduces it, numpy and torch."""
    assert isinstance(noise, torch.nn.Module)
    x = torch.full((2, 1, 16, 16), 0.5)
    assert not torch.equal(noise(x), noise(x))
    torch.testing.assert_close(noise(x, rng=3), noise(x, rng=3))
    a = noise(x, rng=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, noise(x, rng=torch.Generator().manual_seed(5)))
    assert a.dtype == x.dtype and a.shape == x.shape
    xn = np.full((16, 16), 0.5)
    assert not np.array_equal(noise(xn), noise(xn))
    np.testing.assert_array_equal(noise(xn, rng=4), noise(xn, rng=4))
    # torch's global generator for rng=None: torch.manual_seed makes a run reproducible
    torch.manual_seed(0)
    first = noise(x)
    torch.manual_seed(0)
    torch.testing.assert_close(first, noise(x))


def test_defaults_draw_fresh_noise_everywhere():
    x = np.full((32, 32), 0.5)
    assert not np.array_equal(add_gaussian_noise(x, 0.1), add_gaussian_noise(x, 0.1))
    assert not np.array_equal(degrade(x, noise=0.1).y, degrade(x, noise=0.1).y)
    assert not np.array_equal(degrade(x, mask="random:0.5").mask, degrade(x, mask="random:0.5").mask)
    np.testing.assert_array_equal(degrade(x, noise=0.1, rng=2).y, degrade(x, noise=0.1, rng=2).y)


def test_per_image_sigma_range():
    """A (low, high) range draws one level per image, uniformly; each image's noise has that std."""
    noise = GaussianNoise((0.05, 0.25))
    x = torch.zeros(400, 1, 32, 32, dtype=torch.float64)
    out = noise.sample(x, rng=0)
    s = out["sigma"]
    assert s.shape == (400,) and float(s.min()) >= 0.05 and float(s.max()) <= 0.25
    assert abs(float(s.mean()) - 0.15) < 0.01  # uniform on [0.05, 0.25]: mean 0.15, sd 0.058
    measured = out["y"].reshape(400, -1).std(dim=1)
    assert float((measured / s - 1).abs().max()) < 0.12  # 1024 samples per image
    assert make_noise("gaussian:0-55", scale=255) == GaussianNoise((0.0, 55 / 255))
    with pytest.raises(ValueError, match="low <= high"):
        GaussianNoise((0.3, 0.1))


def test_physics_on_batches():
    op = Mask(random_mask((16, 16), 0.3, rng=0)) @ Blur(gaussian(1.0))
    physics = Physics(op, GaussianNoise(0.05))
    assert isinstance(physics, torch.nn.Module)
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    out = physics.degrade(x, rng=1)
    torch.testing.assert_close(out["y"], physics(x, rng=1))
    resid = out["y"] - op.A(x)
    assert abs(float(resid.std()) - 0.05) < 0.005
    torch.testing.assert_close(out["sigma"], torch.full((4,), 0.05))
    assert not torch.equal(physics(x), physics(x))
    z = torch.rand_like(x)
    torch.testing.assert_close(physics.prox_l2(z, out["y"], 0.5), op.prox_l2(z, out["y"], 0.5))
    assert Physics().sigma is None and Physics(noise="gaussian:0.1").sigma == 0.1
    sr = Physics(Downsample(2, mode="circular"))
    assert sr(x).shape == (4, 3, 8, 8) and sr.degrade(x)["sigma"] is None
    assert abs(sr.norm((16, 16)) - Downsample(2, mode="circular").norm((16, 16))) < 1e-12
    with pytest.raises(TypeError, match="LinearOperator"):
        Physics(np.ones((3, 3)))


def test_degraded_result_gives_its_physics():
    x = np.random.default_rng(0).random((16, 16))
    out = degrade(x, blur="gaussian:1.0", noise=0.02, rng=0)
    p = out.physics
    assert p.operator is out.operator and p.sigma == 0.02
