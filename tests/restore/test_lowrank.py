"""Low-rank methods: SVT/WNNM proximal operators, SVT matrix completion, RPCA, WNNM denoising, inpainting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aip.io import load_sample
from aip.restore import _patches
from aip.restore.lowrank import (
    complete_matrix,
    denoise_wnnm,
    inpaint_lowrank,
    nnm,
    rpca,
    rpca_sequence,
    svt,
    wnnm,
)


def _low_rank(m, n, r, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, r)) @ rng.standard_normal((r, n))


@pytest.fixture(scope="module")
def clean64():
    return load_sample("camera", gray=True, size=128)[32:96, 40:104].copy()


# ---------------------------------------------------------------- proximal operators

def test_svt_closed_form_diagonal():
    out = svt(np.diag([3.0, 1.0, 0.5]), 0.75)
    np.testing.assert_allclose(out, np.diag([2.25, 0.25, 0.0]), atol=1e-12)


def test_svt_is_the_prox_of_the_nuclear_norm():
    # optimality: X - Z = tau (U_r V_r^T + W), ||W||_2 <= 1, U_r^T W = 0, W V_r = 0
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 9))
    tau = 1.3
    z = svt(x, tau)
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    r = int((s > 1e-9).sum())
    assert 0 < r < 9
    g = (x - z) / tau
    ur, vr = u[:, :r], vt[:r].T
    np.testing.assert_allclose(ur.T @ g @ vr, np.eye(r), atol=1e-9)
    w = g - ur @ vr.T
    assert np.linalg.norm(w, 2) <= 1 + 1e-9
    np.testing.assert_allclose(ur.T @ w, 0, atol=1e-9)
    np.testing.assert_allclose(w @ vr, 0, atol=1e-9)
    # and it beats random perturbations on the objective
    f = lambda m: 0.5 * np.sum((m - x) ** 2) + tau * np.linalg.svd(m, compute_uv=False).sum()
    for _ in range(20):
        assert f(z) <= f(z + 1e-3 * rng.standard_normal(z.shape)) + 1e-12


def test_wnnm_with_equal_weights_equals_svt():
    x = np.random.default_rng(2).standard_normal((10, 14))
    np.testing.assert_allclose(wnnm(x, np.full(10, 0.9)), svt(x, 0.9), atol=1e-12)


def test_wnnm_weighted_soft_threshold_and_adaptive_fixed_point():
    x = np.random.default_rng(3).standard_normal((8, 8))
    u, s, vt = np.linalg.svd(x)
    w = np.linspace(0.1, 1.0, 8)
    np.testing.assert_allclose(wnnm(x, w), (u * np.maximum(s - w, 0)) @ vt, atol=1e-12)
    # adaptive weights w_i = c / (x_i + eps): kept values satisfy x = s - c / (x + eps)
    c, eps = 0.5, 1e-8
    sx = np.linalg.svd(wnnm(x, c=c, eps=eps), compute_uv=False)
    kept = sx > 1e-9
    assert 0 < kept.sum() < 8
    np.testing.assert_allclose(sx[kept], s[kept] - c / (sx[kept] + eps), atol=1e-9)
    assert np.all(s[~kept] ** 2 < 4 * c + 1e-9)       # no real root for the dropped ones


def test_wnnm_rejects_bad_weights():
    x = np.eye(3)
    with pytest.raises(ValueError, match="non-decreasing"):
        wnnm(x, [1.0, 0.5, 0.2])
    with pytest.raises(ValueError, match="3 values"):
        wnnm(x, [1.0])
    with pytest.raises(ValueError, match="exactly one"):
        wnnm(x)


# ---------------------------------------------------------------- matrix completion, RPCA

def test_svt_recovers_low_rank_matrix_from_samples():
    m = _low_rank(80, 80, 3, seed=4)
    missing = np.random.default_rng(5).random(m.shape) < 0.5
    x = nnm(np.where(missing, 0.0, m), missing, tol=1e-6, max_iter=1000)
    rel = np.linalg.norm(x - m) / np.linalg.norm(m)
    assert rel < 1e-3
    assert np.linalg.matrix_rank(x, tol=1e-6 * np.linalg.norm(x, 2)) == 3


def test_complete_matrix_matches_nnm():
    m = _low_rank(30, 40, 2, seed=6)
    missing = np.random.default_rng(7).random(m.shape) < 0.3
    np.testing.assert_allclose(complete_matrix(m, missing, tol=1e-5), nnm(m, missing, tol=1e-5))


def test_rpca_separates_low_rank_plus_sparse():
    rng = np.random.default_rng(8)
    low = _low_rank(100, 100, 3, seed=9)
    sparse = np.zeros_like(low)
    idx = rng.random(low.shape) < 0.05
    sparse[idx] = rng.choice([-1.0, 1.0], idx.sum()) * rng.uniform(5, 10, idx.sum())
    a, e = rpca(low + sparse)
    assert np.linalg.norm(a - low) / np.linalg.norm(low) < 1e-3
    assert np.linalg.norm(e - sparse) / np.linalg.norm(sparse) < 1e-3


def test_rpca_sequence_background_foreground():
    rng = np.random.default_rng(10)
    bg = rng.random((24, 24))
    frames = np.stack([bg.copy() for _ in range(12)])
    for t in range(12):                   # a bright 3x3 object moving along the diagonal
        frames[t, t + 2:t + 5, t + 2:t + 5] = 1.0
    back, fore = rpca_sequence(frames)
    assert back.shape == fore.shape == frames.shape
    np.testing.assert_allclose(back + fore, frames, atol=1e-5)
    assert np.abs(back - bg[None]).mean() < 1e-3
    moving = frames != bg[None]
    assert np.abs(fore[~moving]).max() < 1e-2
    np.testing.assert_allclose(fore[moving], (frames - bg[None])[moving], atol=1e-2)


def test_rpca_sequence_rejects_single_frame():
    with pytest.raises(ValueError, match="two frames"):
        rpca_sequence(np.zeros((1, 4, 4)))


def test_nnm_rejects_bad_mask():
    with pytest.raises(ValueError, match="shape"):
        nnm(np.zeros((4, 4)), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="observed"):
        nnm(np.zeros((4, 4)), np.ones((4, 4), bool))


# ---------------------------------------------------------------- patches and block matching

def test_extract_aggregate_roundtrip():
    x = torch.as_tensor(np.random.default_rng(11).random((13, 17)), dtype=torch.float64)
    pat = _patches.extract(x, 4)
    assert pat.shape == (10 * 14, 16)
    np.testing.assert_allclose(pat[14 * 2 + 3].reshape(4, 4).numpy(), x[2:6, 3:7].numpy())
    num, den = _patches.aggregate(pat, torch.ones(pat.shape[0], dtype=torch.float64), (13, 17), 4)
    np.testing.assert_allclose((num / den).numpy(), x.numpy(), atol=1e-12)


def test_block_match_equals_brute_force_topk():
    img = torch.as_tensor(np.random.default_rng(12).random((20, 22)), dtype=torch.float64)
    p, k = 4, 7
    pat = _patches.extract(img, p)
    grid = (17, 19)
    refs, groups = _patches.block_match(pat, grid, k, step=3, window=40)   # window covers the image
    d_all = torch.cdist(pat[refs], pat) ** 2
    best = torch.sort(d_all, 1).values[:, :k]
    got = torch.sort(torch.gather(d_all, 1, groups), 1).values
    np.testing.assert_allclose(got.numpy(), best.numpy(), atol=1e-9)
    assert torch.all(groups[:, 0] == refs)                       # each reference is in its own group
    rows, cols = refs // grid[1], refs % grid[1]
    assert set(rows.tolist()) == {0, 3, 6, 9, 12, 15, 16} and set(cols.tolist()) == {0, 3, 6, 9, 12, 15, 18}


# ---------------------------------------------------------------- denoising and inpainting

def _noisy(clean, sigma, seed=0):
    return (clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape)).astype(np.float32)


@pytest.mark.parametrize("sigma255, gain", [(15, 2.5), (50, 4.0)])
def test_wnnm_lowers_error(clean64, sigma255, gain):
    s = sigma255 / 255
    noisy = _noisy(clean64, s)
    out = denoise_wnnm(noisy, s, n_iter=4)
    assert out.shape == clean64.shape and out.dtype == np.float32
    mse_in = np.mean((noisy - clean64) ** 2)
    mse_out = np.mean((out - clean64) ** 2)
    assert mse_out < mse_in / gain         # 4 to 6 dB gain on a detailed 64x64 crop


def test_wnnm_colour_equals_per_channel(clean64):
    rgb = np.stack([clean64, clean64[::-1], clean64[:, ::-1]], -1)
    noisy = _noisy(rgb, 0.1, seed=1)
    out = denoise_wnnm(noisy, 0.1, n_iter=2, channel_axis=-1, shared_groups=False)
    np.testing.assert_allclose(out[..., 1], denoise_wnnm(noisy[..., 1], 0.1, n_iter=2), atol=1e-6)


def test_wnnm_shared_groups(clean64):
    """Shared matching on the summed distance: three equal channels give the gray result in each; on a
    colour image it differs from per-channel matching and still denoises every channel."""
    g = _noisy(clean64, 0.1, seed=2)
    same = denoise_wnnm(np.stack([g, g, g], -1), 0.1, n_iter=2, channel_axis=-1)
    ref = denoise_wnnm(g, 0.1, n_iter=2, patch_size=7, step=3)   # the colour default at this sigma
    for ch in range(3):
        # equal up to float32 rounding (which can swap near-tied patches in the matching)
        assert np.abs(same[..., ch] - ref).max() < 3e-3 and np.abs(same[..., ch] - ref).mean() < 2e-5
    rgb = np.stack([clean64, clean64[::-1], clean64[:, ::-1]], -1)
    noisy = _noisy(rgb, 0.1, seed=1)
    out = denoise_wnnm(noisy, 0.1, n_iter=2, channel_axis=-1)
    assert np.abs(out - denoise_wnnm(noisy, 0.1, n_iter=2, channel_axis=-1, shared_groups=False)).max() > 1e-3
    mse = ((out - rgb) ** 2).mean((0, 1))
    assert np.all(mse < ((noisy - rgb) ** 2).mean((0, 1)) / 2.5)


@pytest.mark.parametrize("k, d", [(30, 16), (12, 25)])  # Gram matrix d x d, and k x k when k < d
@pytest.mark.parametrize("reweight", [0, 3])
def test_wnnm_group_shrinkage_equals_svd_reference(k, d, reweight):
    """Each group: centred, SVD, the authors' weights (reweighting from sqrt(max(s^2 - k sigma^2, 0)), or the
    closed-form fixed point), rebuilt plus the mean; checked against numpy's SVD in float64."""
    import torch

    from aip.restore.lowrank import _shrink_groups

    rng = np.random.default_rng(3)
    low = rng.standard_normal((6, k, 3)) @ rng.standard_normal((6, 3, d))      # rank-3 groups
    g = low + 0.3 * rng.standard_normal((6, k, d)) + rng.standard_normal((6, 1, d))
    sig2 = np.array([0.09, 0.09, 0.01, 0.3, 100.0, 0.05])                     # group 4: all shrunk away
    c, eps = 2 * np.sqrt(2), 1e-8
    want = np.empty_like(g)
    ranks = []
    for i in range(6):
        m = g[i].mean(0)
        u, s, vt = np.linalg.svd(g[i] - m, full_matrices=False)
        cc = c * np.sqrt(k) * sig2[i]
        if reweight:
            sx = np.sqrt(np.maximum(s ** 2 - k * sig2[i], 0))
            for _ in range(reweight):
                sx = np.maximum(s - cc / (sx + eps), 0)
        else:
            disc = (s - eps) ** 2 - 4 * (cc - eps * s)
            sx = np.where(disc > 0, np.maximum(s - eps + np.sqrt(np.maximum(disc, 0)), 0) / 2, 0)
        want[i] = (u * sx) @ vt + m
        ranks.append(int((sx > 0).sum()))
    out, rank = _shrink_groups(torch.tensor(g, dtype=torch.float32), torch.tensor(sig2, dtype=torch.float32),
                               c, eps, torch, reweight)
    np.testing.assert_allclose(out.numpy(), want, atol=2e-4 * np.abs(g).max())
    assert [int(r) for r in rank] == ranks and ranks[4] == 0 and max(ranks) >= 3


def _ranked_groups(rank, n_groups=40, k=40, d=25, noise=0.03, seed=0):
    rng = np.random.default_rng(seed)
    low = rng.standard_normal((n_groups, k, rank)) @ rng.standard_normal((n_groups, rank, d))
    return torch.tensor(low + noise * rng.standard_normal((n_groups, k, d)), dtype=torch.float32)


@pytest.mark.parametrize("k", [40, 20])     # Gram matrices d x d, and k x k (k < d = 25) in the full eigh
def test_wnnm_warm_start_matches_the_full_eigh(k):
    """Round 2 warm-started from round 1's basis (groups moved a little) equals the full eigh's shrinkage;
    groups that keep more values than the warm subspace holds are redone in full, also equal."""
    from aip.restore.lowrank import _shrink_groups, _WarmBasis

    c, eps = 2 * np.sqrt(2), 1e-8
    sig2 = torch.full((40,), 0.05 ** 2)
    g1 = _ranked_groups(3, k=k)
    warm = _WarmBasis(40, 25, torch, "cpu")
    rows = slice(0, 40)
    first, r1 = _shrink_groups(g1, sig2, c, eps, torch, 3, warm, rows)
    exact1, e1 = _shrink_groups(g1, sig2, c, eps, torch, 3)
    assert torch.equal(first, exact1) and torch.equal(r1, e1) and bool((warm.rank == 3).all())
    g2 = g1 + 0.005 * torch.randn(g1.shape, generator=torch.Generator().manual_seed(1))
    out, r2 = _shrink_groups(g2, sig2, c, eps, torch, 3, warm, rows)
    want, w2 = _shrink_groups(g2, sig2, c, eps, torch, 3)
    assert torch.equal(r2, w2)
    np.testing.assert_allclose(out.numpy(), want.numpy(), atol=1e-4 * float(g2.abs().max()))
    # rank 14 groups after a rank-3 round: the 8-vector subspace cannot hold them, so the full eigh decides
    g3 = _ranked_groups(14, k=k, seed=2)
    out3, r3 = _shrink_groups(g3, sig2, c, eps, torch, 3, warm, rows)
    want3, w3 = _shrink_groups(g3, sig2, c, eps, torch, 3)
    assert torch.equal(r3, w3) and int(r3.min()) == 14
    np.testing.assert_allclose(out3.numpy(), want3.numpy(), atol=1e-4 * float(g3.abs().max()))


def test_wnnm_warm_and_exact_agree(clean64):
    """The warm-started eigenpairs change the denoised image by far less than the noise (same PSNR)."""
    s = 25 / 255
    noisy = _noisy(clean64, s, seed=4)
    exact = denoise_wnnm(noisy, s, eig="exact")
    warm = denoise_wnnm(noisy, s)
    p_exact = -10 * np.log10(np.mean((exact - clean64) ** 2))
    p_warm = -10 * np.log10(np.mean((warm - clean64) ** 2))
    assert abs(p_warm - p_exact) < 0.02 and np.abs(warm - exact).mean() < 1e-3
    with pytest.raises(ValueError, match="eig"):
        denoise_wnnm(noisy, s, eig="fast")


def test_wnnm_defaults_follow_the_authors():
    """The paper's settings by sigma with patches one pixel larger on gray images (reference spacing
    2, 3, 4, 4), the paper's patches on colour ones matched together (spacing 2, 3, 5, 5),
    3 reweightings."""
    import aip.restore.lowrank as L

    calls = []
    real = L._wnnm_2d
    L._wnnm_2d = lambda x, s, **kw: calls.append(kw) or x
    try:
        for s255 in (15, 25, 50, 75):
            L.denoise_wnnm(np.zeros((16, 16)), s255 / 255)
        for s255 in (15, 25, 50, 75):
            L.denoise_wnnm(np.zeros((16, 16, 3)), s255 / 255, channel_axis=-1)
    finally:
        L._wnnm_2d = real
    assert [(c["patch_size"], c["n_similar"], c["n_iter"], c["step"]) for c in calls] == \
        [(7, 70, 8, 2), (8, 90, 12, 3), (9, 120, 14, 4), (10, 140, 14, 4),
         (6, 70, 8, 2), (7, 90, 12, 3), (8, 120, 14, 5), (9, 140, 14, 5)]
    assert {(c["window"], c["reweight"], c["inner"]) for c in calls} == {(30, 3, 2)}


@pytest.mark.parametrize("inner, want", [(2, [60, 50, 40]), (1, [60, 60, 50, 50, 40, 40])])
def test_wnnm_group_size_shrinks_every_second_round(monkeypatch, inner, want):
    """The authors' schedule (10 patches fewer every second round) holds whatever the re-matching period."""
    sizes = []
    real = _patches.block_match

    def spy(px, grid, k, **kw):
        sizes.append(k)
        return real(px, grid, k, **kw)

    monkeypatch.setattr(_patches, "block_match", spy)
    denoise_wnnm(np.random.default_rng(0).random((24, 24)), 0.1, n_similar=70, n_iter=6, inner=inner, patch_size=4)
    assert sizes == want


def test_wnnm_bad_inputs():
    with pytest.raises(ValueError, match="sigma"):
        denoise_wnnm(np.zeros((16, 16)), 0.0)
    with pytest.raises(ValueError, match="finite"):
        denoise_wnnm(np.full((16, 16), np.nan), 0.1)
    with pytest.raises(ValueError, match="2-D"):
        denoise_wnnm(np.zeros((16, 16, 3)), 0.1)
    with pytest.raises(ValueError, match="ndim"):
        denoise_wnnm(np.zeros((2, 16, 16, 3)), 0.1)


def test_inpaint_lowrank_beats_initial_fill(clean64):
    from aip.restore.lowrank import _initial_fill

    mask = np.random.default_rng(13).random(clean64.shape) < 0.5
    damaged = np.where(mask, 0.0, clean64).astype(np.float32)
    out = inpaint_lowrank(damaged, mask, n_iter=20)
    np.testing.assert_array_equal(out[~mask], clean64[~mask])      # known pixels are kept
    err_fill = np.mean((_initial_fill(damaged, mask) - clean64)[mask] ** 2)
    err = np.mean((out - clean64)[mask] ** 2)
    assert err < 0.9 * err_fill                                     # measured: 0.85


def test_inpaint_lowrank_bad_mask(clean64):
    with pytest.raises(ValueError, match="shape"):
        inpaint_lowrank(clean64, np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="known pixel"):
        inpaint_lowrank(clean64, np.ones(clean64.shape, bool))


def test_wnnm_progress_bar(clean64, capsys):
    """progress=True draws a bar over the rounds on stderr and changes nothing in the result."""
    noisy = _noisy(clean64, 0.1, seed=5)
    quiet = denoise_wnnm(noisy, 0.1, n_iter=2)
    capsys.readouterr()
    shown = denoise_wnnm(noisy, 0.1, n_iter=2, progress=True)
    assert "WNNM" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, shown)
