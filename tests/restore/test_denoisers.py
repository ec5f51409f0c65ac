"""The denoiser contract over the registry, and plug-and-play built from parts on batches."""

import numpy as np
import pytest
import torch

from aip._shared.denoiser import BatchDenoiser, Denoiser, ImageDenoiser, as_denoiser, sigma_per_image
from aip.degrade import Blur, Downsample, GaussianNoise, Identity, Mask, Physics, gaussian, random_mask
from aip.io import load_sample
from aip.restore import solvers
from aip.restore.denoisers import DENOISERS, get_denoiser

# knobs that keep the slow methods quick on 32 x 32 test images
FAST = {"wnnm": {"n_iter": 2}, "ksvd": {"n_atoms": 64, "n_iter": 2}}


def _noisy(c: int, n: int = 2, sigma=0.2, size: int = 32):
    img = load_sample("astronaut", size=size)  # (size, size, 3)
    clean = torch.as_tensor(np.moveaxis(img, -1, 0)[:c].copy())[None].repeat(n, 1, 1, 1)
    clean[1:] = clean[1:].flip(-1)  # two different images
    noisy = GaussianNoise(sigma)(clean, rng=0)
    return clean, noisy


@pytest.mark.parametrize("name", DENOISERS)
def test_every_denoiser_meets_the_contract_and_lowers_the_error(name):
    d = get_denoiser(name, **FAST.get(name, {}))
    assert isinstance(d, Denoiser)
    for c in (1, 3):
        clean, noisy = _noisy(c)
        out = d(noisy, torch.tensor([0.2, 0.2]))
        assert out.shape == noisy.shape and out.dtype == noisy.dtype
        for i in range(2):
            err_in = float((noisy[i] - clean[i]).pow(2).mean())
            err_out = float((out[i] - clean[i]).pow(2).mean())
            assert err_out < 0.9 * err_in, (name, c, i, err_out, err_in)


def test_image_denoiser_gives_each_image_its_sigma_and_colour_whole():
    seen = []

    def colour_fn(img, s, channel_axis=None):
        seen.append((img.shape, s, channel_axis))
        return img

    d = ImageDenoiser(colour_fn)
    x = torch.zeros(3, 3, 8, 8)
    d(x, torch.tensor([0.1, 0.2, 0.3]))
    assert [s for _, s, _ in seen] == pytest.approx([0.1, 0.2, 0.3])
    assert all(shape == (8, 8, 3) and ax == -1 for shape, _, ax in seen)
    gray = []
    as_denoiser(lambda img, s: gray.append(img.shape) or img)(torch.zeros(2, 3, 8, 8), 0.1)
    assert gray == [(8, 8)] * 6  # no channel_axis: one channel at a time
    net = torch.nn.Identity()
    assert as_denoiser(net) is net
    with pytest.raises(ValueError, match="one per image"):
        sigma_per_image(torch.ones(3), torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        d(torch.zeros(8, 8), 0.1)


class _CountingBatch(BatchDenoiser):
    """A batch denoiser (Gaussian smoothing whose width follows sigma) that records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, sigma):
        from aip.degrade import Blur

        self.calls.append(tuple(x.shape))
        s = sigma_per_image(sigma, x)
        out = torch.stack([Blur(gaussian(0.3 + 8 * float(si)), "symmetric").A(xi) for xi, si in zip(x, s)])
        return out


OPS = {
    "blur-circular": lambda: Blur(gaussian(1.2)),
    "blur-symmetric": lambda: Blur(gaussian(1.2), "symmetric"),
    "sr-circular": lambda: Downsample(2, "bicubic", mode="circular"),
    "mask": lambda: Mask(random_mask((32, 32), 0.5, rng=0)),
    "identity": lambda: Identity(),
}


@pytest.mark.parametrize("scheme", sorted(solvers.SCHEMES))
@pytest.mark.parametrize("op_name", sorted(OPS))
def test_pnp_works_for_any_operator_and_scheme_and_batches_equal_single_images(op_name, scheme):
    op = OPS[op_name]()
    sigma = 0.1 if op_name == "identity" else 0.01  # denoising needs noise worth removing
    physics = Physics(op, GaussianNoise(sigma))
    # smooth images (blurred random fields), the kind a smoothing denoiser is a good prior for
    field = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    clean = Blur(gaussian(3.0), "circular").A(field)
    clean = (clean - clean.amin((-2, -1), keepdim=True)) / (clean.amax((-2, -1), keepdim=True)
                                                          - clean.amin((-2, -1), keepdim=True))
    y = physics(clean, rng=1)
    den = _CountingBatch()
    start = op.A_adjoint(y) if op_name != "sr-circular" else torch.nn.functional.interpolate(y, scale_factor=2)
    out = solvers.pnp(y, physics, den, sigma=sigma, scheme=scheme, n_iter=8, sigma_start=0.1, x0=start)
    assert len(den.calls) == 8 and all(c == (3, 1, 32, 32) for c in den.calls)  # once per iteration, whole batch
    err = float((out - clean).pow(2).mean())
    assert err < float((start - clean).pow(2).mean())
    for i in range(3):
        one = solvers.pnp(y[i:i + 1], physics, _CountingBatch(), sigma=sigma, scheme=scheme, n_iter=8,
                          sigma_start=0.1, x0=start[i:i + 1])
        # to rounding (the FFT path of the symmetric blur batches its transforms; CG stops on a tolerance)
        torch.testing.assert_close(out[i:i + 1], one, atol=1e-6, rtol=0)


def test_pnp_errors():
    y = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match="scheme"):
        solvers.pnp(y, Identity(), _CountingBatch(), sigma=0.1, scheme="fista")
    with pytest.raises(TypeError, match="A_adjoint"):
        solvers.pnp(y, np.ones(3), _CountingBatch(), sigma=0.1)
    with pytest.raises(ValueError, match="denoiser"):
        get_denoiser("bm4d")
