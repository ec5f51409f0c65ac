"""First principles: the closed-form ML Gaussian, EM's monotone likelihood and recovery of a mixture, the GMM
image model, and the noise-driven plant (same seed, same plant)."""

import itertools

import numpy as np
import pytest

from aip.models import primer


def test_gaussian_mle_is_the_closed_form_and_the_maximum():
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([1.0, -2.0, 0.5], [[2, 0.3, 0], [0.3, 1, 0.2], [0, 0.2, 0.5]], size=400)
    mu, cov = primer.gaussian_mle(x)
    np.testing.assert_allclose(mu, x.mean(0), atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x.T, bias=True), atol=1e-12)
    best = primer.gaussian_log_likelihood(x, mu, cov)
    from scipy.stats import multivariate_normal

    assert best == pytest.approx(multivariate_normal(mu, cov).logpdf(x).sum(), rel=1e-10)
    for d_mu, s in ((np.array([0.05, 0, 0]), 1.0), (np.zeros(3), 1.05), (np.zeros(3), 0.95)):
        assert primer.gaussian_log_likelihood(x, mu + d_mu, cov * s) < best
    with pytest.raises(ValueError, match="N >= 2"):
        primer.gaussian_mle([[1.0, 2.0]])


def test_em_never_lowers_the_likelihood_and_recovers_the_centres():
    rng = np.random.default_rng(1)
    centres = np.array([[-3.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    x = np.concatenate([rng.normal(c, 0.5, size=(150, 2)) for c in centres])
    gm, trace = primer.fit_gmm(x, 3, init="random_from_data", seed=0)
    assert len(trace) > 2 and all(b >= a - 1e-9 for a, b in itertools.pairwise(trace))
    found = gm.means_[np.argsort(gm.means_[:, 0])]
    np.testing.assert_allclose(found, centres[np.argsort(centres[:, 0])], atol=0.15)


def test_gmm_image_model_samples_images():
    rng = np.random.default_rng(2)
    imgs = np.clip(rng.random((60, 6, 6)) * 0.2 + (np.arange(60) % 2)[:, None, None] * 0.6, 0, 1)
    m = primer.gmm_image_model(imgs, k=2, components=4)
    s = m["sample"](5, 0)
    assert s.shape == (5, 6, 6) and 0 <= s.min() and s.max() <= 1
    np.testing.assert_array_equal(s, m["sample"](5, 0))


def test_plants_come_from_their_noise():
    a, b, c = primer.grow_plant(3), primer.grow_plant(3), primer.grow_plant(4)
    np.testing.assert_array_equal(a.segments, b.segments)
    assert a.segments.shape != c.segments.shape or not np.array_equal(a.segments, c.segments)
    never, always = primer.grow_plant(0, depth=6, p_branch=0.0), primer.grow_plant(0, depth=6, p_branch=1.0)
    assert len(never.segments) == 6 and never.branches == 0
    assert len(always.segments) == 2 ** 6 - 1 and always.branches == 2 ** 5 - 1
    img = primer.render_plant(a, 64)
    assert img.shape == (64, 64) and img.min() < 0.5 < img.max()
    with pytest.raises(ValueError, match="p_branch"):
        primer.grow_plant(0, p_branch=1.5)


@pytest.mark.parametrize("topic", ["gaussian", "gmm", "plant"])
def test_demo_topics_write_their_figures(topic, tmp_path, capsys):
    import json

    from aip.cli.main import main

    assert main(["demo", "--topic", topic, "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["topic"] == topic and all((tmp_path / f).is_file() for f in out["figures"])
