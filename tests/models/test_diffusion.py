"""DDPM, noise-aware classifier, NCSN and the U-Net: losses, guidance identities, samplers, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aip.models import DDPM, NCSN, DDPMConfig, NCSNConfig, NoiseAwareClassifier, UNet, UNetConfig, build_model
from aip.models.diffusion import NoiseAwareClassifierConfig
from aip.train.models import make_config

TINY = {"image_size": 8, "base_channels": 8, "channel_mult": (1, 2), "patch_size": 1, "num_heads": 2, "num_timesteps": 100,
            "sample_steps": 10}


def tiny_data(n=16, size=8):
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        x[i, 0, :, (i % 4) * 2] = 1.0
    return x, torch.arange(n) % 4


def fit(model, x, y, steps, lr=3e-3, fn=None):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        out = (fn or model)(x, y) if fn else model(x, y)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    return losses


def _loss_and_draws_by_hand(model, x, y):
    """The model's loss, and the network output, alpha_bar, noise and x0 of the same random draws
    (seed 3: timesteps, noise, label dropout to the null label 4), redone by hand."""
    torch.manual_seed(3)
    got = model(x, y)["loss"]
    torch.manual_seed(3)
    t = torch.randint(0, 100, (16,))
    noise = torch.randn(16, 1, 8, 8)
    drop = torch.rand(16) < 0.1
    yy = torch.where(drop, torch.full_like(y, 4), y)
    ab = model.schedule.alpha_bar[t].float().view(-1, 1, 1, 1)
    x0 = 2 * x - 1
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    return got, model.unet(xt, t, yy), ab, noise, x0


def test_ddpm_loss_is_l_simple_and_decreases():
    torch.manual_seed(0)
    model = DDPM(DDPMConfig(num_classes=4, **TINY))
    x, y = tiny_data()
    # L_simple by hand with the same random draws (t, noise, label dropout)
    got, pred, _ab, noise, _x0 = _loss_and_draws_by_hand(model, x, y)
    torch.testing.assert_close(got, F.mse_loss(pred, noise))
    losses = fit(model, x, y, 40)
    assert sum(losses[-8:]) / 8 < 0.6 * sum(losses[:8]) / 8


def test_v_prediction_conversions_are_consistent():
    # closed forms in float64: v = sqrt(ab) eps - sqrt(1-ab) x0, x0 = sqrt(ab) x_t - sqrt(1-ab) v,
    # eps = sqrt(1-ab) x_t + sqrt(ab) v; eps_from_v then predict_x0 recovers x0, also at t = T-1
    model = DDPM(DDPMConfig(prediction="v", **TINY))
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 10, 50, 99])
    ab = model.schedule.alpha_bar[t].view(-1, 1, 1, 1)
    xt = model.schedule.q_sample(x0, t, eps)
    v = ab.sqrt() * eps - (1 - ab).sqrt() * x0
    torch.testing.assert_close(ab.sqrt() * xt - (1 - ab).sqrt() * v, x0, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.schedule.eps_from_v(xt, t, v), eps, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.schedule.predict_x0(xt, t, model.schedule.eps_from_v(xt, t, v)), x0, rtol=0, atol=1e-10)
    # (x_t, v) is a rotation of (x0, eps) by the angle atan(sqrt((1-ab)/ab)): the pointwise norm is kept
    assert float((v.square() + xt.square() - eps.square() - x0.square()).abs().max()) < 1e-12
    # configs saved before the field existed (no "prediction" key) load as eps-prediction
    assert make_config(DDPMConfig, {"base_channels": 8}).prediction == "eps"


def test_v_prediction_loss_target_training_and_sampling():
    torch.manual_seed(0)
    model = DDPM(DDPMConfig(num_classes=4, prediction="v", **TINY))
    x, y = tiny_data()
    got, pred, ab, noise, x0 = _loss_and_draws_by_hand(model, x, y)
    torch.testing.assert_close(got, F.mse_loss(pred, ab.sqrt() * noise - (1 - ab).sqrt() * x0))
    losses = fit(model, x, y, 40)
    assert sum(losses[-8:]) / 8 < 0.6 * sum(losses[:8]) / 8
    model.eval()
    # the pipeline's eps() converts the (guided) v output; guidance w mixes the converted eps the same way
    xt, tt, yq = torch.randn(3, 1, 8, 8), torch.tensor([5, 50, 95]), torch.tensor([0, 1, 2])
    with torch.no_grad():
        v_c, v_u = model.unet(xt, tt, yq), model.unet(xt, tt, torch.full_like(yq, 4))
        e_c, e_u = model.schedule.eps_from_v(xt, tt, v_c), model.schedule.eps_from_v(xt, tt, v_u)
        pipe = model.pipeline()
        torch.testing.assert_close(pipe.eps(xt, tt, yq), e_c)
        torch.testing.assert_close(pipe.eps(xt, tt, yq, guidance=3.0), e_u + 3.0 * (e_c - e_u), atol=1e-5, rtol=1e-5)
    for sampler, steps in (("ddim", 10), ("ddpm", 100)):
        s = model.sample(3, y=yq, sampler=sampler, steps=steps, guidance=2.0, generator=torch.Generator().manual_seed(0))
        assert s.shape == (3, 1, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1
    with pytest.raises(ValueError, match="prediction: expected one of eps, v"):
        DDPM(DDPMConfig(prediction="x0", **TINY))


def test_lognormal_timesteps_follow_the_noise_level_law():
    # uniform mode draws exactly torch.randint (shipped runs stay reproducible)
    model = DDPM(DDPMConfig(base_channels=8))
    torch.manual_seed(3)
    got = model.training_timesteps(64)
    torch.manual_seed(3)
    assert torch.equal(got, torch.randint(0, 1000, (64,)))
    # lognormal: ln sigma(t) of the non-uniform draws ~ N(-1.2, 1.2^2) up to the grid, the rest uniform
    model = DDPM(DDPMConfig(base_channels=8, t_sampling="lognormal", t_uniform_share=0.0))
    torch.manual_seed(0)
    t = model.training_timesteps(200_000)
    ab = model.schedule.alpha_bar[t]
    log_sigma = 0.5 * torch.log((1 - ab) / ab)
    assert abs(float(log_sigma.median()) + 1.2) < 0.03
    q16, q84 = torch.quantile(log_sigma.float()[:100_000], torch.tensor([0.1587, 0.8413])).tolist()
    assert abs(q16 + 2.4) < 0.05 and abs(q84) < 0.05
    assert int(t.min()) == 0 and int(t.max()) <= 999
    model = DDPM(DDPMConfig(base_channels=8, t_sampling="lognormal", t_uniform_share=0.5))
    t = model.training_timesteps(100_000)
    assert abs(float((t > 800).float().mean()) - 0.5 * 0.2) < 0.01  # the lognormal part puts ~0.05% there
    with pytest.raises(ValueError, match="t_sampling: expected one of uniform, lognormal"):
        DDPM(DDPMConfig(t_sampling="beta", **TINY))


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = DDPM(DDPMConfig(num_classes=4, **TINY))
    x, y = tiny_data()
    fit(model, x, y, 30)
    return model.eval()


def test_guidance_scale_one_equals_conditional(trained):
    x = torch.randn(4, 1, 8, 8)
    t = torch.tensor(37)
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        cond = trained.unet(x, t.expand(4), y)
        uncond = trained.unet(x, t.expand(4), torch.full_like(y, 4))
        torch.testing.assert_close(trained.pipeline().eps(x, t, y, guidance=1.0), cond)
        torch.testing.assert_close(trained.pipeline().eps(x, t, y, guidance=0.0), uncond)
        torch.testing.assert_close(trained.pipeline().eps(x, t, y, guidance=3.0), uncond + 3 * (cond - uncond),
                                   atol=1e-5, rtol=1e-5)
    g = lambda: torch.Generator().manual_seed(0)
    xT = torch.randn(4, 1, 8, 8, generator=g())
    s1 = trained.sample(4, y=y, guidance=1.0, x_T=xT.clone(), steps=5)
    s_cond = trained.sample(4, y=y, guidance=1.0, x_T=xT.clone(), steps=5, sampler="ddim")
    torch.testing.assert_close(s1, s_cond)
    s3 = trained.sample(4, y=y, guidance=3.0, x_T=xT.clone(), steps=5)
    assert not torch.allclose(s1, s3)


def test_samples_shape_range_and_determinism(trained):
    y = torch.tensor([1, 2, 3])
    for sampler, steps in (("ddim", 10), ("ddpm", 100), ("ddpm", 10)):
        s = trained.sample(3, y=y, sampler=sampler, steps=steps, generator=torch.Generator().manual_seed(0))
        assert s.shape == (3, 1, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1
    a = trained.sample(3, y=y, steps=10, eta=0.0, generator=torch.Generator().manual_seed(0))
    b = trained.sample(3, y=y, steps=10, eta=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    xT = torch.randn(3, 1, 8, 8)
    c = trained.sample(3, y=y, steps=10, eta=0.0, x_T=xT.clone(), generator=torch.Generator().manual_seed(1))
    d = trained.sample(3, y=y, steps=10, eta=0.0, x_T=xT.clone(), generator=torch.Generator().manual_seed(2))
    assert torch.equal(c, d)                  # eta = 0: the generator plays no part after x_T
    e = trained.sample(3, y=y, steps=10, eta=1.0, x_T=xT.clone(), generator=torch.Generator().manual_seed(2))
    assert not torch.equal(c, e)
    # the timestep spacing reaches the scheduler: trailing ends at t = 9 instead of 0, so it gives other samples
    assert trained.pipeline().scheduler("ddim", 10, spacing="trailing").timesteps.tolist() == list(range(99, 0, -10))
    f = trained.sample(3, y=y, steps=10, eta=0.0, x_T=xT.clone(), spacing="trailing")
    assert f.shape == c.shape and not torch.equal(c, f)
    with pytest.raises(ValueError, match="spacing: expected one of"):
        trained.sample(3, y=y, steps=10, spacing="even")


def test_ddim_inversion_round_trip_with_the_network():
    torch.manual_seed(0)
    model = DDPM(DDPMConfig(num_classes=4, **{**TINY, "num_timesteps": 1000}))
    x, y = tiny_data()
    fit(model, x, y, 30)
    model.eval()
    x, y = 0.1 + 0.8 * x[:4], y[:4]           # inside (0, 1): no clipping on the way back
    errs = {}
    for steps in (25, 100):
        xT = model.invert(x, y=y, steps=steps)
        back = model.sample(4, y=y, x_T=xT, steps=steps, eta=0.0, clip_sample=False)
        errs[steps] = (back - x).abs()
    assert errs[100].mean().item() < 0.05 and errs[100].max().item() < 0.2
    assert errs[100].mean().item() < 0.5 * errs[25].mean().item()    # the error is the step size's
    assert xT.std().item() > 0.5              # a noise-like latent, not the image


def test_classifier_guidance_with_a_noise_aware_classifier(trained):
    torch.manual_seed(0)
    clf = NoiseAwareClassifier(NoiseAwareClassifierConfig(image_size=8, num_classes=4, base_channels=8,
                                                          num_timesteps=100))
    x, y = tiny_data()

    def ce_at(t):
        with torch.no_grad():
            xt = clf.schedule.q_sample(2 * x - 1, torch.full((16,), t), torch.zeros_like(x))
            return float(F.cross_entropy(clf(xt, torch.full((16,), t)), y))
    before = ce_at(5)
    fit(clf, x, y, 40, fn=clf.training_loss)
    assert ce_at(5) < 0.5 * before
    xT = torch.randn(4, 1, 8, 8)
    yy = torch.tensor([0, 1, 2, 3])
    base = trained.sample(4, y=yy, x_T=xT.clone(), steps=10)
    zero = trained.sample(4, y=yy, x_T=xT.clone(), steps=10, classifier=clf, classifier_scale=0.0)
    torch.testing.assert_close(base, zero)
    guided = trained.sample(4, y=yy, x_T=xT.clone(), steps=10, classifier=clf, classifier_scale=5.0)
    assert not torch.allclose(base, guided)
    with torch.no_grad():                     # guidance raises the classifier's log-probability of y
        def logp(img):
            return torch.log_softmax(clf(img * 2 - 1, torch.zeros(4, dtype=torch.long)), 1)[range(4), yy].mean()
        assert logp(guided) > logp(base)


def test_ncsn_loss_score_and_sampling():
    torch.manual_seed(0)
    model = NCSN(NCSNConfig(image_size=8, base_channels=8, channel_mult=(1, 2), patch_size=1, num_sigmas=4,
                            n_steps_each=3))
    torch.testing.assert_close(model.sigmas[1:] / model.sigmas[:-1],
                               torch.full((3,), (0.01 / 1.0) ** (1 / 3)))
    x, _ = tiny_data()
    # DSM loss by hand
    torch.manual_seed(4)
    got = model(x)["loss"]
    torch.manual_seed(4)
    idx = torch.randint(0, 4, (16,))
    sig = model.sigmas[idx].view(-1, 1, 1, 1)
    z = torch.randn_like(x)
    s = model.unet(x + sig * z, model._noise_input(sig.flatten())) / sig
    torch.testing.assert_close(got, 0.5 * (sig * s + z).square().mean())
    losses = fit(model, x, None, 40)
    assert sum(losses[-8:]) / 8 < 0.7 * sum(losses[:8]) / 8
    out = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 1, 8, 8) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_unet_shapes_and_patch_stem():
    for cfg in (UNetConfig(image_size=28, base_channels=8, num_heads=2),
                UNetConfig(image_size=28, base_channels=8, patch_size=2, num_heads=2, num_classes=10),
                UNetConfig(image_size=32, in_channels=3, base_channels=8, channel_mult=(1, 2, 2, 2), num_heads=2)):
        net = UNet(cfg)
        x = torch.randn(2, cfg.in_channels, cfg.image_size, cfg.image_size)
        y = torch.tensor([1, 10]) if cfg.num_classes else None
        out = net(x, torch.tensor([3, 900]), y)
        assert out.shape == x.shape
        assert float(out.detach().abs().max()) == 0.0   # zero-initialised output layer (Ho 2020)
    net = UNet(UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_heads=2, channels_last=False))
    net2 = UNet(UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_heads=2, channels_last=True))
    net2.load_state_dict(net.state_dict())
    with torch.no_grad():
        for p in [*net.parameters()]:
            p.add_(0.1 * torch.randn_like(p))
        net2.load_state_dict(net.state_dict())
        x = torch.randn(2, 1, 8, 8)
        torch.testing.assert_close(net(x, torch.tensor([1, 2])), net2(x, torch.tensor([1, 2])), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name, kwargs, match", [
    ("ddpm", {"schedule": "sigmoid"}, "schedule: expected one of linear, cosine"),
    ("ddpm", {"p_uncond": 1.5}, r"p_uncond: expected a number in \[0, 1\)"),
    ("ddpm", {"patch_size": 3}, "patch_size: expected a divisor of image_size 28"),
    ("ddpm", {"image_size": 8, "patch_size": 1, "channel_mult": (1, 2, 2, 2)}, "channel_mult: 4 levels need image_size"),
    ("ncsn", {"sigma_min": 2.0}, "sigma_min < sigma_max"),
])
def test_bad_configs(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, **kwargs)


def test_bad_inputs():
    model = DDPM(DDPMConfig(**TINY))
    with pytest.raises(ValueError, match="steps: expected an integer in"):
        model.sample(2, steps=1000)
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        model.sample(2, temperature=0.5)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, y=torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="expected a float tensor"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
