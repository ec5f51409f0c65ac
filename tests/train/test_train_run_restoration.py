"""train_run / load_run for the restoration kind: a folder of photos degraded on the fly, evaluated, resumed."""

import json

import numpy as np
import pytest
import torch
from tiny_models import TinyRestorer, smooth_images

from aip.data import Degraded
from aip.train import TrainConfig, load_run, train_run
from aip.train.run import restoration_data


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    from aip.io import write_image

    root = tmp_path_factory.mktemp("photos")
    for split, n, seed in (("train", 24, 0), ("test", 6, 1)):
        (root / split).mkdir()
        for i, img in enumerate(smooth_images(n, 16, seed)):
            write_image(root / split / f"img{i:02d}.png", img[0].numpy())
    return root


def _cfg(folder, **kw):
    base = {"data": str(folder), "noise": "gaussian:10-40", "crop": 12, "steps": 30, "batch_size": 8, "lr": 1e-2,
            "ema_decay": 0.9, "seed": 0, "log_every": 10, "eval_every": 10, "eval_images": 4}
    base.update(kw)
    return TrainConfig(**base)


def test_restoration_data_from_a_folder_and_a_builtin(photo_folder):
    cfg = _cfg(photo_folder)
    train, test = restoration_data(cfg, "train"), restoration_data(cfg, "test")
    assert isinstance(train, Degraded) and len(train) == 24 and len(test) == 4
    b = train.stream(8, seed=0).next()
    assert b["y"].shape == (8, 1, 12, 12)
    assert ((b["sigma"] >= 10 / 255) & (b["sigma"] <= 40 / 255)).all()  # the CLI's 0-255 scale
    flat = _cfg(photo_folder / "train")
    assert restoration_data(flat, "test") is None and len(restoration_data(flat, "train")) == 24
    blur = restoration_data(TrainConfig(data="digits8", steps=1, blur="gaussian:0.5-1.5:5", crop=6), "train")
    k = blur.batch([0], rng=0)["physics"].operator.psf
    assert k.shape == (5, 5)
    # no degradation: clean crops (y = x), for models that make their own observations (inpainting holes)
    plain = restoration_data(TrainConfig(data="digits8", steps=1, crop=6), "train").batch([0, 1], rng=0)
    assert torch.equal(plain["y"], plain["x"]) and torch.equal(plain["sigma"], torch.zeros(2))
    with pytest.raises(ValueError, match="data: expected a built-in dataset"):
        restoration_data(_cfg(photo_folder / "missing"), "train")


def test_train_run_trains_evaluates_and_loads_a_restorer(photo_folder, tmp_path):
    tr = train_run("tiny_test_restorer", tmp_path / "run", config=_cfg(photo_folder), progress=False)
    ev = tr.evaluations
    assert [e["step"] for e in ev] == [10, 20, 30]
    assert ev[-1]["psnr"] > ev[-1]["psnr_input"] + 1.5 and ev[-1]["psnr"] > ev[0]["psnr"]
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["data"]["kind"] == "Degraded" and meta["data"]["n_train"] == 24
    assert meta["model"]["model"] == "tiny_test_restorer" and meta["model"]["channels"] == 1
    model, meta = load_run(tmp_path / "run")
    assert isinstance(model, TinyRestorer) and meta["step"] == 30
    x = smooth_images(2, 16, 7)
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.restore(y, sigma=torch.full((2,), 0.1))
    assert float((out - x).square().mean()) < 0.8 * float((y - x).square().mean())


def test_train_run_resume_equals_uninterrupted(photo_folder, tmp_path):
    full = train_run("tiny_test_restorer", tmp_path / "a", config=_cfg(photo_folder, steps=8), progress=False)
    train_run("tiny_test_restorer", tmp_path / "b", config=_cfg(photo_folder, steps=4), progress=False)
    torch.manual_seed(77)
    resumed = train_run(None, tmp_path / "b", resume=True, overrides={"steps": 8}, progress=False)
    assert resumed.step == 8
    wa, wb = full.model_state(), resumed.model_state()
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert np.isclose(full.evaluations[-1]["psnr"], resumed.evaluations[-1]["psnr"], rtol=0, atol=0)


def test_aip_train_cli_trains_a_restorer_with_noise_and_crop_flags(photo_folder, tmp_path, capsys):
    from aip.cli.main import main

    out = tmp_path / "cli"
    code = main(["train", "tiny_test_restorer", "--data", str(photo_folder), "--out", str(out), "--steps", "20",
                 "--batch-size", "8", "--lr", "1e-2", "--noise", "gaussian:10-40", "--crop", "12",
                 "--eval-every", "10", "--eval-images", "4", "--quiet", "--json"])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["model"] == "tiny_test_restorer" and res["step"] == 20 and np.isfinite(res["loss"])
    cfg = json.loads((out / "config.json").read_text())["train"]
    assert (cfg["noise"], cfg["crop"], cfg["eval_every"], cfg["eval_images"]) == ("gaussian:10-40", 12, 10, 4)
    evals = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines() if "eval/psnr" in s]
    assert [e["step"] for e in evals] == [10, 20] and evals[-1]["eval/n"] == 4
    assert evals[-1]["eval/psnr"] > evals[-1]["eval/psnr_input"]
    # a bad spec is a one-line error before anything is written
    bad = tmp_path / "bad"
    assert main(["train", "tiny_test_restorer", "--data", str(photo_folder), "--out", str(bad), "--steps", "2",
                 "--noise", "gaussian:x-y", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("aip: error: noise:") and not bad.exists()


def test_evaluate_restoration_run_matches_the_logged_evaluation(photo_folder, tmp_path):
    from aip.train.run import evaluate_restoration_run

    tr = train_run("tiny_test_restorer", tmp_path / "r", config=_cfg(photo_folder, steps=6, eval_every=3),
                   progress=False)
    res = evaluate_restoration_run(tmp_path / "r")
    assert res["step"] == 6 and res["n"] == 4
    assert res["psnr"] == pytest.approx(tr.evaluations[-1]["psnr"], abs=1e-6)
    assert res["ssim"] == pytest.approx(tr.evaluations[-1]["ssim"], abs=1e-6)
    with pytest.raises(TypeError, match="sample: expected a generative model"):
        tr.sample(2)
    from tiny_models import TinyAE, TinyConfig  # noqa: F401  (a generative run is refused)

    train_run("tiny_test_ae", tmp_path / "g", config=TrainConfig(data="digits8", steps=2, batch_size=16),
              progress=False)
    with pytest.raises(TypeError, match="expected a restoration run"):
        evaluate_restoration_run(tmp_path / "g")


def test_super_resolution_data_follow_the_model_scale(photo_folder, tmp_path):
    import torch.nn.functional as F

    from aip.data import RandomBlur, make_degradation
    from aip.degrade import Downsample

    # bicubic decimation by the model's scale, crops a multiple of it, whole held-out images cut to one
    cfg = _cfg(photo_folder, noise="", crop=12)
    train = restoration_data(cfg, "train", scale=3)
    b = train.batch([0, 1], rng=0)
    assert b["x"].shape == (2, 1, 12, 12) and b["y"].shape == (2, 1, 4, 4)
    assert torch.allclose(b["y"], Downsample(3, "bicubic", mode="reflect").A(b["x"]))
    held = restoration_data(_cfg(photo_folder, noise="", crop=0), "test", scale=3)
    hb = held.batch([0], augment=False)
    assert hb["x"].shape == (1, 1, 15, 15) and hb["y"].shape == (1, 1, 5, 5)
    with pytest.raises(ValueError, match="crop: expected a multiple of the model's scale 3"):
        restoration_data(_cfg(photo_folder, crop=10), "train", scale=3)
    # random blur then decimation: y = (k * x)[::s, ::s] with the batch's kernel
    rb = make_degradation("gaussian:1", "gaussian:0.5-1.5:7", scale=2)
    assert isinstance(rb, RandomBlur) and rb.scale == 2
    phys = rb(torch.Generator().manual_seed(0))
    x = torch.rand(1, 1, 8, 8)
    assert phys.A(x).shape == (1, 1, 4, 4)
    assert torch.allclose(make_degradation(None, "box:2", scale=2).A(x), F.avg_pool2d(x, 2), atol=1e-6)
    assert make_degradation(None, None, scale=2).noise is None  # plain bicubic SR needs no other degradation


def test_export_restorer_writes_an_asset_learned_loads(photo_folder, tmp_path, monkeypatch):
    from aip.io import assets
    from aip.models import learned
    from aip.train.shipped import export_restorer

    run = tmp_path / "run"
    train_run("ffdnet", run, config=_cfg(photo_folder, steps=4, eval_every=2), progress=False,
              model_options={"depth": 3, "features": 8, "batch_norm": False})
    root = tmp_path / "w"
    out = export_restorer(run, "restore_ffdnet_gray", root=root)
    assert out == root / "restore_ffdnet_gray.safetensors"
    meta = assets.load_asset_meta("restore_ffdnet_gray", root=root)
    assert meta["model"]["model"] == "ffdnet" and meta["step"] == 4 and meta["evaluation"]["step"] == 4
    assert meta["evaluation"]["eval/psnr"] > 0 and meta["command"].startswith("python benchmarks/training_photos.py")
    monkeypatch.setattr(assets, "weights_dir", lambda: root)
    learned._CACHE.clear()
    net = learned.load_restorer("restore_ffdnet_gray")
    model, _ = load_run(run)
    x = smooth_images(1, 16, 3)
    with torch.no_grad():  # float16 parameters: equal to the run's EMA model to half precision
        assert torch.allclose(net.restore(x, sigma=0.1), model.restore(x, sigma=0.1), atol=2e-3)
    learned._CACHE.clear()
    with pytest.raises(ValueError, match="restore_"):
        export_restorer(run, "ffdnet_gray", root=root)
    with pytest.raises(FileExistsError):
        export_restorer(run, "restore_ffdnet_gray", root=root)


@pytest.mark.parametrize("asset", ["restore_ffdnet_gray", "restore_espcn_x2_gray", "restore_espcn_x4_gray",
                                   "restore_srresnet_x4_gray"])
def test_restorer_rebuild_command_reproduces_the_shipped_configs(asset):
    """The ``aip train`` half of a shipped restorer's ASSET_COMMANDS entry gives its recorded configs."""
    import shlex
    from pathlib import Path

    from aip.cli.generate import train_config_from_args
    from aip.cli.main import build_parser
    from aip.io.assets import ASSET_COMMANDS, MissingAssetError, load_asset_meta
    from aip.train.models import get_model_class, make_config

    try:
        meta = load_asset_meta(asset)
    except MissingAssetError:
        pytest.skip(f"{asset} is not shipped")
    prep, train_cmd, export_cmd = ASSET_COMMANDS[asset].split(" && ")
    assert prep == "python benchmarks/training_photos.py"
    words = shlex.split(train_cmd)
    args = build_parser().parse_args(words[2:])
    assert export_cmd == f"python -m aip.train.shipped {args.out} {asset}"
    cfg, options = train_config_from_args(args)
    train = cfg.to_dict()
    recorded = dict(meta["train"])
    assert Path(train.pop("data")).expanduser().name == Path(recorded.pop("data")).name
    assert {k: train[k] for k in recorded} == recorded
    cls = get_model_class(args.model)
    cfg = json.loads(json.dumps({"model": args.model, **make_config(cls.config_class, options).__dict__}))
    assert cfg == meta["model"]


def test_an_inpainter_is_scored_on_central_holes(photo_folder, tmp_path):
    """A model that cuts its own holes (the context encoder) is evaluated and sampled on held-out images
    with a central hole (its evaluation_batch), not on the unmasked observation."""
    tr = train_run("context_encoder", tmp_path / "ce", config=_cfg(photo_folder, noise="", steps=2, eval_every=2,
                                                                     sample_every=2),
                   model_options={"features": 8, "depth": 1, "dilated": 1}, progress=False)
    ev = tr.evaluations[-1]
    assert ev["n"] == 4 and ev["psnr_input"] < 25  # the hole is zeroed in the scored observation
    assert np.isfinite(ev["psnr"]) and list((tmp_path / "ce" / "samples").glob("step_*.png"))
