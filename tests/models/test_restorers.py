"""Learned restorers: shapes, the denoiser contract, losses that fall on tiny data, exact tiling."""

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
