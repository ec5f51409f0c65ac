"""Normalizing flows: every layer and both flows invert to float precision, their log-determinants equal
autograd's log|det J|, the density is normalised (1-D check), and the loss falls."""

from __future__ import annotations

import math

import pytest
import torch

from aip.models.flow import (
    ActNorm,
    AffineCoupling,
    FlowConfig,
    Glow,
    GlowConfig,
    InvConv1x1,
    RealNVP,
    squeeze,
    unsqueeze,
)
from aip.models.registry import MODELS

torch.set_default_dtype(torch.float32)


def _randomise(module: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial weights (the zero-initialised last layers would make every coupling the identity)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _layers():
    return [AffineCoupling(2, "checkerboard", 0, 8, 1), AffineCoupling(2, "checkerboard", 1, 8, 1),
            AffineCoupling(4, "channel", 0, 8, 1), AffineCoupling(4, "channel", 1, 8, 1), ActNorm(4),
            InvConv1x1(4)]


@pytest.mark.parametrize("index", range(6))
def test_each_layer_inverts_and_its_logdet_is_autograds(index):
    torch.manual_seed(0)
    layer = _randomise(_layers()[index]).double().eval()
    c = layer.channels if isinstance(layer, AffineCoupling) else 4
    x = torch.randn(1, c, 4, 4, dtype=torch.float64)
    y, logdet = layer(x)
    torch.testing.assert_close(layer.inverse(y), x, atol=1e-10, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v.view(x.shape))[0].flatten(), x.flatten())
    torch.testing.assert_close(logdet[0], torch.linalg.slogdet(jac)[1], atol=1e-8, rtol=0)


def test_squeeze_is_a_permutation_with_an_inverse():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 6)
    s = squeeze(x)
    assert s.shape == (2, 12, 2, 3)
    torch.testing.assert_close(unsqueeze(s), x, rtol=0, atol=0)
    assert sorted(s.flatten().tolist()) == sorted(x.flatten().tolist())
    torch.testing.assert_close(s[0, :4, 0, 0], torch.tensor([x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0],
                                                             x[0, 0, 1, 1]]))


@pytest.mark.parametrize("cls,cfg", [(RealNVP, FlowConfig(image_size=4, scales=2, hidden=8)),
                                     (Glow, GlowConfig(image_size=4, scales=2, steps=2, hidden=8))])
def test_whole_flow_inverts_and_logdet_matches_autograd(cls, cfg):
    torch.manual_seed(0)
    flow = cls(cfg)
    flow.train()
    flow(torch.rand(8, 1, 4, 4))                            # actnorm's data-dependent initialisation
    flow = _randomise(flow).double().eval()
    y = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    zs, logdet = flow.flow_forward(y)
    assert sum(z[0].numel() for z in zs) == 16
    torch.testing.assert_close(flow.flow_inverse(zs), y, atol=1e-10, rtol=0)

    def f(v):
        return torch.cat([z.flatten() for z in flow.flow_forward(v.view(1, 1, 4, 4))[0]])

    jac = torch.autograd.functional.jacobian(f, y.flatten())
    torch.testing.assert_close(logdet[0], torch.linalg.slogdet(jac)[1], atol=1e-8, rtol=0)


def test_density_is_normalised():
    """The flow's density on the logit scale integrates to 1 (importance sampling from a wide Gaussian); on
    (0, 1) it misses only the mass the alpha-logit leaves outside (logit(alpha), logit(1 - alpha))."""
    from scipy.stats import norm

    torch.manual_seed(0)
    flow = _randomise(RealNVP(FlowConfig(image_size=2, scales=1, hidden=4))).double().eval()
    g = torch.Generator().manual_seed(0)
    y = 2.0 * torch.randn(200000, 1, 2, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        zs, ld = flow.flow_forward(y)
        log_p = sum((-0.5 * (z.square() + math.log(2 * math.pi))).flatten(1).sum(1) for z in zs) + ld
    log_q = (-0.5 * (y / 2).square() - math.log(2 * math.sqrt(2 * math.pi))).flatten(1).sum(1)
    w = torch.exp(log_p - log_q)
    assert abs(float(w.mean()) - 1) < 4 * float(w.std()) / math.sqrt(len(w)) + 0.01
    identity = RealNVP(FlowConfig(image_size=2, scales=1, hidden=4)).double().eval()   # zero-initialised
    u = torch.rand(200000, 1, 2, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        integral = float(torch.exp(identity.log_prob_continuous(u)).mean())
    edge = math.log(0.95 / 0.05)
    assert abs(integral - (norm.cdf(edge) - norm.cdf(-edge)) ** 4) < 0.01


def test_nll_adds_the_quantisation_term_and_loss_falls():
    torch.manual_seed(0)
    flow = RealNVP(FlowConfig(image_size=8, scales=2, hidden=8))
    x = torch.zeros(16, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 1.0
    g = torch.Generator().manual_seed(0)
    u = flow.dequantize(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.nll(x, generator=torch.Generator().manual_seed(0)),
                               -flow.log_prob_continuous(u) + 64 * math.log(256))
    assert torch.all((u > 0) & (u < 1)) and torch.all(torch.floor(u * 256) == torch.round(x * 255))
    opt = torch.optim.Adam(flow.parameters(), 3e-3)
    first = None
    for _ in range(40):
        out = flow(x)
        first = first if first is not None else out["bits_per_dim"].item()
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert out["bits_per_dim"].item() < first - 1.0
    s = flow.sample(4, generator=g, temperature=0.7)
    assert s.shape == (4, 1, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1


def test_bad_configs_and_registry():
    with pytest.raises(ValueError, match="scales: expected image_size 28 divisible by 8 for 3 levels"):
        Glow(GlowConfig(scales=3))
    with pytest.raises(ValueError, match="a channel mask needs an even number of channels, got 3"):
        AffineCoupling(3, "channel", 0)
    with pytest.raises(ValueError, match="y: this model is unconditional"):
        RealNVP(FlowConfig(image_size=8, scales=2, hidden=4)).nll(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    assert MODELS["realnvp"].family == MODELS["glow"].family == "flows"


def test_cli_trains_and_samples_a_flow_with_temperature(tmp_path, capsys):
    from aip.cli.main import main

    run = tmp_path / "run"
    assert main(["train", "realnvp", "--steps", "2", "--batch-size", "4", "--scales", "2", "--num-samples", "4",
                 "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "4", "-o", str(tmp_path / "g.png"), "--temperature", "0.5",
                 "--json"]) == 0
    assert (tmp_path / "g.png").is_file()
    assert main(["sample", str(run), "-n", "4", "-o", str(tmp_path / "h.png"), "--steps", "3"]) == 2
    assert "unexpected keyword arguments ['steps']" in capsys.readouterr().err
