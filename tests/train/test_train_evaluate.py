import json
import math

import numpy as np
import pytest
import torch
from tiny_models import TinyAE, TinyConfig

from aip.data import load_dataset
from aip.io import write_image
from aip.io.assets import asset_path
from aip.metrics import classifier_score, fid_from_features
from aip.models.lenet import LeNet, LeNetConfig, load_lenet, shipped_lenets
from aip.train.evaluate import evaluate_model, nll_metrics, sample_metrics


def test_lenet_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    net = LeNet(LeNetConfig(in_channels=3, num_classes=4))
    net.save(tmp_path / "n", extra={"note": "x"})
    back = LeNet.load(tmp_path / "n")
    x = torch.rand(5, 3, 20, 20)
    assert torch.equal(net.eval()(x), back(x)) and back.meta["note"] == "x"
    assert net.features(x).shape == (5, 128)
    with pytest.raises(ValueError, match="expected \\(B, 3, H, W\\)"):
        net(torch.rand(2, 1, 8, 8))


@pytest.mark.parametrize("name,floor", [("digits", 0.98), ("digits8", 0.95), ("faces", 0.9), ("patches", 0.6)])
def test_shipped_lenets_classify_their_test_split(name, floor):
    assert name in shipped_lenets()
    net = load_lenet(name)
    te = load_dataset(name, "test")
    te = te if len(te) <= 3000 else type(te)(te.images[:3000], te.labels[:3000])
    acc = (net.predict(te.images) == te.labels).float().mean().item()
    meta = json.loads(asset_path(f"lenet_{name}", ".json").read_text())
    assert acc >= floor and acc >= meta["test_accuracy"] - 0.02
    size = asset_path(f"lenet_{name}").stat().st_size
    assert size < 1_000_000  # small enough to ship


def test_sample_metrics_on_real_and_noise_images():
    net = load_lenet("digits8")
    te, tr = load_dataset("digits8", "test"), load_dataset("digits8", "train")
    n = 300
    real = sample_metrics(tr.images[:n], real_test=te.images[:n], real_train=tr.images[n:2 * n],
                          feature_fn=net.features, classifier=net, labels=tr.labels[:n])
    assert real["class_accuracy"] >= 0.98  # the classifier on its own training digits
    assert real["classifier_score"] > 7  # confident and nearly balanced over 10 classes
    assert real["fid"] < 3 * real["fid_floor"] + 1  # real train vs test: at the floor's scale
    noise = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    fake = sample_metrics(noise, real_test=te.images[:n], feature_fn=net.features, classifier=net)
    assert fake["fid"] > 10 * real["fid_floor"]
    with torch.no_grad():
        f1, f2 = net.features(noise).double().numpy(), net.features(te.images[:n]).double().numpy()
        probs = torch.softmax(net(noise).double(), 1).numpy()
    assert fake["fid"] == pytest.approx(fid_from_features(f1, f2), rel=1e-9)
    assert fake["classifier_score"] == pytest.approx(classifier_score(probs), rel=1e-6)


def test_nll_metrics_units():
    torch.manual_seed(0)
    model = TinyAE(TinyConfig(image_size=8)).eval()
    ds = load_dataset("digits8", "test")
    res = nll_metrics(model, ds, batch_size=100)
    with torch.no_grad():
        direct = model.nll(ds.images).double().mean().item()
    assert res["nll_nats"] == pytest.approx(direct, rel=1e-9)
    assert res["bits_per_dim"] == pytest.approx(direct / (64 * math.log(2)), rel=1e-9)


def test_evaluate_model_with_a_user_feature_network_on_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(30):
            write_image(tmp_path / c / f"{i}.png", rng.random((8, 8)).astype(np.float32))
    torch.manual_seed(0)
    model = TinyAE(TinyConfig(image_size=8))
    feat = lambda x: torch.nn.functional.avg_pool2d(x, 4).flatten(1)  # 4 features
    res = evaluate_model(model, tmp_path, n=40, feature_fn=feat)
    assert res["n"] == 6  # the held-out test split holds 10% of each class: 3 + 3 images
    assert np.isfinite(res["fid"]) and "class_accuracy" not in res and "nll_nats" in res
    with pytest.raises(ValueError, match="feature_fn"):
        evaluate_model(model, tmp_path, n=10)
