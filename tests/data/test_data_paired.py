"""Paired, Unpaired and Degraded: aligned crops, independent domains, fresh seeded degradations per batch."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aip.data import BatchStream, Degraded, ImageDataset, Paired, Unpaired, batch_generator


class NoiseStandIn:
    """The physics contract in miniature: ``degrade(x, rng=g) -> {"y", "sigma"}``, a level per image."""

    def __init__(self, low=0.05, high=0.2):
        self.low, self.high = low, high

    def degrade(self, x, *, rng=None):
        s = self.low + (self.high - self.low) * torch.rand(x.shape[0], generator=rng)
        return {"y": x + s.view(-1, 1, 1, 1) * torch.randn(x.shape, generator=rng), "sigma": s}


class ScaleStandIn:
    """A 'physics' that multiplies by a gain, no noise (sigma None)."""

    def __init__(self, gain):
        self.gain = gain

    def degrade(self, x, *, rng=None):
        return {"y": self.gain * x, "sigma": None}


def _images(n=10, size=20, channels=1, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def _where(big, crop):
    """All (top, left, hflip, vflip) placements of ``crop`` (C, h, w) inside ``big`` (C, H, W)."""
    h, w = crop.shape[-2:]
    hits = []
    for t in range(big.shape[-2] - h + 1):
        for left in range(big.shape[-1] - w + 1):
            win = big[:, t:t + h, left:left + w]
            for hf, vf in itertools.product((False, True), repeat=2):
                v = win.flip(-1) if hf else win
                v = v.flip(-2) if vf else v
                if torch.equal(v, crop):
                    hits.append((t, left, hf, vf))
    return hits


# -- Degraded -------------------------------------------------------------------------------------------------

def test_degraded_draws_fresh_noise_per_batch_and_records_sigma():
    ds = Degraded(_images(16, 32), NoiseStandIn(0.05, 0.2), crop=24)
    stream = BatchStream(ds, 8, seed=1)
    a, b = stream.next(), stream.next()
    assert set(a) == {"x", "y", "sigma", "physics"}
    assert a["x"].shape == a["y"].shape == (8, 1, 24, 24) and a["sigma"].shape == (8,)
    assert a["sigma"].dtype == torch.float32
    assert ((a["sigma"] >= 0.05) & (a["sigma"] <= 0.2)).all()
    # each image's own level: the residual's std matches it (24*24 samples: ~3% standard error)
    std = (a["y"] - a["x"]).flatten(1).std(1)
    assert torch.allclose(std, a["sigma"], rtol=0.12)
    # a new batch: new levels and new noise
    assert not torch.equal(a["sigma"], b["sigma"])
    assert len(set(a["sigma"].tolist()) | set(b["sigma"].tolist())) == 16


def test_degraded_same_seed_same_batches_other_seed_other_noise():
    ds = Degraded(_images(16, 32), NoiseStandIn(), crop=16)
    s1, s2, s3 = BatchStream(ds, 4, seed=7), BatchStream(ds, 4, seed=7), BatchStream(ds, 4, seed=8)
    for _ in range(6):  # 16 / 4 = 4 batches per epoch: crosses an epoch
        a, b, c = s1.next(), s2.next(), s3.next()
        for k in ("x", "y", "sigma"):
            assert torch.equal(a[k], b[k]), k
        assert not torch.equal(a["y"] - a["x"], c["y"] - c["x"])


def test_degraded_resume_midway_continues_exactly():
    ds = Degraded(_images(12, 24), NoiseStandIn(), crop=16)
    full = BatchStream(ds, 4, seed=3)
    ref = [full.next() for _ in range(8)]  # 3 batches per epoch
    part = BatchStream(ds, 4, seed=3)
    for _ in range(4):
        part.next()
    state = part.state_dict()
    torch.manual_seed(99)  # the global RNG plays no part
    resumed = BatchStream(ds, 4, seed=3)
    resumed.load_state_dict(state)
    for want in ref[4:]:
        got = resumed.next()
        for k in ("x", "y", "sigma"):
            assert torch.equal(want[k], got[k]), k


def test_degraded_crops_and_flips_are_random_windows_of_the_clean_images():
    clean = _images(6, 12)
    ds = Degraded(clean, ScaleStandIn(0.5), crop=(5, 7))
    seen_flips, seen_pos = set(), set()
    for k in range(12):
        b = ds.batch(torch.arange(6), rng=k)
        assert torch.equal(b["y"], 0.5 * b["x"]) and torch.equal(b["sigma"], torch.zeros(6))
        for i in range(6):
            hits = _where(clean[i], b["x"][i])
            assert len(hits) == 1
            seen_pos.add(hits[0][:2])
            seen_flips.add(hits[0][2:])
    assert seen_flips == set(itertools.product((False, True), repeat=2))
    assert len(seen_pos) > 20
    # augment=False: centre crop, no flips, whatever the generator
    b = ds.batch([2], rng=5, augment=False)
    assert torch.equal(b["x"][0], clean[2][:, 3:8, 2:9])


def test_degraded_physics_factory_called_per_batch_with_the_batch_generator():
    calls = []

    def factory(g):
        gain = 0.5 + float(torch.rand((), generator=g))
        calls.append(gain)
        return ScaleStandIn(gain)

    ds = Degraded(_images(8, 16), factory, crop=8)
    stream = BatchStream(ds, 4, seed=0)
    a, b = stream.next(), stream.next()
    assert len(calls) == 2 and calls[0] != calls[1]
    assert torch.allclose(a["y"], calls[0] * a["x"]) and torch.allclose(b["y"], calls[1] * b["x"])
    again = BatchStream(ds, 4, seed=0).next()
    assert calls[2] == calls[0] and torch.equal(again["y"], a["y"])


def test_degraded_sources_tensor_dataset_list_and_folder(tmp_path):
    from aip.io import write_image

    imgs = [np.random.default_rng(i).random((10 + i, 12, 3)).astype(np.float32) for i in range(3)]
    for i, im in enumerate(imgs):
        write_image(tmp_path / f"im{i}.png", (im * 255).round() / 255)
    from_list = Degraded(imgs, ScaleStandIn(1.0), crop=8)
    from_folder = Degraded(tmp_path, ScaleStandIn(1.0), crop=8)
    a, b = from_list.batch([0, 1, 2], rng=0), from_folder.batch([0, 1, 2], rng=0)
    assert a["x"].shape == (3, 3, 8, 8)
    assert float((a["x"] - b["x"]).abs().max()) <= 0.5 / 255 + 1e-6  # 8-bit rounding
    ds = ImageDataset(_images(4, 10), torch.zeros(4, dtype=torch.int64))
    assert torch.equal(Degraded(ds, ScaleStandIn(1.0), flips=False).batch([1, 3])["x"], ds.images[[1, 3]])
    assert Degraded(ds, ScaleStandIn(1.0))[2]["x"].shape == (1, 10, 10)


@pytest.mark.parametrize("kwargs,err,match", [
    ({"physics": 3}, TypeError, "physics"),
    ({"crop": 40}, ValueError, "crop"),
    ({"crop": 0}, ValueError, "crop"),
    ({"flips": "yes"}, TypeError, "flips"),
])
def test_degraded_errors(kwargs, err, match):
    args = {"clean_source": _images(4, 16), "physics": NoiseStandIn(), **kwargs}
    with pytest.raises(err, match=match):
        Degraded(**args)


def test_degraded_other_errors():
    with pytest.raises(ValueError, match="crop: expected a crop size"):
        Degraded([torch.rand(1, 8, 8), torch.rand(1, 9, 9)], NoiseStandIn())
    with pytest.raises(ValueError, match="same number of channels"):
        Degraded([torch.rand(1, 8, 8), torch.rand(3, 8, 8)], NoiseStandIn(), crop=4)
    with pytest.raises(TypeError, match="clean_source"):
        Degraded(42, NoiseStandIn())
    with pytest.raises(TypeError, match="callable to return a Physics"):
        Degraded(_images(2, 8), lambda g: 3.0).batch([0])
    with pytest.raises(IndexError, match="indices"):
        Degraded(_images(2, 8), NoiseStandIn()).batch([2])
    with pytest.raises(TypeError, match="dataset"):
        BatchStream([1, 2, 3], 1)


# -- Paired ---------------------------------------------------------------------------------------------------

def test_paired_crops_and_flips_stay_aligned():
    targets = _images(6, 16, channels=3)
    inputs = 1.0 - targets  # any pixelwise map: aligned crops keep y == 1 - x
    ds = Paired(inputs, targets, crop=8)
    flips = set()
    for k in range(10):
        b = ds.batch(torch.arange(6), rng=k)
        assert b["x"].shape == b["y"].shape == (6, 3, 8, 8)
        assert torch.equal(b["y"], 1.0 - b["x"])
        for i in range(6):
            (hit,) = _where(targets[i], b["x"][i])
            flips.add(hit[2:])
    assert len(flips) == 4


def test_paired_super_resolution_scale_keeps_pairs_aligned():
    hr = _images(5, 24)
    lr = F.avg_pool2d(hr, 3)  # block averages commute with crops on the 3-pixel grid and with flips
    ds = Paired(lr, hr, crop=12, scale=3)
    for k in range(8):
        b = ds.batch(torch.arange(5), rng=k)
        assert b["x"].shape == (5, 1, 12, 12) and b["y"].shape == (5, 1, 4, 4)
        assert torch.allclose(F.avg_pool2d(b["x"], 3), b["y"], atol=1e-6)
    with pytest.raises(ValueError, match="multiple of scale 3"):
        Paired(lr, hr, crop=10, scale=3)
    with pytest.raises(ValueError, match=r"targets\[0\]: expected size \(16, 16\)"):
        Paired(lr, hr, crop=12, scale=2)


def test_paired_folders_match_by_name(tmp_path):
    from aip.io import write_image

    (tmp_path / "in").mkdir()
    (tmp_path / "gt").mkdir()
    for name in ("b.png", "a.png"):
        img = np.random.default_rng(len(name) + ord(name[0])).random((12, 12)).astype(np.float32)
        write_image(tmp_path / "gt" / name, img)
        write_image(tmp_path / "in" / name, 1.0 - img)
    ds = Paired(tmp_path / "in", tmp_path / "gt", crop=6)
    b = ds.batch([0, 1], rng=0)
    assert torch.allclose(b["y"], 1.0 - b["x"], atol=1.5 / 255)
    assert [p.name for p in ds.targets.files] == ["a.png", "b.png"]
    write_image(tmp_path / "in" / "c.png", np.zeros((12, 12), np.float32))
    write_image(tmp_path / "gt" / "d.png", np.zeros((12, 12), np.float32))
    with pytest.raises(ValueError, match="same file names"):
        Paired(tmp_path / "in", tmp_path / "gt")
    with pytest.raises(ValueError, match="as many inputs as targets"):
        Paired(_images(3, 8), _images(4, 8))


# -- Unpaired -------------------------------------------------------------------------------------------------

def test_unpaired_runs_over_a_and_draws_b_independently():
    a = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 1, 8, 8).contiguous()
    b = 100 + torch.arange(5, dtype=torch.float32).view(5, 1, 1, 1).expand(5, 1, 8, 8).contiguous()
    ds = Unpaired(a, b, crop=4)
    stream = BatchStream(ds, 3, seed=2)
    seen_a, seen_b = [], []
    for _ in range(20):  # 2 batches per epoch
        batch = stream.next()
        assert batch["y"].shape == batch["x"].shape == (3, 1, 4, 4)
        seen_a += batch["y"][:, 0, 0, 0].int().tolist()
        seen_b += batch["x"][:, 0, 0, 0].int().tolist()
    # every epoch covers a exactly once; b is drawn with replacement, all of it over 60 draws
    for e in range(10):
        assert sorted(seen_a[6 * e:6 * e + 6]) == list(range(6))
    assert set(seen_b) == set(range(100, 105))
    assert any(len(set(seen_b[3 * k:3 * k + 3])) < 3 for k in range(20))  # repeats happen
    assert len(ds) == 6


def test_batch_generator_streams_differ_and_repeat():
    u = [float(torch.rand((), generator=batch_generator(0, 0, 0, k))) for k in range(4)]
    assert len(set(u)) == 4
    assert float(torch.rand((), generator=batch_generator(0, 0, 0, 2))) == u[2]


# -- with aip.degrade's physics -------------------------------------------------------------------------------

def test_degraded_with_physics_gaussian_range():
    from aip.degrade import GaussianNoise, Physics

    ds = Degraded(_images(16, 32), Physics(noise=GaussianNoise((0.02, 0.3))), crop=32, flips=False)
    s = BatchStream(ds, 16, seed=4)
    a, b = s.next(), s.next()
    assert ((a["sigma"] >= 0.02) & (a["sigma"] <= 0.3)).all() and a["sigma"].std() > 0.03
    assert torch.allclose((a["y"] - a["x"]).flatten(1).std(1), a["sigma"], rtol=0.1)
    assert not torch.equal(a["sigma"], b["sigma"])
    c = BatchStream(ds, 16, seed=4).next()
    assert torch.equal(a["y"], c["y"]) and torch.equal(a["sigma"], c["sigma"])


@pytest.mark.parametrize("kind", ["gaussian", "motion"])
def test_degraded_random_blur_new_kernel_per_batch(kind):
    from aip.data import RandomBlur
    from aip.degrade import Blur, GaussianNoise

    ds = Degraded(_images(8, 24), RandomBlur(kind, size=9, width=(0.6, 2.5), noise=GaussianNoise(0.01)), crop=16)
    s = BatchStream(ds, 4, seed=0)
    a, b = s.next(), s.next()
    ka, kb = a["physics"].operator.psf, b["physics"].operator.psf
    assert ka.shape == kb.shape == (9, 9) and not np.allclose(ka, kb)
    assert abs(ka.sum() - 1) < 1e-9
    # y = blur(x) + 0.01 n: the residual against the batch's own blur is the noise alone
    ax = Blur(ka, mode="reflect").A(a["x"])
    assert torch.allclose((a["y"] - ax).flatten(1).std(1), torch.full((4,), 0.01), rtol=0.15)
    assert torch.equal(a["sigma"], torch.full((4,), 0.01))
    again = BatchStream(ds, 4, seed=0).next()
    assert np.array_equal(again["physics"].operator.psf, ka) and torch.equal(again["y"], a["y"])


def test_random_blur_gaussian_width_within_range():
    from aip.data import RandomBlur
    from aip.degrade import gaussian

    rb = RandomBlur("gaussian", size=15, width=(1.0, 2.0))
    k = rb.kernel(torch.Generator().manual_seed(0))
    # the width is the generator's first uniform draw mapped onto the range
    w = 1.0 + float(torch.rand((), generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    assert np.array_equal(k, gaussian(w, 15))
    widths = {round(float(np.sqrt((rb.kernel(torch.Generator().manual_seed(s)).sum(0)
                                   * (np.arange(15) - 7) ** 2).sum())), 6) for s in range(20)}
    assert len(widths) == 20 and 0.99 < min(widths) and max(widths) < 2.0  # truncation lowers the moment
    with pytest.raises(ValueError, match="width"):
        RandomBlur(width=(2.0, 1.0))
    with pytest.raises(ValueError, match="kind"):
        RandomBlur("disk")


def test_folder_images_held_as_uint8_give_the_same_crops(tmp_path):
    from aip.io import read_image, write_image

    rng = np.random.default_rng(3)
    for i in range(3):
        write_image(tmp_path / f"p{i}.png", rng.integers(0, 256, (20, 24, 3)).astype(np.uint8))
    ds = Degraded(tmp_path, ScaleStandIn(1.0), crop=8)
    assert all(t.dtype == torch.uint8 for t in ds.clean.items)  # a quarter of float32's memory
    ref = Degraded([read_image(p) for p in sorted(tmp_path.glob("*.png"))], ScaleStandIn(1.0), crop=8)
    assert all(t.dtype == torch.float32 for t in ref.clean.items)
    a, b = ds.batch([0, 1, 2], rng=4), ref.batch([0, 1, 2], rng=4)
    assert a["x"].dtype == torch.float32 and torch.equal(a["x"], b["x"])
    # files with finer values (float NPY here; 16-bit PNG/TIFF alike) keep them
    (tmp_path / "deep").mkdir()
    np.save(tmp_path / "deep" / "d.npy", rng.random((20, 24)).astype(np.float32))
    deep = Degraded(tmp_path / "deep", ScaleStandIn(1.0), crop=8, flips=False)
    assert deep.clean.items[0].dtype == torch.float32
    want = torch.from_numpy(read_image(tmp_path / "deep" / "d.npy")[6:14, 8:16])
    assert torch.equal(deep.batch([0], augment=False)["x"][0, 0], want)
