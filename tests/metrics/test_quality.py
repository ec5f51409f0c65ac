import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from aip.metrics import bits_per_pixel, compression_ratio, mse, psnr, ssim


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    x = rng.random((48, 40))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    return x, y


def test_mse_psnr_closed_form(pair):
    x, y = pair
    m = np.mean((x - y) ** 2)
    assert mse(x, y) == pytest.approx(m)
    assert psnr(x, y, data_range=1.0) == pytest.approx(10 * np.log10(1 / m))
    assert psnr(x, y, data_range=1.0) == pytest.approx(peak_signal_noise_ratio(x, y, data_range=1.0))
    assert psnr(x, x, data_range=1.0) == float("inf")


def test_ssim_equals_skimage(pair):
    x, y = pair
    ref = structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert abs(ssim(x, y, data_range=1.0) - ref) < 1e-4
    assert ssim(x, x, data_range=1.0) == pytest.approx(1.0)


def test_ssim_colour_equals_skimage():
    rng = np.random.default_rng(2)
    x = rng.random((32, 32, 3))
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    ref = structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, channel_axis=-1)
    assert abs(ssim(x, y, data_range=1.0, channel_axis=-1) - ref) < 1e-4


def test_rate_metrics():
    assert bits_per_pixel(32768, 512, 512) == pytest.approx(1.0)
    assert compression_ratio(32768, 512, 512) == pytest.approx(8.0)
    assert compression_ratio(1000, 100, 100, channels=3) == pytest.approx(30.0)


def test_bad_inputs(pair):
    x, y = pair
    with pytest.raises(ValueError, match="same shape"):
        mse(x, y[:-1])
    with pytest.raises(ValueError, match="data_range"):
        psnr(x, y, data_range=0)
    with pytest.raises(TypeError):
        psnr(x, y, data_range="1")
    with pytest.raises(ValueError, match="at least"):
        ssim(x[:5, :5], y[:5, :5], data_range=1.0)


def test_ssim_window_equals_scipy_gaussian_filter():
    from scipy import ndimage

    from aip.metrics.quality import _separable

    r = int(3.5 * 1.5 + 0.5)
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / 1.5) ** 2)
    taps /= taps.sum()
    a = np.random.default_rng(0).random((37, 53))
    ref = ndimage.gaussian_filter(a, 1.5, truncate=3.5, mode="reflect")
    assert np.abs(_separable(a, taps) - ref).max() < 1e-12


def test_high_frequency_ratio_measures_detail_above_the_cutoff():
    from scipy.ndimage import gaussian_filter

    from aip.metrics import high_frequency_ratio

    i, j = np.mgrid[0:64, 0:64]
    low = np.cos(2 * np.pi * 4 * i / 64)            # 0.0625 cycles / pixel
    high = np.cos(2 * np.pi * 24 * j / 64)          # 0.375 cycles / pixel
    ref = low + high
    assert high_frequency_ratio(ref, ref) == pytest.approx(1.0)
    assert high_frequency_ratio(ref, low + 0.5 * high) == pytest.approx(0.25)   # energy goes with amplitude^2
    assert high_frequency_ratio(ref, low + 2 * high + 5.0) == pytest.approx(4.0)  # the mean does not count
    rng = np.random.default_rng(0)
    photo = gaussian_filter(rng.random((64, 64)), 1.0)
    assert high_frequency_ratio(photo, gaussian_filter(photo, 1.5), cutoff=0.125) < 0.2   # blur: smoother
    assert high_frequency_ratio(photo, photo + 0.05 * rng.standard_normal((64, 64)), cutoff=0.125) > 1.5
    rgb = np.stack([ref, ref, ref], -1)
    assert high_frequency_ratio(rgb, rgb * 0.5) == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"cutoff: expected a frequency in \(0, 0.5\]"):
        high_frequency_ratio(ref, ref, cutoff=0.7)
    with pytest.raises(ValueError, match="reference: expected some energy above the cutoff"):
        high_frequency_ratio(np.ones((64, 64)), ref)
