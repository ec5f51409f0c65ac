"""Loaders for datasets users bring: MNIST / Fashion-MNIST IDX files, CIFAR-10 python batches, image folders.

Every loader returns ``(images, labels)`` with images as uint8 (N, H, W) or (N, H, W, C) and labels as
int64 (N,). :func:`aip.data.load_dataset` converts them to float tensors in [0, 1].

References
----------
LeCun et al., "Gradient-based learning applied to document recognition", 1998 (the IDX format).
Krizhevsky, "Learning multiple layers of features from tiny images", 2009 (the CIFAR-10 batches).
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array of its stored shape and dtype."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such IDX file")
    with _open(p) as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{p}: expected an IDX file (magic 0x0000TTNN), got header {data[:4].hex()}")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(int)
    count = int(np.prod(dims)) if ndim else 1
    offset = 4 + 4 * ndim
    if len(data) - offset < count * dtype.itemsize:
        raise ValueError(f"{p}: expected {count} values of shape {tuple(dims)}, the file is truncated")
    arr = np.frombuffer(data, dtype, count=count, offset=offset).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


_IDX_NAMES = {
    "train": (("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
              ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte")),
    "test": (("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
             ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte")),
}


def _find(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for suffix in ("", ".gz"):
            p = folder / f"{stem}{suffix}"
            if p.is_file():
                return p
    return None


def is_idx_folder(folder: Path) -> bool:
    return folder.is_dir() and any(_find(folder, _IDX_NAMES[s][0]) for s in _IDX_NAMES)


def load_idx_folder(folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST as distributed: ``train-images-idx3-ubyte[.gz]`` and friends in one folder."""
    folder = Path(folder)
    img_stems, lab_stems = _IDX_NAMES[split]
    ip, lp = _find(folder, img_stems), _find(folder, lab_stems)
    if ip is None or lp is None:
        raise FileNotFoundError(f"{folder}: expected {img_stems[0]}[.gz] and {lab_stems[0]}[.gz] for split "
                                f"{split!r}")
    images, labels = read_idx(ip), read_idx(lp)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{folder}: expected images (N, H, W) and labels (N,), got {images.shape} and "
                         f"{labels.shape}")
    return np.ascontiguousarray(images.astype(np.uint8)), labels.astype(np.int64)


def is_cifar_folder(folder: Path) -> bool:
    return folder.is_dir() and ((folder / "data_batch_1").is_file() or (folder / "test_batch").is_file())


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as fh:
        d = pickle.load(fh, encoding="bytes")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def load_cifar_folder(folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 python version: ``data_batch_1..5`` (train) and ``test_batch`` pickles of dicts with
    ``data`` (N, 3072) uint8 in channel-major order and ``labels``. Images come back (N, 32, 32, 3)."""
    folder = Path(folder)
    if split == "train":
        files = sorted(folder.glob("data_batch_*"), key=lambda p: p.name)
    else:
        files = [folder / "test_batch"] if (folder / "test_batch").is_file() else []
    if not files:
        raise FileNotFoundError(f"{folder}: expected CIFAR-10 batches (data_batch_N / test_batch) for split "
                                f"{split!r}")
    xs, ys = [], []
    for f in files:
        d = _unpickle(f)
        if "data" not in d or not ("labels" in d or "fine_labels" in d):
            raise ValueError(f"{f}: expected a pickled dict with 'data' and 'labels', got keys {sorted(d)}")
        data = np.asarray(d["data"], dtype=np.uint8)
        side = round((data.shape[1] / 3) ** 0.5)
        if data.ndim != 2 or 3 * side * side != data.shape[1]:
            raise ValueError(f"{f}: expected data of shape (N, 3*S*S), got {data.shape}")
        xs.append(data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1))
        ys.append(np.asarray(d.get("labels", d.get("fine_labels")), dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def load_image_folder(folder: str | os.PathLike, split: str = "train", *, test_fraction: float = 0.1,
                      seed: int = 0, size: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images in one sub-folder per class (``root/<class>/*.png``), classes sorted by name.

    A folder holding ``train/`` and ``test/`` sub-folders uses them as the split; otherwise a fixed
    seeded ``test_fraction`` of each class is held out as the test split. All images must share one size
    unless ``size`` is given (centre crop to a square and resize). Returns images, labels, class names.
    """
    from aip.io import IMAGE_SUFFIXES, read_image

    root = Path(folder)
    if (root / "train").is_dir() and (root / "test").is_dir():
        root, held_out = root / split, False
    else:
        held_out = True
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"{root}: expected one sub-folder of images per class, found none")
    suffixes = {s.lower() for s in IMAGE_SUFFIXES}
    images, labels = [], []
    rng = np.random.default_rng(seed)
    for k, c in enumerate(classes):
        files = sorted(p for p in (root / c).iterdir() if p.suffix.lower() in suffixes)
        if held_out:
            order = rng.permutation(len(files))
            n_test = round(test_fraction * len(files))
            keep = order[:n_test] if split == "test" else order[n_test:]
            files = [files[i] for i in sorted(keep)]
        for f in files:
            img = read_image(f)
            if size is not None:
                from aip.io.samples import _resize_square

                img = _resize_square(img, size)
            images.append(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
            labels.append(k)
    if not images:
        raise FileNotFoundError(f"{root}: no images found for split {split!r}")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"{root}: expected images of one size (or pass size=), got sizes {sorted(shapes)[:3]}")
    return np.stack(images), np.asarray(labels, np.int64), classes
