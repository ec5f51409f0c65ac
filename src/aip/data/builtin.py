"""The built-in offline datasets: ``digits``, ``digits8``, ``faces``, ``patches``.

Each returns ``(images uint8 (N, H, W[, C]), labels int64 (N,), class names)`` for a fixed split.
"""

from __future__ import annotations

import os

import numpy as np


def _digits(split: str):
    from aip.data.digits import load_digits_split

    x, y = load_digits_split(split)
    return x, y, [str(d) for d in range(10)]


def _digits8(split: str):
    """scikit-learn's ``load_digits`` (1,797 8x8 images, values 0..16), a fixed seeded 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images / 16.0 * 255).astype(np.uint8)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(8).permutation(len(y))
    n_test = len(y) // 5
    idx = np.sort(order[:n_test] if split == "test" else order[n_test:])
    return x[idx], y[idx], [str(k) for k in range(10)]


def _faces(split: str):
    """scikit-image's ``lfw_subset.npy``: 100 LFW faces then 100 non-face crops, 25x25 gray.

    Label 0 is a face, 1 a non-face; the last 10 of each class form the test split.
    """
    import skimage

    a = np.load(os.path.join(os.path.dirname(skimage.__file__), "data", "lfw_subset.npy"))
    x = np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)
    y = np.repeat(np.arange(2, dtype=np.int64), 100)
    test = np.zeros(200, bool)
    test[90:100] = test[190:200] = True
    m = test if split == "test" else ~test
    return x[m], y[m], ["face", "non-face"]


#: scikit-image's evaluation photos (../shared/DATA.md): never in a training set
EVALUATION_PHOTOS = ("camera", "astronaut", "coffee", "chelsea")
#: the bundled photos the built-in ``patches`` (and ``sketch``) sets cut crops from: all but the evaluation ones
PATCH_PHOTOS = ("coins", "moon", "brick", "grass", "gravel", "rocket", "hubble_deep_field", "horse", "page", "text")
PATCH_SIZE = 32
PATCH_COUNT = {"train": (20000, 11), "test": (2000, 12)}


def _photo_crops(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded random ``size`` x ``size`` gray crops (float in [0, 1]) of the :data:`PATCH_PHOTOS`, the
    photos in a shuffled order, and the index of each crop's photo."""
    from aip.io import load_sample

    rng = np.random.default_rng(seed)
    photos = [load_sample(name, gray=True) for name in PATCH_PHOTOS]
    which = np.arange(n) % len(photos)
    rng.shuffle(which)
    out = np.empty((n, size, size), np.float32)
    for i, k in enumerate(which):
        img = photos[k]
        r, c = rng.integers(0, img.shape[0] - size + 1), rng.integers(0, img.shape[1] - size + 1)
        out[i] = img[r:r + size, c:c + size]
    return out, which.astype(np.int64)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


def _patches(split: str):
    """Random 32x32 gray patches of scikit-image's bundled photos but the evaluation ones (seeded); the label
    is the photo index."""
    n, seed = PATCH_COUNT[split]
    crops, which = _photo_crops(n, PATCH_SIZE, seed)
    return _u8(crops), which, list(PATCH_PHOTOS)


BUILTIN = {"digits": _digits, "digits8": _digits8, "faces": _faces, "patches": _patches}


def _fonts(split: str):
    """Digits in DejaVu Sans (domain A) and DejaVu Serif (domain B), 28x28. Training: 20,000 of each, drawn
    with different seeds (no pair is ever seen); test: 1,000 pairs drawn with one seed, so ``b[i]`` is the true
    translation of ``a[i]`` (same digit, stroke and deformation in the other family)."""
    from aip.data.digits import synthetic_digits

    if split == "train":
        (a, la), (b, lb) = synthetic_digits(20000, seed=21, fonts="sans"), synthetic_digits(20000, seed=22, fonts="serif")
    else:
        (a, la), (b, lb) = synthetic_digits(1000, seed=23, fonts="sans"), synthetic_digits(1000, seed=23, fonts="serif")
    return a, b, la, lb


SKETCH_SIZE = 32
SKETCH_COUNT = {"train": 10000, "test": 500}


def _sketch(split: str):
    """Gray photo crops (domain A) and XDoG pencil sketches (domain B, :class:`aip.data.tasks.XDoG` of 32x32
    crops) of scikit-image's bundled photos but the evaluation ones. Training: 10,000 of each, the sketches made
    from other crops than the photos (no pair is seen); test: 500 crops of one seed and their sketches, so
    ``b[i]`` is the true sketch of photo ``a[i]`` (photo -> sketch is the deterministic direction)."""
    import torch

    from aip.data.tasks import XDoG

    def sketch(crops: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return XDoG().degrade(torch.from_numpy(crops)[:, None])["y"][:, 0].numpy()

    n = SKETCH_COUNT[split]
    if split == "train":
        (a, la), (b, lb) = _photo_crops(n, SKETCH_SIZE, seed=31), _photo_crops(n, SKETCH_SIZE, seed=32)
        b = sketch(b)
    else:
        a, la = _photo_crops(n, SKETCH_SIZE, seed=33)
        b, lb = sketch(a), la
    return _u8(a), _u8(b), la, lb


#: Built-in two-domain sets for unpaired translation: ``name -> split -> (a, b, labels_a, labels_b)``; their
#: test splits are aligned pairs (the true mapping is known, so a translation can be scored).
PAIRS = {"fonts": _fonts, "sketch": _sketch}
