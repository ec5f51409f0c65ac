import numpy as np

from aip.data import synthetic_digits
from aip.data.digits import DIGIT_FONTS, digit_templates


def test_deterministic_from_seed_and_independent_of_chunking():
    a, ya = synthetic_digits(600, seed=4)
    b, yb = synthetic_digits(600, seed=4, chunk=300)  # 256-image chunks against one chunk
    c, _ = synthetic_digits(50, seed=5)
    assert np.array_equal(a, b) and np.array_equal(ya, yb)
    assert not np.array_equal(a, c)


def test_labels_balanced_and_shapes():
    x, y = synthetic_digits(103, seed=0)
    assert x.shape == (103, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    counts = np.bincount(y, minlength=10)
    assert counts.min() == 10 and counts.max() == 11


def test_mnist_like_statistics():
    x, _ = synthetic_digits(400, seed=1)
    f = x.astype(np.float64) / 255
    # MNIST: mean intensity ~0.13, ink fills the centre, a 4-pixel border is nearly empty
    assert 0.08 < f.mean() < 0.25
    border = np.concatenate([f[:, :3].ravel(), f[:, -3:].ravel(), f[:, :, :3].ravel(), f[:, :, -3:].ravel()])
    assert border.mean() < 0.1 * f[:, 8:20, 8:20].mean()
    # centre of mass near the image centre, as MNIST centres digits
    yy, xx = np.mgrid[:28, :28]
    cy = (f * yy).sum((1, 2)) / f.sum((1, 2))
    cx = (f * xx).sum((1, 2)) / f.sum((1, 2))
    assert abs(np.median(cy) - 13.5) < 2 and abs(np.median(cx) - 13.5) < 2


def test_templates_cover_all_digits_and_fonts():
    t, lab = digit_templates()
    assert t.shape[1:] == (64, 64)
    assert np.array_equal(np.bincount(lab), np.full(10, len(t) // 10))
    assert len(t) // 10 >= len(DIGIT_FONTS)  # one per (font, stroke) at least
    # classes differ: each class mean template is closest to its own class' templates
    means = np.stack([t[lab == d].mean(0) for d in range(10)])
    d = ((t[:, None] - means[None]) ** 2).sum((2, 3))
    assert (d.argmin(1) == lab).mean() > 0.9


def test_shipped_lenet_reads_generated_digits():
    # an independent check on class identity: the shipped classifier labels fresh digits correctly
    import torch

    from aip.models.lenet import load_lenet

    x, y = synthetic_digits(300, seed=123)
    net = load_lenet("digits")
    pred = net.predict(torch.from_numpy(x).float().div(255).unsqueeze(1))
    assert (pred.numpy() == y).mean() >= 0.97


def test_builtin_digits_split_is_cached_under_aip_cache(tmp_path, monkeypatch):
    from aip.data import digits, load_dataset

    monkeypatch.setenv("AIP_CACHE", str(tmp_path))
    monkeypatch.setattr(digits, "DIGITS_SPLIT", {"train": (40, 1), "test": (20, 2)})
    te = load_dataset("digits", "test")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"digits_v{digits.DIGITS_VERSION}_test.npz"]
    x, y = synthetic_digits(20, seed=2)
    assert np.array_equal(np.round(te.images[:, 0].numpy() * 255).astype(np.uint8), x)
    assert np.array_equal(te.labels.numpy(), y)
    again = load_dataset("digits", "test")  # from the cache file
    assert np.array_equal(again.images.numpy(), te.images.numpy())
    tr = load_dataset("digits", "train")
    assert len(tr) == 40 and tr.num_classes == 10
    # train and test images differ (different seeds)
    assert not any(np.array_equal(a, b) for a in tr.images.numpy() for b in te.images.numpy())
