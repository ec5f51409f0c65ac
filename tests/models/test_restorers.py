"""Learned restorers: shapes, the denoiser contract, losses that fall on tiny data, exact tiling."""

import json

import pytest
import torch

from aip._shared.denoiser import Denoiser, as_denoiser
from aip.degrade import Blur, Downsample, GaussianNoise, gaussian
from aip.models.restorers import (
    ESPCN,
    SRCNN,
    VDSR,
    DnCNN,
    DnCNNConfig,
    FFDNet,
    FFDNetConfig,
    SRConfig,
    apply_tiled,
)


def _smooth(n, c, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = Blur(gaussian(2.0), "circular").A(torch.rand(n, c, size, size, generator=g))
    lo, hi = x.amin((-2, -1), keepdim=True), x.amax((-2, -1), keepdim=True)
    return (x - lo) / (hi - lo)


def _tiny(name):
    if name == "dncnn":
        return DnCNN(DnCNNConfig(depth=4, features=16))
    if name == "ffdnet":
        return FFDNet(FFDNetConfig(depth=4, features=16))
    cls = {"srcnn": SRCNN, "vdsr": VDSR, "espcn": ESPCN}[name]
    return cls(SRConfig(scale=2, depth=4, features=16))


def _batch(name, n=8, size=16, seed=0):
    x = _smooth(n, 1, size, seed)
    if name in ("dncnn", "ffdnet"):
        out = GaussianNoise((0.05, 0.2)).sample(x, rng=seed)
        return {"x": x, "y": out["y"], "sigma": out["sigma"]}
    return {"x": x, "y": Downsample(2, "bicubic", mode="circular").A(x)}


@pytest.mark.parametrize("name", ["dncnn", "ffdnet", "srcnn", "vdsr", "espcn"])
def test_loss_falls_on_tiny_data(name):
    torch.manual_seed(0)
    model = _tiny(name)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = _batch(name)
    first = float(model(batch)["loss"].detach())
    for _ in range(60):
        opt.zero_grad()
        loss = model(batch)["loss"]
        loss.backward()
        opt.step()
    model.eval()
    last = float(model(batch)["loss"])
    assert last < 0.6 * first, (first, last)
    out = model.restore(batch["y"], sigma=batch.get("sigma"))
    assert out.shape == batch["x"].shape


def test_denoisers_meet_the_contract_and_use_sigma():
    for model in (_tiny("dncnn"), _tiny("ffdnet")):
        model.eval()
        d = as_denoiser(model)
        assert isinstance(d, Denoiser)
        x = torch.rand(3, 1, 15, 17)  # odd sizes (FFDNet pads)
        out = d(x, torch.tensor([0.05, 0.1, 0.2]))
        assert out.shape == x.shape
    ff = _tiny("ffdnet").eval()
    x = torch.rand(2, 1, 8, 8)
    assert not torch.allclose(ff.restore(x, sigma=0.05), ff.restore(x, sigma=0.3))
    with pytest.raises(ValueError, match="sigma"):
        ff.restore(x)
    with pytest.raises(ValueError, match="channel"):
        ff.restore(torch.rand(1, 3, 8, 8), sigma=0.1)
    with pytest.raises(ValueError, match="scale"):
        VDSR(SRConfig(scale=5))


def test_vdsr_and_espcn_start_from_bicubic():
    y = torch.rand(1, 1, 8, 8)
    from aip.models.restorers import bicubic_up

    for cls in (VDSR, ESPCN):
        torch.testing.assert_close(cls(SRConfig(scale=3, depth=3, features=8)).restore(y), bicubic_up(y, 3))


def test_vdsr_signal_reaches_its_last_layer():
    """He initialisation keeps the features of a 20-layer plain ReLU stack alive; with torch's default
    scale they shrink by orders of magnitude and the residual branch never learns (a 3000-step run
    stayed at bicubic)."""
    torch.manual_seed(0)
    net = VDSR(SRConfig(scale=2, depth=20, features=32))
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        feats = net.body[:-1](x)
    assert feats.std() > 0.2 * x.std()


@pytest.mark.parametrize("name,scale", [("dncnn", 1), ("ffdnet", 1), ("espcn", 2)])
def test_tiling_equals_the_whole_image(name, scale):
    """With an overlap at least the receptive-field radius, tiles give exactly the whole-image result."""
    model = _tiny(name).eval()
    x = torch.rand(1, 1, 45, 38, generator=torch.Generator().manual_seed(1))
    kw = {"sigma": 0.1}
    with torch.no_grad():
        whole = model.restore(x, **kw)
        tiled = apply_tiled(lambda t: model.restore(t, **kw), x, tile=24, overlap=10, scale=scale)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="overlap"):
        apply_tiled(lambda t: t, x, tile=16, overlap=8)


def _train(model, batch, steps=60, lr=3e-3):
    opt = torch.optim.Adam([p for ph in model.phases() for p in model.phase_parameters(ph)], lr=lr)
    first = None
    for _ in range(steps):
        for ph in model.phases():
            opt.zero_grad()
            out = model(batch, ph)
            out["loss"].backward()
            opt.step()
        if first is None:
            first = out
    return first, out


def test_srgan_two_phases_and_srresnet_loss_falls():
    from aip.models.srgan import SRGAN, SRGANConfig, SRResNet, SRResNetConfig

    torch.manual_seed(0)
    batch = _batch("srcnn")
    net = SRResNet(SRResNetConfig(scale=2, n_blocks=2, features=16))
    first, last = _train(net, batch)
    assert float(last["loss"]) < 0.9 * float(first["loss"])  # it starts from bicubic (zero last layer)
    gan = SRGAN(SRGANConfig(scale=2, n_blocks=2, features=16, d_features=8))
    assert gan.phases() == ["d", "g"]
    d_params = set(map(id, gan.phase_parameters("d")))
    assert d_params.isdisjoint(map(id, gan.phase_parameters("g")))
    first, last = _train(gan, batch, steps=40)
    assert {"mse", "feature", "adv"} <= set(last) and float(last["mse"]) < float(first["mse"])
    assert gan.restore(batch["y"]).shape == batch["x"].shape


def test_multiscale_deblur_is_blind_and_learns():
    from aip.models.deblur import MultiScaleDeblur, MultiScaleDeblurConfig

    torch.manual_seed(0)
    x = _smooth(8, 1, 24)
    y = Blur(gaussian(1.5), "symmetric").A(x)
    model = MultiScaleDeblur(MultiScaleDeblurConfig(n_blocks=1, features=8, kernel=3))
    outs = model.pyramid(y)
    assert [o.shape[-1] for o in outs] == [6, 12, 24]
    _, last = _train(model, {"x": x, "y": y}, steps=80)
    assert float(last["mse"]) < 0.7 * float((y - x).square().mean())


def test_context_encoder_keeps_known_pixels_and_learns_holes():
    from aip.models.inpaint import ContextEncoder, ContextEncoderConfig, hole_masks

    m = hole_masks(2, (16, 16), 0.25)
    assert float(m.mean()) == 0.25 and bool(m[:, :, 6:10, 6:10].all())
    torch.manual_seed(0)
    model = ContextEncoder(ContextEncoderConfig(features=8, depth=2, dilated=1))
    assert model.phases() == ["d", "g"]
    x = _smooth(8, 1, 16)
    first, last = _train(model, {"x": x}, steps=60)
    assert float(last["hole_mse"]) < 0.5 * float(first["hole_mse"])
    y = x * (1 - m[:1])
    out = model.restore(y[:1], mask=m[0, 0].bool())
    torch.testing.assert_close(out[m[:1] == 0], x[:1][m[:1] == 0])  # known pixels exactly
    with torch.no_grad(), pytest.raises(ValueError, match="mask"):
        model.restore(y)


def test_ffdnet_residual_option():
    model = FFDNet(FFDNetConfig(depth=3, features=8, residual=True))
    torch.nn.init.zeros_(model.body[-1].weight)
    torch.nn.init.zeros_(model.body[-1].bias)
    y = torch.rand(2, 1, 9, 10)
    torch.testing.assert_close(model.restore(y, sigma=0.1), y)


def test_srgan_starts_from_a_trained_srresnet_run_and_ships_without_it(tmp_path):
    from aip.data import Paired
    from aip.models.srgan import SRGAN, SRGANConfig, SRResNet, SRResNetConfig
    from aip.train import TrainConfig, Trainer
    from aip.train.run import load_run
    from aip.train.shipped import save_shipped

    x = _smooth(8, 1, 16)
    data = Paired(torch.nn.functional.avg_pool2d(x, 2), x, scale=2)
    cfg = TrainConfig(steps=3, batch_size=4, lr=1e-3, sample_every=0, checkpoint_every=0, log_every=1)
    net = SRResNet(SRResNetConfig(scale=2, n_blocks=1, features=8))
    Trainer(net, data, cfg, tmp_path / "sr", progress=False).train()
    (tmp_path / "sr" / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "model": net.config_dict()}))
    ema, _ = load_run(tmp_path / "sr")
    gan = SRGAN(SRGANConfig(scale=2, n_blocks=1, features=8, d_features=8, init=str(tmp_path / "sr")))
    for k, v in ema.generator.state_dict().items():
        torch.testing.assert_close(gan.generator.state_dict()[k], v)     # the generator starts from the run
    with pytest.raises(ValueError, match=r"init: expected an srresnet of .* = \[1, 2, 1, 16\], got \[1, 2, 1, 8\]"):
        SRGAN(SRGANConfig(scale=2, n_blocks=1, features=16, init=str(tmp_path / "sr")))
    save_shipped(gan, "restore_srgan_test", {"name": "restore_srgan_test"}, root=tmp_path / "w")
    assert json.loads((tmp_path / "w" / "restore_srgan_test.json").read_text())["model"]["init"] == ""
