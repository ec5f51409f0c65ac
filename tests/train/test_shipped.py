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

# Accuracy of the shipped LeNet on 30 samples (3 per class, seed 0, the shipped sampling defaults: DDPM DDIM 50
# steps guidance 1.5, cVAE temperature 0.7, cGAN plain), measured at export, and the asserted minimum. Sampling is seeded, so
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


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_load_exactly(name):
    """The model holds the stored tensors, cast from float16 (parameters) or as stored (buffers)."""
    from aip.io.assets import load_asset

    model = load_shipped(name)
    stored, meta = load_asset(f"gen_{name}_digits")
    params = {k for k, _ in model.named_parameters()}
    own = model.state_dict()
    assert set(own) == set(stored) and meta["name"] == name
    for k, v in stored.items():
        assert v.dtype == (torch.float16 if k in params else own[k].dtype), k
        assert torch.equal(own[k], v.to(own[k].dtype)), k


@pytest.mark.parametrize("name", SHIPPED)
def test_rebuild_command_reproduces_the_shipped_configs(name):
    """The ``aip train`` half of ASSET_COMMANDS, parsed by the CLI as ``aip train`` does, gives the recorded
    TrainConfig and model config (the data fills channels, size and classes, as in ``train_run``)."""
    import dataclasses
    import json
    import shlex
    import types

    from aip.cli.generate import train_config_from_args
    from aip.cli.main import build_parser
    from aip.io.assets import ASSET_COMMANDS
    from aip.train.models import get_model_class, make_config
    from aip.train.run import data_defaults

    asset = f"gen_{name}_digits"
    train_cmd, export_cmd = ASSET_COMMANDS[asset].split(" && ")
    words = shlex.split(train_cmd)
    assert words[:3] == ["OMP_NUM_THREADS=1", "aip", "train"]
    args = build_parser().parse_args(words[2:])
    assert export_cmd == f"python -m aip.train.shipped {args.out} {name}"
    cfg, options = train_config_from_args(args)
    train = cfg.to_dict()
    meta = shipped_meta(name)
    assert {k: train[k] for k in meta["train"]} == meta["train"]
    cls = get_model_class(args.model)
    data = types.SimpleNamespace(shape=tuple(meta["data"]["shape"]), num_classes=meta["data"]["num_classes"])
    cfg = make_config(cls.config_class, {**data_defaults(cls.config_class, data, options), **options})
    rebuilt = json.loads(json.dumps({"model": args.model, **dataclasses.asdict(cfg)}))
    assert {k: rebuilt[k] for k in meta["model"]} == meta["model"]  # fields added since take their defaults
    defaults = dataclasses.asdict(cls.config_class())
    assert all(rebuilt[k] == json.loads(json.dumps(defaults[k])) for k in set(rebuilt) - set(meta["model"]))


def test_export_run_writes_an_asset_that_loads_back(tmp_path):
    from tiny_models import TinyAE  # noqa: F401  (registers tiny_test_ae by discovery)

    from aip.cli.main import main
    from aip.io.assets import list_assets, load_asset
    from aip.train.run import load_run
    from aip.train.shipped import export_run

    run = tmp_path / "run"
    assert main(["train", "tiny_test_ae", "--data", "digits8", "--out", str(run), "--steps", "3",
                 "--batch-size", "16", "--seed", "1", "--log-every", "1", "--quiet", "--hidden", "8"]) == 0
    out = export_run(run, "tiny", root=tmp_path / "w")
    assert out == tmp_path / "w" / "gen_tiny_digits8.safetensors" and list_assets(root=tmp_path / "w") == [
        "gen_tiny_digits8"]
    stored, meta = load_asset("gen_tiny_digits8", root=tmp_path / "w")
    model, run_meta = load_run(run)
    params = {k for k, _ in model.named_parameters()}
    for k, v in model.state_dict().items():
        assert torch.equal(stored[k], v.half() if k in params else v), k
    assert meta["name"] == "tiny" and meta["dataset"] == "digits8" and meta["step"] == 3
    assert meta["model"] == run_meta["model"] and meta["train"]["steps"] == 3 and meta["wall_seconds"] > 0
    assert meta["params"] == sum(p.numel() for p in model.parameters())
    with pytest.raises(FileExistsError, match="gen_tiny_digits8.safetensors"):
        export_run(run, "tiny", root=tmp_path / "w")
    from aip.train.shipped import main as export_main

    assert export_main([str(run), "tiny", "--root", str(tmp_path / "w"), "--force"]) == 0
    assert torch.equal(load_asset("gen_tiny_digits8", root=tmp_path / "w")[0]["dec.bias"], stored["dec.bias"])
