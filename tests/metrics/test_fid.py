import numpy as np
import pytest
import torch

from aip.metrics import classifier_score, fid, fid_from_features, frechet_distance


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def _psd_sqrt(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_equal_covariances_give_squared_mean_distance():
    rng = np.random.default_rng(0)
    s = _spd(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert frechet_distance(mu1, s, mu2, s) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-9, abs=1e-9)


def test_one_dimensional_and_diagonal_closed_forms():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)
    a, b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.25, 0.5])
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_general_covariances_match_symmetric_form():
    # Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), Dowson & Landau 1982
    rng = np.random.default_rng(1)
    s1, s2 = _spd(rng, 5), _spd(rng, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    r = _psd_sqrt(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * _psd_sqrt(r @ s2 @ r))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_singular_covariances_are_handled():
    s = np.diag([1.0, 0.0, 0.0])
    assert frechet_distance(np.zeros(3), s, np.ones(3), s) == pytest.approx(3.0, abs=1e-4)


def test_fid_from_features_estimates_the_gaussian_distance():
    rng = np.random.default_rng(2)
    d = 4
    s1, s2 = _spd(rng, d) / 4, _spd(rng, d) / 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    f1 = rng.multivariate_normal(mu1, s1, 40000)
    f2 = rng.multivariate_normal(mu2, s2, 40000)
    exact = frechet_distance(mu1, s1, mu2, s2)
    assert fid_from_features(f1, f2) == pytest.approx(exact, rel=0.03)
    # float32 input is computed in float64: same result as float64 input to rounding of the input
    assert fid_from_features(f1.astype(np.float32), f2) == pytest.approx(fid_from_features(f1, f2), rel=1e-5)
    # identical sets have FID 0
    assert fid_from_features(f1[:500], f1[:500]) == pytest.approx(0.0, abs=1e-7)


def test_fid_with_a_user_feature_network():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 4, 4, generator=g)
    y = torch.rand(300, 1, 4, 4, generator=g) * 0.5 + 0.25
    feat = lambda b: b.flatten(1)[:, :3] * 2.0  # a callable, batched
    expected = fid_from_features(feat(x).numpy(), feat(y).numpy())
    assert fid(x, y, feat, batch_size=64) == pytest.approx(expected, rel=1e-12)
    assert fid(x, x, feat) == pytest.approx(0.0, abs=1e-9)


def test_classifier_score_bounds():
    k = 5
    one_hot = np.eye(k)[np.arange(100) % k]
    assert classifier_score(one_hot) == pytest.approx(k)
    assert classifier_score(np.full((50, k), 1 / k)) == pytest.approx(1.0)
    assert classifier_score(np.eye(k)[np.zeros(30, int)]) == pytest.approx(1.0)  # confident but one class


def test_errors_are_one_line_and_clear():
    with pytest.raises(ValueError, match="same feature dimension"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="2-D"):
        fid_from_features(np.zeros(5), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="sigma1, sigma2"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        fid_from_features(np.full((3, 2), np.nan), np.zeros((3, 2)))
