"""Kernels, masks, noise models, degrade(): closed forms, statistics, seeds and errors."""

import numpy as np
import pytest
import torch

from aip.degrade import (
    GaussianNoise,
    PoissonGaussianNoise,
    PoissonNoise,
    SaltPepperNoise,
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    add_poisson_noise,
    add_salt_pepper_noise,
    block_mask,
    box,
    check_psf,
    degrade,
    disk,
    gaussian,
    load_mask,
    make_kernel,
    make_mask,
    make_noise,
    motion,
    random_mask,
    random_motion,
    scribble_mask,
    text_mask,
)

KERNELS = {
    "gaussian": gaussian(1.6), "gaussian-size": gaussian(2.0, 9), "box": box(9), "disk": disk(3.0),
    "motion": motion(9, 45), "motion0": motion(9), "random_motion": random_motion(17, rng=3),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernels_sum_to_one_and_nonnegative(name):
    k = KERNELS[name]
    assert k.ndim == 2 and abs(k.sum() - 1) < 1e-12 and k.min() >= 0


def test_gaussian_kernel_moments():
    k = gaussian(1.6, 25)  # wide enough that truncation is negligible
    r = np.arange(25) - 12
    var_y = (k.sum(1) * r ** 2).sum()
    assert k.shape == (25, 25) and abs(var_y - 1.6 ** 2) < 1e-6
    assert gaussian(1.6).shape == (11, 11)  # 2 ceil(3 sigma) + 1


def test_disk_kernel_area_and_symmetry():
    k = disk(5.0)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    # support area == pi r^2 up to the sub-sampled edge
    area = 1.0 / k.max()
    assert abs(area - np.pi * 25) / (np.pi * 25) < 0.02


def test_motion_kernel_direction_and_length():
    k = motion(9, 0)
    assert k.shape == (9, 9)
    np.testing.assert_allclose(k[4], np.full(9, 1 / 9), atol=0.02)  # one horizontal line of 9 pixels
    assert k.sum(1)[4] > 0.999
    kv = motion(9, 90)
    np.testing.assert_allclose(kv, k.T, atol=1e-12)
    kd = motion(9, 45)  # diagonal from bottom-left to top-right
    assert kd.shape == (7, 7) and kd[6, 0] > 0 and kd[0, 6] > 0 and kd[0, 0] == 0


def test_random_motion_is_seeded():
    np.testing.assert_array_equal(random_motion(15, rng=7), random_motion(15, rng=7))
    assert np.abs(random_motion(15, rng=7) - random_motion(15, rng=8)).max() > 1e-3


def test_check_psf_normalises_and_rejects():
    np.testing.assert_allclose(check_psf([[1, 3]]), [[0.25, 0.75]])
    for bad, msg in (([[1, -1, 2]], "non-negative"), ([1, 2], "2-D"), ([[np.inf]], "finite"),
                     ([[0.0, 0.0]], "positive sum")):
        with pytest.raises(ValueError, match=msg):
            check_psf(bad)


def test_make_kernel_specs(tmp_path):
    np.testing.assert_array_equal(make_kernel("gaussian:1.6"), gaussian(1.6))
    np.testing.assert_array_equal(make_kernel("box:5"), box(5))
    np.testing.assert_array_equal(make_kernel("motion:9:30"), motion(9, 30))
    np.testing.assert_array_equal(make_kernel("random_motion:13", rng=2), random_motion(13, rng=2))
    p = tmp_path / "k.npy"
    np.save(p, np.ones((3, 3)))
    np.testing.assert_allclose(make_kernel(str(p)), box(3))
    for bad in ("gaussian", "gaussian:x", "blob:3", "gaussian:-1"):
        with pytest.raises(ValueError):
            make_kernel(bad)


def test_random_mask_exact_fraction_and_seed():
    m = random_mask((40, 50), 0.37, rng=1)
    assert m.dtype == bool and m.sum() == round(0.37 * 2000)
    np.testing.assert_array_equal(m, random_mask((40, 50), 0.37, rng=1))
    assert not np.array_equal(m, random_mask((40, 50), 0.37, rng=2))


def test_other_masks():
    b = block_mask((64, 64), 8, 0.25, rng=0)
    assert 0.25 <= b.mean() < 0.4
    t = text_mask((64, 64))
    assert 0.02 < t.mean() < 0.5 and t.shape == (64, 64)
    s = scribble_mask((64, 64), 5, 3, rng=0)
    assert 0.01 < s.mean() < 0.5
    np.testing.assert_array_equal(s, scribble_mask((64, 64), 5, 3, rng=0))


def test_mask_files_and_specs(tmp_path):
    from aip.io import write_image

    m = random_mask((16, 20), 0.5, rng=0)
    write_image(tmp_path / "m.png", m.astype(np.float32))
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), m)
    np.testing.assert_array_equal(make_mask(str(tmp_path / "m.png"), (16, 20)), m)
    with pytest.raises(ValueError, match="size"):
        load_mask(tmp_path / "m.png", (16, 16))
    with pytest.raises(ValueError, match="shape"):
        make_mask(np.zeros((3, 3), bool), (4, 4))
    with pytest.raises(ValueError, match="fraction"):
        make_mask("random:1.5", (4, 4))
    with pytest.raises(ValueError):
        make_mask("stars", (4, 4))


def test_gaussian_noise_statistics_and_seed():
    x = np.full((256, 256), 0.5)
    y = add_gaussian_noise(x, 0.1, rng=0)
    n = y - x
    assert abs(n.mean()) < 3 * 0.1 / 256 and abs(n.std() - 0.1) < 0.002
    np.testing.assert_array_equal(y, add_gaussian_noise(x, 0.1, rng=0))
    assert not np.array_equal(y, add_gaussian_noise(x, 0.1, rng=1))
    t = add_gaussian_noise(torch.full((8, 8), 0.5, dtype=torch.float64), 0.1, rng=0)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    # tensors draw with torch: an int seeds a torch.Generator, and a Generator gives the same draws
    ref = 0.5 + 0.1 * torch.randn(8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(t, ref)
    torch.testing.assert_close(add_gaussian_noise(torch.full((8, 8), 0.5, dtype=torch.float64), 0.1,
                                                  rng=torch.Generator().manual_seed(0)), ref)


def test_poisson_noise_statistics():
    x = np.full((256, 256), 0.3)
    peak = 50.0
    y = add_poisson_noise(x, peak, rng=0)
    assert abs(y.mean() - 0.3) < 4 * np.sqrt(0.3 / peak) / 256
    assert abs(y.var() - 0.3 / peak) / (0.3 / peak) < 0.03
    np.testing.assert_allclose(np.round(y * peak), y * peak, atol=1e-9)  # counts
    yg = add_poisson_gaussian_noise(x, peak, 0.05, rng=0)
    assert abs(yg.var() - (0.3 / peak + 0.05 ** 2)) / (0.3 / peak + 0.05 ** 2) < 0.03
    with pytest.raises(ValueError, match="non-negative"):
        add_poisson_noise(x - 1, peak)


def test_salt_pepper_statistics():
    x = np.full((200, 200), 0.5)
    y = add_salt_pepper_noise(x, 0.2, salt_vs_pepper=0.25, rng=0)
    hit = y != 0.5
    assert abs(hit.mean() - 0.2) < 0.01
    assert abs((y == 1).sum() / hit.sum() - 0.25) < 0.02
    assert set(np.unique(y)) == {0.0, 0.5, 1.0}


def test_noise_specs_and_errors():
    assert make_noise("gaussian:25", scale=255) == GaussianNoise(25 / 255)
    assert make_noise("poisson:30") == PoissonNoise(30.0)
    assert make_noise("poisson_gaussian:30:5", scale=255) == PoissonGaussianNoise(30.0, 5 / 255)
    assert make_noise("salt_pepper:0.1") == SaltPepperNoise(0.1)
    assert make_noise(0.1) == GaussianNoise(0.1)
    for bad in ("gaussian:0", "gaussian:-3", "laplace:2", "gaussian:a", "salt_pepper:2"):
        with pytest.raises(ValueError):
            make_noise(bad)
    with pytest.raises(ValueError, match="sigma"):
        add_gaussian_noise(np.zeros((4, 4)), 0.0)
    with pytest.raises(ValueError, match="finite"):
        add_gaussian_noise(np.array([[np.nan, 0.0]]), 0.1)


def test_degrade_chain_matches_operators():
    from aip.degrade import Blur, Downsample, Mask

    x = np.random.default_rng(0).random((32, 32))
    out = degrade(x, blur="gaussian:1.2", downsample=2, mask="random:0.3", rng=5)
    ref = Mask(out.mask).A(Downsample(2, gaussian(1.2), mode="symmetric").A(x))
    np.testing.assert_allclose(out.y, ref, atol=1e-6)
    np.testing.assert_allclose(out.operator.A(x), ref, atol=1e-12)
    assert out.y.shape == (16, 16) and out.mask.sum() == round(0.3 * 256) and out.scale == 2
    noisy = degrade(x, blur="box:3", noise=0.05, rng=1)
    clean = Blur(box(3), mode="symmetric").A(x)
    assert abs((noisy.y - clean).std() - 0.05) < 0.005 and noisy.sigma == 0.05
    # same seed, same result; colour keeps its layout and the mask is shared by the channels
    c = np.random.default_rng(1).random((16, 16, 3))
    a = degrade(c, mask="random:0.5", noise="gaussian:0.1", rng=3)
    b = degrade(c, mask="random:0.5", noise="gaussian:0.1", rng=3)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.y.shape == (16, 16, 3) and np.all(a.y[a.mask] == 0)
    y, info = degrade(x, downsample=3)
    assert y.shape == (11, 11) and info["psf"] is None and info["scale"] == 3


def test_degrade_errors():
    x = np.zeros((16, 16))
    with pytest.raises(ValueError, match="finite"):
        degrade(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="shape"):
        degrade(x, mask=np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="ndim"):
        degrade(np.zeros(5))
    with pytest.raises(ValueError, match="non-negative"):
        degrade(x, blur=np.array([[1.0, -0.5]]))
