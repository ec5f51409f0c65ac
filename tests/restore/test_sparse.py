"""Sparse representation: OMP against scikit-learn, K-SVD monotonicity, K-SVD denoising, sparse SR."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import orthogonal_mp

from aip.io import load_sample
from aip.restore import sparse
from aip.restore.sparse import dct_dictionary, denoise_ksvd, ksvd, omp, upscale_sparse


def _dictionary(d=20, k=50, seed=0):
    rng = np.random.default_rng(seed)
    dmat = rng.standard_normal((d, k))
    return dmat / np.linalg.norm(dmat, axis=0)


@pytest.fixture(scope="module")
def clean64():
    return load_sample("camera", gray=True, size=128)[32:96, 40:104].copy()


# ---------------------------------------------------------------- OMP

@pytest.mark.parametrize("kw", [{"n_nonzero": 1}, {"n_nonzero": 5}, {"tol": 2.0}, {"tol": 0.05}])
def test_omp_equals_sklearn(kw):
    dmat = _dictionary()
    y = np.random.default_rng(1).standard_normal((20, 300))
    ours = omp(y, dmat, **kw)
    ref = orthogonal_mp(dmat, y, n_nonzero_coefs=kw.get("n_nonzero"), tol=kw.get("tol"))
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_omp_backends_agree_and_single_signal():
    dmat = _dictionary(seed=2)
    y = np.random.default_rng(3).standard_normal(20)
    a = omp(y, dmat, n_nonzero=4)
    b = omp(y, dmat, n_nonzero=4, backend="sklearn")
    assert a.shape == (50,) and np.count_nonzero(a) == 4
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_omp_recovers_planted_sparse_code():
    dmat = _dictionary(d=40, k=80, seed=4)
    rng = np.random.default_rng(5)
    codes = np.zeros((80, 200))
    for j in range(200):
        codes[rng.choice(80, 3, replace=False), j] = rng.choice([-1, 1], 3) * rng.uniform(1, 2, 3)
    got = omp(dmat @ codes, dmat, n_nonzero=3)
    np.testing.assert_allclose(got, codes, atol=1e-8)


def test_omp_bad_inputs():
    with pytest.raises(ValueError, match="rows"):
        omp(np.zeros((5, 3)), np.zeros((6, 10)))
    with pytest.raises(ValueError, match="finite"):
        omp(np.full((5, 3), np.nan), np.eye(5))
    with pytest.raises(ValueError, match="backend"):
        omp(np.zeros((5, 3)), np.eye(5), backend="spams")


# ---------------------------------------------------------------- K-SVD

@pytest.mark.parametrize("kw", [{"n_nonzero": 3}, {"tol": 0.2}])
def test_ksvd_error_is_non_increasing(kw):
    rng = np.random.default_rng(6)
    true = _dictionary(d=16, k=24, seed=7)
    codes = np.zeros((24, 400))
    for j in range(400):
        codes[rng.choice(24, 3, replace=False), j] = rng.standard_normal(3)
    y = true @ codes + 0.05 * rng.standard_normal((16, 400))
    res = ksvd(y, 24, n_iter=8, seed=0, **kw)
    errs = np.asarray(res.errors)
    assert len(errs) == 9
    assert np.all(np.diff(errs) <= 1e-10 * errs[0])
    assert errs[-1] < (0.5 if "n_nonzero" in kw else 0.9) * errs[0]
    np.testing.assert_allclose(np.linalg.norm(res.dictionary, axis=0), 1.0, atol=1e-10)
    np.testing.assert_allclose(((y - res.dictionary @ res.codes) ** 2).sum() / 400, errs[-1], rtol=1e-10)


def test_ksvd_recovers_planted_dictionary():
    # Aharon et al. section V-A: most generating atoms are found (|<d, d_true>| > 0.99)
    rng = np.random.default_rng(8)
    true = _dictionary(d=20, k=30, seed=9)
    codes = np.zeros((30, 1500))
    for j in range(1500):
        codes[rng.choice(30, 3, replace=False), j] = rng.standard_normal(3)
    res = ksvd(true @ codes, 30, n_nonzero=3, n_iter=25, seed=1)
    found = (np.abs(true.T @ res.dictionary).max(1) > 0.99).mean()
    assert found > 0.8


def test_ksvd_replaces_dead_atoms():
    y = np.random.default_rng(10).standard_normal((8, 50))
    init = np.zeros((8, 12))
    init[0] = 1.0                                   # 12 copies of one atom: 11 are never used
    res = ksvd(y, dictionary=init, n_nonzero=2, n_iter=2)
    assert np.linalg.matrix_rank(res.dictionary) == 8


def test_dct_dictionary():
    d = dct_dictionary(8, 256)
    assert d.shape == (64, 256)
    np.testing.assert_allclose(np.linalg.norm(d, axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(d[:, 0], 1 / 8)        # the DC atom
    np.testing.assert_allclose(d[:, 1:].sum(0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="square"):
        dct_dictionary(8, 50)


# ---------------------------------------------------------------- K-SVD denoising

def test_ksvd_denoise_lowers_error(clean64):
    s = 25 / 255
    noisy = (clean64 + s * np.random.default_rng(11).standard_normal(clean64.shape)).astype(np.float32)
    out = denoise_ksvd(noisy, s, n_iter=3)
    assert out.shape == clean64.shape and out.dtype == np.float32
    assert np.mean((out - clean64) ** 2) < np.mean((noisy - clean64) ** 2) / 3


def test_ksvd_denoise_bad_inputs():
    with pytest.raises(ValueError, match="sigma"):
        denoise_ksvd(np.zeros((16, 16)), -1.0)
    with pytest.raises(ValueError, match="n_atoms"):
        denoise_ksvd(np.zeros((16, 16)), 0.1, n_atoms=50)
    with pytest.raises(TypeError, match="numeric"):
        denoise_ksvd(np.array([["a"]]), 0.1)


# ---------------------------------------------------------------- sparse super-resolution

def test_shipped_sr_dictionaries_are_small():
    from aip.io.assets import asset_path

    path = asset_path("sparse_sr")
    assert path.exists() and path.stat().st_size < 400_000 and path.with_suffix(".json").is_file()
    for s in (2, 3):
        d = sparse._load_sr_dictionary(s)
        assert d["dict_low"].shape[1] == d["dict_high"].shape[1]
        assert d["dict_high"].shape[0] == (3 * s) ** 2


@pytest.mark.parametrize("scale", [2, 3])
def test_upscale_sparse_beats_bicubic(scale):
    from aip.restore.variational import upscale_bicubic

    hr = load_sample("astronaut", gray=True, size=96).astype(np.float64)
    lr = sparse._sr_degrade(hr, scale).astype(np.float32)
    out = upscale_sparse(lr, scale)
    assert out.shape == hr.shape
    mse_sparse = np.mean((out - hr) ** 2)
    mse_bic = np.mean((np.clip(upscale_bicubic(lr, scale), 0, 1) - hr) ** 2)
    assert mse_sparse < mse_bic * 10 ** (-0.3 / 10)      # at least 0.3 dB better
    # back-projection makes the result consistent with the observation model
    assert np.mean((sparse._sr_degrade(out, scale) - lr) ** 2) < 0.2 * np.mean((sparse._sr_degrade(
        np.clip(upscale_bicubic(lr, scale), 0, 1), scale) - lr) ** 2)


def test_upscale_sparse_training_set_excludes_test_images():
    assert not {"camera", "astronaut", "coffee", "chelsea"} & set(sparse.SR_TRAINING_IMAGES)


def test_upscale_sparse_bad_inputs():
    with pytest.raises(ValueError, match="scale"):
        upscale_sparse(np.zeros((8, 8), np.float32), 5)
    with pytest.raises(TypeError, match="integer"):
        upscale_sparse(np.zeros((8, 8), np.float32), 2.5)


def test_train_sr_dictionary_is_deterministic_and_coupled():
    imgs = [load_sample("brick", gray=True, size=64), load_sample("grass", gray=True, size=64)]
    kw = {"images": imgs, "n_atoms": 32, "n_train": 800, "n_iter": 2}
    a = sparse.train_sr_dictionary(2, **kw)
    b = sparse.train_sr_dictionary(2, **kw)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    m = a["pca"].shape[0]
    assert a["pca"].shape[1] == 4 * 36 and a["dict_low"].shape == (m, 32) and a["dict_high"].shape == (36, 32)
    np.testing.assert_allclose(np.linalg.norm(a["dict_low"], axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(a["pca"] @ a["pca"].T, np.eye(m), atol=1e-5)   # orthonormal projection
