"""Model-based methods and solver parts: Chambolle TV vs scikit-image, ROF energy decrease, grad/div
adjointness, closed-form proximal steps vs conjugate gradients, Richardson-Lucy vs scikit-image, bicubic
vs Pillow, TV deconvolution / super-resolution / inpainting and plug-and-play improve on their inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aip.degrade import Blur, Downsample, Identity, Mask, gaussian
from aip.restore import solvers
from aip.restore.variational import (
    deblur_pnp,
    deblur_richardson_lucy,
    deblur_tv,
    denoise_tv,
    inpaint_pnp,
    inpaint_tv,
    pnp_admm,
    upscale_bicubic,
    upscale_tv,
)


def _clean(n: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n] / n
    img = 0.3 + 0.4 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1) + 0.2 * np.sin(6 * xx)
    img[n // 8: n // 4, n // 8: 3 * n // 4] = 0.9
    return img.astype(np.float32)


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


def _blurred(sigma: float = 0.01, n: int = 64, psf=None, seed: int = 0):
    x = _clean(n)
    psf = gaussian(1.2) if psf is None else psf
    y = Blur(psf).A(x) + sigma * np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    return x, psf, y.astype(np.float32)


class _NoFastPath:
    """Wraps an operator so that the solvers cannot see its type (forces the generic CG path)."""

    def __init__(self, op):
        self.op = op

    def A(self, x):
        return self.op.A(x)

    def A_adjoint(self, y):
        return self.op.A_adjoint(y)


# -------------------------------------------------------------------------------- solver parts
def test_grad_div_adjoint():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 13, 17, generator=g, dtype=torch.float64)
    p = torch.randn(2, 2, 13, 17, generator=g, dtype=torch.float64)
    lhs = (solvers.grad(x) * p).sum()
    rhs = -(x * solvers.div(p)).sum()
    assert abs(float(lhs - rhs)) < 1e-10 * float(lhs.abs() + 1)


def test_tv_norm_closed_form():
    # a vertical step of height 1 across 10 rows: TV = 10
    x = torch.zeros(10, 8, dtype=torch.float64)
    x[:, 4:] = 1.0
    assert abs(float(solvers.tv_norm(x)) - 10.0) < 1e-12


@pytest.mark.parametrize("weight", [0.05, 0.1, 0.3])
def test_denoise_tv_matches_skimage(weight):
    from skimage.restoration import denoise_tv_chambolle

    x = _clean(64)
    y = x + 0.1 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    ours = denoise_tv(y, 0.1, weight=weight)
    ref = denoise_tv_chambolle(y.astype(np.float64), weight=weight)
    assert np.abs(ours - ref).max() < 1e-3


def test_rof_energy_decreases():
    x = _clean(48)
    y = x + 0.1 * np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    v = torch.as_tensor(y, dtype=torch.float64)
    energies: list[float] = []
    solvers.prox_tv(v, 0.1, n_iter=100, eps=0.0, energies=energies)
    e = np.array(energies)
    e0 = 0.1 * float(solvers.tv_norm(v))  # the energy of u = f
    assert len(e) == 99 and e[0] < e0
    assert np.all(np.diff(e) <= 1e-9 * e0)  # monotone (Chambolle 2004, Theorem 3.1 for the dual)
    assert e[-1] < 0.5 * e0


def test_chambolle_pock_identity_equals_chambolle_projection():
    x = _clean(24)
    y = torch.as_tensor(x + 0.1 * np.random.default_rng(2).standard_normal(x.shape), dtype=torch.float64)
    fid = solvers.L2Fidelity(Identity(), y)
    a = solvers.chambolle_pock(fid, 0.1, y, n_iter=600, tau=0.5)
    b = solvers.prox_tv(y, 0.1, n_iter=1500, eps=0.0)
    assert float((a - b).abs().max()) < 2e-3


def test_pdhg_linear_identity_equals_chambolle_projection():
    # the fully split primal-dual algorithm with A = I solves the same ROF problem
    x = _clean(24)
    y = torch.as_tensor(x + 0.1 * np.random.default_rng(4).standard_normal(x.shape), dtype=torch.float64)
    a = solvers.pdhg_linear(Identity(), y, 0.1, y, n_iter=1600, op_norm=1.0, tau=0.5)
    b = solvers.prox_tv(y, 0.1, n_iter=1500, eps=0.0)
    assert float((a - b).abs().max()) < 1e-3


@pytest.mark.parametrize("make_op", [
    lambda: Blur(gaussian(1.0)),
    lambda: Mask(np.random.default_rng(0).random((24, 20)) < 0.4),
    lambda: Identity(),
])
def test_l2_prox_closed_form_equals_conjugate_gradient(make_op):
    op = make_op()
    g = torch.Generator().manual_seed(0)
    y = torch.rand(24, 20, generator=g, dtype=torch.float64)
    v = torch.rand(24, 20, generator=g, dtype=torch.float64)
    fast = solvers.L2Fidelity(op, y).prox(v, 0.7)
    slow = solvers.L2Fidelity(_NoFastPath(op), y, cg_iter=500).prox(v, 0.7)
    assert float((fast - slow).abs().max()) < 1e-6
    # optimality: (A^T A + I / tau) x = A^T y + v / tau
    res = op.A_adjoint(op.A(fast)) + fast / 0.7 - op.A_adjoint(y) - v / 0.7
    assert float(res.abs().max()) < 1e-8


def test_admm_tv_prior_solves_rof():
    # ADMM with F = 1/2 ||x - y||^2 and R = w TV converges to the ROF solution
    x = _clean(24)
    y = torch.as_tensor(x + 0.1 * np.random.default_rng(3).standard_normal(x.shape), dtype=torch.float64)
    ref = solvers.prox_tv(y, 0.1, n_iter=1500, eps=0.0)
    prior = solvers.TVPrior(0.1, n_iter=400, eps=0.0)  # the inner prox must be accurate
    out = solvers.admm(solvers.L2Fidelity(Identity(), y), prior, y, tau=0.3, n_iter=30)
    assert float((out - ref).abs().max()) < 1e-3


# -------------------------------------------------------------------------------- TV methods
@pytest.mark.parametrize("sigma", [0.05, 0.15])
def test_denoise_tv_lowers_error(sigma):
    x = _clean(64)
    y = x + sigma * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    out = denoise_tv(y, sigma)
    assert out.dtype == np.float32 and out.shape == y.shape
    assert _rmse(out, x) < 0.6 * _rmse(y, x)


def test_deblur_tv_improves_and_lowers_objective():
    x, psf, y = _blurred(0.01)
    out = deblur_tv(y, psf, sigma=0.01)
    assert _rmse(out, x) < 0.8 * _rmse(y, x)
    w = 4.5 * 0.01 ** 2

    def objective(z):
        zt = torch.as_tensor(z, dtype=torch.float64)
        r = Blur(psf).A(zt) - torch.as_tensor(y, dtype=torch.float64)
        return float(0.5 * r.pow(2).sum() + w * solvers.tv_norm(zt))

    from aip.restore.transforms import deblur_wiener

    assert objective(out) < objective(y)
    assert objective(out) < objective(deblur_wiener(y, psf, sigma=0.01))
    assert objective(out) < objective(x)


def test_deblur_tv_reflect_boundary_runs_through_cg():
    x = _clean(32)
    psf = gaussian(1.0)
    y = Blur(psf, mode="reflect").A(x)
    out = deblur_tv(y, psf, sigma=0.005, boundary="reflect", n_iter=60)
    assert _rmse(out, x) < 0.8 * _rmse(y, x)


def test_inpaint_tv_recovers_a_ramp_and_keeps_known_pixels():
    x = np.tile(np.linspace(0.1, 0.9, 32, dtype=np.float32), (32, 1))
    m = np.zeros((32, 32), bool)
    m[10:20, 12:18] = True
    y = np.where(m, 0.0, x).astype(np.float32)
    out = inpaint_tv(y, m, n_iter=800)
    assert np.abs(out - x).max() < 0.01  # TV reproduces affine data in a hole spanning the ramp
    assert np.array_equal(out[~m], x[~m])


def test_inpaint_tv_random_mask_beats_zero_fill_and_mean_fill():
    x = _clean(64)
    m = np.random.default_rng(0).random(x.shape) < 0.5
    y = np.where(m, 0.0, x).astype(np.float32)
    out = inpaint_tv(y, m)
    mean_fill = np.where(m, x[~m].mean(), x)
    assert _rmse(out, x) < 0.5 * _rmse(mean_fill, x)


def test_inpaint_tv_noisy_weight_mode():
    x = _clean(48)
    m = np.random.default_rng(0).random(x.shape) < 0.3
    y = (x + 0.05 * np.random.default_rng(1).standard_normal(x.shape)).astype(np.float32)
    out = inpaint_tv(y, m, weight=0.05, n_iter=300)
    assert _rmse(out, x) < 0.8 * _rmse(np.where(m, x[~m].mean(), y), x)


def test_upscale_bicubic_matches_pillow_interior():
    from PIL import Image

    x = np.random.default_rng(0).random((12, 10)).astype(np.float32)
    for s in (2, 3):
        ours = upscale_bicubic(x, s)
        ref = np.asarray(Image.fromarray(x, "F").resize((10 * s, 12 * s), Image.BICUBIC))
        b = 2 * s  # Pillow renormalises the kernel at the border instead of reflecting
        assert np.abs(ours - ref)[b:-b, b:-b].max() < 1e-5


def test_upscale_bicubic_reproduces_constants_and_ramps():
    c = np.full((6, 7), 0.3, np.float32)
    assert np.abs(upscale_bicubic(c, 3) - 0.3).max() < 1e-6
    # Keys' cubic reproduces quadratics exactly in the interior: a ramp along x on the centre grid
    s = 2
    lr = np.tile(np.arange(8, dtype=np.float32) / 10, (5, 1))
    hr = upscale_bicubic(lr, s)
    expect = ((np.arange(16) + 0.5) / s - 0.5) / 10
    assert np.abs(hr[:, 4:-4] - expect[4:-4]).max() < 1e-6


def test_upscale_tv_is_more_data_consistent_than_bicubic():
    x = _clean(48)
    op = Downsample(2, mode="symmetric")
    y = op.A(x)
    bic = upscale_bicubic(y, 2)
    out = upscale_tv(y, 2, n_iter=150)
    assert out.shape == x.shape
    assert _rmse(op.A(out), y) < 0.5 * _rmse(op.A(bic), y)
    assert _rmse(out, x) < _rmse(bic, x)


# -------------------------------------------------------------------------------- Richardson-Lucy
def test_richardson_lucy_matches_skimage():
    from skimage.restoration import richardson_lucy

    x = _clean(40).astype(np.float64)
    psf = gaussian(1.0)
    y = np.clip(Blur(psf, mode="zero").A(x) + 0.01 * np.random.default_rng(0).standard_normal(x.shape), 0, 1)
    ours = deblur_richardson_lucy(y, psf, n_iter=15, boundary="zero")
    ref = richardson_lucy(y, psf, num_iter=15)
    assert np.abs(ours - ref).max() < 1e-4


def test_richardson_lucy_preserves_flux_and_improves():
    x = _clean(48).astype(np.float64)
    psf = gaussian(1.2)
    y = Blur(psf).A(x)
    out = deblur_richardson_lucy(y, psf, n_iter=40)
    assert abs(out.sum() - y.sum()) < 1e-3 * y.sum()  # EM keeps the total intensity (circular, sum-1 PSF)
    assert _rmse(out, x) < 0.8 * _rmse(y, x)


# -------------------------------------------------------------------------------- plug-and-play
def test_pnp_with_a_simple_denoiser_improves_on_blurred_input():
    from scipy.ndimage import gaussian_filter

    x, psf, y = _blurred(0.01)
    calls = []

    def den(img, s):
        calls.append(s)
        return gaussian_filter(img, 0.3 + 10 * s)

    out = pnp_admm(y, Blur(psf), den, sigma=0.01, n_iter=6, scheme="hqs")
    assert len(calls) == 6 and calls[0] > calls[-1]
    assert _rmse(out, x) < 0.9 * _rmse(y, x)


@pytest.mark.parametrize("denoiser", [None, "tv", "wavelet"])
def test_deblur_pnp_improves(denoiser):
    x, psf, y = _blurred(0.01)
    out = deblur_pnp(y, psf, sigma=0.01, denoiser=denoiser, n_iter=8)
    assert _rmse(out, x) < 0.8 * _rmse(y, x)


def test_deblur_pnp_beats_wiener_on_a_piecewise_smooth_image():
    from aip.restore.transforms import deblur_wiener

    x, psf, y = _blurred(0.01)
    assert _rmse(deblur_pnp(y, psf, sigma=0.01), x) < _rmse(deblur_wiener(y, psf, sigma=0.01), x)


def test_harmonic_fill_reproduces_affine_data():
    from aip.restore.variational import _harmonic_fill

    i, j = np.mgrid[0:30, 0:30]
    x = (0.1 + 0.02 * i + 0.01 * j).astype(np.float32)  # affine: discrete Laplacian is zero
    m = np.zeros(x.shape, bool)
    m[5:20, 8:25] = True
    m[22, 3] = True
    out = _harmonic_fill(np.where(m, 0.0, x).astype(np.float32), m)
    assert np.abs(out - x).max() < 1e-5


def test_inpaint_pnp_beats_tv_on_texture():
    # an oriented stripe texture is sparse in the DCT but has a large TV: the DCT prior wins
    i, j = np.mgrid[0:48, 0:48]
    x = (0.5 + 0.3 * np.sin(2 * np.pi * (i + 2 * j) / 7)).astype(np.float32)
    m = np.random.default_rng(0).random(x.shape) < 0.5
    y = np.where(m, 0.0, x).astype(np.float32)
    out = inpaint_pnp(y, m, n_iter=12)
    assert _rmse(out, x) < 0.7 * _rmse(inpaint_tv(y, m, n_iter=200), x)


def test_colour_channels():
    x3 = np.stack([_clean(32), _clean(32).T, 1 - _clean(32)], axis=-1)
    y3 = x3 + 0.05 * np.random.default_rng(0).standard_normal(x3.shape).astype(np.float32)
    out = denoise_tv(y3, 0.05, channel_axis=-1)
    assert np.allclose(out[..., 1], denoise_tv(y3[..., 1], 0.05), atol=1e-6)
    psf = gaussian(1.0)
    b3 = np.stack([Blur(psf).A(x3[..., c]) for c in range(3)], axis=-1)
    out = deblur_tv(b3, psf, sigma=0.01, channel_axis=-1, n_iter=50)
    assert out.shape == x3.shape and _rmse(out, x3) < _rmse(b3, x3)


# -------------------------------------------------------------------------------- errors
def test_errors():
    y = np.zeros((16, 16), np.float32)
    psf = np.ones((3, 3)) / 9
    with pytest.raises(ValueError, match="sigma"):
        denoise_tv(y, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        deblur_tv(y, psf, sigma=-1.0)
    bad = y.copy()
    bad[0, 0] = np.nan
    for call in (lambda: denoise_tv(bad, 0.1), lambda: deblur_tv(bad, psf, sigma=0.1),
                 lambda: deblur_richardson_lucy(bad, psf), lambda: inpaint_tv(bad, bad > 0)):
        with pytest.raises(ValueError, match="finite"):
            call()
    with pytest.raises(ValueError, match="psf"):
        deblur_tv(y, np.ones(3), sigma=0.1)
    with pytest.raises(ValueError, match="psf"):
        deblur_pnp(y, -psf, sigma=0.1)
    with pytest.raises(ValueError, match="psf"):
        deblur_richardson_lucy(y, np.ones((20, 20)))
    with pytest.raises(ValueError, match="mask"):
        inpaint_tv(y, np.zeros((16, 15), bool))
    with pytest.raises(ValueError, match="mask"):
        inpaint_pnp(y, np.zeros((8, 8), bool))
    with pytest.raises(TypeError, match="mask"):
        inpaint_tv(y, np.full((16, 16), 0.5))
    with pytest.raises(ValueError, match="mask"):
        inpaint_tv(y, np.ones((16, 16), bool))
    with pytest.raises(ValueError, match="scale"):
        upscale_bicubic(y, 0)
    with pytest.raises(TypeError, match="scale"):
        upscale_tv(y, 2.5)
    with pytest.raises(ValueError, match="boundary"):
        deblur_tv(y, psf, sigma=0.1, boundary="wrap")
    with pytest.raises(ValueError, match="non-negative"):
        deblur_richardson_lucy(y - 0.5, psf)
    with pytest.raises(TypeError, match="denoiser"):
        pnp_admm(y, Blur(psf), 3.0, sigma=0.1)
    with pytest.raises(ValueError, match="denoiser"):
        pnp_admm(y, Blur(psf), "no-such-method", sigma=0.1)
    with pytest.raises(TypeError, match="operator"):
        pnp_admm(y, psf, None, sigma=0.1)
