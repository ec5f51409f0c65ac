"""The trainer on the restoration kind: a tiny denoiser on Degraded data, its evaluator, resume, EMA, bf16."""

import json

import pytest
import torch
from tiny_models import TinyAE, TinyConfig, TinyRestorer, TinyRestorerConfig, smooth_images, tiny_dataset

from aip.data import Degraded, Paired
from aip.degrade import GaussianNoise, Physics
from aip.train import TrainConfig, Trainer, latest_checkpoint, seed_everything
from aip.train.evaluate import restoration_metrics


def _cfg(**kw):
    base = {"steps": 8, "batch_size": 8, "lr": 1e-2, "ema_decay": 0.9, "grad_clip": 1.0, "seed": 3,
            "log_every": 2, "sample_every": 0, "checkpoint_every": 0, "num_samples": 8}
    base.update(kw)
    return TrainConfig(**base)


def _train_data(seed=0):
    return Degraded(smooth_images(24, 16, seed), Physics(noise=GaussianNoise((0.05, 0.2))), crop=12)


def _test_data():
    return Degraded(smooth_images(8, 16, 100), Physics(noise=GaussianNoise(0.1)))


def _make(run_dir, cfg, **kw):
    seed_everything(cfg.seed)
    return Trainer(TinyRestorer(TinyRestorerConfig(**kw)), _train_data(), cfg, run_dir, eval_data=_test_data(),
                   progress=False)


def _weights(tr):
    return {**{k: v.clone() for k, v in tr.module.state_dict().items()},
            **{f"ema.{k}": v.clone() for k, v in tr.ema.state_dict().items()}}


def test_loss_falls_and_heldout_psnr_rises(tmp_path):
    tr = _make(tmp_path, _cfg(steps=60, log_every=10, eval_every=20, sample_every=60))
    before = tr.evaluate()
    # the untrained net returns its input: the held-out PSNR starts at the noisy input's (sigma 0.1: ~20 dB)
    assert before["psnr"] == pytest.approx(before["psnr_input"], abs=0.3)
    assert 19.0 < before["psnr_input"] < 21.5 and before["n"] == 8
    hist = tr.train()
    first = sum(h["loss"] for h in hist[:5]) / 5
    last = sum(h["loss"] for h in hist[-5:]) / 5
    assert last < 0.5 * first
    assert [e["step"] for e in tr.evaluations] == [0, 20, 40, 60]
    psnrs = [e["psnr"] for e in tr.evaluations]
    assert psnrs[-1] > before["psnr_input"] + 3.0  # 20.17 -> 24.97 dB after 60 steps
    assert tr.evaluations[-1]["ssim"] > before["ssim"] + 0.05
    evals = [json.loads(s) for s in (tmp_path / "log.jsonl").read_text().splitlines() if "eval/psnr" in s]
    assert [e["step"] for e in evals] == [0, 20, 40, 60]
    assert evals[-1]["eval/psnr"] == pytest.approx(psnrs[-1])
    assert (tmp_path / "samples" / "step_00000060.png").is_file()  # rows: noisy | restored | clean
    # the evaluator scores the EMA model on fixed observations: the same numbers when called again
    again = restoration_metrics(tr.sampling_model, _test_data(), seed=3)
    assert again["psnr"] == pytest.approx(psnrs[-1], abs=1e-9)


@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_resume_is_exact(tmp_path, loss):
    n = 10  # 24 images / batch 8 = 3 batches per epoch: the resume point (5) and the end cross epochs
    full = _make(tmp_path / "a", _cfg(steps=n), loss=loss)
    full.train()
    half = _make(tmp_path / "b", _cfg(steps=n), loss=loss)
    half.train(until=n // 2)
    assert latest_checkpoint(tmp_path / "b" / "checkpoints").name == f"step_{n // 2:08d}"
    torch.manual_seed(12345)  # disturb the global RNG: data draws come from the stream, the rest is restored
    resumed = _make(tmp_path / "b", _cfg(steps=n), loss=loss)
    resumed.load()
    assert resumed.step == n // 2
    resumed.train()
    wa, wb = _weights(full), _weights(resumed)
    assert wa.keys() == wb.keys() and any(k.startswith("ema.bn.running") for k in wa)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    sa, sb = full.optimizers["main"].state_dict()["state"], resumed.optimizers["main"].state_dict()["state"]
    for i in sa:
        assert torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"])
    assert [h["loss"] for h in full.history[n // 2:]] == [h["loss"] for h in resumed.history]
    assert full.evaluations[-1]["psnr"] == resumed.evaluations[-1]["psnr"]


def test_ema_lags_the_weights_and_is_what_is_evaluated():
    tr = _make(None, _cfg(steps=20, ema_decay=0.8, ema_warmup=False))
    tr.train()
    w, e = tr.module.conv2.weight, tr.ema.module.conv2.weight
    assert not torch.equal(w, e) and float(e.abs().sum()) > 0
    m = restoration_metrics(tr.ema.module, _test_data(), seed=3)
    assert tr.evaluations[-1]["psnr"] == pytest.approx(m["psnr"], abs=1e-9)


def test_bf16_autocast_trains_the_restoration_kind():
    tr = _make(None, _cfg(steps=30, bf16=True))
    hist = tr.train()
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
    assert sum(h["loss"] for h in hist[-5:]) < 0.6 * sum(h["loss"] for h in hist[:5])


def test_progress_bar_for_the_restoration_kind(capsys):
    seed_everything(0)
    tr = Trainer(TinyRestorer(TinyRestorerConfig()), _train_data(), _cfg(steps=10), None, progress=True)
    tr.train()
    err = capsys.readouterr().err
    assert "tiny_test_restorer" in err and "10/10" in err


def test_paired_data_trains_a_restorer():
    clean = smooth_images(24, 16, 5)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    seed_everything(0)
    held = Paired(noisy[:8], clean[:8])
    tr = Trainer(TinyRestorer(TinyRestorerConfig()), Paired(noisy[8:], clean[8:], crop=12), _cfg(steps=40),
                 None, eval_data=held, progress=False)
    before = tr.evaluate()["psnr"]
    tr.train()
    assert tr.evaluations[-1]["psnr"] > before + 2.0


def test_generative_model_on_batch_dicts():
    # a generative model reads batch["x"] (and "label") from a batch-dict dataset, e.g. random crops of photos
    seed_everything(0)
    ds = Degraded(smooth_images(32, 12, 0), Physics(), crop=8)
    tr = Trainer(TinyAE(TinyConfig(noise=0.0)), ds, _cfg(steps=40, batch_size=8, lr=3e-2), None, progress=False)
    hist = tr.train()
    assert sum(h["loss"] for h in hist[-5:]) < 0.7 * sum(h["loss"] for h in hist[:5])
    assert tr.evaluate() is None  # the generative kind keeps its own evaluator (aip evaluate)


def test_custom_evaluator_runs_at_eval_steps():
    seen = []
    seed_everything(0)
    tr = Trainer(TinyAE(TinyConfig()), tiny_dataset(), _cfg(steps=6, batch_size=16, eval_every=3), None,
                 evaluator=lambda m: seen.append(m) or {"score": float(len(seen))}, progress=False)
    tr.train()
    assert [e["step"] for e in tr.evaluations] == [3, 6] and tr.evaluations[-1]["score"] == 2.0
    assert all(m is tr.ema.module for m in seen)


def test_wrong_data_for_the_kind_is_a_clear_error():
    seed_everything(0)
    with pytest.raises(TypeError, match="dataset: expected a dataset of batch dicts"):
        Trainer(TinyRestorer(TinyRestorerConfig()), tiny_dataset(), _cfg(), None, progress=False)
    with pytest.raises(TypeError, match="eval_data"):
        Trainer(TinyRestorer(TinyRestorerConfig()), _train_data(), _cfg(), None, eval_data=tiny_dataset(),
                progress=False)
    with pytest.raises(TypeError, match="model: expected an aip.models.base.Trainable"):
        Trainer(torch.nn.Linear(2, 2), _train_data(), _cfg(), None, progress=False)
    with pytest.raises(TypeError, match="evaluator"):
        Trainer(TinyRestorer(TinyRestorerConfig()), _train_data(), _cfg(), None, evaluator=3, progress=False)
    with pytest.raises(ValueError, match="loss: expected 'l1' or 'l2'"):
        Trainer(TinyRestorer(TinyRestorerConfig(loss="ssim")), _train_data(), _cfg(steps=1), None,
                progress=False).train()
    with pytest.raises(ValueError, match="eval_every"):
        _cfg(eval_every=-1).validate()


def test_training_loss_of_both_kinds_from_a_batch_dict():
    # generative: training_loss({"x", "label"}) is forward(x, label) (same draws under the same seed)
    seed_everything(0)
    ae = TinyAE(TinyConfig(num_classes=4))
    x, y = tiny_dataset().batch(torch.arange(8))
    torch.manual_seed(5)
    a = ae(x, y, phase="main")["loss"]
    torch.manual_seed(5)
    b = ae.training_loss({"x": x, "label": y})["loss"]
    assert torch.equal(a, b) and ae.task == "generative"
    # restoration: the default loss is the MSE (or L1) of restore(y, sigma) against x
    net = TinyRestorer(TinyRestorerConfig())
    batch = _train_data().batch(torch.arange(4), rng=0)
    out = net.restore(batch["y"], sigma=batch["sigma"])
    assert torch.equal(out, batch["y"])  # zero-initialised last layer
    assert float(net(batch)["loss"].detach()) == pytest.approx(float((batch["y"] - batch["x"]).square().mean()), rel=1e-6)
    l1 = TinyRestorer(TinyRestorerConfig(loss="l1"))
    assert float(l1.training_loss(batch)["loss"].detach()) == pytest.approx(float((batch["y"] - batch["x"]).abs().mean()),
                                                                   rel=1e-6)
    with pytest.raises(ValueError, match="expected an output shaped like x"):
        net.training_loss({**batch, "x": batch["x"][:, :, :4]})


def test_restoration_metrics_are_per_image_psnr_ssim_on_fixed_draws_colour():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from aip.data import batch_generator

    clean = smooth_images(5, 16, 2, channels=3)
    data = Degraded(clean, Physics(noise=GaussianNoise(0.05)), flips=True)
    net = TinyRestorer(TinyRestorerConfig(channels=3))  # the identity until trained
    m = restoration_metrics(net, data, seed=1, batch_size=2)
    ps, ss = [], []
    for k, start in enumerate(range(0, 5, 2)):  # chunk k drawn from (seed, k), centre crops, no flips
        b = data.batch(torch.arange(start, min(start + 2, 5)), rng=batch_generator(1, k), augment=False)
        assert torch.equal(b["x"], clean[start:start + 2])
        for i in range(b["x"].shape[0]):
            ref = b["x"][i].permute(1, 2, 0).double().numpy()
            est = b["y"][i].clamp(0, 1).permute(1, 2, 0).double().numpy()
            ps.append(peak_signal_noise_ratio(ref, est, data_range=1.0))
            ss.append(structural_similarity(ref, est, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                            sigma=1.5, use_sample_covariance=False))
    assert m["n"] == 5
    assert m["psnr"] == pytest.approx(sum(ps) / 5, abs=1e-4) and m["psnr_input"] == pytest.approx(m["psnr"])
    assert m["ssim"] == pytest.approx(sum(ss) / 5, abs=1e-4)
    assert restoration_metrics(net, data, seed=1, batch_size=2) == m  # the same draws every time
    assert restoration_metrics(net, data, seed=2, batch_size=2)["psnr"] != m["psnr"]


def test_an_exact_restoration_counts_as_the_psnr_cap_not_infinity():
    from aip.train.evaluate import PSNR_CAP

    clean = smooth_images(4, 16, 3)
    data = Degraded(clean, Physics(noise=None))                  # y == x: the identity restores exactly
    m = restoration_metrics(TinyRestorer(TinyRestorerConfig()), data, seed=0)
    assert m["psnr"] == m["psnr_input"] == PSNR_CAP == 100.0
