import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from aip.data import BatchStream, load_dataset, make_loader, read_idx
from aip.io import write_image


def _write_idx(path, arr, gz=False):
    codes = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}
    code = codes[arr.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as fh:
        fh.write(header + body)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, gz):
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    for split, stem, n in (("train", "train", 12), ("test", "t10k", 5)):
        x = rng.integers(0, 256, (n, 6, 7), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        _write_idx(tmp_path / f"{stem}-images-idx3-ubyte{sfx}", x, gz)
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte{sfx}", y, gz)
        ds = load_dataset(tmp_path, split)
        assert ds.images.shape == (n, 1, 6, 7) and ds.images.dtype == torch.float32
        assert np.array_equal(np.round(ds.images[:, 0].numpy() * 255).astype(np.uint8), x)
        assert np.array_equal(ds.labels.numpy(), y.astype(np.int64)) and ds.labels.dtype == torch.int64


def test_read_idx_other_dtypes_and_errors(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    _write_idx(tmp_path / "a.idx", a)
    assert np.array_equal(read_idx(tmp_path / "a.idx"), a)
    f = np.linspace(0, 1, 6, dtype=np.float32)
    _write_idx(tmp_path / "f.idx", f)
    assert np.array_equal(read_idx(tmp_path / "f.idx"), f)
    (tmp_path / "bad.idx").write_bytes(b"\x89PNG....")
    with pytest.raises(ValueError, match="expected an IDX file"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes((tmp_path / "a.idx").read_bytes()[:-4])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short.idx")


def test_cifar_batches(tmp_path):
    rng = np.random.default_rng(1)
    imgs = {}
    for name, n in (("data_batch_1", 4), ("data_batch_2", 3), ("test_batch", 2)):
        hwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        data = hwc.transpose(0, 3, 1, 2).reshape(n, -1)  # CIFAR rows: R plane, G plane, B plane
        labels = list(rng.integers(0, 10, n))
        with open(tmp_path / name, "wb") as fh:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, fh)
        imgs[name] = (hwc, labels)
    with open(tmp_path / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"c{k}".encode() for k in range(10)]}, fh)
    tr = load_dataset(tmp_path, "train")
    assert tr.images.shape == (7, 3, 32, 32) and tr.classes[3] == "c3"
    hwc = np.concatenate([imgs["data_batch_1"][0], imgs["data_batch_2"][0]])
    assert np.array_equal(np.round(tr.images.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8), hwc)
    assert tr.labels.tolist() == [int(v) for v in imgs["data_batch_1"][1] + imgs["data_batch_2"][1]]
    te = load_dataset(tmp_path, "test")
    assert len(te) == 2 and te.labels.tolist() == [int(v) for v in imgs["test_batch"][1]]


def test_image_folder_classes_and_split(tmp_path):
    rng = np.random.default_rng(2)
    want = {}
    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(10):
            img = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
            write_image(tmp_path / c / f"{i}.png", img.astype(np.float32) / 255)
            want[(c, i)] = img
    tr, te = load_dataset(tmp_path, "train"), load_dataset(tmp_path, "test")
    assert tr.classes == ["cat", "dog"] and len(tr) == 18 and len(te) == 2
    assert sorted(te.labels.tolist()) == [0, 1]
    # every test image is one of the files, and no file is in both splits
    files = {img.tobytes() for img in want.values()}
    as_bytes = lambda ds: [np.round(x.permute(1, 2, 0).numpy() * 255).astype(np.uint8).tobytes() for x in ds.images]
    assert set(as_bytes(te)) <= files and not set(as_bytes(te)) & set(as_bytes(tr))


def test_bad_data_names_are_clear(tmp_path):
    with pytest.raises(ValueError, match="built-in dataset"):
        load_dataset("no_such_set")
    with pytest.raises(ValueError, match="split"):
        load_dataset("digits8", "valid")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="sub-folder"):
        load_dataset(tmp_path / "empty")


def test_builtin_small_sets():
    d8 = load_dataset("digits8", "train")
    d8t = load_dataset("digits8", "test")
    assert d8.shape == (1, 8, 8) and len(d8) + len(d8t) == 1797 and d8.num_classes == 10
    from sklearn.datasets import load_digits
    assert abs(d8.images.mean().item() * 16 - load_digits().images.mean()) < 0.2
    faces = load_dataset("faces", "train")
    assert faces.shape == (1, 25, 25) and len(faces) + len(load_dataset("faces", "test")) == 200
    assert 0 <= faces.images.min() and faces.images.max() <= 1


def test_loader_and_stream_orders():
    ds = load_dataset("digits8", "test")
    loader = make_loader(ds, 32, seed=5)
    loader.sampler.set_epoch(0)
    xb, yb = next(iter(loader))
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(5))  # DistributedSampler's rule
    assert torch.equal(yb, ds.labels[order[:32]])
    stream = BatchStream(ds, 32, seed=5)
    x0, y0 = stream.next()
    assert torch.equal(y0, yb) and torch.equal(x0, xb)
    # resuming at a saved position yields the same following batches, across the epoch boundary
    for _ in range(stream.per_epoch - 2):
        stream.next()
    st = stream.state_dict()
    ahead = [stream.next()[1] for _ in range(4)]
    other = BatchStream(ds, 32, seed=5)
    other.load_state_dict(st)
    assert all(torch.equal(a, other.next()[1]) for a in ahead)
    # two ranks split an epoch into disjoint halves
    a = BatchStream(ds, 8, seed=5, rank=0, world_size=2)
    b = BatchStream(ds, 8, seed=5, rank=1, world_size=2)
    a._load_order(), b._load_order()
    assert not set(a._order.tolist()) & set(b._order.tolist())
