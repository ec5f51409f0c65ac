"""Improved precision/recall and within-class diversity: closed-form cases and the evaluate report."""

import numpy as np
import pytest

from aip.metrics.diversity import precision_recall, within_class_diversity


def test_same_set_has_full_precision_and_recall_and_far_set_none():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(x, x + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}


def test_mode_collapse_keeps_precision_and_loses_recall():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(600, 4))
    collapsed = real[:5][rng.integers(0, 5, 600)] + rng.normal(scale=1e-3, size=(600, 4))   # 5 real modes
    pr = precision_recall(real, collapsed)
    assert pr["precision"] > 0.95 and pr["recall"] < 0.1
    # a fresh draw of the same distribution: both high (the k-NN balls estimate the same support)
    pr2 = precision_recall(real, rng.normal(size=(600, 4)))
    assert pr2["precision"] > 0.8 and pr2["recall"] > 0.8


def test_within_class_diversity_ratio():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 5))
    labels = np.repeat(np.arange(3), 100)
    same = within_class_diversity(real * 1.0, labels, real, labels)
    assert same["diversity_ratio"] == pytest.approx(1.0)
    half = within_class_diversity(real * 0.5, labels, real, labels)   # distances scale linearly
    assert half["diversity_ratio"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one label per feature row"):
        within_class_diversity(real, labels[:10], real, labels)
    with pytest.raises(ValueError, match="expected 1 <= k"):
        precision_recall(real, real, k=300)


def test_evaluate_reports_precision_recall_diversity_and_its_sampling():
    from aip.train.evaluate import evaluate_model
    from aip.train.shipped import load_shipped

    model = load_shipped("cvae")
    res = evaluate_model(model, "digits", n=60, seed=0, sample_kwargs={"temperature": 0.7}, nll_n=0)
    assert 0.0 <= res["precision"] <= 1.0 and 0.0 <= res["recall"] <= 1.0
    assert 0.0 < res["diversity_ratio"] < 2.0 and len(res["diversity_per_class"]) == 10
    assert res["sampling"] == {"temperature": 0.7} and res["n"] == 60
    assert 0.0 <= res["border_haze_real"] < 0.05 and 0.0 <= res["border_haze"] <= 1.0   # real digits: black ring


def test_border_haze_counts_grey_pixels_in_the_outer_ring():
    from aip.metrics.diversity import border_haze

    x = np.zeros((4, 1, 10, 10))
    x[:, :, 3:7, 3:7] = 1.0                  # ink inside: no haze
    assert border_haze(x) == 0.0
    x[0, 0, 0, :] = 0.05                     # one grey top row in one image: 10 of the 4 * 64 ring pixels
    assert border_haze(x, width=2) == pytest.approx(10 / (4 * 64))
    assert border_haze(x) == pytest.approx(10 / (4 * 84))      # the default ring is 3 pixels wide
    assert border_haze(x, width=2, threshold=0.1) == 0.0
    assert border_haze(x[:, 0], width=1) == pytest.approx(10 / (4 * 36))
    with pytest.raises(ValueError, match=r"width: expected 1 <= width < 5"):
        border_haze(x, width=5)
