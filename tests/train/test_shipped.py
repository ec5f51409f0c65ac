"""The generative models shipped in the package: they load offline, sample in [0, 1] with the right shape, and
the shipped LeNet recognises the digits of the conditional ones."""

from __future__ import annotations

import pytest
import torch

from aip.models.lenet import load_lenet
from aip.train.shipped import (
    load_shipped,
    sample_shipped,
    sample_shipped_grids,
    shipped_meta,
    shipped_models,
)

SHIPPED = shipped_models()

# Accuracy of the shipped LeNet on 30 samples (3 per class, seed 0, the shipped sampling defaults: DDPM DDIM 25
# steps guidance 2, cVAE temperature 0.7, cGAN plain), measured at export, and the asserted minimum. Sampling is seeded, so
# the margin only covers float differences across platforms and thread counts.
# name -> (measured accuracy, asserted minimum)
ACCURACY = {
    "ddpm": (30 / 30, 0.85),
    "cvae": (28 / 30, 0.80),
    "cgan": (30 / 30, 0.85),
}


def test_something_is_shipped():
    assert {"ddpm", "cvae"} <= set(SHIPPED)


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="expected one of .*ddpm"):
        load_shipped("no-such-model")


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_offline_and_samples_in_range(name):
    model = load_shipped(name)
    meta = shipped_meta(name)
    assert not model.training
    assert meta["dataset"] == "digits" and meta["step"] > 0
    assert model.config.num_classes == 10
    kw = {"steps": 5} if meta["model"]["model"] == "ddpm" else {}
    torch.manual_seed(0)
    x = model.sample(4, y=torch.tensor([0, 3, 7, 9]), generator=torch.Generator().manual_seed(0), **kw)
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("name", [n for n in SHIPPED if n in ACCURACY])
def test_lenet_recognises_conditional_samples(name):
    measured, minimum = ACCURACY[name]
    x = sample_shipped(name, per_class=3, seed=0)
    y = torch.arange(10).repeat_interleave(3)
    acc = float((load_lenet("digits").predict(x) == y).float().mean())
    assert acc >= minimum, f"{name}: accuracy {acc:.3f} < {minimum} (measured {measured} at export)"


def test_grids_written(tmp_path):
    lines = sample_shipped_grids(tmp_path)
    assert len(lines) == len(SHIPPED)
    for name, line in zip(SHIPPED, lines):
        path = tmp_path / f"{name}_samples.png"
        assert path.is_file() and line.startswith(f"{name}:") and str(path) in line
    from aip.io import read_image

    img = read_image(tmp_path / f"{SHIPPED[0]}_samples.png")
    assert img.shape == (10 * 30 + 2, 8 * 30 + 2)  # 10 rows of 8 digits, 2-pixel padding


def test_shipped_files_are_small_and_record_their_evaluation():
    from aip.io.assets import weights_dir

    total = sum(p.stat().st_size for p in weights_dir().glob("gen_*"))
    assert total < 4 * 2**20  # a few MB in the package
    for name in SHIPPED:
        meta = shipped_meta(name)
        assert meta["wall_seconds"] > 0 and meta["train"]["data"] == "digits"
        res = meta["evaluation"]["results"]
        assert res and all({"fid", "fid_floor", "class_accuracy"} <= set(r) for r in res)
