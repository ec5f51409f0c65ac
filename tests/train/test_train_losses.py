"""train/losses.py against closed forms."""

import math

import pytest
import torch

from aip.train import losses as L


def _f(t):
    return float(t.detach())


def _pair(seed=0, shape=(3, 2, 5, 6)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64), torch.rand(shape, generator=g, dtype=torch.float64)


def test_pixel_losses_closed_forms():
    p, t = _pair()
    d = (p - t).numpy()
    assert float(L.l1(p, t)) == pytest.approx(abs(d).mean(), rel=1e-12)
    assert float(L.mse(p, t)) == pytest.approx((d ** 2).mean(), rel=1e-12)
    assert L.l2 is L.mse
    eps = 0.05
    assert float(L.charbonnier(p, t, eps=eps)) == pytest.approx(((d ** 2 + eps ** 2) ** 0.5).mean(), rel=1e-12)
    # Charbonnier -> L1 as eps -> 0, and a constant error e gives sqrt(e^2 + eps^2)
    assert float(L.charbonnier(p, t, eps=1e-9)) == pytest.approx(float(L.l1(p, t)), rel=1e-6)
    assert float(L.charbonnier(torch.zeros(4), torch.full((4,), 0.3), eps=0.4)) == pytest.approx(0.5)


def test_psnr_loss_is_minus_mean_per_image_psnr():
    from aip.metrics import psnr

    p, t = _pair(1)
    want = -sum(psnr(t[i].numpy().reshape(10, 6), p[i].numpy().reshape(10, 6), data_range=1.0) for i in range(3)) / 3
    assert float(L.psnr_loss(p, t, eps=0)) == pytest.approx(want, rel=1e-10)
    # data range 2 adds 20 log10(2) dB
    assert float(L.psnr_loss(p, t, data_range=2.0, eps=0)) == pytest.approx(want - 20 * math.log10(2), rel=1e-10)
    # per image, not pooled: two images with MSE 1e-2 and 1e-4 give -(20 + 40) / 2
    a = torch.zeros(2, 1, 2, 2)
    b = torch.stack([torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 0.01)])
    assert float(L.psnr_loss(a, b, eps=0)) == pytest.approx(-30.0, rel=1e-5)


def test_total_variation_closed_forms():
    # a ramp x[i, j] = a i + b j on an (H, W) grid
    h, w, a, b = 5, 7, 0.3, -0.2
    ii, jj = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    x = (a * ii + b * jj).expand(2, 1, h, w)
    n = x.numel()
    aniso = 2 * ((h - 1) * w * abs(a) + h * (w - 1) * abs(b)) / n
    assert float(L.total_variation(x)) == pytest.approx(aniso, rel=1e-12)
    iso = 2 * (h - 1) * (w - 1) * math.sqrt(a * a + b * b) / n
    assert float(L.total_variation(x, kind="isotropic", eps=0)) == pytest.approx(iso, rel=1e-12)
    assert float(L.total_variation(torch.ones(3, 4, 4))) == 0.0


def test_gan_losses_closed_forms():
    r = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    f = torch.tensor([-3.0, 0.2], dtype=torch.float64)
    sp = lambda v: math.log1p(math.exp(v))
    ns_d = sum(sp(-v) for v in r.tolist()) / 3 + sum(sp(v) for v in f.tolist()) / 2
    assert float(L.gan_d_loss(r, f)) == pytest.approx(ns_d, rel=1e-12)
    assert float(L.gan_g_loss(f)) == pytest.approx(sum(sp(-v) for v in f.tolist()) / 2, rel=1e-12)
    hinge_d = (max(0, 1 - 2) + max(0, 1 + 1) + max(0, 1 - 0.5)) / 3 + (max(0, 1 - 3) + max(0, 1 + 0.2)) / 2
    assert float(L.gan_d_loss(r, f, kind="hinge")) == pytest.approx(hinge_d, rel=1e-12)
    assert float(L.gan_g_loss(f, kind="hinge")) == pytest.approx(1.4, rel=1e-12)
    ls_d = 0.5 * ((2 - 1) ** 2 + (-1 - 1) ** 2 + (0.5 - 1) ** 2) / 3 + 0.5 * (9 + 0.04) / 2
    assert float(L.gan_d_loss(r, f, kind="least_squares")) == pytest.approx(ls_d, rel=1e-12)
    assert float(L.gan_g_loss(f, kind="least_squares")) == pytest.approx(0.5 * (16 + 0.64) / 2, rel=1e-12)
    # the optimal non-saturating D on indistinguishable data outputs logit 0: loss 2 log 2
    assert float(L.gan_d_loss(torch.zeros(5), torch.zeros(5))) == pytest.approx(2 * math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="kind"):
        L.gan_d_loss(r, f, kind="wasserstein")


def test_feature_matching_detaches_real_features():
    real = [torch.tensor([1.0, 2.0], requires_grad=True), torch.zeros(2, 3, requires_grad=True)]
    fake = [torch.tensor([0.0, 4.0], requires_grad=True), torch.ones(2, 3, requires_grad=True)]
    loss = L.feature_matching(real, fake)
    assert float(loss.detach()) == pytest.approx(((1 + 2) / 2 + 1) / 2)
    assert float(L.feature_matching(real, fake, kind="l2").detach()) == pytest.approx(((1 + 4) / 2 + 1) / 2)
    loss.backward()
    assert real[0].grad is None and fake[0].grad is not None
    assert torch.allclose(fake[0].grad, torch.tensor([-0.25, 0.25]))
    with pytest.raises(ValueError, match="same number"):
        L.feature_matching(real, fake[:1])


def test_gradient_penalties_of_a_linear_and_a_quadratic_critic():
    w = torch.tensor([[3.0], [4.0]], dtype=torch.float64)
    lin = lambda x: (x.flatten(1) @ w).squeeze(1)
    real, fake = torch.rand(6, 2, dtype=torch.float64), torch.rand(6, 2, dtype=torch.float64)
    assert _f(L.gradient_penalty(lin, real, fake)) == pytest.approx(16.0, rel=1e-10)
    assert _f(L.gradient_penalty(lin, real, kind="r1")) == pytest.approx(25.0, rel=1e-10)
    # D(x) = |x|^2 / 2: grad = x, so R1 = mean |x|^2 and WGAN-GP at x_hat = e r + (1 - e) f
    quad = lambda x: 0.5 * x.flatten(1).square().sum(1)
    assert _f(L.gradient_penalty(quad, real, kind="r1")) == pytest.approx(float(real.square().sum(1).mean()))
    g = torch.Generator().manual_seed(0)
    e = torch.rand((6, 1), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    xh = e * real + (1 - e) * fake
    want = ((xh.norm(dim=1) - 1) ** 2).mean()
    assert _f(L.gradient_penalty(quad, real, fake, rng=g)) == pytest.approx(float(want), rel=1e-8)
    # differentiable: the penalty has a gradient with respect to the critic's parameters
    wp = w.clone().requires_grad_(True)
    gp = L.gradient_penalty(lambda x: (x @ wp).squeeze(1), real, fake)
    gp.backward()
    assert torch.allclose(wp.grad, 2 * (5 - 1) * w / 5)  # d/dw (|w| - 1)^2
    with pytest.raises(ValueError, match="fake"):
        L.gradient_penalty(lin, real)


def test_registry_and_errors():
    assert set(L.LOSSES) == {"l1", "l2", "mse", "charbonnier", "psnr"}
    assert L.get_loss("charbonnier") is L.charbonnier
    with pytest.raises(ValueError, match="loss: expected one of"):
        L.get_loss("ssim")
    with pytest.raises(ValueError, match="same shape"):
        L.l1(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="tensors"):
        L.mse([0.0], torch.zeros(1))
