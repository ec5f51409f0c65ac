"""Parts checked against references: search vs brute force, range coder vs entropy, colour vs OpenCV."""

import numpy as np
import pytest

from aip.fractal.colour import rgb_to_ycbcr, ycbcr_to_rgb
from aip.fractal.entropy import Reader, Writer
from aip.fractal.partition import isometry, isometry_maps, leaf_neighbours, morton_key
from aip.fractal.search import PlaneSearch, extract_blocks, half_resolution


def test_search_matches_brute_force():
    rng = np.random.default_rng(3)
    img = rng.random((24, 24)).astype(np.float32)
    img = (img + np.roll(img, 1, 0) + np.roll(img, 1, 1)) / 3
    smax = 0.9
    ps = PlaneSearch(img, step_div=4, max_domains=1 << 12, s_max=smax, band=0.0)
    b = 4
    yy, xx = np.meshgrid(np.arange(0, 24, b), np.arange(0, 24, b), indexing="ij")
    y, x = yy.ravel(), xx.ravel()
    res = ps.search(b, y, x)
    half = half_resolution(img)
    pool = ps.pool(b)
    doms = extract_blocks(half, pool.dy, pool.dx, b).astype(np.float64)
    for i in range(len(y)):
        r = img[y[i]:y[i] + b, x[i]:x[i] + b].astype(np.float64)
        best = np.inf
        for d in doms:
            for k in range(8):
                t = isometry(d, k)
                tc, rc = t - t.mean(), r - r.mean()
                den = (tc ** 2).sum()
                s = np.clip((rc * tc).sum() / den, -smax, smax) if den > 1e-12 else 0.0
                best = min(best, ((rc - s * tc) ** 2).sum())
        s = np.clip(res["corr"][i] / res["dnorm"][i], -smax, smax)
        got = res["rss"][i] - 2 * s * res["corr"][i] * res["dnorm"][i] + s * s * res["dnorm"][i] ** 2
        assert got == pytest.approx(best, rel=1e-4, abs=1e-6)


def test_isometry_maps_are_the_dihedral_group():
    b = 5
    blk = np.arange(25.0).reshape(5, 5)
    maps = isometry_maps(b)
    imgs = {tuple(isometry(blk, k).ravel()) for k in range(8)}
    assert len(imgs) == 8  # 8 distinct symmetries of the square
    for k in range(8):
        assert np.array_equal(blk.ravel()[maps[k]], isometry(blk, k))


def test_range_coder_round_trip_and_rate():
    rng = np.random.default_rng(0)
    p = np.array([0.6, 0.2, 0.1, 0.05, 0.05])
    a = rng.choice(5, size=4000, p=p)
    u = rng.integers(0, 1000, size=300)
    w = Writer()
    w.field(a, 5)
    w.uniform(u, 1000)
    w.field(np.array([3, 3, 3]), 7)
    data = w.finish()
    r = Reader(data)
    assert np.array_equal(r.field(len(a), 5), a)
    assert np.array_equal(r.uniform(len(u), 1000), u)
    assert np.array_equal(r.field(3, 7), [3, 3, 3])
    counts = np.bincount(a, minlength=5) / len(a)
    entropy_bits = -(counts * np.log2(counts)).sum() * len(a) + len(u) * np.log2(1000)
    assert len(data) * 8 < 1.01 * entropy_bits + 128  # within 1% of the empirical entropy + headers


def test_ycbcr_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(1)
    rgb = rng.random((8, 9, 3)).astype(np.float32)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)  # float input: delta = 0.5
    ours = rgb_to_ycbcr(rgb)
    assert np.allclose(ours[..., 0], ycrcb[..., 0], atol=1e-3)
    assert np.allclose(ours[..., 1], np.clip(ycrcb[..., 2], 0, 1), atol=1e-3)
    assert np.allclose(ours[..., 2], np.clip(ycrcb[..., 1], 0, 1), atol=1e-3)
    inside = (ycrcb[..., 1:] >= 0).all(-1) & (ycrcb[..., 1:] <= 1).all(-1)
    assert np.allclose(ycbcr_to_rgb(ours)[inside], rgb[inside], atol=1e-5)


def test_z_order_neighbours_precede():
    # a small quadtree: one 8-block split into four 4-blocks, the NE one into 2-blocks
    y = np.array([0, 0, 0, 2, 2, 4, 4, 0, 8, 8])
    x = np.array([0, 4, 6, 4, 6, 0, 4, 8, 0, 8])
    b = np.array([4, 2, 2, 2, 2, 4, 4, 8, 8, 8])
    order = np.argsort(morton_key(y, x, 2, 8, 16), kind="stable")
    assert np.array_equal(order, np.arange(10))
    left, top, tl = leaf_neighbours(y, x, b, 16, 16, 2)
    assert (left < np.arange(10)).all() and (top < np.arange(10)).all() and (tl < np.arange(10)).all()
    assert left[3] == 0 and top[3] == 1 and tl[3] == 0 and left[8] == -1 and top[8] == 5
