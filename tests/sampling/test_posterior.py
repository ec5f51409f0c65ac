"""Restoration by sampling (RePaint, DPS) on an exact Gaussian prior and on the shipped digit DDPM,
and their front doors in aip.restore and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aip.sampling import DiffusionPipeline, NoiseSchedule
from aip.sampling.posterior import dps, repaint

MU, S = 0.6, 0.2          # every pixel of the prior's images ~ N(MU, S^2) on [0, 1], independently


class ExactGaussianEps(nn.Module):
    """E[eps | x_t] for x0 ~ N(2 MU - 1, (2 S)^2) per pixel on the diffusion scale (the pipeline's [-1, 1])."""

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.register_buffer("ab", schedule.alpha_bar.float())
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the pipeline a device

    def forward(self, x, t, y=None):
        ab = self.ab[torch.as_tensor(t).long()].view(-1, 1, 1, 1)
        m, s2 = 2 * MU - 1, (2 * S) ** 2
        return (1 - ab).sqrt() * (x - ab.sqrt() * m) / (ab * s2 + 1 - ab)


@pytest.fixture(scope="module")
def gauss():
    sched = NoiseSchedule("linear", 1000)
    return DiffusionPipeline(ExactGaussianEps(sched), sched)


def test_repaint_keeps_known_pixels_and_samples_the_prior_elsewhere(gauss):
    y = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    known = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    known[..., :8] = True
    out = repaint(gauss, y, known, steps=50, resample=3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out[..., :8], y[..., :8])          # exactly, not to rounding
    # pixels are independent under this prior, so the missing ones follow it whatever is observed: on the
    # full schedule they are N(MU, S^2); at 50 steps they are spread as the sampler's own unconditional draws
    # (coarse ancestral steps shrink the spread a little, RePaint or not)
    full = repaint(gauss, y, known, steps=1000, resample=1, generator=torch.Generator().manual_seed(1))[..., 8:]
    assert float(full.mean()) == pytest.approx(MU, abs=0.01)
    assert float(full.std()) == pytest.approx(S, rel=0.05)
    coarse = repaint(gauss, y, known, steps=50, resample=1, generator=torch.Generator().manual_seed(1))[..., 8:]
    plain = (gauss.sample((64, 1, 16, 16), sampler="ddpm", steps=50, generator=torch.Generator().manual_seed(2))
             + 1) / 2
    assert float(coarse.mean()) == pytest.approx(MU, abs=0.01)
    assert float(coarse.std()) == pytest.approx(float(plain.std()), rel=0.03)
    # the jump schedule: after every `jump` steps, back up `jump` steps and down again, resample - 1 times
    calls = []
    hook = gauss.network.register_forward_hook(lambda *a: calls.append(1))
    try:
        for jump, expected in ((5, 20 + 3 * 2 * 5), (1, 20 + 19 * 2 * 1)):
            calls.clear()
            out = repaint(gauss, y[:2], known, steps=20, resample=3, jump=jump)
            assert len(calls) == expected and torch.equal(out[..., :8], y[:2, ..., :8])
    finally:
        hook.remove()
    with pytest.raises(ValueError, match="known: expected a mask broadcastable"):
        repaint(gauss, y, known[..., :4], steps=2)


def test_dps_consistency_falls_over_steps(gauss):
    truth = MU + S * torch.randn(16, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    keep = (torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    y = truth * keep
    history: list[float] = []
    out = dps(gauss, y, lambda x: x * keep, steps=100, zeta=1.0, generator=torch.Generator().manual_seed(1),
              history=history)
    assert len(history) == 100
    assert history[-1] < 0.2 * history[0]
    assert np.mean(history[-10:]) < np.mean(history[40:50]) < np.mean(history[:10])
    err_obs = float(((out - truth) * keep).abs().sum() / keep.sum() / 16)
    assert err_obs < 0.05                                   # observed pixels end near the measurements
    miss = out[(keep == 0).expand_as(out)]
    assert float(miss.mean()) == pytest.approx(MU, abs=0.03)  # and the missing ones near the prior


def test_dps_takes_operators_that_change_the_size(gauss):
    from aip.degrade import Downsample

    op = Downsample(2, "bicubic", mode="circular")
    truth = MU + S * torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    y = op(truth)
    out = dps(gauss, y, op, steps=30, generator=torch.Generator().manual_seed(1))
    assert out.shape == (4, 1, 16, 16)
    assert float((op(out) - y).abs().mean()) < float((op(torch.full_like(out, MU)) - y).abs().mean())


@pytest.fixture(scope="module")
def digits():
    from aip.data.digits import load_digits_split

    x, labels = load_digits_split("train")
    return (torch.from_numpy(x[1000:1048].astype(np.float32) / 255)[:, None],
            torch.as_tensor(labels[1000:1048]).long())


def test_shipped_prior_inpaints_digits_better_than_harmonic(digits):
    """A 14x14 hole in the middle: the digit is recognised more often after RePaint and DPS than after
    harmonic interpolation (the classical default), on 48 training digits."""
    from aip.models.lenet import load_lenet
    from aip.models.prior_restore import load_prior
    from aip.restore import inpaint

    x, labels = digits
    pipe = load_prior("shipped:ddpm")
    miss = torch.zeros(x.shape, dtype=torch.bool)
    miss[..., 7:21, 7:21] = True
    y = x * ~miss
    lenet = load_lenet("digits")

    def acc(z):
        with torch.no_grad():
            return float((lenet(z).argmax(1) == labels).float().mean())

    harm = torch.stack([torch.from_numpy(inpaint(y[i, 0].numpy(), miss[i, 0].numpy(), "harmonic")).float()
                        for i in range(len(x))])[:, None]
    rp = repaint(pipe, y, ~miss, steps=50, resample=2, generator=torch.Generator().manual_seed(1))
    ds = dps(pipe, y, lambda z: z * ~miss, steps=60, generator=torch.Generator().manual_seed(1))
    assert torch.equal(rp[~miss], x[~miss])
    assert acc(rp) > acc(harm) and acc(ds) > acc(harm), (acc(rp), acc(ds), acc(harm))


def test_front_doors_and_cli(tmp_path, digits):
    from PIL import Image

    from aip.cli.main import main
    from aip.restore import deblur, inpaint, upscale

    x = digits[0][0, 0].numpy().astype(np.float64)
    mask = np.zeros((28, 28), bool)
    mask[7:21, 7:21] = True
    a = inpaint(x, mask, "repaint", steps=5, resample=1, seed=3)
    assert np.array_equal(a[~mask], x[~mask]) and not np.array_equal(a[mask], x[mask])
    assert np.array_equal(a, inpaint(x, mask, "repaint", steps=5, resample=1, seed=3))  # seeded
    assert upscale(x[::2, ::2], 2, "dps", steps=3).shape == (28, 28)
    assert deblur(x, np.ones((3, 3)) / 9, "dps", sigma=0.01, edges="circular", steps=3).shape == (28, 28)
    with pytest.raises(ValueError, match=r"image: the prior models 28x28 images with 1 channel\(s\), got 32x32"):
        inpaint(np.zeros((32, 32)), np.zeros((32, 32), bool), "repaint", steps=2)
    with pytest.raises(ValueError, match="label: expected"):
        inpaint(x, mask, "repaint", steps=2, label=10)
    src = tmp_path / "digit.png"
    Image.fromarray((x * 255).round().astype(np.uint8)).save(src)
    out = tmp_path / "out.png"
    assert main(["inpaint", str(src), "-o", str(out), "--mask", "random:0.5", "--method", "dps",
                 "--prior", "shipped:ddpm", "--set", "steps=3", "--json"]) == 0
    assert out.exists()
    assert main(["inpaint", str(src), "-o", str(tmp_path / "o2.png"), "--mask", "random:0.5",
                 "--prior", "shipped:ddpm"]) == 2
    assert main(["inpaint", str(src), "-o", str(tmp_path / "o3.png"), "--mask", "random:0.5", "--method",
                 "repaint", "--prior", str(tmp_path)]) == 2


def test_diffpir_enforces_the_data_through_the_operators_prox(gauss):
    from aip.degrade import Blur, Mask, gaussian
    from aip.sampling.posterior import diffpir

    truth = (MU + S * torch.randn(16, 1, 12, 12, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    miss = np.zeros((12, 12), bool)
    miss[:, 6:] = True
    op = Mask(miss)
    y = op(truth)
    out = diffpir(gauss, y, op, sigma=0.0, steps=50, zeta=1.0, generator=torch.Generator().manual_seed(1))
    known = torch.from_numpy(~miss).expand_as(out)
    assert float((out - truth)[known].abs().max()) < 2e-3       # noiseless: the mask's prox is hard consistency
    assert float(out[~known].mean()) == pytest.approx(MU, abs=0.03)
    # a blur: DiffPIR's FFT prox moves the estimate toward the data, beyond the prior's mean
    blur = Blur(gaussian(1.0), "circular")
    yb = blur(truth) + 0.01 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(2))
    est = diffpir(gauss, yb, blur, sigma=0.01, steps=50, generator=torch.Generator().manual_seed(1))
    assert float((blur(est) - yb).square().mean()) < 0.2 * float((blur(torch.full_like(est, MU)) - yb).square().mean())
    with pytest.raises(ValueError, match=r"zeta: expected a number in \[0, 1\]"):
        diffpir(gauss, y, op, zeta=1.5)


def test_gan_latent_search_matches_the_degraded_observation():
    """PULSE-style restoration with the shipped cGAN: for an image the GAN itself made, the search through a
    mask finds a latent whose masked output matches (residual far below a random latent's), on the sphere, and
    the class search recovers the label for most images."""
    from aip.degrade import Mask
    from aip.models.prior_restore import load_gan

    gan = load_gan("shipped:cgan")
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(6)
    with torch.no_grad():
        from aip.models.layers import to_unit

        truth = to_unit(gan.generate(gan.sample_latent(6, g), labels))
    miss = np.zeros((28, 28), bool)
    miss[7:21, 7:21] = True
    op = Mask(miss)
    y = op(truth)
    z, err = gan.invert(y, 80, y=labels, operator=op, sphere=True, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(z.norm(dim=1), torch.full((6,), gan.config.latent_dim ** 0.5), rtol=1e-4)
    with torch.no_grad():
        rand = (op(to_unit(gan.generate(gan.sample_latent(6, g), labels))) - y).square().flatten(1).mean(1)
    assert float(err.mean()) < 0.3 * float(rand.mean())
    out, found = gan.restore_latent(y, op, steps=80, generator=torch.Generator().manual_seed(1))
    assert out.shape == truth.shape and int((found == labels).sum()) >= 4
