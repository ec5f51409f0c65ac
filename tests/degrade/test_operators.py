"""Operators: one generic adjointness test over every linear operator, plus references for each."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from aip.degrade import (
    BLUR_MODES,
    Blur,
    Compose,
    Downsample,
    Identity,
    Mask,
    bicubic_kernel,
    box,
    disk,
    gaussian,
    motion,
    random_mask,
    random_motion,
)

H, W = 24, 22  # deliberately not square and not a multiple of 3


def _operators():
    ops = {"identity": Identity()}
    kernels = {"gauss": gaussian(1.2), "box4": box(4), "motion": motion(7, 30), "even": box(2, 3)}
    for mode in BLUR_MODES:
        for kname, k in kernels.items():
            ops[f"blur-{mode}-{kname}"] = Blur(k, mode=mode)
    for s in (2, 3):
        for kern in ("bicubic", "gaussian", "box", "none"):
            for mode in ("circular", "symmetric", "reflect", "zero"):
                ops[f"down{s}-{kern}-{mode}"] = Downsample(s, kern, mode=mode)
    ops["down2-psf-valid"] = Downsample(2, disk(1.5), mode="valid")
    ops["mask"] = Mask(random_mask((H, W), 0.4, rng=1))
    ops["compose-blur-mask"] = Mask(random_mask((H, W), 0.5, rng=2)) @ Blur(gaussian(1.0), "reflect")
    d = Downsample(2, "bicubic", mode="symmetric")
    ops["compose-sr-mask"] = Mask(random_mask(d.output_shape((H, W)), 0.3, rng=3)) @ d @ Blur(box(3))
    ops["compose-class"] = Compose(Blur(gaussian(0.8), "valid"), Blur(box(3), "zero"), Identity())
    return ops


OPS = _operators()


@pytest.mark.parametrize("name", sorted(OPS))
def test_adjointness(name):
    """<A x, y> == <x, A^T y> in float64 on random data, with leading batch/channel dims."""
    op = OPS[name]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, H, W, generator=g, dtype=torch.float64)
    ax = op.A(x)
    assert ax.shape[:2] == (2, 3) and tuple(ax.shape[-2:]) == op.output_shape((H, W))
    y = torch.randn(ax.shape, generator=g, dtype=torch.float64)
    aty = op.A_adjoint(y, shape=(H, W))
    assert aty.shape == x.shape
    lhs = float((ax * y).sum())
    rhs = float((x * aty).sum())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


@pytest.mark.parametrize("name", ["blur-circular-gauss", "down2-bicubic-circular", "compose-sr-mask", "mask"])
def test_numpy_convenience_matches_tensor(name):
    op = OPS[name]
    x = np.random.default_rng(0).random((H, W, 3))
    y = op.A(x)
    assert isinstance(y, np.ndarray) and y.dtype == np.float64 and y.shape[-1] == 3
    ref = op.A(torch.as_tensor(np.moveaxis(x, -1, 0))).numpy()
    np.testing.assert_allclose(np.moveaxis(y, -1, 0), ref, atol=1e-12)
    y32 = op.A(x[..., 0].astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y[..., 0], atol=1e-5)


@pytest.mark.parametrize("mode,scipy_mode", [("circular", "wrap"), ("reflect", "mirror"),
                                             ("symmetric", "reflect"), ("replicate", "nearest"),
                                             ("zero", "constant")])
@pytest.mark.parametrize("kernel", [gaussian(1.3), motion(6, 60), np.arange(12.0).reshape(3, 4) + 1])
def test_blur_matches_scipy_convolve(mode, scipy_mode, kernel):
    x = np.random.default_rng(1).random((H, W))
    k = kernel / kernel.sum()
    got = Blur(k, mode=mode).A(x)
    ref = ndimage.convolve(x, k, mode=scipy_mode)  # same centre (kh // 2, kw // 2), even sizes too
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_blur_valid_matches_scipy_signal():
    from scipy.signal import convolve2d

    x = np.random.default_rng(2).random((H, W))
    k = motion(5, 20)
    np.testing.assert_allclose(Blur(k, "valid").A(x), convolve2d(x, k, mode="valid"), atol=1e-12)


def test_otf_diagonalises_circular_blur():
    op = Blur(random_motion(9, rng=4))
    x = torch.randn(H, W, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    via_otf = torch.fft.ifft2(op.otf((H, W)) * torch.fft.fft2(x)).real
    np.testing.assert_allclose(via_otf.numpy(), op.A(x).numpy(), atol=1e-12)
    # a PSF summing to 1 passes the mean: OTF(0) == 1
    assert abs(complex(op.otf((H, W))[0, 0]) - 1) < 1e-12


def test_bicubic_downsample_matches_pillow_interior():
    from PIL import Image

    x = np.random.default_rng(3).random((48, 48)).astype(np.float32)
    for s in (2, 3, 4):
        got = Downsample(s, "bicubic", mode="symmetric").A(x.astype(np.float64))
        ref = np.asarray(Image.fromarray(x, mode="F").resize((48 // s, 48 // s), Image.BICUBIC))
        m = 2  # Pillow renormalises truncated weights at the border; compare the interior
        np.testing.assert_allclose(got[m:-m, m:-m], ref[m:-m, m:-m], atol=1e-5)


def test_box_downsample_is_block_mean():
    x = np.random.default_rng(4).random((12, 18))
    for s in (2, 3):
        got = Downsample(s, "box").A(x)
        ref = x.reshape(12 // s, s, 18 // s, s).mean(axis=(1, 3))
        np.testing.assert_allclose(got, ref, atol=1e-12)


def test_bicubic_kernel_sums_and_sizes():
    for s, n in ((2, 8), (3, 11), (4, 16)):
        k = bicubic_kernel(s)
        assert k.shape == (n, n) and abs(k.sum() - 1) < 1e-12
        np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)


def test_mask_keeps_observed_pixels():
    m = random_mask((H, W), 0.5, rng=0)
    x = np.random.default_rng(0).random((H, W)) + 1.0
    y = Mask(m).A(x)
    assert np.all(y[m] == 0) and np.array_equal(y[~m], x[~m])


def test_operator_norms():
    assert abs(Identity().norm((16, 16)) - 1) < 1e-9
    # a normalised non-negative PSF has ||A|| = max |OTF| = 1 (attained at DC)
    assert abs(Blur(gaussian(1.0)).norm((16, 16), n_iter=200) - 1) < 1e-3
    assert abs(Mask(random_mask((16, 16), 0.5)).norm((16, 16)) - 1) < 1e-9


def test_operator_errors():
    with pytest.raises(ValueError, match="non-negative"):
        Blur(np.array([[0.5, -0.1], [0.3, 0.3]]))
    with pytest.raises(ValueError, match="2-D"):
        Blur(np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        Blur(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="mode"):
        Blur(box(3), mode="wrap")
    with pytest.raises(ValueError, match="match the mask"):
        Mask(np.zeros((4, 4), bool)).A(np.ones((5, 4)))
    with pytest.raises(ValueError, match="finite"):
        Identity().A(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="larger than the image"):
        Blur(box(9)).A(np.ones((4, 4)))
    with pytest.raises(ValueError, match="spatial shape"):
        Downsample(2).A_adjoint(np.ones((5, 5)), shape=(16, 16))
    with pytest.raises(TypeError):
        Identity() @ 3
    with pytest.raises(ValueError, match="scale"):
        Downsample(0)


# --- the physics contract: Modules, prox_l2 against conjugate gradients, batched CG -------------------
@pytest.mark.parametrize("name", sorted(OPS))
def test_operator_is_a_module_and_prox_l2_is_the_minimiser(name):
    """Every operator is an nn.Module with op(x) == op.A(x), and its prox_l2 (closed form or CG) satisfies
    the optimality condition A^T (A x - y) + (x - z) / gamma = 0 and equals the generic CG solution."""
    from aip.degrade import LinearOperator

    op = OPS[name]
    assert isinstance(op, torch.nn.Module)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 1, H, W, generator=g, dtype=torch.float64)
    torch.testing.assert_close(op(z), op.A(z))
    y = torch.randn(op.A(z).shape, generator=g, dtype=torch.float64)
    for gamma in (0.3, 4.0):
        x = op.prox_l2(z, y, gamma, n_iter=1000, tol=1e-12)
        assert x.shape == z.shape
        resid = op.A_adjoint(op.A(x) - y, shape=(H, W)) + (x - z) / gamma
        assert float(resid.abs().max()) < 1e-6 * max(1.0, float(z.abs().max()))
        ref = LinearOperator.prox_l2(op, z, y, gamma, n_iter=2000, tol=1e-13)
        torch.testing.assert_close(x, ref, atol=1e-6, rtol=0)


def test_closed_form_prox_is_used_where_it_exists():
    """Identity, masks, circular blur and circular blur + decimation have their own prox_l2."""
    from aip.degrade import LinearOperator

    for op in (Identity(), Mask(random_mask((H, W), 0.3, rng=0)), Blur(gaussian(1.0)),
               Downsample(2, "bicubic", mode="circular")):
        assert type(op).prox_l2 is not LinearOperator.prox_l2, type(op).__name__
    # the SR closed form with an offset grid and a Gaussian kernel, against CG in float64
    d = Downsample(3, "gaussian", mode="circular", offset=2)
    g = torch.Generator().manual_seed(2)
    z = torch.randn(24, 27, generator=g, dtype=torch.float64)
    y = torch.randn(8, 9, generator=g, dtype=torch.float64)
    ref = LinearOperator.prox_l2(d, z, y, 2.0, n_iter=3000, tol=1e-14)
    torch.testing.assert_close(d.prox_l2(z, y, 2.0), ref, atol=1e-9, rtol=0)


def test_batched_conjugate_gradient_equals_one_image_at_a_time():
    """Each image of a batch is its own CG system (own step sizes and stopping), as if solved alone."""
    op = Downsample(2, "bicubic", mode="symmetric")
    g = torch.Generator().manual_seed(3)
    z = torch.randn(3, 1, 16, 16, generator=g, dtype=torch.float64)
    z[1] *= 10  # different scales converge at different iterations
    y = torch.randn(3, 1, 8, 8, generator=g, dtype=torch.float64)
    batched = op.prox_l2(z, y, 0.5, n_iter=7, tol=1e-4)
    for i in range(3):
        alone = op.prox_l2(z[i:i + 1], y[i:i + 1], 0.5, n_iter=7, tol=1e-4)
        torch.testing.assert_close(batched[i:i + 1], alone, atol=1e-12, rtol=0)


def test_norm_is_one_implementation():
    from aip.restore import solvers

    assert not hasattr(solvers, "power_norm")
    m = Mask(random_mask((16, 16), 0.5, rng=0))
    assert abs(m.norm() - 1) < 1e-9  # a mask fixes its shape
    d = Downsample(2, "box", mode="circular")
    # box-average decimation by 2: ||D|| = 1/2 (D D^T = I / 4)
    assert abs(d.norm((16, 16)) - 0.5) < 1e-6
    with pytest.raises(ValueError, match="shape"):
        Blur(box(3)).norm()
    with pytest.raises(ValueError, match="gamma"):
        Identity().prox_l2(torch.zeros(4, 4), torch.zeros(4, 4), 0.0)


@pytest.mark.parametrize("mode", ["symmetric", "zero", "valid", "reflect"])
def test_float64_blur_through_the_fft_equals_conv2d(mode):
    """Float64 blurs above 3x3 take the FFT path (bounded memory); they equal the float32 conv2d path to its
    precision, and stay adjoint to float64 rounding."""
    import torch

    from aip.degrade import Blur, make_kernel

    op = Blur(make_kernel("gaussian:2"), mode=mode)
    x = torch.rand(2, 40, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = op.A(x)
    torch.testing.assert_close(a, op.A(x.float()).double(), atol=2e-6, rtol=0)
    y = torch.rand(a.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert abs(float((a * y).sum() - (x * op.A_adjoint(y, shape=(40, 50))).sum())) < 1e-9
