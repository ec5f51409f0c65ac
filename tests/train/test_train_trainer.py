import json

import pytest
import torch
from tiny_models import TinyAE, TinyConfig, TinyGAN, TinyGANConfig, tiny_dataset

from aip.train import TrainConfig, Trainer, latest_checkpoint, seed_everything


def _cfg(**kw):
    base = {"steps": 8, "batch_size": 16, "lr": 1e-2, "ema_decay": 0.9, "grad_clip": 1.0, "seed": 3,
            "log_every": 2, "sample_every": 0, "checkpoint_every": 0, "num_samples": 8}
    base.update(kw)
    return TrainConfig(**base)


def _make(model_cls, cfg_cls, run_dir, cfg, **model_kw):
    seed_everything(cfg.seed)
    model = model_cls(cfg_cls(**model_kw))
    return Trainer(model, tiny_dataset(), cfg, run_dir, progress=False)


def _weights(tr):
    return {**{k: v.clone() for k, v in tr.module.state_dict().items()},
            **{f"ema.{k}": v.clone() for k, v in tr.ema.state_dict().items()}}


@pytest.mark.parametrize("model_cls,cfg_cls,kw", [(TinyAE, TinyConfig, {"num_classes": 4}),
                                                   (TinyGAN, TinyGANConfig, {})])
def test_resume_is_exact(tmp_path, model_cls, cfg_cls, kw):
    n = 10  # 96 samples / batch 16 = 6 batches per epoch: the resume point (5) and the end cross an epoch
    full = _make(model_cls, cfg_cls, tmp_path / "a", _cfg(steps=n), **kw)
    full.train()
    half = _make(model_cls, cfg_cls, tmp_path / "b", _cfg(steps=n), **kw)
    half.train(until=n // 2)
    assert latest_checkpoint(tmp_path / "b" / "checkpoints").name == f"step_{n // 2:08d}"
    torch.manual_seed(12345)  # disturb every RNG: the checkpoint must restore them
    resumed = _make(model_cls, cfg_cls, tmp_path / "b", _cfg(steps=n), **kw)
    resumed.load()
    assert resumed.step == n // 2
    resumed.train()
    wa, wb = _weights(full), _weights(resumed)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    for ph in full.optimizers:
        sa, sb = full.optimizers[ph].state_dict()["state"], resumed.optimizers[ph].state_dict()["state"]
        for i in sa:
            assert torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"])
    # the weights moved and the losses were finite
    assert not torch.equal(wa[next(iter(wa))], _make(model_cls, cfg_cls, None, _cfg(), **kw).module.state_dict()[next(iter(wa))])


def test_loss_decreases_and_logs(tmp_path):
    tr = _make(TinyAE, TinyConfig, tmp_path, _cfg(steps=60, lr=3e-2, log_every=10, sample_every=30), noise=0.0)
    hist = tr.train()
    first = sum(h["loss"] for h in hist[:5]) / 5
    last = sum(h["loss"] for h in hist[-5:]) / 5
    assert last < 0.6 * first
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(s)["step"] for s in lines] == [10, 20, 30, 40, 50, 60]
    assert all(h["grad_norm"] >= 0 for h in hist)
    assert (tmp_path / "samples" / "step_00000030.png").is_file()
    assert (tmp_path / "samples" / "step_00000060.png").is_file()


def test_grad_clip_bounds_the_update():
    # with SGD-like check: clip_grad_norm_ returns the pre-clip norm; after clipping the norm is <= clip
    tr = _make(TinyAE, TinyConfig, None, _cfg(steps=1, grad_clip=1e-3))
    x, _ = tr.stream.next()
    tr.module.zero_grad()
    out = tr.net(x, None, phase="main")
    out["loss"].backward()
    torch.nn.utils.clip_grad_norm_(tr.params["main"], 1e-3)
    total = torch.sqrt(sum((p.grad ** 2).sum() for p in tr.params["main"]))
    assert total <= 1e-3 * (1 + 1e-5)


def test_epochs_set_the_length_and_warmup_cosine_schedule():
    tr = _make(TinyAE, TinyConfig, None, _cfg(steps=None, epochs=2, warmup=4, lr_schedule="cosine", lr=1.0))
    assert tr.total_steps == 2 * (96 // 16)
    import math
    for s in (0, 3, 7, 12):
        expected = min(1.0, (s + 1) / 4) * 0.5 * (1 + math.cos(math.pi * s / 12))
        assert abs(tr._lr_factor(s) - expected) < 1e-12


def test_bf16_autocast_trains():
    tr = _make(TinyAE, TinyConfig, None, _cfg(steps=3, bf16=True))
    hist = tr.train()
    assert len(hist) == 3 and all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)


def test_fixed_noise_samples_are_reproducible_and_leave_global_rng_alone():
    tr = _make(TinyAE, TinyConfig, None, _cfg())
    state = torch.get_rng_state()
    a = tr.sample(6)
    b = tr.sample(6)
    assert torch.equal(a, b)
    assert torch.equal(state, torch.get_rng_state())
    assert a.shape == (6, 1, 8, 8) and 0 <= a.min() and a.max() <= 1


@pytest.mark.parametrize("kw,match", [({"steps": -1}, "steps"), ({"steps": None}, "steps/epochs"),
                                      ({"steps": 3, "epochs": 2}, "only one"), ({"lr": 0}, "lr"),
                                      ({"ema_decay": 1.5}, "ema_decay"), ({"betas": (0.9, 1.2)}, "betas"),
                                      ({"batch_size": 0}, "batch_size")])
def test_bad_train_configs(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _cfg(**kw).validate()


def test_batch_larger_than_data_is_a_clear_error():
    seed_everything(0)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(TinyAE(TinyConfig()), tiny_dataset(), _cfg(batch_size=500), None, progress=False)


def test_train_config_json_round_trip(tmp_path):
    cfg = _cfg(betas=(0.5, 0.99), sample_kwargs={"steps": 5})
    cfg.save(tmp_path / "c.json")
    back = TrainConfig.load(tmp_path / "c.json")
    assert back == cfg
    with pytest.raises(ValueError, match="unknown key 'bogus'"):
        TrainConfig.from_dict({"bogus": 1})


def test_optimizer_option_precedence():
    # explicit TrainConfig > model.optimizer_options(phase) > defaults
    tr = _make(TinyGAN, TinyGANConfig, None, _cfg(lr=1e-2))
    for ph in ("d", "g"):
        g = tr.optimizers[ph].param_groups[0]
        assert g["lr"] == 1e-2 and g["betas"] == (0.5, 0.999) and g["weight_decay"] == 0.0
    tr = _make(TinyGAN, TinyGANConfig, None, _cfg(lr=None, betas=(0.1, 0.2), weight_decay=0.5))
    g = tr.optimizers["d"].param_groups[0]
    assert g["lr"] == 2e-4 and g["betas"] == (0.1, 0.2) and g["weight_decay"] == 0.5
    # the phases' parameter groups are disjoint and cover D and G
    ids = {ph: {id(p) for p in tr.params[ph]} for ph in ("d", "g")}
    assert not ids["d"] & ids["g"] and ids["d"] | ids["g"] == {id(p) for p in tr.module.parameters()}
