"""Tests of aip.restore.filters: error reduction, peer agreement, the papers' properties, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import aip.restore.filters as F
from aip.io import load_sample

SIGMA = 25 / 255


def _psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def clean():
    return load_sample("camera", gray=True, size=64)


@pytest.fixture(scope="module")
def noisy(clean):
    rng = np.random.default_rng(0)
    return (clean + SIGMA * rng.standard_normal(clean.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def colour():
    x = load_sample("astronaut")[60:108, 200:248]  # a native-resolution crop (face and hair)
    rng = np.random.default_rng(1)
    return x, (x + SIGMA * rng.standard_normal(x.shape)).astype(np.float32)


# Measured gains on this 64x64 crop at sigma 25/255 (noisy input: 20.2 dB), with their default knobs; the
# margins are set about 1 dB under the measured gain, so a regression of the defaults shows.
GAIN_DB = {
    "denoise_gaussian": 3.0,
    "denoise_perona_malik": 3.0,
    "denoise_tensor_diffusion": 3.0,
    "denoise_bilateral": 3.0,
    "denoise_bilateral_grid": 3.0,
    "denoise_nl_means": 3.5,
    "denoise_domain_transform": 3.0,
}


def test_filters_list_matches_registry():
    from aip.restore._registry import DENOISE

    registered = {v.split(":")[1] for v in DENOISE.values() if v.startswith("filters:")}
    assert registered == set(F.FILTERS)
    assert set(GAIN_DB) == set(F.FILTERS)
    for name in F.FILTERS:
        assert callable(getattr(F, name))


@pytest.mark.parametrize("name", F.FILTERS)
def test_each_denoiser_lowers_the_error(name, clean, noisy):
    out = getattr(F, name)(noisy, SIGMA)
    assert out.dtype == np.float32 and out.shape == noisy.shape
    gain = _psnr(out, clean) - _psnr(noisy, clean)
    assert gain > GAIN_DB[name], f"{name}: gain {gain:.2f} dB"


@pytest.mark.parametrize("name", F.FILTERS)
def test_colour_and_channel_axis(name, colour):
    x, y = colour
    f = getattr(F, name)
    out = f(y, SIGMA, channel_axis=-1)
    assert out.shape == y.shape and out.dtype == np.float32
    assert _psnr(out, x) > _psnr(y, x) + 2.0
    first = f(np.moveaxis(y, -1, 0), SIGMA, channel_axis=0)
    np.testing.assert_allclose(np.moveaxis(first, 0, -1), out, atol=1e-5)


@pytest.mark.parametrize("name", F.FILTERS)
def test_constant_image_is_a_fixed_point(name):
    x = np.full((24, 20), 0.37, np.float32)
    np.testing.assert_allclose(getattr(F, name)(x, 0.1), x, atol=2e-6)


@pytest.mark.parametrize("name", F.FILTERS)
def test_bad_input(name, noisy):
    f = getattr(F, name)
    bad = noisy.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        f(bad, SIGMA)
    for s in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="sigma"):
            f(noisy, s)
    with pytest.raises(TypeError, match="sigma"):
        f(noisy, "0.1")
    with pytest.raises(ValueError, match="2-D"):
        f(np.zeros((2, 8, 8, 3), np.float32), SIGMA)
    with pytest.raises(ValueError, match="channel_axis"):
        f(np.zeros((8, 8, 3), np.float32), SIGMA)
    with pytest.raises(ValueError, match="3-D"):
        f(np.zeros((2, 8, 8, 3), np.float32), SIGMA, channel_axis=-1)


# ---------------------------------------------------------------------------------------------- Gaussian

def test_gaussian_equals_skimage(noisy):
    from skimage.filters import gaussian

    out = F.denoise_gaussian(noisy, SIGMA, filter_sigma=1.3)
    ref = gaussian(noisy.astype(np.float64), sigma=1.3, mode="reflect", truncate=4.0, preserve_range=True)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert F.gaussian_filter_sigma(SIGMA) == pytest.approx(0.13 + 8 * SIGMA)


# ---------------------------------------------------------------------------------------- diffusions

@pytest.mark.parametrize("conductance", ["exponential", "rational"])
def test_perona_malik_mean_and_max_min_principle(noisy, conductance):
    out = F.denoise_perona_malik(noisy, SIGMA, conductance=conductance, iterations=40, dt=0.25)
    assert out.mean() == pytest.approx(float(noisy.astype(np.float64).mean()), abs=1e-6)
    # dt <= 1/4 and g <= 1: each step is a convex combination of neighbours
    assert out.min() >= noisy.min() - 1e-6 and out.max() <= noisy.max() + 1e-6


def _noisy_step(seed):
    """A 32x32 unit step between columns 15 and 16, plus seeded Gaussian noise of std 0.05."""
    rng = np.random.default_rng(seed)
    x = np.zeros((32, 32), np.float32)
    x[:, 16:] = 1.0
    return x + 0.05 * rng.standard_normal(x.shape).astype(np.float32)


def _step_height(out):
    return np.mean(out[:, 16] - out[:, 15])


def _assert_flat_region_smoothed(out, y):
    # left of the edge: noise std down by more than half
    assert out[:, 2:12].std() < 0.5 * y[:, 2:12].std()


def test_perona_malik_keeps_a_strong_edge_and_smooths_flat_regions():
    y = _noisy_step(3)
    out = F.denoise_perona_malik(y, 0.05, iterations=50)
    assert _step_height(out) > 0.9  # the edge keeps > 90% of its height
    _assert_flat_region_smoothed(out, y)


def test_perona_malik_rejects_unstable_step(noisy):
    with pytest.raises(ValueError, match="dt"):
        F.denoise_perona_malik(noisy, SIGMA, dt=0.3)
    with pytest.raises(ValueError, match="conductance"):
        F.denoise_perona_malik(noisy, SIGMA, conductance="linear")


def test_tensor_diffusion_mean_and_variance_decrease(noisy):
    ops = F._NumpyOps()
    u = ops.asarray(noisy[..., None])
    mean0 = float(u.astype(np.float64).mean())
    variances = [float(u.var())]
    for _ in range(15):
        u = F._tensor_diffusion_kernel(ops, u, 0.6 * SIGMA, 1.0, 1, 0.2)
        variances.append(float(u.astype(np.float64).var()))
    assert float(u.astype(np.float64).mean()) == pytest.approx(mean0, abs=1e-6)
    # Lyapunov property of the scale space (Weickert 1998, thm 4.2): variance does not increase
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(variances))
    assert variances[-1] < variances[0]


def test_tensor_diffusion_smooths_along_not_across_edges():
    y = _noisy_step(4)
    out = F.denoise_tensor_diffusion(y, 0.05, iterations=40)
    assert _step_height(out) > 0.8
    _assert_flat_region_smoothed(out, y)


def test_numpy_and_torch_kernels_agree(noisy):
    npo, tho = F._NumpyOps(), F._TorchOps("cpu")
    img = np.stack([noisy, noisy[::-1]], -1)
    for kernel, args in [
        (F._perona_malik_kernel, (0.1, 5, "exponential", 0.2, 0.8)),
        (F._tensor_diffusion_kernel, (0.05, 1.0, 5, 0.2)),
        (F._bilateral_kernel, (0.15, 2.0, 4, "symmetric")),
        (F._nl_means_kernel, (SIGMA, 0.5 * SIGMA, 2, 3, True)),
    ]:
        a = npo.to_hwc(kernel(npo, npo.asarray(img), *args))
        b = tho.to_hwc(kernel(tho, tho.asarray(img), *args))
        np.testing.assert_allclose(a, b, atol=2e-5, err_msg=kernel.__name__)


@pytest.mark.parametrize("k", [1, 3, 5, 7, 9, 11])
def test_box_sums_equal_brute_force(k):
    x = np.random.default_rng(k).random((19, 23)).astype(np.float32)
    ref = np.array([[x[i:i + k, j:j + k].sum() for j in range(23 - k + 1)] for i in range(19 - k + 1)])
    np.testing.assert_allclose(F._Box2D(x, k)(x), ref, rtol=1e-5)
    t = F._TorchOps("cpu").xp.from_numpy(x)
    np.testing.assert_allclose(F._Box2D(t, k)(t).numpy(), ref, rtol=1e-5)


# ---------------------------------------------------------------------------------------- bilateral

def _bilateral_reference(img, sc, ss, r):
    """Direct definition (Tomasi & Manduchi), symmetric padding, joint Euclidean colour distance."""
    x = img if img.ndim == 3 else img[..., None]
    h, w, _ = x.shape
    p = np.pad(x.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="symmetric")
    num = np.zeros_like(x, dtype=np.float64)
    den = np.zeros((h, w))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            v = p[r + dy:r + dy + h, r + dx:r + dx + w]
            wgt = np.exp(-(dx * dx + dy * dy) / (2 * ss * ss)) * np.exp(-((v - x) ** 2).sum(-1) / (2 * sc * sc))
            num += wgt[..., None] * v
            den += wgt
    out = num / den[..., None]
    return out if img.ndim == 3 else out[..., 0]


def test_bilateral_equals_its_definition(colour):
    _, y = colour
    y = y[:20, :24]
    out = F.denoise_bilateral(y, SIGMA, sigma_color=0.2, sigma_spatial=1.7, win_size=7, channel_axis=-1)
    np.testing.assert_allclose(out, _bilateral_reference(y, 0.2, 1.7, 3), atol=2e-6)


@pytest.mark.parametrize("sigma_spatial", [1.0, 2.5])
def test_bilateral_matches_opencv(noisy, sigma_spatial):
    cv2 = pytest.importorskip("cv2")
    r = math.ceil(4 * sigma_spatial)
    ours = F.denoise_bilateral(noisy, SIGMA, sigma_color=0.15, sigma_spatial=sigma_spatial,
                               win_size=2 * r + 1, mode="reflect")
    # OpenCV: disc of radius r (we use the square; corners weigh < exp(-8)), border = numpy "reflect"
    ref = cv2.bilateralFilter(noisy, 2 * r + 1, 0.15, sigma_spatial, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(ours - ref).max() < 5e-4


def test_bilateral_grid_close_to_direct(clean, noisy):
    kw = {"sigma_color": 0.15, "sigma_spatial": 3.0}
    direct = F.denoise_bilateral(noisy, SIGMA, **kw)
    grid = F.denoise_bilateral_grid(noisy, SIGMA, **kw)
    fine = F.denoise_bilateral_grid(noisy, SIGMA, sampling=2.0, **kw)
    # interior (the grid treats the border as missing data, the direct filter mirrors it)
    d1 = np.abs(grid - direct)[6:-6, 6:-6].mean()
    d2 = np.abs(fine - direct)[6:-6, 6:-6].mean()
    assert d1 < 0.012 and d2 < d1
    assert abs(_psnr(grid, clean) - _psnr(direct, clean)) < 0.4


# ---------------------------------------------------------------------------------------- NL-means

def _nlm_reference(img, sigma, h, p, r, patchwise):
    """Brute-force NL-means on the symmetric-padded image (float64)."""
    x = img.astype(np.float64)
    hgt, wid = x.shape
    m = r + 2 * p
    pad = np.pad(x, m, mode="symmetric")
    k = 2 * p + 1

    def patch(i, j):  # padded coordinates of the patch centre
        return pad[i - p:i + p + 1, j - p:j + p + 1]

    def weight(i, j, dy, dx):
        d2 = np.mean((patch(i, j) - patch(i + dy, j + dx)) ** 2)
        return 1.0 if dy == dx == 0 else math.exp(-max(d2 - 2 * sigma ** 2, 0.0) / h ** 2)

    out = np.zeros_like(x)
    for i in range(hgt):
        for j in range(wid):
            num = den = 0.0
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    if patchwise:  # every patch centre c covering the pixel: weight W_t(c), value u(x + t)
                        wt = sum(weight(i + m + a, j + m + b, dy, dx)
                                 for a in range(-p, p + 1) for b in range(-p, p + 1))
                    else:
                        wt = weight(i + m, j + m, dy, dx)
                    num += wt * pad[i + m + dy, j + m + dx]
                    den += wt
            out[i, j] = num / den
    assert k == 2 * p + 1
    return out


@pytest.mark.parametrize("aggregation", ["pixel", "patch"])
def test_nl_means_equals_brute_force(noisy, aggregation):
    y = noisy[20:30, 24:33]
    out = F.denoise_nl_means(y, SIGMA, h=0.6 * SIGMA, patch_size=3, patch_distance=2, aggregation=aggregation)
    ref = _nlm_reference(y, SIGMA, 0.6 * SIGMA, 1, 2, aggregation == "patch")
    np.testing.assert_allclose(out, ref, atol=2e-5)


@pytest.mark.parametrize("patch_size, patch_distance", [(5, 4), (7, 3)])
def test_nl_means_pixel_mode_agrees_with_skimage(patch_size, patch_distance):
    from skimage.restoration import denoise_nl_means

    x = load_sample("camera", gray=True, size=128)
    y = (x + SIGMA * np.random.default_rng(2).standard_normal(x.shape)).astype(np.float32)
    h = 0.8 * SIGMA
    ref = denoise_nl_means(y, h=h, sigma=SIGMA, fast_mode=True, patch_size=patch_size,
                           patch_distance=patch_distance)
    # scikit-image's fast mode sums the squared differences over (s-1) x (s-1) pixels and divides by s^2
    # (its integral-image corners), i.e. our mean distance with h scaled by s / (s-1).
    s = patch_size
    ours = F.denoise_nl_means(y, SIGMA, h=h * s / (s - 1), aggregation="pixel", patch_size=patch_size,
                              patch_distance=patch_distance)
    assert abs(_psnr(ours, x) - _psnr(ref, x)) < 0.15
    assert np.abs(ours - ref)[8:-8, 8:-8].mean() < 0.008
    assert _psnr(ours, x) > _psnr(y, x) + 6


def test_nl_means_defaults_and_validation(noisy):
    h, ps, pd = F.nl_means_defaults(SIGMA)
    assert h > 0 and ps % 2 == 1 and pd >= 1
    with pytest.raises(ValueError, match="patch_size"):
        F.denoise_nl_means(noisy, SIGMA, patch_size=4)
    with pytest.raises(ValueError, match="aggregation"):
        F.denoise_nl_means(noisy, SIGMA, aggregation="block")


# ------------------------------------------------------------------------------------- domain transform

def _impulse_response(method, n_it, ss):
    """Domain transform of a centred impulse without edges: (total weight, variance of the row marginal)."""
    x = np.zeros((81, 81), np.float32)
    x[40, 40] = 1.0
    out = F.denoise_domain_transform(x, 0.1, sigma_spatial=ss, sigma_color=1e6, iterations=n_it,
                                     guide_sigma=0, method=method).astype(np.float64)
    marg = out.sum(0)
    pos = np.arange(81) - 40
    return float(out.sum()), float((marg * pos ** 2).sum() / marg.sum())


def _sigma_h(ss, n_it):
    """sigma_H of each iteration (Gastal & Oliveira, eq. 14): their variances add up to ss^2."""
    return [ss * math.sqrt(3) * 2 ** (n_it - i - 1) / math.sqrt(4 ** n_it - 1) for i in range(n_it)]


def test_domain_transform_impulse_variance_is_sigma_spatial_squared():
    # without edges each recursive pass is a symmetric exponential a^|n| of variance 2a/(1-a)^2, and the
    # iterations' sigma_H are chosen so the variances add up to sigma_spatial^2 (Gastal & Oliveira, eq. 14)
    n_it, ss = 3, 3.0
    total, var = _impulse_response("rf", n_it, ss)
    assert total == pytest.approx(1.0, abs=1e-4)
    expected = 0.0
    for sh in _sigma_h(ss, n_it):
        a = math.exp(-math.sqrt(2) / sh)
        expected += 2 * a / (1 - a) ** 2
    assert var == pytest.approx(expected, rel=1e-3)
    assert expected == pytest.approx(ss ** 2, rel=0.15)


@pytest.mark.parametrize("method", ["rf", "nc"])
def test_domain_transform_preserves_edges(method):
    y = _noisy_step(5)
    out = F.denoise_domain_transform(y, 0.05, method=method)
    assert _step_height(out) > 0.9
    _assert_flat_region_smoothed(out, y)
    # the linear filter with the same spatial extent blurs the edge away
    lin = F.denoise_domain_transform(y, 0.05, sigma_color=1e6, method=method)
    assert _step_height(lin) < 0.5


def test_domain_transform_nc_impulse_variance_and_constant():
    # normalised convolution: box filters of radius sqrt(3) sigma_H_i in the transformed domain; without
    # edges (ct = x) a radius R keeps the offsets |n| <= floor(R): variance floor(R)(floor(R)+1)/3 each
    n_it, ss = 3, 3.0
    total, var = _impulse_response("nc", n_it, ss)
    assert total == pytest.approx(1.0, abs=1e-6)
    expected = 0.0
    for sh in _sigma_h(ss, n_it):
        f = math.floor(math.sqrt(3) * sh)
        expected += f * (f + 1) / 3
    assert var == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(ss ** 2, rel=0.1)
    c = np.full((20, 30, 3), 0.6, np.float32)
    np.testing.assert_allclose(F.denoise_domain_transform(c, 0.1, method="nc", channel_axis=-1), c, atol=1e-6)


def test_domain_transform_nc_preserves_edges_and_denoises(clean, noisy):
    y = _noisy_step(6)
    out = F.denoise_domain_transform(y, 0.05, method="nc")
    assert _step_height(out) > 0.9
    _assert_flat_region_smoothed(out, y)
    gain = _psnr(F.denoise_domain_transform(noisy, SIGMA, method="nc"), clean) - _psnr(noisy, clean)
    assert gain > 3.0
    with pytest.raises(ValueError, match="method"):
        F.denoise_domain_transform(noisy, SIGMA, method="ic")
