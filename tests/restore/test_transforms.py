"""Transform-domain methods: wavelet shrinkage vs scikit-image, sliding DCT vs a brute-force loop,
Wiener vs its closed form; every denoiser lowers the error; bad input raises."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import scipy.fft

from aip.degrade import Blur, gaussian
from aip.restore.transforms import deblur_wiener, denoise_dct, denoise_wavelet


def _clean(n: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n] / n
    img = 0.3 + 0.4 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1) + 0.2 * np.sin(6 * xx)
    img[n // 8: n // 4, n // 8: 3 * n // 4] = 0.9
    return img.astype(np.float32)


def _noisy(sigma: float, n: int = 64, seed: int = 0):
    x = _clean(n)
    y = x + sigma * np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    return x, y.astype(np.float32)


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


# -------------------------------------------------------------------------------- wavelet
@pytest.mark.parametrize("method,mode,wavelet", [
    ("BayesShrink", "soft", "db1"), ("BayesShrink", "hard", "db2"), ("VisuShrink", "soft", "sym4"),
    ("VisuShrink", "hard", "db1"),
])
def test_wavelet_matches_skimage(method, mode, wavelet):
    from skimage.restoration import denoise_wavelet as sk

    _, y = _noisy(0.1)
    y = y.astype(np.float64)
    ours = denoise_wavelet(y, 0.1, wavelet=wavelet, method=method, mode=mode, cycle_spins=0)
    ref = sk(y, sigma=0.1, wavelet=wavelet, method=method, mode=mode, rescale_sigma=True)
    assert np.abs(ours - ref).max() < 1e-5


def test_wavelet_cycle_spinning_matches_skimage_cycle_spin():
    from skimage.restoration import cycle_spin
    from skimage.restoration import denoise_wavelet as sk

    _, y = _noisy(0.1, n=32)
    y = y.astype(np.float64)
    ours = denoise_wavelet(y, 0.1, wavelet="db1", levels=2, cycle_spins=2)
    ref = cycle_spin(y, partial(sk, sigma=0.1, wavelet="db1", wavelet_levels=2, rescale_sigma=True),
                     max_shifts=2, channel_axis=None, workers=1)
    assert np.abs(ours - ref).max() < 1e-5


def test_wavelet_cycle_spinning_helps():
    x, y = _noisy(0.1)
    e0 = _rmse(denoise_wavelet(y, 0.1, cycle_spins=0), x)
    e3 = _rmse(denoise_wavelet(y, 0.1, cycle_spins=3), x)
    assert e3 < e0


# -------------------------------------------------------------------------------- DCT
def _dct_reference(y: np.ndarray, sigma: float, block: int, thr: float, weighted: bool) -> np.ndarray:
    """Brute-force loop over every patch of the symmetrically padded image."""
    pad = block - 1
    yp = np.pad(y.astype(np.float64), pad, mode="reflect")
    num = np.zeros_like(yp)
    den = np.zeros_like(yp)
    for i in range(yp.shape[0] - block + 1):
        for j in range(yp.shape[1] - block + 1):
            c = scipy.fft.dctn(yp[i:i + block, j:j + block], norm="ortho")
            keep = np.abs(c) >= thr * sigma
            keep[0, 0] = True
            rec = scipy.fft.idctn(c * keep, norm="ortho")
            w = 1.0 / keep.sum() if weighted else 1.0
            num[i:i + block, j:j + block] += w * rec
            den[i:i + block, j:j + block] += w
    return (num / den)[pad:-pad, pad:-pad]


@pytest.mark.parametrize("weighted", [False, True])
def test_dct_matches_bruteforce_loop(weighted):
    _, y = _noisy(0.1, n=20)
    ours = denoise_dct(y, 0.1, block=4, threshold=2.5, weighted=weighted)
    ref = _dct_reference(y, 0.1, 4, 2.5, weighted)
    assert np.abs(ours - ref).max() < 1e-5


def test_dct_wiener_pass_matches_bruteforce_loop():
    import torch

    from aip.restore.transforms import _dct_shrink_torch

    x, y = _noisy(0.1, n=20)
    pilot = x + 0.02  # any pilot estimate
    ours = _dct_shrink_torch(torch.as_tensor(y, dtype=torch.float64), 0.1, 4, 2.7, True,
                             pilot=torch.as_tensor(pilot, dtype=torch.float64)).numpy()
    pad = 3
    yp = np.pad(y.astype(np.float64), pad, mode="reflect")
    pp = np.pad(pilot.astype(np.float64), pad, mode="reflect")
    num = np.zeros_like(yp)
    den = np.zeros_like(yp)
    for i in range(yp.shape[0] - 3):
        for j in range(yp.shape[1] - 3):
            c = scipy.fft.dctn(yp[i:i + 4, j:j + 4], norm="ortho")
            p = scipy.fft.dctn(pp[i:i + 4, j:j + 4], norm="ortho")
            g = p * p / (p * p + 0.01)
            g[0, 0] = 1.0
            w = 1.0 / (g * g).sum()
            num[i:i + 4, j:j + 4] += w * scipy.fft.idctn(c * g, norm="ortho")
            den[i:i + 4, j:j + 4] += w
    ref = (num / den)[pad:-pad, pad:-pad]
    assert np.abs(ours - ref).max() < 1e-8


def test_dct_wiener_stage_lowers_error_further():
    from aip.io import load_sample

    x = load_sample("camera", gray=True, size=64)
    y = x + 0.1 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    assert _rmse(denoise_dct(y, 0.1, wiener=True), x) < _rmse(denoise_dct(y, 0.1), x)


def test_dct_zero_threshold_is_identity():
    _, y = _noisy(0.1, n=24)
    assert np.abs(denoise_dct(y, 0.1, threshold=0.0) - y).max() < 1e-5


def test_dct_strips_give_the_same_result():
    import torch

    from aip.restore.transforms import _dct_shrink_torch

    _, y = _noisy(0.1, n=40)
    t = torch.as_tensor(y)
    a = _dct_shrink_torch(t, 0.1, 8, 2.7, True)
    b = _dct_shrink_torch(t, 0.1, 8, 2.7, True, max_patches=100)  # many small strips
    assert torch.allclose(a, b, atol=1e-6)


# -------------------------------------------------------------------------------- every denoiser
@pytest.mark.parametrize("fn", [denoise_wavelet, denoise_dct])
@pytest.mark.parametrize("sigma", [0.05, 0.15])
def test_denoiser_lowers_error(fn, sigma):
    x, y = _noisy(sigma)
    out = fn(y, sigma)
    assert out.shape == y.shape and out.dtype == np.float32
    assert _rmse(out, x) < 0.75 * _rmse(y, x)


@pytest.mark.parametrize("fn", [denoise_wavelet, denoise_dct])
def test_colour_is_per_channel(fn):
    rng = np.random.default_rng(1)
    img = np.stack([_clean(32), _clean(32)[::-1], _clean(32)[:, ::-1]], axis=-1)
    y = (img + 0.1 * rng.standard_normal(img.shape)).astype(np.float32)
    out = fn(y, 0.1, channel_axis=-1)
    for c in range(3):
        assert np.allclose(out[..., c], fn(y[..., c], 0.1), atol=1e-6)


# -------------------------------------------------------------------------------- Wiener
def test_wiener_equals_closed_form_scalar_nsr():
    x = _clean(64).astype(np.float64)
    psf = gaussian(1.2)
    y = Blur(psf).A(x) + 0.01 * np.random.default_rng(0).standard_normal(x.shape)
    # independent OTF: pad, roll the centre to the origin, FFT
    pad = np.zeros(x.shape)
    pad[: psf.shape[0], : psf.shape[1]] = psf
    h = np.fft.fft2(np.roll(pad, (-(psf.shape[0] // 2), -(psf.shape[1] // 2)), axis=(0, 1)))
    for nsr in (1e-3, 0.05):
        ref = np.real(np.fft.ifft2(np.conj(h) * np.fft.fft2(y) / (np.abs(h) ** 2 + nsr)))
        ours = deblur_wiener(y, psf, sigma=0.01, nsr=nsr)
        assert np.abs(ours - ref).max() < 1e-5


def test_wiener_equals_closed_form_array_nsr():
    x = _clean(32).astype(np.float64)
    psf = np.ones((3, 5)) / 15
    y = Blur(psf).A(x)
    nsr = np.random.default_rng(0).random(x.shape) * 0.01 + 1e-4
    h = Blur(psf).otf(x.shape).numpy()
    ref = np.real(np.fft.ifft2(np.conj(h) * np.fft.fft2(y) / (np.abs(h) ** 2 + nsr)))
    assert np.abs(deblur_wiener(y, psf, sigma=0.01, nsr=nsr) - ref).max() < 1e-5


def test_wiener_inverts_noise_free_blur():
    x = _clean(32).astype(np.float64)
    psf = np.ones((3, 3)) / 9
    y = Blur(psf).A(x)
    assert np.abs(deblur_wiener(y, psf, sigma=1e-4, nsr=1e-10) - x).max() < 1e-3


def test_wiener_default_nsr_improves_on_blurred_input():
    x = _clean(64)
    psf = gaussian(1.6)
    y = (Blur(psf).A(x) + 0.01 * np.random.default_rng(0).standard_normal(x.shape)).astype(np.float32)
    assert _rmse(deblur_wiener(y, psf, sigma=0.01), x) < _rmse(y, x)


# -------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [denoise_wavelet, denoise_dct])
def test_denoiser_errors(fn):
    y = np.zeros((16, 16), np.float32)
    with pytest.raises(ValueError, match="sigma"):
        fn(y, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        fn(y, -0.1)
    bad = y.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fn(bad, 0.1)
    with pytest.raises(ValueError, match="channel_axis"):
        fn(np.zeros((16, 16, 3), np.float32), 0.1)
    with pytest.raises(TypeError):
        fn(y, "0.1")


def test_wavelet_bad_knobs():
    y = np.zeros((16, 16), np.float32)
    with pytest.raises(ValueError, match="wavelet"):
        denoise_wavelet(y, 0.1, wavelet="nope")
    with pytest.raises(ValueError, match="method"):
        denoise_wavelet(y, 0.1, method="SureShrink")
    with pytest.raises(ValueError, match="mode"):
        denoise_wavelet(y, 0.1, mode="garrote")


def test_wiener_errors():
    y = np.zeros((16, 16), np.float32)
    with pytest.raises(ValueError, match="psf"):
        deblur_wiener(y, np.ones((3, 3, 3)), sigma=0.1)
    with pytest.raises(ValueError, match="psf"):
        deblur_wiener(y, -np.ones((3, 3)), sigma=0.1)
    with pytest.raises(ValueError, match="psf"):
        deblur_wiener(y, np.full((3, 3), np.nan), sigma=0.1)
    with pytest.raises(ValueError, match="sigma"):
        deblur_wiener(y, np.ones((3, 3)) / 9, sigma=0.0)
    with pytest.raises(ValueError, match="nsr"):
        deblur_wiener(y, np.ones((3, 3)) / 9, sigma=0.1, nsr=np.ones((4, 4)))
    with pytest.raises(ValueError, match="larger|no larger"):
        deblur_wiener(np.zeros((4, 4), np.float32), np.ones((5, 5)) / 25, sigma=0.1)
