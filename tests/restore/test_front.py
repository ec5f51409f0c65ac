"""Front doors of aip.restore: registry, validation, colour, sigma="auto", tiling, and the real methods."""

import itertools

import numpy as np
import pytest
import torch
from scipy import ndimage

import aip.restore as R
from aip.degrade import Blur, add_gaussian_noise, estimate_sigma, gaussian, random_mask
from aip.io import load_sample
from aip.metrics import psnr
from aip.restore._registry import TASKS

SIGMA = 25 / 255


@pytest.fixture(scope="module")
def clean():
    return load_sample("camera", size=48).astype(np.float64)


@pytest.fixture(scope="module")
def noisy(clean):
    return add_gaussian_noise(clean, SIGMA, rng=0)


def _gauss(img, sigma, *, channel_axis=None, width=1.0):
    """A reference denoiser with the registry signature: scipy's Gaussian filter per channel."""
    if channel_axis is None:
        return ndimage.gaussian_filter(img, width, mode="reflect")
    return np.stack([ndimage.gaussian_filter(img[..., c], width, mode="reflect")
                     for c in range(img.shape[-1])], axis=-1)


def test_registry_names_and_defaults():
    need = {
        "denoise": {"gaussian", "perona_malik", "tensor_diffusion", "bilateral", "bilateral_grid", "nlm",
                    "domain_transform", "wavelet", "dct", "tv", "ksvd", "wnnm"},
        "deblur": {"wiener", "richardson_lucy", "tv", "pnp"},
        "upscale": {"bicubic", "tv", "sparse"},
        "inpaint": {"harmonic", "tv", "lowrank", "pnp", "wnnm"},
    }
    for task, names in need.items():
        assert names <= set(R.METHODS[task])
        assert R.DEFAULTS[task] == next(iter(TASKS[task]))
    avail = R.available()
    assert set(avail) == set(need) and all(set(v) <= set(R.METHODS[k]) for k, v in avail.items())


def test_defaults_are_the_fast_methods():
    """Each task's default restores a 12-megapixel colour photo in well under a minute on one core
    (measured cost <= 2.5 s per colour megapixel: 30 s), and is the best measured that does; every method
    has a measured cost (shown by --help) and the slow best-quality ones stay registered."""
    from aip.restore._registry import SECONDS_PER_MP

    assert R.DEFAULTS == {"denoise": "nlm", "deblur": "wiener", "upscale": "bicubic", "inpaint": "harmonic"}
    for task, names in R.METHODS.items():
        assert set(SECONDS_PER_MP[task]) == set(names)
        assert SECONDS_PER_MP[task][names[0]] * 12 <= 30
    assert SECONDS_PER_MP["denoise"]["wnnm"] > 100 and SECONDS_PER_MP["denoise"]["dct"] * 12 > 30
    # the API's default is the CLI's: denoise(image) runs NLM
    y = add_gaussian_noise(load_sample("camera", size=32), SIGMA, rng=3)
    np.testing.assert_array_equal(R.denoise(y, sigma=SIGMA), R.denoise(y, "nlm", sigma=SIGMA))


def test_unknown_and_missing_methods(monkeypatch, noisy):
    with pytest.raises(ValueError, match="method: expected one of"):
        R.denoise(noisy, "bm4d", sigma=SIGMA)
    monkeypatch.setitem(TASKS["denoise"], "ghost", "ghostfamily:denoise_ghost")
    with pytest.raises(ImportError, match="not available"):
        R.denoise(noisy, "ghost", sigma=SIGMA)
    assert "ghost" not in R.available("denoise")


def test_callable_method_gray_and_colour(clean):
    np.testing.assert_allclose(R.denoise(clean, _gauss, sigma=0.1), ndimage.gaussian_filter(clean, 1.0), atol=1e-12)
    rgb = load_sample("astronaut", size=32).astype(np.float64)
    got = R.denoise(rgb, _gauss, sigma=0.1)  # channel_axis -1 is passed for (H, W, C)
    for c in range(3):
        np.testing.assert_allclose(got[..., c], ndimage.gaussian_filter(rgb[..., c], 1.0), atol=1e-12)
    # uint8 input is converted by the one rule (/255), not rescaled otherwise
    u8 = (clean * 255).round().astype(np.uint8)
    np.testing.assert_allclose(R.denoise(u8, _gauss, sigma=0.1),
                               ndimage.gaussian_filter(u8 / 255.0, 1.0), atol=1e-6)


def test_sigma_auto_uses_estimate(noisy):
    seen = {}

    def spy(img, sigma, *, channel_axis=None):
        seen["sigma"] = sigma
        return img

    R.denoise(noisy, spy)  # sigma defaults to "auto"
    assert seen["sigma"] == pytest.approx(estimate_sigma(noisy))
    R.denoise(noisy, spy, sigma="auto:pca")
    assert seen["sigma"] == pytest.approx(estimate_sigma(noisy, "pca"))
    assert abs(seen["sigma"] - SIGMA) / SIGMA < 0.25  # a 48x48 image: a loose check


def test_tensor_in_tensor_out(noisy):
    t = torch.as_tensor(noisy, dtype=torch.float32)
    out = R.denoise(t, _gauss, sigma=SIGMA)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ndimage.gaussian_filter(noisy.astype(np.float32), 1.0), atol=1e-5)


def test_tiling_exact_for_pointwise_and_close_for_local():
    rng = np.random.default_rng(1)
    img = rng.random((70, 53))
    square = lambda x, s, *, channel_axis=None: x ** 2
    np.testing.assert_allclose(R.denoise(img, square, sigma=0.1, tile=24, overlap=8), img ** 2, atol=1e-12)
    whole = R.denoise(img, _gauss, sigma=0.1)
    tiled = R.denoise(img, _gauss, sigma=0.1, tile=24, overlap=10)
    assert np.abs(tiled - whole).max() < 0.05 and np.abs(tiled - whole).mean() < 2e-3
    # upscaling tiles live on the low-resolution grid
    near = lambda x, s, *, channel_axis=None: np.kron(x, np.ones((s, s)))
    np.testing.assert_allclose(R.upscale(img, 3, near, tile=20, overlap=6), np.kron(img, np.ones((3, 3))), atol=1e-12)
    # inpainting tiles cut the mask with the image
    m = random_mask(img.shape, 0.3, rng=0)
    fill = lambda x, mm, *, channel_axis=None: np.where(mm, -1.0, x)
    np.testing.assert_allclose(R.inpaint(img, m, fill, tile=16, overlap=4), np.where(m, -1.0, img), atol=1e-12)


class _Spy:
    """Wraps a method and records the shapes it was called on."""

    def __init__(self, fn):
        self.fn, self.shapes = fn, []

    def __call__(self, x, *args, **kw):
        self.shapes.append(x.shape)
        return self.fn(x, *args, **kw)


def test_auto_tiling_above_the_threshold(monkeypatch):
    """Above AUTO_TILE a side, the front doors cut tiles (bounded memory: the method never sees more than a
    tile plus its halo); NLM, whose reach (patch + search radius) is within the halo, gives the whole-image
    result to rounding; at or below the threshold the method sees the whole image once."""
    from aip.restore.filters import denoise_nl_means

    x = load_sample("astronaut", size=96)[:90, :77]
    y = add_gaussian_noise(x, SIGMA, rng=1).astype(np.float32)
    whole = R.denoise(y, "nlm", sigma=SIGMA, tile=0)
    spy = _Spy(denoise_nl_means)
    monkeypatch.setattr(R, "AUTO_TILE", 32)
    tiled = R.denoise(y, spy, sigma=SIGMA)
    assert len(spy.shapes) == 5 * 4 and max(max(s[:2]) for s in spy.shapes) <= 32 + 2 * R.TILE_HALO
    np.testing.assert_allclose(tiled, whole, atol=2e-5)
    assert psnr(x, np.clip(tiled, 0, 1), data_range=1.0) > psnr(x, np.clip(y, 0, 1), data_range=1.0) + 4
    spy.shapes.clear()
    monkeypatch.setattr(R, "AUTO_TILE", 90)
    R.denoise(y, spy, sigma=SIGMA)
    assert spy.shapes == [y.shape]
    with pytest.raises(ValueError, match="tile: expected 0 .* or an integer >= 8, got 4"):
        R.denoise(y, "nlm", sigma=SIGMA, tile=4)


def test_auto_tiling_deblur_upscale_inpaint(monkeypatch):
    x = load_sample("camera", size=80).astype(np.float32)
    psf = gaussian(1.2)
    y = add_gaussian_noise(Blur(psf, mode="symmetric").A(x), 0.01, rng=0).astype(np.float32)
    whole = {"deblur": R.deblur(y, psf, "wiener", sigma=0.01), "up": R.upscale(x, 2, "bicubic"),
             "fill": None}
    m = np.zeros(x.shape, bool)
    m[10:14, 5:70] = True                       # one scratch: only the top row of tiles has pixels missing
    whole["fill"] = R.inpaint(x, m, "harmonic", tile=0)
    monkeypatch.setattr(R, "AUTO_TILE", 32)
    # deconvolution tiles see twice the kernel size of their neighbours: close to the whole image
    assert psnr(whole["deblur"], R.deblur(y, psf, "wiener", sigma=0.01), data_range=1.0) > 40
    # bicubic reaches 2 pixels: with the halo the tiles give the whole-image result
    spy = _Spy(R.get_method("upscale", "bicubic"))
    np.testing.assert_allclose(R.upscale(x, 2, spy), whole["up"], atol=1e-5)
    assert len(spy.shapes) == 4 and max(max(s) for s in spy.shapes) <= 64 + R.TILE_HALO
    # inpainting: tiles with nothing missing are copied, the others see their neighbours' pixels
    spy = _Spy(R.get_method("inpaint", "harmonic"))
    filled = R.inpaint(x, m, spy)
    assert len(spy.shapes) == 4        # the top row of the 4 x 4 tiles
    np.testing.assert_allclose(filled[~m], x[~m], atol=1e-6)
    assert np.abs(filled - whole["fill"]).max() < 0.02


def test_one_bar_across_tiles(monkeypatch):
    """progress=True: one bar whose total is the image's pixels, which the tiles' rounds fill in order
    (the tiled WNNM bar no longer restarts at 0 for every tile); no bar without progress."""
    import aip._shared.progress as P

    made = []

    class Bar:
        def __init__(self, iterable=None, total=None, desc="", **kw):
            self.total, self.desc, self.n, self.closed = total, desc, 0.0, False
            made.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(P, "_tqdm", lambda **kw: Bar(**kw))
    seen = []

    def rounds(x, sigma, *, channel_axis=None):
        for _ in P.progress(range(4), True, "WNNM"):      # as denoise_wnnm's rounds
            seen.append(sum(b.n for b in made))
        return x

    img = np.random.default_rng(0).random((70, 50))
    monkeypatch.setattr(R, "AUTO_TILE", 32)
    R.denoise(img, rounds, sigma=0.1, progress=True)
    assert len(made) == 1 and made[0].total == 70 * 50 and made[0].desc == "denoise rounds" and made[0].closed
    assert made[0].n == pytest.approx(70 * 50)
    assert len(seen) == 4 * 12 and all(b > a for a, b in itertools.pairwise(seen))  # 4 x 3 tiles, 4 rounds
    made.clear()
    R.denoise(img, rounds, sigma=0.1)
    assert made == []
    # the real WNNM, tiled: one bar for all of it
    R.denoise(img[:40, :40], "wnnm", sigma=0.1, n_iter=2, progress=True)
    assert len(made) == 1 and made[0].n == pytest.approx(1600) and made[0].desc == "denoise wnnm"


def test_harmonic_inpainting():
    """Exact for affine images (harmonic functions) when the holes keep off the border (Neumann there); a
    text mask on a photograph is filled better than with the mean; colour channels are filled one by one."""
    from aip.degrade import make_mask
    from aip.restore.harmonic import inpaint_harmonic

    yy, xx = np.mgrid[0:40, 0:30]
    ramp = (0.2 + 0.01 * yy + 0.005 * xx).astype(np.float32)
    m = random_mask(ramp.shape, 0.6, rng=0)
    m[[0, -1]] = False
    m[:, [0, -1]] = False
    np.testing.assert_allclose(inpaint_harmonic(ramp, m), ramp, atol=1e-5)
    x = load_sample("astronaut", size=64)
    mk = make_mask("text", x.shape[:2])
    y = np.where(mk[..., None], 0.0, x)
    out = R.inpaint(y, mk)
    assert out.shape == x.shape
    np.testing.assert_allclose(out[..., 1], inpaint_harmonic(y[..., 1], mk), atol=1e-6)
    base = np.where(mk[..., None], x[~mk].mean(0), x)
    assert psnr(x, out, data_range=1.0) > psnr(x, base, data_range=1.0) + 5
    with pytest.raises(ValueError, match="mask: expected a boolean array of shape"):
        inpaint_harmonic(x, mk[:10], channel_axis=-1)


def test_front_door_errors(noisy):
    with pytest.raises(ValueError, match="finite"):
        R.denoise(np.full((8, 8), np.nan), _gauss, sigma=0.1)
    for bad in (0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="sigma"):
            R.denoise(noisy, _gauss, sigma=bad)
    with pytest.raises(ValueError, match="sigma"):
        R.denoise(noisy, _gauss, sigma="guess")
    with pytest.raises(ValueError, match="ndim"):
        R.denoise(np.zeros((2, 8, 8, 3)), _gauss, sigma=0.1)
    with pytest.raises(ValueError, match="channel_axis"):
        R.denoise(noisy, _gauss, sigma=0.1, channel_axis=0)
    with pytest.raises(ValueError, match="mask: expected a boolean array of shape"):
        R.inpaint(noisy, np.zeros((10, 10), bool), lambda x, m, **k: x)
    with pytest.raises(ValueError, match="every channel"):
        R.inpaint(np.zeros((8, 8, 3)), np.stack([np.eye(8, dtype=bool), ~np.eye(8, dtype=bool),
                                                 np.eye(8, dtype=bool)], -1), lambda x, m, **k: x)
    with pytest.raises(ValueError, match="non-negative"):
        R.deblur(noisy, np.array([[0.5, -0.2, 0.7]]), lambda *a, **k: a[0], sigma=0.01)
    with pytest.raises(ValueError, match="no larger than the image"):
        R.deblur(np.zeros((8, 8)), np.ones((9, 9)), lambda *a, **k: a[0], sigma=0.01)
    with pytest.raises(ValueError, match="scale"):
        R.upscale(noisy, 1, lambda *a, **k: a[0])
    with pytest.raises(TypeError, match="scale"):
        R.upscale(noisy, 2.5, lambda *a, **k: a[0])
    with pytest.raises(AttributeError):
        R.no_such_method  # noqa: B018


def test_lazy_function_attributes():
    for name, mod in R._FUNCTIONS.items():
        try:
            fam = __import__(f"aip.restore.{mod}", fromlist=[name])
        except ImportError:
            continue
        if hasattr(fam, name):
            assert getattr(R, name) is getattr(fam, name)
    assert "denoise_nl_means" in dir(R)


from aip.restore._registry import SAMPLED  # diffusion samplers: their shipped prior models 28x28 digits


@pytest.fixture(scope="module")
def digit():
    from aip.data.digits import load_digits_split

    return load_digits_split("train")[0][7].astype(np.float64) / 255


def _image(method, clean, digit):
    """The test image of ``method``: the photo crop, or a digit for the diffusion samplers."""
    return digit if method in SAMPLED else clean


def _method_or_skip(task, method):
    """The registered function of ``method``; the test is skipped while its family is not built."""
    try:
        return R.get_method(task, method)
    except ImportError:
        pytest.skip(f"{method} not built yet")


@pytest.mark.parametrize("method", R.METHODS["denoise"])
def test_every_denoiser_lowers_the_error(method, clean, noisy):
    _method_or_skip("denoise", method)
    kw = {"n_iter": 2} if method == "wnnm" else {}
    out = R.denoise(noisy, method, sigma=SIGMA, **kw)
    assert out.shape == clean.shape and np.all(np.isfinite(out))
    assert psnr(clean, out, data_range=1.0) > psnr(clean, noisy, data_range=1.0) + 1.0


@pytest.mark.parametrize("method", R.METHODS["deblur"])
def test_every_deblurrer_through_the_front_door(method, clean, digit):
    fn = _method_or_skip("deblur", method)
    clean = _image(method, clean, digit)
    psf = gaussian(1.6)
    y = add_gaussian_noise(Blur(psf).A(clean), 0.01, rng=0)
    out = R.deblur(y, "gaussian:1.6", method, sigma=0.01, edges="circular")
    np.testing.assert_allclose(out, fn(y.astype(np.float64), psf, sigma=0.01, channel_axis=None), atol=1e-6)
    assert psnr(clean, out, data_range=1.0) > psnr(clean, y, data_range=1.0)


@pytest.mark.parametrize("method", R.METHODS["inpaint"])
def test_every_inpainter_through_the_front_door(method, clean, digit):
    _method_or_skip("inpaint", method)
    clean = _image(method, clean, digit)
    m = random_mask(clean.shape, 0.5, rng=0)
    if method == "context_encoder":   # a large-hole method: the central quarter it was trained on
        h, w = clean.shape[:2]
        m = np.zeros(clean.shape[:2], bool)
        m[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = True
    y = np.where(m if clean.ndim == 2 else m[..., None], 0.0, clean)
    out = R.inpaint(y, m, method)
    assert out.shape == clean.shape
    # better than filling the holes with the mean of the observed pixels
    base = np.where(m if clean.ndim == 2 else m[..., None], clean[~m].mean(), clean)
    assert psnr(clean, out, data_range=1.0) > psnr(clean, base, data_range=1.0) + 3.0


@pytest.mark.parametrize("method", R.METHODS["upscale"])
def test_every_upscaler_through_the_front_door(method, clean, digit):
    _method_or_skip("upscale", method)
    clean = _image(method, clean, digit)
    from aip.degrade import Downsample

    if method == "sparse":
        from pathlib import Path

        import aip.data

        if not (Path(aip.data.__file__).parent / "weights" / "sparse_sr.safetensors").exists():
            pytest.skip("sparse SR dictionaries not shipped yet (training them takes minutes)")
    s = 4 if method in ("vdsr", "srresnet", "srgan") else 2  # the scale its weights ship for
    lr = Downsample(s, "bicubic", mode="symmetric").A(clean)
    out = R.upscale(lr, s, method)
    assert out.shape == clean.shape
    nearest = np.kron(lr, np.ones((s, s)))  # x2: 23.5 dB here; bicubic interpolation gives 25.0 dB
    assert psnr(clean, out, data_range=1.0) > psnr(clean, nearest, data_range=1.0) + 1.0


def test_deblur_edges_and_tiles():
    x = load_sample("camera", gray=True)[:128, :128].astype(np.float64)
    psf = gaussian(1.6)
    # a photograph is not blurred circularly: mirrored edges keep the FFT methods from ringing at the borders
    y = add_gaussian_noise(Blur(psf, mode="symmetric").A(x), 0.01, rng=0)
    circ = psnr(x, np.clip(R.deblur(y, psf, "wiener", sigma=0.01, edges="circular"), 0, 1), data_range=1.0)
    mirror = psnr(x, np.clip(R.deblur(y, psf, "wiener", sigma=0.01), 0, 1), data_range=1.0)
    assert mirror > circ + 3.0
    # tiles see their neighbours (or the wrapped image for circular data): close to the whole-image result
    yc = add_gaussian_noise(Blur(psf).A(x), 0.01, rng=0)
    whole = R.deblur(yc, psf, "wiener", sigma=0.01, edges="circular")
    tiled = R.deblur(yc, psf, "wiener", sigma=0.01, edges="circular", tile=48, overlap=12)
    assert tiled.shape == whole.shape and psnr(whole, tiled, data_range=1.0) > 35.0
    tiled_m = R.deblur(y, psf, "wiener", sigma=0.01, tile=48)
    assert psnr(x, np.clip(tiled_m, 0, 1), data_range=1.0) > mirror - 0.5
    with pytest.raises(ValueError, match="edges"):
        R.deblur(y, psf, "wiener", sigma=0.01, edges="wrap")
